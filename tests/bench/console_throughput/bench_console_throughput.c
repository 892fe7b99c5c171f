/* SPDX-License-Identifier: MIT */
/*
 * bench_console_throughput [CONSOLES] [SECONDS] [OUT.json]: how many bytes
 * the tty console driver delivers when many consoles stream at once, and
 * whether it loses any.
 *
 * Opens CONSOLES (64) pty pairs. A child process writes a known pattern to
 * every master at 3 Mbit/s (300,000 bytes/s: 8N1 is 10 bits a byte),
 * paced every 5 ms, for SECONDS (10); this process reads every slave through
 * pl_console_open("tty", baud 3000000) on one libuv loop and checks each
 * byte against the pattern. A pty does not drop bytes when the reader falls
 * behind (the writer blocks), so "behind" is reported apart: the writer's
 * largest backlog, what a real UART without flow control would have lost.
 *
 * Reports per-console bytes/s (min, median, max over the consoles, each
 * from its first byte to its last), bytes lost (expected minus received,
 * plus bytes that differ from the pattern), the writer's largest backlog,
 * and this process's CPU. Prints a table and writes JSON (default
 * $PL_SOURCE_DIR/runs/bench/console_throughput.json). Not a test: it
 * asserts nothing and is not registered with ctest.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "patchlab/clock.h"
#include "patchlab/console.h"

#define RATE_BPS 300000u /* bytes/s: 3 Mbit/s at 10 bits a byte */
#define TICK_NS 5000000ull
#define MAX_CONSOLES 512

struct bench;

struct con {
	struct bench *b;
	struct pl_console_cbs cbs;
	struct pl_console *c;
	char path[64];
	int master;
	uint64_t rx, bad;
	uint64_t first_ns, last_ns;
};

struct bench {
	unsigned n;
	uint64_t total; /* bytes per console */
	struct con *cons;
	uint64_t done;  /* consoles with every byte */
};

/* Byte i of console k: changes every byte, differs between consoles, and a
 * shift by any small offset never matches (catches a lost or doubled byte). */
static uint8_t pattern(unsigned k, uint64_t i)
{
	uint64_t x = i * 0x9e3779b97f4a7c15ull + k * 0xbf58476d1ce4e5b9ull;

	return (uint8_t)(x >> 56 ^ x >> 29);
}

static void on_data(struct pl_console *c, const uint8_t *buf, size_t len,
		    uint64_t t_ns, void *ud)
{
	struct con *k = ud;
	struct bench *b = k->b;

	(void)c;
	if (k->rx == 0)
		k->first_ns = t_ns;
	k->last_ns = t_ns;
	for (size_t j = 0; j < len; j++)
		if (buf[j] != pattern((unsigned)(k - b->cons), k->rx + j))
			k->bad++;
	if (k->rx < b->total && k->rx + len >= b->total)
		b->done++;
	k->rx += len;
}

/* The writer (a child): paces TOTAL bytes of pattern into every master.
 * Reports its largest backlog in bytes on fd `rep`. */
static void writer(struct con *cons, unsigned n, uint64_t total, int rep)
{
	uint64_t *sent = calloc(n, sizeof(*sent));
	uint8_t buf[8192];
	uint64_t t0 = pl_now_ns(), backlog_max = 0;
	struct timespec next;
	bool all;

	if (!sent)
		_exit(1);
	clock_gettime(CLOCK_MONOTONIC, &next);
	do {
		uint64_t el = pl_now_ns() - t0;
		uint64_t due = el * RATE_BPS / 1000000000ull;

		if (due > total)
			due = total;
		all = true;
		for (unsigned k = 0; k < n; k++) {
			while (sent[k] < due) {
				size_t m = (size_t)(due - sent[k]);
				ssize_t w;

				if (m > sizeof(buf))
					m = sizeof(buf);
				for (size_t j = 0; j < m; j++)
					buf[j] = pattern(k, sent[k] + j);
				w = write(cons[k].master, buf, m);
				if (w <= 0)
					break; /* EAGAIN: the reader is behind */
				sent[k] += (uint64_t)w;
			}
			if (due - sent[k] > backlog_max)
				backlog_max = due - sent[k];
			if (sent[k] < total)
				all = false;
		}
		next.tv_nsec += (long)TICK_NS;
		if (next.tv_nsec >= 1000000000L) {
			next.tv_nsec -= 1000000000L;
			next.tv_sec++;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
	} while (!all && pl_now_ns() - t0 < 120ull * 1000000000ull);
	if (write(rep, &backlog_max, sizeof(backlog_max)) < 0)
		_exit(1);
	free(sent);
	_exit(all ? 0 : 3);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void on_tick(uv_timer_t *t)
{
	struct bench *b = t->data;

	if (b->done >= b->n)
		uv_stop(t->loop);
}

static void on_stop(uv_timer_t *t)
{
	uv_stop(t->loop);
}

static int open_pty(struct con *k)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);

	if (m < 0)
		return -errno;
	if (grantpt(m) < 0 || unlockpt(m) < 0 ||
	    ptsname_r(m, k->path, sizeof(k->path)) != 0) {
		int e = -errno;

		close(m);
		return e;
	}
	k->master = m;
	return 0;
}

