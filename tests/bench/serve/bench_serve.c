/* SPDX-License-Identifier: MIT */
/*
 * bench_serve [CLIENTS] [OUT.json]: `patchlab serve` with CLIENTS (default
 * 50) browsers on one suite of 500 runs, as the suite page behaves: each
 * fetches /api/suites/ID, then follows /events?since=SEQ, and fetches the
 * suite again on each change of it.
 *   idle      the server's CPU (user+sys from /proc, % of one core) over
 *             10 s with no client, then with every client connected and
 *             nothing happening (target: under 5 %);
 *   active    20 runs stored 0.5 s apart: the time from the store's commit
 *             to the event at each client (median, p99, max), and the
 *             server's CPU while all clients refetch the suite each time;
 *   trigger   the controller's console-trigger latency (bench_trigger_
 *             latency, a real suite on a virtual rack: console line seen
 *             -> power command issued, median / p99 / max) alone, then
 *             again with `patchlab serve` on the same store and CLIENTS
 *             clients following that suite live (each refetches the suite
 *             at most once a second, as a page that coalesces): is it
 *             unchanged? PL_BENCH_SERVE_ROUNDS (default 3) rounds of the
 *             pair, alternating, so the machine's own spread shows next to
 *             any difference. PL_BENCH_SERVE_QUICK=1 skips this part (about
 *             a minute a round); PL_BENCH_SERVE_TRIGGER_ONLY=1 runs only it.
 * Prints the figures and writes $PL_BENCH_OUT/serve.json (default
 * $PL_SOURCE_DIR/runs/bench/serve.json): "trigger_issued_minus_seen_rounds"
 * holds each round's {"alone", "with_clients"} figures as
 * bench_trigger_latency writes them, and the server's CPU. The clients
 * join once the suite has begun (its store is made then): the line "(with
 * clients: ...)" says after how long. The clients stand for browsers,
 * which are not on the lab host: they run at niceness 19 (the server at
 * its own, `serve --nice`, default 10; PL_BENCH_SERVE_NICE=N|idle sets
 * it). PL_BENCH_SERVE_PIN=1 puts the
 * trigger bench on CPU 0 and the server and clients on CPU 1 (pin_to()).
 * Not a test: it asserts nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <glob.h>
#include <sched.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "patchlab/clock.h"
#include "pl_test.h"
#include "serve_test.h"

#define SUITE_RUNS 500
#define ACTIVE_RUNS 20
#define IDLE_S 10
#define DEADLINE_MS 30000

/* user+sys CPU of pid in clock ticks, or -1. */
static long long cpu_ticks(int pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	/* after ") S": fields 4.. ; utime and stime are fields 14 and 15 */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
			 "%llu %llu", &ut, &st) != 2)
		return -1;
	return (long long)(ut + st);
}

static double pct_of_core(long long ticks, double secs)
{
	return 100.0 * (double)ticks / (double)sysconf(_SC_CLK_TCK) / secs;
}

static void wait_s(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) *
						 1e9) };

	/* a measurement window, not a synchronisation */
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* GET /api/suites/ID as the page does: 0 when 200. */
static int fetch_suite(const struct serve_proc *p, const char *path)
{
	char *body = NULL;
	int status = 0, rc = http_req(p, "GET", path, NULL, &status, &body);

	free(body);
	return rc ? rc : status == 200 ? 0 : -EPROTO;
}

static FILE *open_out(int argc, char **argv, char **outp)
{
	const char *dir = getenv("PL_BENCH_OUT");
	const char *src = getenv("PL_SOURCE_DIR");
	char *runs;

	if (argc > 2) {
		*outp = strdup(argv[2]);
	} else {
		if (!dir) {
			if (asprintf(&runs, "%s/runs", src ? src : ".") > 0) {
				mkdir(runs, 0755);
				free(runs);
			}
			if (asprintf(&runs, "%s/runs/bench", src ? src : ".")
			    < 0)
				return NULL;
		} else {
			runs = strdup(dir);
		}
		if (!runs)
			return NULL;
		mkdir(runs, 0755);
		if (asprintf(outp, "%s/serve.json", runs) < 0)
			*outp = NULL;
		free(runs);
	}
	return *outp ? fopen(*outp, "w") : NULL;
}

