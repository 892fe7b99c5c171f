/* SPDX-License-Identifier: MIT */
/*
 * power/exec: real child processes (/bin/sh scripts as the commands under
 * test), substitution without a shell, exit status, timeout, reaping.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pl_test.h"
#include "drv_peer.h"
#include "patchlab/error.h"
#include "patchlab/power.h"

struct done {
	unsigned calls;
	int status;
	struct pl_power_times t;
};

static void on_done(struct pl_power *p, int status,
		    const struct pl_power_times *t, void *ud)
{
	struct done *d = ud;

	(void)p;
	d->calls++;
	d->status = status;
	d->t = *t;
}

static bool called(void *ud)
{
	return ((struct done *)ud)->calls > 0;
}

struct fx {
	uv_loop_t loop;
	struct pl_test_logcap cap;
	struct pl_fixture_ctx ctx;
	char *dir;
	char *state;  /* file the scripts write */
	char *script; /* sh -c text */
};

static void fx_init(struct fx *f, const char *board)
{
	memset(f, 0, sizeof(*f));
	uv_loop_init(&f->loop);
	pl_test_logcap_init(&f->cap, "test/power exec");
	f->ctx.loop = &f->loop;
	f->ctx.log = f->cap.log;
	f->ctx.board_id = board;
	f->dir = pl_test_tmpdir("exec");
	assert_non_null(f->dir);
	assert_true(asprintf(&f->state, "%s/state", f->dir) > 0);
	/* $1 board, $2 state, $3 channel: written as the script got them. */
	assert_true(asprintf(&f->script, "printf '%%s|%%s|%%s' \"$1\" \"$2\" "
			     "\"$3\" > '%s'", f->state) > 0);
}

static void fx_fini(struct fx *f)
{
	uv_run(&f->loop, UV_RUN_DEFAULT);
	pl_test_loop_drain(&f->loop);
	pl_test_rmrf(f->dir);
	free(f->dir);
	free(f->state);
	free(f->script);
}

static char *slurp(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *s = NULL;
	size_t n = 0;

	if (!fp)
		return NULL;
	if (getdelim(&s, &n, '\0', fp) < 0) {
		free(s);
		s = strdup("");
	}
	fclose(fp);
	return s;
}

static void run_set(struct fx *f, struct pl_power *p, bool on,
		    struct done *d)
{
	memset(d, 0, sizeof(*d));
	assert_int_equal(pl_power_set(p, on, on_done, d), 0);
	assert_int_equal(drv_loop_until(&f->loop, called, d, 10000), 0);
}

static void exec_runs_argv_with_substitution_and_no_shell(void **state)
{
	struct fx f;
	struct pl_power *p;
	struct done d;
	char *got, *pwned;

	(void)state;
	/* A board name a shell would run: it must arrive as one word. */
	fx_init(&f, "b1;touch pwned");
	const char *argv[] = { "/bin/sh", "-c", f.script, "sh", "{board}",
			       "{state}", "ch{channel}" };
	struct pl_opt o[] = {
		{ .key = "on", .list = argv, .list_len = 7 },
		{ .key = "off", .list = argv, .list_len = 7 },
		{ .key = "channel", .value = "5" },
	};
	struct pl_opts opts = { o, 3 };

	assert_int_equal(chdir(f.dir), 0);
	assert_int_equal(pl_power_open(&p, &f.ctx, "exec", &opts), 0);
	run_set(&f, p, true, &d);
	assert_int_equal(d.status, 0);
	assert_true(d.t.issued_ns >= d.t.requested_ns);
	assert_true(d.t.done_ns >= d.t.issued_ns);
	got = slurp(f.state);
	assert_string_equal(got, "b1;touch pwned|on|ch5");
	free(got);

	run_set(&f, p, false, &d);
	assert_int_equal(d.status, 0);
	got = slurp(f.state);
	assert_string_equal(got, "b1;touch pwned|off|ch5");
	free(got);
	assert_true(asprintf(&pwned, "%s/pwned", f.dir) > 0);
	assert_int_equal(access(pwned, F_OK), -1);
	free(pwned);

	pl_power_close(p);
	assert_int_equal(f.cap.errors + f.cap.warnings, 0);
	assert_int_equal(chdir("/"), 0);
	fx_fini(&f);
}

