/* SPDX-License-Identifier: MIT */
/*
 * The openocd probe driver against a real OpenOCD 0.12:
 *   - `adapter driver dummy` + `noinit`: the process and RPC path, command
 *     errors detected, OpenOCD killed in the middle of a request;
 *   - `adapter driver remote_bitbang` against our JTAG TAP simulator
 *     (tapsim.c): scan_chain and irscan/drscan read our IDCODE.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "patchlab/error.h"
#include "patchlab/probe.h"

#include "pl_test.h"
#include "tapsim.h"

#define SIM_IDCODE 0x1badb0d1u

struct req_wait {
	bool done;
	int status;
	char *text;  /* data as a string */
	size_t len;
	uint8_t bytes[64];
};

static void on_req(struct pl_probe *p, int status, const void *data,
		   size_t len, void *ud)
{
	struct req_wait *w = ud;

	(void)p;
	w->done = true;
	w->status = status;
	w->len = len;
	free(w->text);
	w->text = calloc(1, len + 1);
	if (data && len) {
		memcpy(w->text, data, len);
		memcpy(w->bytes, data, len < sizeof(w->bytes) ? len :
		       sizeof(w->bytes));
	}
}

static bool req_done(void *ud)
{
	return ((struct req_wait *)ud)->done;
}

/* Submit and wait; returns the status, w->text holds the reply. */
static int run_req(uv_loop_t *loop, struct pl_probe *p, struct req_wait *w,
		   enum pl_probe_op op, const char *cmd)
{
	struct pl_probe_req r = { .op = op, .cmd = cmd, .cb = on_req,
				  .user_data = w };

	w->done = false;
	assert_int_equal(pl_probe_submit(p, &r), 0);
	assert_int_equal(pl_test_loop_until(loop, req_done, w, 20000), 0);
	return w->status;
}

struct fixture {
	uv_loop_t loop;
	struct pl_test_logcap cap;
	struct pl_probe *probe;
	struct req_wait w;
};

static void open_probe(struct fixture *f, const char *const *cmds,
		       size_t ncmds)
{
	struct pl_fixture_ctx ctx = { 0 };
	struct pl_opt o[2] = {
		{ .key = "commands", .list = cmds, .list_len = ncmds },
		{ .key = "tcl_port", .value = "0" },
	};
	struct pl_opts opts = { o, 2 };

	pl_test_logcap_init(&f->cap, "openocd");
	ctx.loop = &f->loop;
	ctx.log = f->cap.log;
	ctx.board_id = "sim";
	assert_int_equal(pl_probe_open(&f->probe, &ctx, "openocd", &opts), 0);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	uv_loop_init(&f->loop);
	*state = f;
	return 0;
}

static pid_t openocd_child(void);

static bool no_openocd_child(void *ud)
{
	(void)ud;
	return openocd_child() <= 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	/* The driver reaps OpenOCD on the loop after close (SIGTERM, then
	 * SIGKILL after a grace period): keep the loop running until it did,
	 * so the drain below finds the driver's handles closed. */
	pl_probe_close(f->probe);
	assert_int_equal(pl_test_loop_until(&f->loop, no_openocd_child, NULL,
					    10000), 0);
	pl_test_loop_drain(&f->loop);
	free(f->w.text);
	free(f);
	return 0;
}

static const char *const dummy_cmds[] = {
	"adapter driver dummy", "transport select jtag", "noinit",
};
#define N_DUMMY (sizeof(dummy_cmds) / sizeof(dummy_cmds[0]))

static void dummy_rpc_round_trip(void **state)
{
	struct fixture *f = *state;

	open_probe(f, dummy_cmds, N_DUMMY);
	assert_int_equal(run_req(&f->loop, f->probe, &f->w, PL_PROBE_CONNECT,
				 NULL), 0);
	assert_non_null(strstr(f->w.text, "Open On-Chip Debugger"));
	assert_int_equal(run_req(&f->loop, f->probe, &f->w, PL_PROBE_MONITOR,
				 "expr {6 * 7}"), 0);
	assert_string_equal(f->w.text, "42");
	/* A result with spaces and a colon survives the wrapping. */
	assert_int_equal(run_req(&f->loop, f->probe, &f->w, PL_PROBE_MONITOR,
				 "return {a: b c}"), 0);
	assert_string_equal(f->w.text, "a: b c");
}

static void dummy_command_errors_are_refusals(void **state)
{
	struct fixture *f = *state;

	open_probe(f, dummy_cmds, N_DUMMY);
	assert_int_equal(run_req(&f->loop, f->probe, &f->w, PL_PROBE_MONITOR,
				 "no_such_command 1"), -PL_EREFUSED);
	assert_non_null(strstr(f->w.text, "invalid command name"));
	/* No target configured: halt is refused, not a lab error. */
	assert_int_equal(run_req(&f->loop, f->probe, &f->w, PL_PROBE_HALT,
				 NULL), -PL_EREFUSED);
	/* Memory and flash ops build real commands; with no target OpenOCD
	 * refuses them, and the request says why. */
	{
		static const uint8_t img[] = { 1, 2, 3, 4 };
		struct pl_probe_req r = { .op = PL_PROBE_FLASH, .addr = 0x8000000,
					  .data = img, .len = sizeof(img),
					  .cb = on_req, .user_data = &f->w };

		f->w.done = false;
		assert_int_equal(pl_probe_submit(f->probe, &r), 0);
		assert_int_equal(pl_test_loop_until(&f->loop, req_done, &f->w,
						    20000), 0);
		assert_int_equal(f->w.status, -PL_EREFUSED);
		assert_true(f->w.len > 0);
		r.op = PL_PROBE_READ;
		r.data = NULL;
		f->w.done = false;
		assert_int_equal(pl_probe_submit(f->probe, &r), 0);
		assert_int_equal(pl_test_loop_until(&f->loop, req_done, &f->w,
						    20000), 0);
		assert_int_equal(f->w.status, -PL_EREFUSED);
	}
	/* And the RPC still works afterwards. */
	assert_int_equal(run_req(&f->loop, f->probe, &f->w, PL_PROBE_MONITOR,
				 "expr {1 + 1}"), 0);
	assert_string_equal(f->w.text, "2");
}

