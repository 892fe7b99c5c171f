/* SPDX-License-Identifier: MIT */
/*
 * /pl/cli2: the manual lab commands and the result commands against a real
 * virtual rack (`patchlab vrack up`, re-parented to this test and reaped
 * after `vrack down`): power and console, a smoke suite then `results`,
 * `report` and `boards`, flashing the factory image through the probe, and
 * a board leased by another process refused with --no-wait.
 *
 * The cases run in order on one rack (the flash case undoes the smoke
 * suite's update). Every command is a real `patchlab` process run in the
 * test's directory; both boards are switched off at the end. Set
 * PL_KEEP_RACK=1 to keep the rack directory (logs, store) for a post-mortem.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <poll.h>
#include <pty.h>
#include <spawn.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cli2_util.h"
#include "pl_test.h"
#include "patchlab/exit.h"

extern char **environ;

struct rack {
	char *dir, *lab, *db, *factory;
	int pid;
};

static struct rack *R(void **state)
{
	return *state;
}

/* Run `patchlab ARGS...` (NULL-terminated) in the rack dir. */
static int pl(struct rack *r, const char *in, char **out, char **err, ...)
{
	struct pl_test_run o = { .cwd = r->dir, .stdin_text = in,
				 .deadline_ms = C2_DEADLINE_MS };
	va_list ap;
	int rc;

	va_start(ap, err);
	rc = pl_test_patchlab_va(&o, out, err, ap);
	va_end(ap);
	return rc;
}

static void must(int rc, int want, const char *what, char *out, char *err)
{
	if (rc != want)
		fail_msg("%s: exit %d (want %d)\nstdout:\n%s\nstderr:\n%s", what,
			 rc, want, out ? out : "", err ? err : "");
}

static int group_setup(void **state)
{
	struct rack *r = calloc(1, sizeof(*r));
	char *out = NULL, *err = NULL, *v1;
	int rc;

	pl_test_become_subreaper();
	*state = r;
	r->dir = pl_test_tmpdir("cli2");
	if (asprintf(&r->lab, "%s/lab.yaml", r->dir) < 0 ||
	    asprintf(&r->db, "%s/store.db", r->dir) < 0 ||
	    asprintf(&r->factory, "%s/images/factory-good.bin", r->dir) < 0 ||
	    asprintf(&v1, "%s/images/v1.0.0.img", r->dir) < 0)
		return -1;
	rc = pl(r, NULL, &out, &err, "vrack", "up", "--dir", r->dir, "--boards",
		"2", "--profile", "good,single-slot", "--speed", "20", NULL);
	r->pid = pl_test_rack_pid(r->dir);
	if (rc != 0 || r->pid <= 0) {
		fprintf(stderr, "vrack up: exit %d\n%s%s", rc, out, err);
		return -1;
	}
	free(out);
	free(err);
	rc = pl(r, NULL, &out, &err, "image", "factory", "--profile", "good",
		"--in", v1, "--out", r->factory, NULL);
	free(v1);
	if (rc != 0) {
		fprintf(stderr, "image factory: exit %d\n%s%s", rc, out, err);
		return -1;
	}
	free(out);
	free(err);
	/* the suites name their images through these */
	setenv("VRACK", r->dir, 1);
	setenv("PROFILE", "good", 1);
	return 0;
}

static int group_teardown(void **state)
{
	struct rack *r = *state;
	int rc = 0;

	if (r->pid > 0) {
		/* power always left off, then the rack goes down and is reaped */
		for (int b = 0; b < 2; b++) {
			char id[8];

			snprintf(id, sizeof(id), "vb%d", b);
			if (pl(r, NULL, NULL, NULL, "power", id, "off", "--lab",
			       r->lab, "--db", r->db, "--no-wait", NULL) != 0)
				rc = -1;
		}
		if (pl(r, NULL, NULL, NULL, "vrack", "down", "--dir", r->dir,
		       NULL) != 0)
			rc = -1;
		if (pl_test_reap(r->pid, PL_TEST_REAP_DEADLINE_MS) != 0)
			rc = -1;
	}
	if (getenv("PL_KEEP_RACK"))
		fprintf(stderr, "kept %s\n", r->dir);
	else
		pl_test_rmrf(r->dir);
	free(r->dir);
	free(r->lab);
	free(r->db);
	free(r->factory);
	free(r);
	return rc;
}