int main(int argc, char **argv)
{
	unsigned n = argc > 1 ? (unsigned)atoi(argv[1]) : 64;
	unsigned secs = argc > 2 ? (unsigned)atoi(argv[2]) : 10;
	const char *src = getenv("PL_SOURCE_DIR");
	char def_out[4096];
	const char *out = argc > 3 ? argv[3] : NULL;
	struct bench b = { 0 };
	uv_loop_t loop;
	uv_timer_t tick, stop;
	struct pl_fixture_ctx ctx = { 0 };
	struct rusage ru0, ru1;
	uint64_t t0, t1, backlog = 0, lost = 0, bad = 0, *rates = NULL;
	int rep[2] = { -1, -1 }, st = 0, rc = 1;
	bool timers = false;
	pid_t pid = -1;
	char cpu[512] = "unknown", date[32];
	FILE *f;

	if (n == 0 || n > MAX_CONSOLES || secs == 0) {
		fprintf(stderr, "usage: %s [CONSOLES 1..%d] [SECONDS] [OUT.json]\n",
			argv[0], MAX_CONSOLES);
		return 64;
	}
	if (!out) {
		snprintf(def_out, sizeof(def_out), "%s/runs/bench", src ? src : ".");
		mkdir(def_out, 0755);
		strncat(def_out, "/console_throughput.json",
			sizeof(def_out) - strlen(def_out) - 1);
		out = def_out;
	}
	signal(SIGPIPE, SIG_IGN);
	b.n = n;
	b.total = (uint64_t)RATE_BPS * secs;
	b.cons = calloc(n, sizeof(*b.cons));
	rates = calloc(n, sizeof(*rates));
	if (!b.cons || !rates || uv_loop_init(&loop) != 0)
		return 2;
	ctx.loop = &loop;
	ctx.board_id = "bench";
	for (unsigned i = 0; i < n; i++) {
		b.cons[i].master = -1;
		b.cons[i].b = &b;
		b.cons[i].cbs.data = on_data;
		b.cons[i].cbs.user_data = &b.cons[i];
	}
	for (unsigned i = 0; i < n; i++) {
		struct pl_opt o[] = {
			{ .key = "path", .value = b.cons[i].path },
			{ .key = "baud", .value = "3000000" },
			{ .key = "reopen", .value = "false" },
		};
		struct pl_opts opts = { o, 3 };
		int e = open_pty(&b.cons[i]);

		if (e == 0)
			e = pl_console_open(&b.cons[i].c, &ctx, "tty", &opts,
					    &b.cons[i].cbs);
		if (e < 0) {
			fprintf(stderr, "console %u (%s): %s\n", i, b.cons[i].path,
				strerror(-e));
			goto out;
		}
	}
	if (pipe(rep) < 0)
		goto out;
	getrusage(RUSAGE_SELF, &ru0);
	t0 = pl_now_ns();
	pid = fork();
	if (pid < 0)
		goto out;
	if (pid == 0) {
		close(rep[0]);
		writer(b.cons, n, b.total, rep[1]);
	}
	close(rep[1]);
	rep[1] = -1;
	uv_timer_init(&loop, &tick);
	timers = true;
	tick.data = &b;
	uv_timer_start(&tick, on_tick, 50, 50);
	uv_timer_init(&loop, &stop);
	uv_timer_start(&stop, on_stop, (secs + 30) * 1000ull, 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	t1 = pl_now_ns();
	getrusage(RUSAGE_SELF, &ru1);
	if (read(rep[0], &backlog, sizeof(backlog)) != sizeof(backlog))
		backlog = UINT64_MAX;
	kill(pid, SIGTERM);
	waitpid(pid, &st, 0);
	pid = -1;

	for (unsigned i = 0; i < n; i++) {
		struct con *k = &b.cons[i];
		double span = (double)(k->last_ns - k->first_ns) / 1e9;

		lost += k->rx < b.total ? b.total - k->rx : 0;
		bad += k->bad;
		rates[i] = span > 0 ? (uint64_t)((double)k->rx / span) : 0;
	}
	qsort(rates, n, sizeof(*rates), cmp_u64);
	{
		double cpu_s = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec +
					ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
			       (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec +
					ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
		double wall = (double)(t1 - t0) / 1e9;
		time_t now = time(NULL);
		char line[256];

		f = fopen("/proc/cpuinfo", "r");
		while (f && fgets(line, sizeof(line), f))
			if (strncmp(line, "model name", 10) == 0) {
				char *p = strchr(line, ':');

				snprintf(cpu, sizeof(cpu), "%s", p ? p + 2 : line);
				cpu[strcspn(cpu, "\n\"")] = 0;
				break;
			}
		if (f)
			fclose(f);
		strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));

		printf("%-34s %u x %" PRIu64 " bytes at %u bytes/s (3 Mbit/s 8N1)\n",
		       "consoles", n, b.total, RATE_BPS);
		printf("%-34s %" PRIu64 " / %" PRIu64 " / %" PRIu64 "\n",
		       "bytes/s per console min/med/max", rates[0], rates[n / 2],
		       rates[n - 1]);
		printf("%-34s %.0f\n", "bytes/s all consoles",
		       (double)(b.total * n - lost) / wall);
		printf("%-34s %" PRIu64 " (missing) + %" PRIu64 " (wrong)\n",
		       "bytes lost (target 0)", lost, bad);
		printf("%-34s %" PRIu64 " bytes (a UART without flow control "
		       "would lose these)\n", "writer's largest backlog", backlog);
		printf("%-34s %.2f s over %.2f s wall (%.0f%% of one core)\n",
		       "reader CPU (this process)", cpu_s, wall,
		       100.0 * cpu_s / wall);
		f = fopen(out, "w");
		if (!f) {
			fprintf(stderr, "%s: %s\n", out, strerror(errno));
			goto out;
		}
		fprintf(f,
			"{\"bench\": \"console_throughput\", \"machine\": "
			"{\"nproc\": %ld, \"cpu\": \"%s\", \"date\": \"%s\"},\n"
			"  \"wall_s\": %.2f, \"consoles\": %u, \"rate_target_Bps\": %u,\n"
			"  \"bytes_per_console\": %" PRIu64 ",\n"
			"  \"Bps_per_console_min\": %" PRIu64
			", \"Bps_per_console_median\": %" PRIu64
			", \"Bps_per_console_max\": %" PRIu64 ",\n"
			"  \"bytes_missing\": %" PRIu64 ", \"bytes_wrong\": %" PRIu64
			", \"writer_backlog_max\": %" PRIu64 ",\n"
			"  \"reader_cpu_s\": %.3f, \"target\": \"0 bytes lost\"}\n",
			sysconf(_SC_NPROCESSORS_ONLN), cpu, date, wall, n, RATE_BPS,
			b.total, rates[0], rates[n / 2], rates[n - 1], lost, bad,
			backlog, cpu_s);
		fclose(f);
		printf("console_throughput: %.1f s; figures in %s\n", wall, out);
	}
	rc = 0;
out:
	if (pid > 0) {
		kill(pid, SIGTERM);
		waitpid(pid, &st, 0);
	}
	for (unsigned i = 0; i < n; i++) {
		pl_console_close(b.cons[i].c);
		if (b.cons[i].master >= 0)
			close(b.cons[i].master);
	}
	if (rep[0] >= 0)
		close(rep[0]);
	if (rep[1] >= 0)
		close(rep[1]);
	if (timers) {
		uv_close((uv_handle_t *)&tick, NULL);
		uv_close((uv_handle_t *)&stop, NULL);
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&loop) != 0)
		fprintf(stderr, "console_throughput: handles left on the loop\n");
	free(b.cons);
	free(rates);
	return rc;
}
