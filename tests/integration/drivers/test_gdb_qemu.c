/* SPDX-License-Identifier: MIT */
/*
 * probe/gdb against a real GDB server: QEMU's gdbstub on an ARM `virt`
 * machine running Debian's U-Boot, started halted (-S). The test listens
 * on port 0 itself and hands the socket to QEMU (-chardev socket,fd=3), so
 * there is no port race and no wait for QEMU to start listening.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "pl_test.h"
#include "drv_peer.h"
#include "patchlab/error.h"
#include "patchlab/probe.h"

#define UBOOT "/usr/lib/u-boot/qemu_arm/u-boot.bin"
#define RAM 0x40000000ull
#define NEVER 0x0fff0000ull /* no code there */

struct result {
	bool done;
	int status;
	uint8_t *data;
	size_t len;
};

static void on_req(struct pl_probe *p, int status, const void *data,
		   size_t len, void *ud)
{
	struct result *r = ud;

	(void)p;
	r->done = true;
	r->status = status;
	free(r->data);
	r->data = malloc(len + 1);
	memcpy(r->data, data ? data : "", len);
	r->data[len] = 0;
	r->len = len;
}

static bool req_done(void *ud)
{
	return ((struct result *)ud)->done;
}

struct stops {
	unsigned want;
	unsigned n;
	uint64_t pc;
	unsigned hits;
};

static void on_stop(struct pl_probe *p, uint64_t addr, unsigned hits,
		    void *ud)
{
	struct stops *s = ud;

	(void)p;
	s->n++;
	s->pc = addr;
	s->hits = hits;
}

static bool stopped(void *ud)
{
	struct stops *s = ud;

	return s->n >= s->want;
}

static int run(uv_loop_t *loop, struct pl_probe *p, struct result *r,
	       enum pl_probe_op op, uint64_t addr, const void *data,
	       size_t len, const char *cmd)
{
	struct pl_probe_req req = {
		.op = op, .addr = addr, .data = data, .len = len, .cmd = cmd,
		.cb = on_req, .user_data = r,
	};

	r->done = false;
	assert_int_equal(pl_probe_submit(p, &req), 0);
	assert_int_equal(drv_loop_until(loop, req_done, r, 20000), 0);
	return r->status;
}