/*
 * Ask the board's shell for its version through `patchlab console` and
 * return the stdout of the first attempt that got an answer. A command sent
 * while the board is still booting is lost, so attempts repeat (each one
 * waits on the console with its own deadline) for up to ~30 s.
 */
static char *console_version(struct rack *r, const char *board,
			     const char *log)
{
	for (int i = 0; i < 30; i++) {
		char *out = NULL, *err = NULL;
		int rc;

		if (log)
			rc = pl(r, "version\n", &out, &err, "console", board,
				"--lab", r->lab, "--db", r->db, "--log", log,
				"--timeout", "1000", "--until",
				"^(> )?version [0-9.]+ slot [AB] state=", NULL);
		else
			rc = pl(r, "version\n", &out, &err, "console", board,
				"--lab", r->lab, "--db", r->db, "--timeout",
				"1000", "--until",
				"^(> )?version [0-9.]+ slot [AB] state=", NULL);
		if (rc == 0) {
			free(err);
			return out;
		}
		if (rc != PL_EXIT_GATE_FAILED)
			fail_msg("console: exit %d\n%s\n%s", rc, out, err);
		free(out);
		free(err);
	}
	fail_msg("board %s never answered 'version'", board);
	return NULL;
}

static void power_on_then_the_console_answers_version(void **state)
{
	struct rack *r = R(state);
	char *out = NULL, *err = NULL, *log, *path;
	int rc;

	rc = pl(r, NULL, &out, &err, "power", "vb0", "on", "--lab", r->lab,
		"--db", r->db, NULL);
	must(rc, 0, "power vb0 on", out, err);
	assert_non_null(strstr(out, "vb0: power on via lcus: issued"));
	free(out);
	free(err);

	/* the default log path, under the working directory */
	out = console_version(r, "vb0", NULL);
	assert_non_null(strstr(out, "version 1.0.0 slot A state=confirmed"));
	free(out);
	assert_true(asprintf(&path, "%s/runs/console/vb0-manual.log", r->dir) > 0);
	log = pl_test_slurp(path);
	assert_non_null(log);
	/* both directions are logged: what we wrote and the banner read */
	assert_non_null(strstr(log, " w 8 version\\n"));
	assert_non_null(strstr(log, "version 1.0.0 slot A"));
	free(log);
	free(path);

	rc = pl(r, NULL, &out, &err, "power", "vb0", "off", "--lab", r->lab,
		"--db", r->db, NULL);
	must(rc, 0, "power vb0 off", out, err);
	free(out);
	free(err);
}

static void console_of_a_powered_board_shows_its_boot_banner(void **state)
{
	struct rack *r = R(state);
	char *out = NULL, *err = NULL;
	int rc;

	rc = pl(r, NULL, &out, &err, "power", "vb1", "cycle", "--off-ms", "5",
		"--lab", r->lab, "--db", r->db, NULL);
	must(rc, 0, "power vb1 cycle", out, err);
	assert_non_null(strstr(out, "vb1: power cycle (off 5 ms) via lcus"));
	free(out);
	free(err);
	/* nothing on stdin: only what the board says until its prompt */
	rc = pl(r, "", &out, &err, "console", "vb1", "--lab", r->lab, "--db",
		r->db, "--timeout", "20000", "--until", "^> ?$", NULL);
	must(rc, 0, "console vb1 --until prompt", out, err);
	assert_non_null(strstr(out, "vboot 1.0 profile=single-slot"));
	assert_non_null(strstr(out, "app: version 1.0.0 slot A running"));
	free(out);
	free(err);
}