/*
 * PL_BENCH_SERVE_PIN=1: the trigger bench (its rack and controller) on
 * CPU 0, the server and the clients (this process) on CPU 1, so the
 * server's effect on the controller is seen apart from sharing a core.
 * Every thread of pid (0: this process) on cpu; 0 or -errno.
 */
static int pin_to(int pid, int cpu)
{
	char path[64];
	cpu_set_t set;
	struct dirent *e;
	DIR *d;
	int rc = 0;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	snprintf(path, sizeof(path), "/proc/%d/task", pid ? pid : getpid());
	d = opendir(path);
	if (!d)
		return -errno;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' &&
		    sched_setaffinity(atoi(e->d_name), sizeof(set), &set) < 0)
			rc = -errno;
	closedir(d);
	return rc;
}

/* PL_BENCH_SERVE_NICE=N|idle: the server's `--nice` (default: its own) */
static const char *const *serve_extra(void)
{
	static const char *extra[3];
	const char *v = getenv("PL_BENCH_SERVE_NICE");

	if (!v || !*v)
		return NULL;
	extra[0] = "--nice";
	extra[1] = v;
	extra[2] = NULL;
	return extra;
}

static bool pinned(void)
{
	return getenv("PL_BENCH_SERVE_PIN") != NULL;
}

/* bench_trigger_latency with TMPDIR=tmp and PL_BENCH_OUT=out; its pid.
 * keep: it leaves its directory (a server still has its store open; ours
 * is removed at the end). */
