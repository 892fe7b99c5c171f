/* SPDX-License-Identifier: MIT */
/*
 * /pl/power/pdudaemon against a real pdudaemon (Debian package 0.0.8): the
 * test starts it on 127.0.0.1 with a free port and a PDU using the
 * localcmdline driver, whose on/off commands create and remove a state file
 * per port in the test's temp dir. The effect (the file) is checked in the
 * completion callback itself: pdudaemon answers only after the command ran.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "peer.h"
#include "pl_test.h"
#include "patchlab/error.h"
#include "patchlab/power.h"

#define OPT(k, v) { .key = (k), .value = (v) }

struct fx {
	uv_loop_t loop;
	struct pl_test_logcap cap;
	struct pl_fixture_ctx ctx;
	struct peer pdud;
	char *dir;
	char url[64];
	/* one command's outcome */
	bool done;
	int status;
	struct pl_power_times times;
	bool file_at_cb; /* the state file existed when the callback ran */
	char state_file[512];
};

static int group_setup(void **state)
{
	struct fx *f;
	char conf[512];
	unsigned port;
	FILE *fp;

	if (!pl_test_have_program("pdudaemon")) {
		pl_test_print_skip("pdudaemon not installed (scripts/install-deps)");
		return -1;
	}
	f = calloc(1, sizeof(*f));
	uv_loop_init(&f->loop);
	f->dir = pl_test_tmpdir("pdud");
	port = peer_free_port();
	snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%u", port);
	snprintf(conf, sizeof(conf), "%s/pdudaemon.conf", f->dir);
	fp = fopen(conf, "w");
	if (!fp)
		return -1;
	/* localcmdline runs cmd_on/cmd_off through a shell with "%s" = port
	 * (Python %-formatting: a literal % would be %%). */
	fprintf(fp,
		"{\n"
		"  \"daemon\": { \"hostname\": \"127.0.0.1\", \"port\": %u,\n"
		"              \"listener\": \"http\", \"logging_level\": \"INFO\" },\n"
		"  \"pdus\": { \"labpdu\": { \"driver\": \"localcmdline\",\n"
		"      \"cmd_on\": \"touch '%s/port%%s.on'\",\n"
		"      \"cmd_off\": \"rm -f '%s/port%%s.on'\" } }\n"
		"}\n", port, f->dir, f->dir);
	fclose(fp);
	char *argv[] = { "pdudaemon", "--conf", conf, NULL };
	if (peer_start(&f->pdud, &f->loop, argv) ||
	    !peer_wait_output(&f->pdud, "Listening on", 20000)) {
		fprintf(stderr, "pdudaemon did not start: %s\n",
			f->pdud.output.s ? f->pdud.output.s : "(no output)");
		peer_stop(&f->pdud);
		return -1;
	}
	*state = f;
	return 0;
}