static void results_and_report_after_a_smoke_run(void **state)
{
	struct rack *r = R(state);
	char *suite = pl_test_source_path("scenarios/suites/smoke.yaml");
	char *out = NULL, *err = NULL, *html, *page;
	int rc;

	rc = pl(r, NULL, &out, &err, "run", suite, "--lab", r->lab, "--tag",
		"good", "--db", r->db, "--out", r->dir, "--quiet", NULL);
	must(rc, 0, "run smoke", out, err);
	free(out);
	free(err);

	rc = pl(r, NULL, &out, &err, "results", "--db", r->db, NULL);
	must(rc, 0, "results", out, err);
	assert_non_null(strstr(out, " pass "));
	assert_non_null(strstr(out, "smoke (1 runs)"));
	free(out);
	free(err);

	rc = pl(r, NULL, &out, &err, "results", "--db", r->db, "--suite", "1",
		"--verdict", "pass", NULL);
	must(rc, 0, "results --suite 1 --verdict pass", out, err);
	assert_non_null(strstr(out, "update_clean.lua"));
	assert_non_null(strstr(out, "1 run\n"));
	free(out);
	free(err);

	rc = pl(r, NULL, &out, &err, "results", "--db", r->db, "1", NULL);
	must(rc, 0, "results 1", out, err);
	assert_non_null(strstr(out, "verdict    pass"));
	assert_non_null(strstr(out, "replay     patchlab replay 1"));
	assert_non_null(strstr(out, "console    /"));
	assert_non_null(strstr(out, "       0.000  power"));
	assert_non_null(strstr(out, "  verdict       {"));
	free(out);
	free(err);

	rc = pl(r, NULL, &out, &err, "results", "--db", r->db, "99", NULL);
	must(rc, PL_EXIT_LAB_ERROR, "results 99", out, err);
	assert_non_null(strstr(err, "no run 99"));
	free(out);
	free(err);

	assert_true(asprintf(&html, "%s/report.html", r->dir) > 0);
	rc = pl(r, NULL, &out, &err, "report", "1", "--db", r->db, "--html",
		html, NULL);
	must(rc, 0, "report --html", out, err);
	assert_non_null(strstr(out, "gate pass"));
	page = pl_test_slurp(html);
	assert_non_null(page);
	assert_non_null(strstr(page, "<html"));
	assert_non_null(strstr(page, "smoke"));
	free(page);
	free(html);
	free(out);
	free(err);

	rc = pl(r, NULL, &out, &err, "boards", "--lab", r->lab, "--db", r->db,
		NULL);
	must(rc, 0, "boards", out, err);
	assert_non_null(strstr(out, "pass (run 1)"));
	assert_non_null(strstr(out, "virtual,single-slot"));
	free(out);
	free(err);
	free(suite);
}

static void flash_of_the_factory_image_then_power_on_boots_1_0_0(void **state)
{
	struct rack *r = R(state);
	char *out = NULL, *err = NULL, *log;
	int rc;

	/* the smoke run left vb0 on 1.1.0 */
	rc = pl(r, NULL, &out, &err, "flash", "vb0", r->factory, "--lab",
		r->lab, "--db", r->db, NULL);
	must(rc, 0, "flash vb0 factory", out, err);
	assert_non_null(strstr(out, "at 0x8000000 via gdb"));
	free(out);
	free(err);
	rc = pl(r, NULL, &out, &err, "power", "vb0", "on", "--lab", r->lab,
		"--db", r->db, NULL);
	must(rc, 0, "power vb0 on", out, err);
	free(out);
	free(err);
	assert_true(asprintf(&log, "%s/vb0-flash.log", r->dir) > 0);
	out = console_version(r, "vb0", log);
	assert_non_null(strstr(out, "version 1.0.0 slot A state=confirmed"));
	free(out);
	free(log);
}

/* Read the pty master into acc until needle shows up or timeout_ms pass. */
static int pty_until(int fd, struct pl_strbuf *acc, const char *needle,
		     unsigned timeout_ms)
{
	struct timespec ts;
	int64_t end;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	end = ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + timeout_ms;
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		char buf[1024];
		int64_t left;
		ssize_t n;

		if (acc->s && strstr(acc->s, needle))
			return 0;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		left = end - (ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			return -EIO;
		pl_strbuf_append(acc, buf, (size_t)n);
	}
}

