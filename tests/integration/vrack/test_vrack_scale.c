/* SPDX-License-Identifier: MIT */
/*
 * /pl/vrack/scale: a thousand boards in one rack process. `vrack up
 * --boards 1000`, every board powered through its LCUS relay channel, and
 * every console answers `version`. PL_VRACK_SCALE_BOARDS overrides the count
 * (for a quick run). No timing is asserted: tests/bench/bench_vrack_scale.c
 * measures.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "pl_test.h"
#include "vrack_util.h"

#define T_MS 300000u

struct scale {
	char *dir;
	int pid;
};

static int setup(void **state)
{
	struct scale *sc = calloc(1, sizeof(*sc));

	pl_test_become_subreaper();
	sc->dir = pl_test_tmpdir("vrack-scale");
	*state = sc;
	return sc->dir ? 0 : -1;
}

/* Whatever happened, no rack outlives the test. */
static int teardown(void **state)
{
	struct scale *sc = *state;

	if (sc->pid > 0) {
		kill(sc->pid, SIGTERM);
		pl_test_reap(sc->pid, PL_TEST_REAP_DEADLINE_MS);
	}
	pl_test_rmrf(sc->dir);
	free(sc->dir);
	free(sc);
	return 0;
}

static void thousand_boards_answer_version(void **state)
{
	struct scale *sc = *state;
	const char *env = getenv("PL_VRACK_SCALE_BOARDS");
	size_t n = env ? strtoul(env, NULL, 10) : 1000;
	size_t nrelays = (n + 7) / 8;
	char *dir = sc->dir;
	char *out = NULL, *err = NULL, nb[16];
	struct vt_con *c = calloc(n, sizeof(*c));
	int *relay = calloc(nrelays, sizeof(*relay));
	struct rlimit rl;
	int rc, pid;

	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	PL_TEST_SKIP_IF(rl.rlim_cur < n + nrelays + 64,
			"RLIMIT_NOFILE hard limit %llu is too low for %zu boards",
			(unsigned long long)rl.rlim_max, n);
	snprintf(nb, sizeof(nb), "%zu", n);
	rc = vt_patchlab(&out, &err, "up", "--dir", dir, "--boards", nb,
			 "--speed", "10", NULL);
	if (rc != 0)
		fail_msg("vrack up --boards %zu: exit %d\n%s%s", n, rc, out, err);
	free(out);
	free(err);
	pid = pl_test_rack_pid(dir);
	assert_true(pid > 0);
	sc->pid = pid;

	for (size_t i = 0; i < n; i++) {
		c[i].fd = vt_open_nth(dir, "vb", i, ".console", true);
		assert_true(c[i].fd >= 0);
	}
	for (size_t k = 0; k < nrelays; k++) {
		relay[k] = vt_open_nth(dir, "relay", k, ".tty", false);
		assert_true(relay[k] >= 0);
		for (unsigned ch = 1; ch <= 8 && k * 8 + ch - 1 < n; ch++)
			assert_int_equal(vt_lcus(relay[k], ch, true), 0);
	}
	assert_int_equal(vt_wait_all(c, n, "> ", T_MS), 0);
	for (size_t i = 0; i < n; i++) {
		c[i].from = c[i].acc.len;
		assert_int_equal(vt_write_all(c[i].fd, "version\r", 8), 0);
	}
	assert_int_equal(vt_wait_all(c, n, "version 1.0.0 slot A", T_MS), 0);

	for (size_t k = 0; k < nrelays; k++) {
		for (unsigned ch = 1; ch <= 8; ch++)
			vt_lcus(relay[k], ch, false);
		close(relay[k]);
	}
	for (size_t i = 0; i < n; i++) {
		close(c[i].fd);
		pl_strbuf_free(&c[i].acc);
	}
	rc = vt_patchlab(&out, &err, "down", "--dir", dir, NULL);
	if (rc != 0)
		fail_msg("vrack down: exit %d\n%s%s", rc, out, err);
	free(out);
	free(err);
	sc->pid = 0;
	assert_int_equal(pl_test_reap(pid, PL_TEST_REAP_DEADLINE_MS), 0);
	free(c);
	free(relay);
}

int main(void)
{
	/* a peer (sx, a GDB port) that hangs up must fail an assertion, not
	 * kill the test and orphan its rack */
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(thousand_boards_answer_version,
						setup, teardown),
	};

	return cmocka_run_group_tests_name("/pl/vrack/scale", tests, NULL, NULL);
}