static int group_teardown(void **state)
{
	struct fx *f = *state;

	if (!f)
		return 0;
	peer_stop(&f->pdud);
	pl_test_loop_drain(&f->loop);
	pl_test_rmrf(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

static int setup(void **state)
{
	struct fx *f = *state;

	pl_test_logcap_init(&f->cap, "pdu");
	f->ctx.loop = &f->loop;
	f->ctx.log = f->cap.log;
	f->ctx.board_id = "b1";
	return 0;
}

static void on_done(struct pl_power *p, int status,
		    const struct pl_power_times *t, void *ud)
{
	struct fx *f = ud;

	f->done = true;
	f->status = status;
	f->times = *t;
	f->file_at_cb = access(f->state_file, F_OK) == 0;
}

static bool is_done(void *ud)
{
	return ((struct fx *)ud)->done;
}

static int command(struct fx *f, struct pl_power *p, bool on)
{
	f->done = false;
	f->status = 1;
	assert_int_equal(pl_power_set(p, on, on_done, f), 0);
	assert_int_equal(pl_test_loop_until(&f->loop, is_done, f, 20000), 0);
	return f->status;
}

static struct pl_power *open_port(struct fx *f, const char *host, const char *port)
{
	const struct pl_opt o[] = { OPT("url", f->url), OPT("hostname", host),
				    OPT("port", port) };
	struct pl_power *p = NULL;

	snprintf(f->state_file, sizeof(f->state_file), "%s/port%s.on", f->dir, port);
	assert_int_equal(pl_power_open(&p, &f->ctx, "pdudaemon",
				       &(struct pl_opts){ o, 3 }), 0);
	return p;
}

static void on_and_off_have_taken_effect_when_the_callback_runs(void **state)
{
	struct fx *f = *state;
	struct pl_power *p = open_port(f, "labpdu", "3");

	assert_int_equal(command(f, p, true), 0);
	assert_true(f->file_at_cb);
	assert_true(pl_power_is_on(p));
	assert_true(f->times.requested_ns <= f->times.issued_ns);
	assert_true(f->times.issued_ns <= f->times.done_ns);

	assert_int_equal(command(f, p, false), 0);
	assert_false(f->file_at_cb);
	pl_power_close(p);
	/* closing after a good off sends nothing more: nothing left to run */
	assert_int_equal(uv_run(&f->loop, UV_RUN_NOWAIT), 0);
	assert_int_equal(f->cap.errors + f->cap.warnings, 0);
}

static void unknown_pdu_is_a_fixture_error_naming_the_answer(void **state)
{
	struct fx *f = *state;
	struct pl_power *p = open_port(f, "no-such-pdu", "1");

	assert_int_equal(command(f, p, true), -PL_EFIXTURE);
	assert_false(f->file_at_cb);
	assert_int_equal(f->cap.errors, 1);
	assert_non_null(strstr(f->cap.last, "answered 500"));
	pl_power_close(p);
	uv_run(&f->loop, UV_RUN_DEFAULT); /* the off sent at close runs out */
}

static void refused_connection_is_a_fixture_error(void **state)
{
	struct fx *f = *state;
	char url[64];
	struct pl_power *p = NULL;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u", peer_free_port());
	const struct pl_opt o[] = { OPT("url", url), OPT("hostname", "labpdu"),
				    OPT("port", "4"), OPT("timeout_ms", "5000") };
	assert_int_equal(pl_power_open(&p, &f->ctx, "pdudaemon",
				       &(struct pl_opts){ o, 4 }), 0);
	f->state_file[0] = '\0';
	assert_int_equal(command(f, p, true), -PL_EFIXTURE);
	assert_int_equal(f->cap.errors, 1);
	assert_non_null(strstr(f->cap.last, url));
	pl_power_close(p);
	uv_run(&f->loop, UV_RUN_DEFAULT);
}

static void closing_while_on_switches_the_outlet_off(void **state)
{
	struct fx *f = *state;
	struct pl_power *p = open_port(f, "labpdu", "5");

	assert_int_equal(command(f, p, true), 0);
	assert_true(f->file_at_cb);
	pl_power_close(p);
	/* The off request outlives the handle; the loop runs until it is
	 * answered (bounded by timeout_ms), then nothing is left. */
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(access(f->state_file, F_OK), -1);
	assert_int_equal(f->cap.errors, 0);
}

static void record_status(struct pl_power *p, int status,
			  const struct pl_power_times *t, void *ud)
{
	*(int *)ud = status;
}

static void superseded_command_is_cancelled_and_the_last_one_wins(void **state)
{
	struct fx *f = *state;
	struct pl_power *p = open_port(f, "labpdu", "6");
	int first = 1;

	assert_int_equal(pl_power_set(p, true, record_status, &first), 0);
	assert_int_equal(command(f, p, false), 0);
	assert_int_equal(first, -PL_ECANCELED);
	assert_false(f->file_at_cb);
	assert_false(pl_power_is_on(p));
	pl_power_close(p);
	uv_run(&f->loop, UV_RUN_DEFAULT);
}

static void bad_options_name_the_problem(void **state)
{
	struct fx *f = *state;
	const struct pl_opt nourl[] = { OPT("hostname", "x"), OPT("port", "1") };
	const struct pl_opt noport[] = { OPT("url", "http://h:1"), OPT("hostname", "x") };
	struct pl_power *p;

	assert_int_equal(pl_power_open(&p, &f->ctx, "pdudaemon",
				       &(struct pl_opts){ nourl, 2 }), -PL_ECONFIG);
	assert_non_null(strstr(f->cap.last, "url"));
	assert_int_equal(pl_power_open(&p, &f->ctx, "pdudaemon",
				       &(struct pl_opts){ noport, 2 }), -PL_ECONFIG);
	assert_non_null(strstr(f->cap.last, "port"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(on_and_off_have_taken_effect_when_the_callback_runs, setup),
		cmocka_unit_test_setup(unknown_pdu_is_a_fixture_error_naming_the_answer, setup),
		cmocka_unit_test_setup(refused_connection_is_a_fixture_error, setup),
		cmocka_unit_test_setup(closing_while_on_switches_the_outlet_off, setup),
		cmocka_unit_test_setup(superseded_command_is_cancelled_and_the_last_one_wins, setup),
		cmocka_unit_test_setup(bad_options_name_the_problem, setup),
	};

	if (!pl_test_have_program("pdudaemon")) {
		pl_test_print_skip("pdudaemon not installed (scripts/install-deps)");
		return PL_TEST_SKIP_CODE;
	}
	return cmocka_run_group_tests_name("/pl/power/pdudaemon", tests,
					   group_setup, group_teardown);
}