static void interactive_console_quits_on_ctrl_bracket(void **state)
{
	struct rack *r = R(state);
	char *argv[] = { (char *)pl_test_patchlab(), "console", "vb0", "--lab",
			 r->lab, "--db", r->db, NULL };
	posix_spawn_file_actions_t fa;
	struct pl_strbuf acc = { 0 };
	struct termios t;
	int master, slave, found = -1;
	pid_t pid;

	/* the flash case left vb0 powered, running 1.0.0 */
	assert_int_equal(openpty(&master, &slave, NULL, NULL, NULL), 0);
	posix_spawn_file_actions_init(&fa);
	for (int fd = 0; fd < 3; fd++)
		posix_spawn_file_actions_adddup2(&fa, slave, fd);
	posix_spawn_file_actions_addclose(&fa, master);
	posix_spawn_file_actions_addchdir_np(&fa, r->dir);
	assert_int_equal(posix_spawn(&pid, argv[0], &fa, NULL, argv, environ),
			 0);
	posix_spawn_file_actions_destroy(&fa);
	close(slave);

	/* the banner comes once raw mode is on: keys go straight through */
	assert_int_equal(pty_until(master, &acc, "Ctrl-] quits", 30000), 0);
	for (int i = 0; i < 30 && found; i++) {
		assert_int_equal(write(master, "version\r", 8), 8);
		found = pty_until(master, &acc, "version 1.0.0 slot A state=",
				  1000);
	}
	assert_int_equal(found, 0);
	assert_int_equal(write(master, "\x1d", 1), 1);
	assert_int_equal(pty_until(master, &acc, "disconnected", 30000), 0);
	assert_int_equal(pl_test_reap(pid, C2_DEADLINE_MS), 0);
	/* and the terminal is back in canonical mode with echo */
	assert_int_equal(tcgetattr(master, &t), 0);
	assert_true(t.c_lflag & ICANON);
	assert_true(t.c_lflag & ECHO);
	pl_strbuf_free(&acc);
	close(master);
}

static void leased_board_is_refused_with_no_wait_naming_the_holder(void **state)
{
	struct rack *r = R(state);
	char now[32];
	char *argv[] = { LEASE_HELPER, r->db, "600000", now, "20", NULL };
	char *out = NULL, *err = NULL, *line, holder[256];
	struct timespec ts;
	struct c2_proc h;
	int rc;

	/* the helper's store clock stands at the real time the CLI will see,
	 * and its lease lasts 10 minutes from there: current for the CLI */
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(now, sizeof(now), "%llu",
		 (unsigned long long)ts.tv_sec * 1000000000ull +
			 (unsigned long long)ts.tv_nsec);
	assert_int_equal(c2_start(&h, argv, false), 0);
	assert_int_equal(c2_line(&h, &line, C2_DEADLINE_MS), 0);
	assert_int_equal(sscanf(line, "ready %255s", holder), 1);
	free(line);
	c2_send(&h, "take vb1");
	assert_int_equal(c2_line(&h, &line, C2_DEADLINE_MS), 0);
	assert_string_equal(line, "taken vb1");
	free(line);

	rc = pl(r, NULL, &out, &err, "power", "vb1", "on", "--no-wait", "--lab",
		r->lab, "--db", r->db, NULL);
	must(rc, PL_EXIT_LAB_ERROR, "power vb1 on --no-wait", out, err);
	assert_non_null(strstr(err, "board vb1 is leased by "));
	assert_non_null(strstr(err, holder));
	assert_null(strstr(out, "power on"));
	free(out);
	free(err);

	rc = pl(r, NULL, &out, &err, "boards", "--lab", r->lab, "--db", r->db,
		NULL);
	must(rc, 0, "boards", out, err);
	assert_non_null(strstr(out, holder));
	free(out);
	free(err);

	/* without --no-wait the command waits, and goes on once the board
	 * is given back */
	{
		char *wargv[] = { (char *)pl_test_patchlab(), "power", "vb1",
				  "off", "--lab", r->lab, "--db", r->db, NULL };
		char want[300];
		struct c2_proc w;

		assert_int_equal(c2_start(&w, wargv, true), 0);
		assert_int_equal(c2_line(&w, &line, C2_DEADLINE_MS), 0);
		snprintf(want, sizeof(want), "is leased by %s", holder);
		assert_non_null(strstr(line, want));
		assert_non_null(strstr(line, "waiting for it"));
		free(line);
		c2_send(&h, "release vb1");
		assert_int_equal(c2_line(&h, &line, C2_DEADLINE_MS), 0);
		assert_string_equal(line, "released vb1 0");
		free(line);
		assert_int_equal(c2_line(&w, &line, C2_DEADLINE_MS), 0);
		assert_non_null(strstr(line, "vb1: power off via lcus"));
		free(line);
		assert_int_equal(c2_finish(&w, C2_DEADLINE_MS), 0);
	}

	/* another board is free */
	rc = pl(r, NULL, &out, &err, "power", "vb0", "off", "--no-wait",
		"--lab", r->lab, "--db", r->db, NULL);
	must(rc, 0, "power vb0 off --no-wait", out, err);
	free(out);
	free(err);
	assert_int_equal(c2_finish(&h, C2_DEADLINE_MS), 0);
}