static void exec_reports_failure_and_timeout(void **state)
{
	struct fx f;
	struct pl_power *p;
	struct done d;
	const char *fail[] = { "/bin/sh", "-c", "exit 3" };
	const char *hang[] = { "/bin/sh", "-c", "exec sleep 60" };
	struct pl_opt o[] = {
		{ .key = "on", .list = hang, .list_len = 3 },
		{ .key = "off", .list = fail, .list_len = 3 },
		{ .key = "timeout_ms", .value = "300" },
	};
	struct pl_opts opts = { o, 3 };

	(void)state;
	fx_init(&f, "b2");
	assert_int_equal(pl_power_open(&p, &f.ctx, "exec", &opts), 0);
	run_set(&f, p, false, &d);
	assert_int_equal(d.status, -PL_EFIXTURE);
	assert_non_null(strstr(f.cap.last, "exit status 3"));

	run_set(&f, p, true, &d);
	assert_int_equal(d.status, -PL_EFIXTURE);
	assert_non_null(strstr(f.cap.last, "killed after 300 ms"));

	pl_power_close(p);
	fx_fini(&f);
}

static void exec_close_runs_off_to_completion(void **state)
{
	struct fx f;
	struct pl_power *p;
	struct done d;
	char *got;

	(void)state;
	fx_init(&f, "b3");
	const char *argv[] = { "/bin/sh", "-c", f.script, "sh", "{board}",
			       "{state}" };
	struct pl_opt o[] = {
		{ .key = "on", .list = argv, .list_len = 6 },
		{ .key = "off", .list = argv, .list_len = 6 },
	};
	struct pl_opts opts = { o, 2 };

	assert_int_equal(pl_power_open(&p, &f.ctx, "exec", &opts), 0);
	run_set(&f, p, true, &d);
	assert_int_equal(d.status, 0);
	pl_power_close(p);
	/* The loop runs until the off command was reaped. */
	uv_run(&f.loop, UV_RUN_DEFAULT);
	got = slurp(f.state);
	assert_string_equal(got, "b3|off|");
	free(got);
	fx_fini(&f);
}

/* A sink that reads the context, as the engine's does (it names the
 * board in the stored log line), then counts in the capture. */
static void ctx_sink(void *ud, enum pl_log_level level, const char *ctx,
		     const char *msg)
{
	struct fx *f = ud;
	char where[64];

	snprintf(where, sizeof(where), "%s", ctx ? ctx : "-");
	f->cap.log.fn(f->cap.log.user_data, level, where, msg);
}

/*
 * Issue 12 item 5: an off command that outlives its timeout at close (the
 * suite's end). The board's logger context dies with the board right after
 * close, as pl_board_close() frees it: nothing may touch it later (ASan),
 * the child is killed and reaped, and close reports the failure.
 */
static void exec_close_with_a_hung_off_is_an_error(void **state)
{
	struct fx f;
	struct pl_power *p;
	struct done d;
	char *ctx, *pidfile, *hang, *got;
	const char *ok[] = { "/bin/sh", "-c", "exit 0" };
	const char *off[] = { "/bin/sh", "-c", NULL };
	struct pl_opt o[] = {
		{ .key = "on", .list = ok, .list_len = 3 },
		{ .key = "off", .list = off, .list_len = 3 },
		{ .key = "timeout_ms", .value = "300" },
	};
	struct pl_opts opts = { o, 3 };
	pid_t pid;

	(void)state;
	fx_init(&f, "b5");
	assert_true(asprintf(&pidfile, "%s/off.pid", f.dir) > 0);
	/* the pid first, then hang past the timeout */
	assert_true(asprintf(&hang, "echo $$ > '%s'; exec sleep 60",
			     pidfile) > 0);
	off[2] = hang;
	ctx = strdup("board b5/power exec"); /* owned by the "board" */
	assert_non_null(ctx);
	f.ctx.log.ctx = ctx;
	f.ctx.log.fn = ctx_sink;
	f.ctx.log.user_data = &f;
	assert_int_equal(pl_power_open(&p, &f.ctx, "exec", &opts), 0);
	run_set(&f, p, true, &d);
	assert_int_equal(d.status, 0);

	assert_int_equal(pl_power_close(p), -PL_EFIXTURE);
	assert_non_null(strstr(f.cap.last, "exec off (/bin/sh): killed after "
					   "300 ms: the output may still be "
					   "on"));
	memset(ctx, 'X', strlen(ctx)); /* as pl_board_close() does */
	free(ctx);
	f.ctx.log.ctx = NULL;
	got = slurp(pidfile);
	assert_non_null(got);
	pid = (pid_t)atol(got);
	free(got);
	assert_true(pid > 0);
	/* killed at close, reaped by the loop: gone */
	uv_run(&f.loop, UV_RUN_DEFAULT);
	assert_int_equal(kill(pid, 0), -1);
	assert_int_equal(errno, ESRCH);
	free(pidfile);
	free(hang);
	fx_fini(&f);
}