static int spawn_trigger(const char *tmp, const char *out, bool keep)
{
	int pid = fork();

	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (pinned() && pin_to(0, 0))
			_exit(126);
		setenv("TMPDIR", tmp, 1);
		setenv("PL_BENCH_OUT", out, 1);
		if (keep)
			setenv("PL_BENCH_KEEP", "1", 1);
		if (null >= 0)
			dup2(null, 1);
		execl(PL_BENCH_TRIGGER, PL_BENCH_TRIGGER, (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* Its figures: issued - seen (the console line seen -> the power command
 * issued), from OUT/trigger_latency.json; NULL if it failed. */
static json_t *trigger_figures(const char *out)
{
	char *path;
	json_t *j, *f = NULL;

	if (asprintf(&path, "%s/trigger_latency.json", out) < 0)
		return NULL;
	j = json_load_file(path, 0, NULL);
	free(path);
	if (j)
		f = json_incref(json_object_get(j, "issued_minus_seen"));
	json_decref(j);
	return f;
}

static int wait_exit(int pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/*
 * The trigger bench while CLIENTS pages follow its suite. Returns the
 * server's CPU (% of a core) over the suite, or -1.
 */
static double trigger_with_clients(const char *dir, int round,
				   size_t nclients, json_t **figures)
{
	char *tmp = NULL, *out = NULL, *pattern = NULL, path[64], since[32];
	struct sse_conn *cl = calloc(nclients, sizeof(*cl));
	int64_t *fetched = calloc(nclients, sizeof(*fetched));
	bool *dirty = calloc(nclients, sizeof(*dirty));
	struct serve_proc srv = { 0 };
	long long suite = 0, events = 0, fetches = 0;
	double pct = -1, secs;
	uint64_t t0ns, spawned;
	long long t0;
	glob_t g;
	int pid, reaped = 0, wst = 0;

	*figures = NULL;
	if (!cl || !fetched || !dirty ||
	    asprintf(&tmp, "%s/tb%d", dir, round) < 0 ||
	    asprintf(&out, "%s/ob%d", dir, round) < 0 ||
	    asprintf(&pattern, "%s/*/out/patchlab.db", tmp) < 0)
		return -1;
	mkdir(tmp, 0755);
	mkdir(out, 0755);
	spawned = pl_now_ns();
	pid = spawn_trigger(tmp, out, true);
	if (pid < 0)
		return -1;
	/* its store appears when its suite starts */
	for (int64_t end = serve_now_ms() + 120000;;) {
		if (glob(pattern, 0, NULL, &g) == 0)
			break;
		globfree(&g);
		if (serve_now_ms() > end ||
		    (reaped = waitpid(pid, &wst, WNOHANG)) != 0) {
			fprintf(stderr, "bench_serve: no store from the "
				"trigger bench\n");
			goto out_reap;
		}
		wait_s(0.05);
	}
	if (serve_start(&srv, g.gl_pathv[0], "0", serve_extra())) {
		globfree(&g);
		goto out_reap;
	}
	globfree(&g);
	if (pinned() && (pin_to(srv.pid, 1) || pin_to(0, 1))) {
		fprintf(stderr, "bench_serve: cannot pin to CPU 1\n");
		goto out_stop;
	}
	/* the clients (this process) stand for browsers, which are not on
	 * the lab host: here they take what CPU the lab leaves (niceness
	 * 19; the server keeps its own, `serve --nice`) */
	if (setpriority(PRIO_PROCESS, 0, 19) != 0)
		fprintf(stderr, "bench_serve: clients at niceness 19: %s\n",
			strerror(errno));
	for (int64_t end = serve_now_ms() + 60000; !suite;) {
		char *body = NULL;
		int status;
		json_t *j;

		if (http_req(&srv, "GET", "/api/suites", NULL, &status, &body))
			break;
		j = json_loads(body, 0, NULL);
		free(body);
		suite = json_integer_value(json_object_get(json_array_get(
			json_object_get(j, "suites"), 0), "id"));
		snprintf(since, sizeof(since), "/events?since=%lld",
			 (long long)json_integer_value(json_object_get(j,
								       "seq")));
		json_decref(j);
		if (!suite && serve_now_ms() > end)
			break;
		if (!suite)
			wait_s(0.05);
	}
	if (!suite)
		goto out_stop;
	snprintf(path, sizeof(path), "/api/suites/%lld", suite);
	for (size_t i = 0; i < nclients; i++)
		if (fetch_suite(&srv, path) ||
		    sse_open(&cl[i], &srv, since, NULL))
			goto out_stop;
	t0 = cpu_ticks(srv.pid);
	t0ns = pl_now_ns();
	while ((reaped = waitpid(pid, &wst, WNOHANG)) == 0) {
		struct pollfd *pf = calloc(nclients, sizeof(*pf));

		if (!pf)
			break;
		for (size_t i = 0; i < nclients; i++) {
			pf[i].fd = cl[i].fd;
			pf[i].events = POLLIN;
		}
		poll(pf, nclients, 200);
		for (size_t i = 0; i < nclients; i++) {
			int64_t id;
			char *data;

			if (!(pf[i].revents & POLLIN))
				continue;
			/* what has arrived, without waiting for more */
			while (sse_next(&cl[i], serve_now_ms() + 5, &id,
					&data) == 0) {
				events++;
				dirty[i] = true;
				free(data);
			}
		}
		free(pf);
		for (size_t i = 0; i < nclients; i++)
			if (dirty[i] && serve_now_ms() - fetched[i] >= 1000) {
				fetch_suite(&srv, path);
				fetched[i] = serve_now_ms();
				dirty[i] = false;
				fetches++;
			}
	}
	secs = (double)(pl_now_ns() - t0ns) / 1e9;
	pct = pct_of_core(cpu_ticks(srv.pid) - t0, secs);
	printf("  (with clients: %lld events and %lld suite fetches in "
	       "%.1f s, every client following from %.1f s after the bench "
	       "started)\n", events, fetches, secs,
	       (double)(t0ns - spawned) / 1e9);
out_stop:
	for (size_t i = 0; i < nclients; i++)
		if (cl[i].buf)
			sse_close(&cl[i]);
	serve_stop(&srv, false);
out_reap:
	/* back to our own niceness before the next round's trigger bench
	 * (forked from us) runs alone: lowering it needs CAP_SYS_NICE */
	if (setpriority(PRIO_PROCESS, 0, 0) != 0)
		fprintf(stderr, "bench_serve: cannot restore niceness 0 (%s): "
			"the next rounds' figures are skewed\n",
			strerror(errno));
	if (reaped == pid ? WIFEXITED(wst) && WEXITSTATUS(wst) == 0 :
	    wait_exit(pid) == 0)
		*figures = trigger_figures(out);
	else
		pct = -1;
	free(tmp);
	free(out);
	free(pattern);
	free(cl);
	free(fetched);
	free(dirty);
	return pct;
}

/* The server side: CPU idle without and with the clients, commit -> event
 * latency and CPU while every client refetches. */
struct side {
	double idle0, idle_n, active_pct, lat_med, lat_p99, lat_max;
	size_t nlat;
};

/* 0, or 2 (printed) when the server or a client failed. */
static int serve_side(const char *dir, size_t nclients, struct side *out)
{
	char *db = pl_test_path(dir, "p.db"), path[64], since[32];
	struct pl_suite_info si = { .name = "bench suite" };
	struct sse_conn *cl = calloc(nclients, sizeof(*cl));
	double *lat = calloc(nclients * ACTIVE_RUNS + 1, sizeof(*lat));
	double active_s;
	struct serve_proc srv;
	struct pl_store *st;
	long long t0, t1;
	int64_t suite, id, seq;
	size_t nlat = 0;

	if (!cl || !lat || pl_store_open(&st, db, NULL) ||
	    pl_store_suite_begin(st, &si, &suite)) {
		fprintf(stderr, "bench_serve: cannot write %s\n", db);
		return 2;
	}
	for (int i = 0; i < SUITE_RUNS; i++)
		if (serve_write_run(st, suite, i % 2 ? "vb1" : "vb0", "cut_swap",
				    i % 97, i % 13 ? PL_VERDICT_PASS :
				    PL_VERDICT_BRICKED, NULL, NULL, &id))
			return 2;
	if (serve_start(&srv, db, "0", serve_extra())) {
		fprintf(stderr, "bench_serve: patchlab serve did not start\n");
		return 2;
	}
	snprintf(path, sizeof(path), "/api/suites/%lld", (long long)suite);

	/* idle, nobody connected */
	t0 = cpu_ticks(srv.pid);
	wait_s(IDLE_S / 2.0);
	out->idle0 = pct_of_core(cpu_ticks(srv.pid) - t0, IDLE_S / 2.0);

	/* the clients arrive: the page's fetch, then its event stream */
	pl_store_seq(st, &seq);
	snprintf(since, sizeof(since), "/events?since=%lld", (long long)seq);
	for (size_t i = 0; i < nclients; i++)
		if (fetch_suite(&srv, path) || sse_open(&cl[i], &srv, since,
							NULL)) {
			fprintf(stderr, "bench_serve: client %zu failed\n", i);
			return 2;
		}
	wait_s(1); /* let the connection threads settle */
	t0 = cpu_ticks(srv.pid);
	wait_s(IDLE_S);
	out->idle_n = pct_of_core(cpu_ticks(srv.pid) - t0, IDLE_S);

	/* active: runs stored 0.5 s apart, every client refetches */
	t0 = cpu_ticks(srv.pid);
	{
		uint64_t a0 = pl_now_ns();

		for (int r = 0; r < ACTIVE_RUNS; r++) {
			uint64_t stored;

			if (serve_write_run(st, suite, "vb0", "cut_swap", r,
					    PL_VERDICT_PASS, NULL, NULL, &id))
				return 2;
			stored = pl_now_ns();
			for (size_t i = 0; i < nclients; i++) {
				int64_t eid;
				char *data = NULL;

				/* one run = its begin and its end: two
				 * changes; the second is the one a page
				 * shows as done */
				for (int k = 0; k < 2; k++) {
					free(data);
					data = NULL;
					if (sse_next(&cl[i], serve_now_ms() +
						     DEADLINE_MS, &eid, &data)) {
						fprintf(stderr, "bench_serve: "
							"client %zu: no event\n",
							i);
						return 2;
					}
				}
				lat[nlat++] = (double)(pl_now_ns() - stored) /
					      1e6;
				free(data);
			}
			for (size_t i = 0; i < nclients; i++)
				if (fetch_suite(&srv, path))
					return 2;
			wait_s(0.5);
		}
		active_s = (double)(pl_now_ns() - a0) / 1e9;
	}
	t1 = cpu_ticks(srv.pid);
	out->active_pct = pct_of_core(t1 - t0, active_s);
	qsort(lat, nlat, sizeof(*lat), cmp_d);
	out->nlat = nlat;
	out->lat_med = lat[nlat / 2];
	out->lat_p99 = lat[(size_t)((double)nlat * 0.99)];
	out->lat_max = lat[nlat - 1];

	for (size_t i = 0; i < nclients; i++)
		sse_close(&cl[i]);
	serve_stop(&srv, false);
	pl_store_close(st);
	free(db);
	free(cl);
	free(lat);
	return 0;
}

/* bench_trigger_latency alone, in dir/a<round>: its figures or NULL. */
static json_t *trigger_alone(const char *dir, int round)
{
	char *oa = NULL, *tdir = NULL;
	json_t *alone = NULL;
	int pid;

	if (asprintf(&oa, "%s/oa%d", dir, round) > 0 &&
	    asprintf(&tdir, "%s/ta%d", dir, round) > 0) {
		mkdir(oa, 0755);
		mkdir(tdir, 0755);
		pid = spawn_trigger(tdir, oa, false);
		if (pid > 0 && wait_exit(pid) == 0)
			alone = trigger_figures(oa);
	}
	free(oa);
	free(tdir);
	return alone;
}

static void print_figures(const char *what, json_t *f)
{
	if (!f) {
		printf("  %-28s (failed)\n", what);
		return;
	}
	printf("  %-28s median %6.1f us  p99 %7.1f us  max %8.1f us\n", what,
	       json_number_value(json_object_get(f, "median_us")),
	       json_number_value(json_object_get(f, "p99_us")),
	       json_number_value(json_object_get(f, "max_us")));
}

/*
 * main: the server side (unless PL_BENCH_SERVE_TRIGGER_ONLY=1), then
 * PL_BENCH_SERVE_ROUNDS (default 3) rounds of the trigger bench alone and
 * with the server and its clients, alternating, so the machine's own noise
 * shows next to any difference (unless PL_BENCH_SERVE_QUICK=1).
 */
int main(int argc, char **argv)
{
	size_t nclients = argc > 1 ? (size_t)atoi(argv[1]) : 50;
	const char *rs = getenv("PL_BENCH_SERVE_ROUNDS");
	int rounds = rs ? atoi(rs) : 3;
	bool side_on = !getenv("PL_BENCH_SERVE_TRIGGER_ONLY");
	bool trig_on = !getenv("PL_BENCH_SERVE_QUICK");
	char *dir = pl_test_tmpdir("bench-serve"), *outp = NULL, *rj = NULL;
	struct side sd = { 0 };
	json_t *rlist = json_array();
	double wall0;
	struct rlimit rl;
	FILE *f;

	if (!getenv("PATCHLAB"))
		setenv("PATCHLAB", PL_BENCH_PATCHLAB, 1);
	if (nclients == 0 || nclients > 10000 || rounds < 1 || rounds > 20 ||
	    !rlist) {
		fprintf(stderr, "bench_serve: bad client count or rounds\n");
		return 2;
	}
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	wall0 = (double)pl_now_ns();
	if (side_on) {
		if (serve_side(dir, nclients, &sd))
			return 2;
		printf("serve: %zu SSE clients on one suite of %d runs\n",
		       nclients, SUITE_RUNS);
		printf("  idle, no client        %6.2f %% of a core\n",
		       sd.idle0);
		printf("  idle, %3zu clients      %6.2f %% of a core (target "
		       "< 5 %%)\n", nclients, sd.idle_n);
		printf("  commit -> event        median %.1f ms, p99 %.1f ms, "
		       "max %.1f ms (%zu deliveries)\n", sd.lat_med,
		       sd.lat_p99, sd.lat_max, sd.nlat);
		printf("  active (1 run / 0.5 s, every client refetches the "
		       "suite) %.1f %% of a core\n", sd.active_pct);
	}
	if (trig_on && pinned())
		printf("pinned: the trigger bench on CPU 0, the server and "
		       "the clients on CPU 1\n");
	if (trig_on) {
		printf("trigger latency (console line seen -> power command "
		       "issued), bench_trigger_latency alone and with the "
		       "server and %zu clients following its suite, %d "
		       "round%s:\n", nclients, rounds, rounds > 1 ? "s" : "");
		fflush(stdout);
	}
	for (int r = 0; trig_on && r < rounds; r++) {
		json_t *alone = trigger_alone(dir, r), *with = NULL, *o;
		double pct = trigger_with_clients(dir, r, nclients, &with);
		char what[64];

		snprintf(what, sizeof(what), "round %d, alone", r + 1);
		print_figures(what, alone);
		snprintf(what, sizeof(what), "round %d, %zu clients", r + 1,
			 nclients);
		print_figures(what, with);
		printf("  %-28s server %.1f %% of a core\n", "", pct);
		fflush(stdout);
		o = json_pack("{s:o,s:o,s:f}", "alone",
			      alone ? alone : json_null(), "with_clients",
			      with ? with : json_null(), "server_pct_core",
			      pct);
		if (!o || json_array_append_new(rlist, o))
			return 2;
	}
	printf("  bench wall             %.1f s\n",
	       ((double)pl_now_ns() - wall0) / 1e9);
	f = open_out(argc, argv, &outp);
	rj = json_dumps(rlist, JSON_COMPACT | JSON_REAL_PRECISION(6));
	if (f && rj) {
		fprintf(f, "{\n  \"bench\": \"serve\",\n  \"clients\": %zu,\n"
			"  \"suite_runs\": %d,\n  \"poll_ms\": 250,\n",
			nclients, SUITE_RUNS);
		if (side_on)
			fprintf(f, "  \"idle_no_client_pct_core\": %.3f,\n"
				"  \"idle_clients_pct_core\": %.3f,\n"
				"  \"event_latency_ms\": {\"median\": %.2f, "
				"\"p99\": %.2f, \"max\": %.2f, \"n\": %zu},\n"
				"  \"active_pct_core\": %.2f,\n", sd.idle0,
				sd.idle_n, sd.lat_med, sd.lat_p99, sd.lat_max,
				sd.nlat, sd.active_pct);
		fprintf(f, "  \"trigger_pinned\": %s,\n"
			"  \"trigger_issued_minus_seen_rounds\": %s,\n"
			"  \"nproc\": %ld\n}\n", pinned() ? "true" : "false", rj,
			sysconf(_SC_NPROCESSORS_ONLN));
		fclose(f);
		printf("  written to %s\n", outp);
	}
	free(outp);
	free(rj);
	json_decref(rlist);
	pl_test_rmrf(dir);
	free(dir);
	return 0;
}