static void bad_input_gets_clear_exit_codes(void **state)
{
	struct rack *r = R(state);
	static const struct {
		const char *args[8];
		int rc;
		const char *needle;
	} cases[] = {
		{ { "power", "vb0", "sideways", NULL }, 64, "say on, off or cycle" },
		{ { "power", "vb9", "on", NULL }, 64, "no board 'vb9'" },
		{ { "results", "--db", "/nonexistent/x.db", NULL }, 2,
		  "no result store at /nonexistent/x.db" },
		{ { "results", "--verdict", "great", NULL }, 64, "--verdict takes" },
		{ { "results", "--suite", "x", NULL }, 64, "--suite takes" },
		{ { "report", "1", NULL }, 64, "say what to write" },
		{ { "report", "7", "--json", "/dev/null", NULL }, 2, "no suite 7" },
		{ { "flash", "vb0", "/nonexistent.bin", NULL }, 65,
		  "/nonexistent.bin" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pl_test_run o = { .cwd = r->dir,
					 .deadline_ms = C2_DEADLINE_MS };
		char *argv[16], *out = NULL, *err = NULL;
		int n = 0, rc;

		argv[n++] = (char *)pl_test_patchlab();
		for (int k = 0; cases[i].args[k]; k++)
			argv[n++] = (char *)cases[i].args[k];
		if (strcmp(cases[i].args[0], "results") != 0 ||
		    !cases[i].args[1] || strcmp(cases[i].args[1], "--db") != 0) {
			argv[n++] = "--db";
			argv[n++] = r->db;
		}
		if (strcmp(cases[i].args[0], "power") == 0 ||
		    strcmp(cases[i].args[0], "flash") == 0) {
			argv[n++] = "--lab";
			argv[n++] = r->lab;
		}
		argv[n] = NULL;
		rc = pl_test_run(&o, argv, &out, &err);
		if (rc != cases[i].rc || !strstr(err, cases[i].needle))
			fail_msg("case %zu (%s %s): exit %d (want %d)\n%s", i,
				 cases[i].args[0], cases[i].args[1], rc,
				 cases[i].rc, err);
		free(out);
		free(err);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(power_on_then_the_console_answers_version),
		cmocka_unit_test(console_of_a_powered_board_shows_its_boot_banner),
		cmocka_unit_test(results_and_report_after_a_smoke_run),
		cmocka_unit_test(flash_of_the_factory_image_then_power_on_boots_1_0_0),
		cmocka_unit_test(interactive_console_quits_on_ctrl_bracket),
		cmocka_unit_test(leased_board_is_refused_with_no_wait_naming_the_holder),
		cmocka_unit_test(bad_input_gets_clear_exit_codes),
	};

	return cmocka_run_group_tests_name("/pl/cli2", tests, group_setup,
					   group_teardown);
}