/* A close whose off command succeeds returns 0; one superseding an on
 * command still running kills that one without a complaint. */
static void exec_close_supersedes_a_running_on(void **state)
{
	struct fx f;
	struct pl_power *p;
	struct done d = { 0 };
	const char *hang[] = { "/bin/sh", "-c", "exec sleep 60" };
	const char *ok[] = { "/bin/sh", "-c", "exit 0" };
	struct pl_opt o[] = {
		{ .key = "on", .list = hang, .list_len = 3 },
		{ .key = "off", .list = ok, .list_len = 3 },
		{ .key = "timeout_ms", .value = "5000" },
	};
	struct pl_opts opts = { o, 3 };

	(void)state;
	fx_init(&f, "b6");
	assert_int_equal(pl_power_open(&p, &f.ctx, "exec", &opts), 0);
	assert_int_equal(pl_power_set(p, true, on_done, &d), 0);
	assert_int_equal(pl_power_close(p), 0);
	assert_int_equal(d.calls, 1);
	assert_int_equal(d.status, -PL_ECANCELED);
	assert_int_equal(f.cap.errors, 0);
	fx_fini(&f);
}

static void exec_refuses_bad_commands(void **state)
{
	struct fx f;
	struct pl_power *p = NULL;
	const char *chan[] = { "relay", "{channel}" };
	const char *none[] = { "/nonexistent/relay-tool", "{state}" };
	struct pl_opt o[] = {
		{ .key = "on", .list = chan, .list_len = 2 },
		{ .key = "off", .list = chan, .list_len = 2 },
	};
	struct pl_opts opts = { o, 2 };

	(void)state;
	fx_init(&f, "b4");
	o[0].pos.file = "lab.yaml";
	o[0].pos.line = 12;
	assert_int_equal(pl_power_open(&p, &f.ctx, "exec", &opts),
			 -PL_ECONFIG);
	assert_null(p);
	assert_non_null(strstr(f.cap.last,
			       "lab.yaml:12: exec on: {channel} has no value"));

	o[1].list_len = 0;
	o[0].list = none;
	assert_int_equal(pl_power_open(&p, &f.ctx, "exec", &opts),
			 -PL_ECONFIG);
	assert_non_null(strstr(f.cap.last, "`off` must be a non-empty list"));

	o[1].list = none;
	o[1].list_len = 2;
	assert_int_equal(pl_power_open(&p, &f.ctx, "exec", &opts), 0);
	assert_int_equal(pl_power_set(p, true, NULL, NULL), -PL_EFIXTURE);
	assert_non_null(strstr(f.cap.last, "/nonexistent/relay-tool"));
	pl_power_close(p);
	fx_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(exec_runs_argv_with_substitution_and_no_shell),
		cmocka_unit_test(exec_reports_failure_and_timeout),
		cmocka_unit_test(exec_close_runs_off_to_completion),
		cmocka_unit_test(exec_close_with_a_hung_off_is_an_error),
		cmocka_unit_test(exec_close_supersedes_a_running_on),
		cmocka_unit_test(exec_refuses_bad_commands),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