static int listen_any(unsigned *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

static int spawn_qemu(uv_loop_t *loop, struct drv_child *ch, int lfd)
{
	char *argv[] = {
		"qemu-system-arm", "-M", "virt", "-cpu", "cortex-a15",
		"-m", "64", "-display", "none", "-monitor", "none",
		"-serial", "null", "-nic", "none", "-S",
		"-chardev", "socket,id=gdb0,fd=3,server=on,wait=off",
		"-gdb", "chardev:gdb0", "-bios", UBOOT, NULL,
	};
	uv_process_options_t o;
	uv_stdio_container_t io[4];

	memset(ch, 0, sizeof(*ch));
	memset(&o, 0, sizeof(o));
	memset(io, 0, sizeof(io));
	io[0].flags = UV_IGNORE;
	io[1].flags = UV_IGNORE;
	io[2].flags = UV_INHERIT_FD;
	io[2].data.fd = 2;
	io[3].flags = UV_INHERIT_FD;
	io[3].data.fd = lfd;
	o.file = argv[0];
	o.args = argv;
	o.stdio = io;
	o.stdio_count = 4;
	return drv_spawn_opts(loop, ch, &o);
}

static uint8_t *read_uboot(size_t want)
{
	FILE *f = fopen(UBOOT, "rb");
	uint8_t *buf = malloc(want);

	assert_non_null(f);
	assert_int_equal(fread(buf, 1, want, f), want);
	fclose(f);
	return buf;
}

static void gdb_drives_qemu(void **state)
{
	uv_loop_t loop;
	struct pl_test_logcap cap;
	struct pl_fixture_ctx ctx = { 0 };
	struct drv_child qemu;
	struct pl_probe *p;
	struct result r = { 0 };
	struct stops st = { .want = 1 };
	unsigned port;
	char addr[32];
	uint32_t insn;
	uint64_t target;
	uint8_t *pattern, *image;
	const size_t plen = 6000, ilen = 5000;
	int lfd;

	(void)state;
	PL_TEST_SKIP_IF(!pl_test_have_program("qemu-system-arm"),
			"qemu-system-arm not installed");
	PL_TEST_SKIP_IF(access(UBOOT, R_OK) != 0, "%s missing (u-boot-qemu)",
			UBOOT);
	uv_loop_init(&loop);
	pl_test_logcap_init(&cap, "test/probe gdb");
	ctx.loop = &loop;
	ctx.log = cap.log;
	ctx.board_id = "q1";

	lfd = listen_any(&port);
	assert_int_equal(spawn_qemu(&loop, &qemu, lfd), 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
	struct pl_opt o[] = { { .key = "address", .value = addr } };
	struct pl_opts opts = { o, 1 };
	assert_int_equal(pl_probe_open(&p, &ctx, "gdb", &opts), 0);
	pl_probe_set_stop_cb(p, on_stop, &st);

	assert_int_equal(run(&loop, p, &r, PL_PROBE_CONNECT, 0, NULL, 0,
			     NULL), 0);

	/* The reset vector (bank 0 holds the -bios image): `b reset`. */
	assert_int_equal(run(&loop, p, &r, PL_PROBE_READ, 0, NULL, 4, NULL),
			 0);
	assert_int_equal(r.len, 4);
	insn = (uint32_t)r.data[0] | (uint32_t)r.data[1] << 8 |
	       (uint32_t)r.data[2] << 16 | (uint32_t)r.data[3] << 24;
	assert_int_equal(insn & 0x0f000000, 0x0a000000); /* B */
	target = (uint64_t)(8 + ((int32_t)(insn << 8) >> 6));

	/* Multi-packet read: the image itself. */
	image = read_uboot(ilen);
	assert_int_equal(run(&loop, p, &r, PL_PROBE_READ, 0, NULL, ilen,
			     NULL), 0);
	assert_int_equal(r.len, ilen);
	assert_memory_equal(r.data, image, ilen);
	free(image);

	/*
	 * Breakpoint where the branch lands, and one never reached: with two
	 * set, the driver reads the pc (`g`) to tell which one hit.
	 */
	assert_int_equal(run(&loop, p, &r, PL_PROBE_BP_SET, target, NULL, 0,
			     NULL), 0);
	assert_int_equal(run(&loop, p, &r, PL_PROBE_BP_SET, NEVER, NULL, 0,
			     NULL), 0);
	assert_int_equal(run(&loop, p, &r, PL_PROBE_RESUME, 0, NULL, 0,
			     NULL), 0);
	assert_int_equal(drv_loop_until(&loop, stopped, &st, 20000), 0);
	assert_int_equal(st.pc, target);
	assert_int_equal(st.hits, 1);

	/* Once more from reset with the one breakpoint: reported from the
	 * stop reply itself, hit count 2 since it was set. */
	assert_int_equal(run(&loop, p, &r, PL_PROBE_BP_CLEAR, NEVER, NULL, 0,
			     NULL), 0);
	assert_int_equal(run(&loop, p, &r, PL_PROBE_RESET_HALT, 0, NULL, 0,
			     NULL), 0);
	st.want = 2;
	assert_int_equal(run(&loop, p, &r, PL_PROBE_RESUME, 0, NULL, 0,
			     NULL), 0);
	assert_int_equal(drv_loop_until(&loop, stopped, &st, 20000), 0);
	assert_int_equal(st.pc, target);
	assert_int_equal(st.hits, 2);

	/* RAM: write bytes RSP must escape, read and verify them back. */
	pattern = malloc(plen);
	drv_fill(pattern, plen, 11);
	memcpy(pattern, "$#}*\x03", 5);
	assert_int_equal(run(&loop, p, &r, PL_PROBE_WRITE, RAM + 3, pattern,
			     plen, NULL), 0);
	assert_int_equal(run(&loop, p, &r, PL_PROBE_READ, RAM + 3, NULL, plen,
			     NULL), 0);
	assert_int_equal(r.len, plen);
	assert_memory_equal(r.data, pattern, plen);
	assert_int_equal(run(&loop, p, &r, PL_PROBE_VERIFY, RAM + 3, pattern,
			     plen, NULL), 0);
	pattern[4000] ^= 0xff;
	/* QEMU has no qCRC: the driver reads back and names the byte */
	assert_int_equal(run(&loop, p, &r, PL_PROBE_VERIFY, RAM + 3, pattern,
			     plen, NULL), -PL_EDIFFERS);
	assert_non_null(strstr(cap.last, "mismatch at 0x40000fa3"));
	free(pattern);

	/* Monitor commands reach QEMU's HMP. */
	assert_int_equal(run(&loop, p, &r, PL_PROBE_MONITOR, 0, NULL, 0,
			     "info status"), 0);
	assert_non_null(strstr((char *)r.data, "paused"));

	/* QEMU has no flash programming over gdb. */
	assert_int_equal(run(&loop, p, &r, PL_PROBE_ERASE, 0x04000000, NULL,
			     0x40000, NULL), -ENOTSUP);

	/* Run freely, halt on request: not a stop of its own. */
	assert_int_equal(run(&loop, p, &r, PL_PROBE_BP_CLEAR, target, NULL, 0,
			     NULL), 0);
	assert_int_equal(run(&loop, p, &r, PL_PROBE_RESUME, 0, NULL, 0,
			     NULL), 0);
	assert_int_equal(run(&loop, p, &r, PL_PROBE_READ, 0, NULL, 4, NULL),
			 -EBUSY);
	assert_int_equal(run(&loop, p, &r, PL_PROBE_HALT, 0, NULL, 0, NULL),
			 0);

	assert_int_equal(st.n, 2);
	assert_int_equal(run(&loop, p, &r, PL_PROBE_READ, 0, NULL, 4, NULL),
			 0);

	/* The server dies: a lab error from now on. */
	assert_false(drv_child_reap(&loop, &qemu, 0));
	assert_int_equal(run(&loop, p, &r, PL_PROBE_READ, 0, NULL, 4, NULL),
			 -PL_EFIXTURE);

	pl_probe_close(p);
	uv_run(&loop, UV_RUN_DEFAULT);
	close(lfd);
	free(r.data);
	pl_test_loop_drain(&loop);
}

static void gdb_reports_a_refused_connection(void **state)
{
	uv_loop_t loop;
	struct pl_test_logcap cap;
	struct pl_fixture_ctx ctx = { 0 };
	struct pl_probe *p;
	struct result r = { 0 };
	char addr[32];
	int port = drv_free_port();

	(void)state;
	uv_loop_init(&loop);
	pl_test_logcap_init(&cap, "test/probe gdb");
	ctx.loop = &loop;
	ctx.log = cap.log;
	assert_true(port > 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	struct pl_opt o[] = { { .key = "address", .value = addr } };
	struct pl_opts opts = { o, 1 };
	assert_int_equal(pl_probe_open(&p, &ctx, "gdb", &opts), 0);
	assert_int_equal(run(&loop, p, &r, PL_PROBE_CONNECT, 0, NULL, 0,
			     NULL), -PL_EFIXTURE);
	assert_non_null(strstr(cap.last, "connection refused"));
	pl_probe_close(p);
	uv_run(&loop, UV_RUN_DEFAULT);
	free(r.data);
	pl_test_loop_drain(&loop);
}

static void gdb_times_out_on_a_silent_server(void **state)
{
	uv_loop_t loop;
	struct pl_test_logcap cap;
	struct pl_fixture_ctx ctx = { 0 };
	struct pl_probe *p;
	struct result r = { 0 };
	unsigned port;
	char addr[32];
	int lfd;

	(void)state;
	uv_loop_init(&loop);
	pl_test_logcap_init(&cap, "test/probe gdb");
	ctx.loop = &loop;
	ctx.log = cap.log;
	/* A hung probe: the kernel completes the connection, nobody ever
	 * answers qSupported. */
	lfd = listen_any(&port);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
	struct pl_opt o[] = {
		{ .key = "address", .value = addr },
		{ .key = "timeout_ms", .value = "200" },
	};
	struct pl_opts opts = { o, 2 };
	assert_int_equal(pl_probe_open(&p, &ctx, "gdb", &opts), 0);
	assert_int_equal(run(&loop, p, &r, PL_PROBE_CONNECT, 0, NULL, 0,
			     NULL), -ETIMEDOUT);
	assert_non_null(strstr(cap.last, "no reply within 200 ms"));
	/* The session is over: a lab error from now on. */
	assert_int_equal(run(&loop, p, &r, PL_PROBE_READ, 0, NULL, 4, NULL),
			 -PL_EFIXTURE);
	pl_probe_close(p);
	uv_run(&loop, UV_RUN_DEFAULT);
	close(lfd);
	free(r.data);
	pl_test_loop_drain(&loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(gdb_drives_qemu),
		cmocka_unit_test(gdb_reports_a_refused_connection),
		cmocka_unit_test(gdb_times_out_on_a_silent_server),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