/* Our one openocd child, from /proc (0 when there is none). */
static pid_t openocd_child(void)
{
	char path[64], comm[64];
	FILE *fp;
	pid_t pid = 0, c;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", getpid(),
		 getpid());
	fp = fopen(path, "r");
	if (!fp)
		return -1;
	while (fscanf(fp, "%d", &c) == 1) {
		FILE *cf;

		snprintf(path, sizeof(path), "/proc/%d/comm", c);
		cf = fopen(path, "r");
		if (cf && fgets(comm, sizeof(comm), cf) &&
		    !strncmp(comm, "openocd", 7))
			pid = c;
		if (cf)
			fclose(cf);
	}
	fclose(fp);
	return pid;
}

static bool reaped(void *ud)
{
	pid_t pid = *(pid_t *)ud;
	siginfo_t si = { 0 };

	/* Reaped by the driver's loop: no longer our child. WNOWAIT: look
	 * without reaping it ourselves (waitpid here took the zombie from
	 * the driver on a loaded host, which then never freed its probe). */
	return waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0 &&
	       errno == ECHILD;
}

static void dummy_killed_mid_request_is_lab_error(void **state)
{
	struct fixture *f = *state;
	struct pl_probe_req r = { .op = PL_PROBE_MONITOR, .cmd = "sleep 20000",
				  .cb = on_req, .user_data = &f->w };
	pid_t pid;

	open_probe(f, dummy_cmds, N_DUMMY);
	assert_int_equal(run_req(&f->loop, f->probe, &f->w, PL_PROBE_CONNECT,
				 NULL), 0);
	pid = openocd_child();
	PL_TEST_SKIP_IF(pid < 0, "no /proc/PID/task/TID/children here");
	assert_true(pid > 0);

	f->w.done = false;
	assert_int_equal(pl_probe_submit(f->probe, &r), 0);
	/* The command is on the wire (uv_write tries at once); OpenOCD now
	 * sleeps inside it. Pull it away. */
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(pl_test_loop_until(&f->loop, req_done, &f->w, 20000),
			 0);
	assert_int_equal(f->w.status, -PL_EFIXTURE);
	assert_int_equal(pl_test_loop_until(&f->loop, reaped, &pid, 20000), 0);
	/* Everything after fails as a lab error too, without a callback. */
	r.op = PL_PROBE_HALT;
	f->w.done = false;
	assert_int_equal(pl_probe_submit(f->probe, &r), 0);
	assert_int_equal(pl_test_loop_until(&f->loop, req_done, &f->w, 20000),
			 0);
	assert_int_equal(f->w.status, -PL_EFIXTURE);
	assert_true(f->cap.errors >= 1);
}

static void bitbang_scan_chain_shows_our_idcode(void **state)
{
	struct fixture *f = *state;
	struct tapsim *sim;
	char port[48], newtap[96], want[16];

	assert_int_equal(tapsim_open(&sim, &f->loop, SIM_IDCODE), 0);
	snprintf(port, sizeof(port), "remote_bitbang port %u",
		 tapsim_port(sim));
	snprintf(newtap, sizeof(newtap),
		 "jtag newtap sim tap -irlen 4 -expected-id 0x%08x",
		 SIM_IDCODE);
	{
		const char *const cmds[] = {
			"adapter driver remote_bitbang",
			"remote_bitbang host 127.0.0.1", port,
			"transport select jtag", newtap, "init",
		};

		open_probe(f, cmds, sizeof(cmds) / sizeof(cmds[0]));
		assert_int_equal(run_req(&f->loop, f->probe, &f->w,
					 PL_PROBE_CONNECT, NULL), 0);
	}
	snprintf(want, sizeof(want), "0x%08x", SIM_IDCODE);
	assert_int_equal(run_req(&f->loop, f->probe, &f->w, PL_PROBE_MONITOR,
				 "scan_chain"), 0);
	assert_non_null(strstr(f->w.text, "sim.tap"));
	assert_non_null(strstr(f->w.text, want));

	/* IDCODE through irscan/drscan: the simulator's data register. */
	assert_int_equal(run_req(&f->loop, f->probe, &f->w, PL_PROBE_MONITOR,
				 "irscan sim.tap 0xe; drscan sim.tap 32 0"), 0);
	assert_non_null(strstr(f->w.text, want + 2));
	/* BYPASS: one bit that captures 0. */
	assert_int_equal(run_req(&f->loop, f->probe, &f->w, PL_PROBE_MONITOR,
				 "irscan sim.tap 0xf; drscan sim.tap 8 0xff"), 0);
	assert_non_null(strstr(f->w.text, "fe"));
	assert_true(tapsim_requests(sim) > 100);

	tapsim_close(sim);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(dummy_rpc_round_trip, setup,
						teardown),
		cmocka_unit_test_setup_teardown(dummy_command_errors_are_refusals,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			dummy_killed_mid_request_is_lab_error, setup, teardown),
		cmocka_unit_test_setup_teardown(
			bitbang_scan_chain_shows_our_idcode, setup, teardown),
	};

	if (!pl_test_have_program("openocd")) {
		pl_test_print_skip("no openocd: run scripts/install-deps");
		return PL_TEST_SKIP_CODE;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
