/* SPDX-License-Identifier: MIT */
/*
 * /pl/e2e/labhosts: issue 14's acceptance, a lab service spread over
 * "hosts" on one machine. A real PostgreSQL 15 (started by the test,
 * pl_test_store.h) is the queue and the store. Three virtual racks of two
 * boards each (profiles good and no-verify, one signing key), each served
 * by its own `patchlab worker --lab RACK/lab.yaml`; rack 2 and its worker
 * live in a network namespace of their own (a veth pair to this one): its
 * worker reaches PostgreSQL over TCP at the host end of the pair, its
 * run processes reach the rack's GDB servers on the namespace's loopback.
 * Board ids are global in the store, so each rack's lab.yaml has its
 * boards renamed rIvbJ. Checked:
 *
 *   - a suite (update_clean everywhere, bad_image of a corrupt image,
 *     which the no-verify boards boot: fail) submitted with `submit
 *     --wait` from a fourth process runs every run once, each by the
 *     worker of its board's rack, and gives the verdicts of `patchlab run`
 *     of the same suite on each rack from one host, as a multiset of
 *     (scenario, board type, params, verdict), and the same exit code (1);
 *   - two submitters with different priorities, queued while every
 *     worker is stopped (SIGSTOP): the high one's runs are claimed before
 *     the low one's on every board, `submit --wait` exits 0 (high: smoke)
 *     and 1 (low: a device failure), every run is there once; a third
 *     suite cancelled while it waits exits 2;
 *   - sweep jobs: a suite with small flash-op sweeps (on each rack's good
 *     and no-verify board) submitted over the workers gives the multiset
 *     of `patchlab run` on each rack, per scenario and cut point, and its
 *     exit code (1); a sweep that plans no point (bad_image's learning
 *     pass counts no flash operation) makes `submit --wait` exit 2 with
 *     the gate incomplete, as `run`; rack 0's worker killed (SIGKILL) with
 *     its sweep half run and started again: the sweep runs again whole
 *     (attempt 2), the verdicts are still run's, no half sweep is left.
 *
 * Without the right to make a network namespace (not root, no
 * CAP_NET_ADMIN) the first case is skipped with its reason, the second
 * runs on the two racks of this namespace, and the program exits 77
 * (skipped) with that reason even when the second passed. The namespace and veth pair
 * are removed at the end however the tests went, and those of dead runs of
 * this program at its start. Every wait is on an event with a deadline,
 * never a sleep.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "e2e_util.h"
#include "patchlab/exit.h"
#include "patchlab/store.h"
#include "pl_test.h"
#include "pl_test_store.h"

#define RACKS 3
#define PER_RACK 2
#define NS_RACK 2 /* the rack (and worker) in the namespace */
#define READY_DEADLINE_MS 60000u
#define NS_PREFIX "plhosts-"

struct rack {
	char *dir, *lab;
	int pid; /* its `vrack serve`, re-parented to us */
	bool in_ns;
};

struct ctx {
	struct rack racks[RACKS];
	int nracks; /* RACKS, or NS_RACK without a namespace */
	/* the namespace: name, veth ends, addresses; ns[0] when none */
	char ns[32], veth_host[16], host_ip[20], ns_ip[20], cidr[24];
	char why_no_ns[600];
	const char *ip; /* the ip(8) program */
	pid_t owner;    /* the process that made the namespace */
	char *tmp, *url, *ns_url, *mix, *smoke, *sweep, *nopoint;
	/* one loop for every case, its processes here: a failed case's
	 * leftovers are killed and reaped on it (kill_leftovers) */
	uv_loop_t loop;
	uv_timer_t tick;
	bool loop_up;
	struct e2e_proc w[RACKS], low, high, gone;
};

static struct ctx g;

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void print_file(const char *path)
{
	char *s = pl_test_slurp(path);

	fprintf(stderr, "--- %s\n%s\n", path, s ? s : "(none)");
	free(s);
}

/* ---- the network namespace ------------------------------------------ */

static int run_ip(char *out_err, size_t len, ...)
{
	char *av[16], *out = NULL;
	va_list ap;
	int n = 0, rc;

	av[n++] = (char *)g.ip;
	va_start(ap, len);
	while (n < 15 && (av[n] = va_arg(ap, char *)))
		n++;
	va_end(ap);
	av[n] = NULL;
	rc = e2e_run_argv(NULL, &out, av);
	if (rc != 0 && out_err) {
		size_t l;

		snprintf(out_err, len, "ip %s %s: exit %d: %s", av[1], av[2], rc,
			 out ? out : "");
		/* one line */
		for (char *nl; (nl = strchr(out_err, '\n'));)
			*nl = ' ';
		l = strlen(out_err);
		while (l && out_err[l - 1] == ' ')
			out_err[--l] = '\0';
	}
	free(out);
	return rc;
}

static bool pid_dead(long pid)
{
	return pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

/* Namespaces and veth pairs left by runs of this program that died. */
static void remove_stale(void)
{
	DIR *d = opendir("/run/netns");
	struct dirent *e;

	while (d && (e = readdir(d))) {
		long pid;

		if (sscanf(e->d_name, NS_PREFIX "%ld", &pid) == 1 &&
		    pid_dead(pid)) {
			fprintf(stderr, "removing stale namespace %s\n",
				e->d_name);
			run_ip(NULL, 0, "netns", "del", e->d_name, NULL);
		}
	}
	if (d)
		closedir(d);
	d = opendir("/sys/class/net");
	while (d && (e = readdir(d))) {
		long pid;
		char tail;

		if (sscanf(e->d_name, "plh%ld%c", &pid, &tail) == 2 &&
		    tail == 'h' && pid_dead(pid)) {
			fprintf(stderr, "removing stale veth %s\n", e->d_name);
			run_ip(NULL, 0, "link", "del", e->d_name, NULL);
		}
	}
	if (d)
		closedir(d);
}

static void netns_down(void)
{
	if (!g.ns[0] || getpid() != g.owner)
		return;
	/* the namespace's end of the pair goes with it, and so the pair */
	run_ip(NULL, 0, "link", "del", g.veth_host, NULL);
	if (run_ip(NULL, 0, "netns", "del", g.ns, NULL) != 0)
		fprintf(stderr, "could not remove namespace %s\n", g.ns);
	g.ns[0] = '\0';
}

/*
 * A namespace NS_PREFIX<pid> joined to ours by a veth pair on a /30 of
 * 10.251/16 picked by our pid, loopback up inside. false with
 * g.why_no_ns when we may not make or wire one (EPERM); exit 1 when it
 * went wrong otherwise.
 */
static bool netns_up(void)
{
	static const char *const ips[] = { "/usr/sbin/ip", "/sbin/ip",
					   "/usr/bin/ip", "/bin/ip" };
	char err[512], veth_ns[16], a[24], b[24];
	unsigned idx = (unsigned)getpid() % 16384u;
	unsigned hi = idx / 64, lo = (idx % 64) * 4;

	for (size_t i = 0; i < sizeof(ips) / sizeof(ips[0]) && !g.ip; i++)
		if (access(ips[i], X_OK) == 0)
			g.ip = ips[i];
	if (!g.ip) {
		snprintf(g.why_no_ns, sizeof(g.why_no_ns),
			 "no ip(8): install iproute2");
		return false;
	}
	if (geteuid() != 0) {
		snprintf(g.why_no_ns, sizeof(g.why_no_ns),
			 "not root: ip netns add needs CAP_NET_ADMIN");
		return false;
	}
	remove_stale();
	g.owner = getpid();
	snprintf(g.ns, sizeof(g.ns), NS_PREFIX "%d", (int)g.owner);
	snprintf(g.veth_host, sizeof(g.veth_host), "plh%dh", (int)g.owner);
	snprintf(veth_ns, sizeof(veth_ns), "plh%dn", (int)g.owner);
	snprintf(g.host_ip, sizeof(g.host_ip), "10.251.%u.%u", hi, lo + 1);
	snprintf(g.ns_ip, sizeof(g.ns_ip), "10.251.%u.%u", hi, lo + 2);
	snprintf(g.cidr, sizeof(g.cidr), "10.251.%u.%u/30", hi, lo);
	snprintf(a, sizeof(a), "%s/30", g.host_ip);
	snprintf(b, sizeof(b), "%s/30", g.ns_ip);
	if (run_ip(err, sizeof(err), "netns", "add", g.ns, NULL) != 0) {
		/* not permitted, or no netns support at all: skip that case */
		snprintf(g.why_no_ns, sizeof(g.why_no_ns), "%s", err);
		g.ns[0] = '\0';
		return false;
	}
	atexit(netns_down);
	if (run_ip(err, sizeof(err), "link", "add", g.veth_host, "type", "veth",
		   "peer", "name", veth_ns, "netns", g.ns, NULL) ||
	    run_ip(err, sizeof(err), "addr", "add", a, "dev", g.veth_host,
		   NULL) ||
	    run_ip(err, sizeof(err), "link", "set", g.veth_host, "up", NULL) ||
	    run_ip(err, sizeof(err), "-n", g.ns, "addr", "add", b, "dev",
		   veth_ns, NULL) ||
	    run_ip(err, sizeof(err), "-n", g.ns, "link", "set", veth_ns, "up",
		   NULL) ||
	    run_ip(err, sizeof(err), "-n", g.ns, "link", "set", "lo", "up",
		   NULL)) {
		if (strstr(err, "Operation not permitted")) {
			/* a namespace, but no right to wire it */
			snprintf(g.why_no_ns, sizeof(g.why_no_ns), "%s", err);
			netns_down();
			return false;
		}
		fprintf(stderr, "network namespace %s: %s\n", g.ns, err);
		exit(1); /* netns_down() runs */
	}
	return true;
}

/* av = [ip netns exec NS] rest... (rest NULL-terminated); av has room. */
static char **in_ns(bool ns, char **av, char *const rest[])
{
	int n = 0;

	if (ns) {
		av[n++] = (char *)g.ip;
		av[n++] = "netns";
		av[n++] = "exec";
		av[n++] = g.ns;
	}
	for (int i = 0; rest[i]; i++)
		av[n++] = rest[i];
	av[n] = NULL;
	return av;
}

/* ---- racks ------------------------------------------------------------ */

/* "  - id: vbJ" -> "  - id: rIvbJ": board ids unique across the store. */
static int rename_boards(struct rack *r, int i)
{
	char *s = pl_test_slurp(r->lab), *p, prefix[16];
	FILE *f;
	int n = 0;

	if (!s)
		return -1;
	snprintf(prefix, sizeof(prefix), "r%d", i);
	f = fopen(r->lab, "w");
	for (p = s; f && *p;) {
		char *hit = strstr(p, "- id: vb");

		if (!hit) {
			fputs(p, f);
			break;
		}
		fwrite(p, 1, (size_t)(hit - p) + 6, f);
		fputs(prefix, f);
		p = hit + 6;
		n++;
	}
	free(s);
	if (!f || fclose(f) != 0 || n != PER_RACK) {
		fprintf(stderr, "%s: renamed %d boards of %d\n", r->lab, n,
			PER_RACK);
		return -1;
	}
	return 0;
}

static int rack_up(struct rack *r, int i, bool ns, const char *key)
{
	char tag[32], nb[8], *out = NULL, *av[24];
	char *args[] = { (char *)pl_test_patchlab(), "vrack", "up", "--dir",
			 NULL, "--boards", nb, "--profile", "good,no-verify",
			 "--speed", "20", key ? "--key" : NULL, (char *)key,
			 NULL };
	int rc;

	snprintf(tag, sizeof(tag), "e2e-hosts-r%d", i);
	snprintf(nb, sizeof(nb), "%d", PER_RACK);
	r->in_ns = ns;
	r->dir = pl_test_tmpdir(tag);
	if (!r->dir || asprintf(&r->lab, "%s/lab.yaml", r->dir) < 0)
		return -1;
	args[4] = r->dir;
	rc = e2e_run_argv(NULL, &out, in_ns(ns, av, args));
	r->pid = pl_test_rack_pid(r->dir);
	if (rc != 0 || r->pid <= 0) {
		fprintf(stderr, "vrack up in %s%s: exit %d\n%s", r->dir,
			ns ? " (namespace)" : "", rc, out ? out : "");
		free(out);
		return -1;
	}
	free(out);
	return rename_boards(r, i);
}

static int rack_down(struct rack *r, int i)
{
	char *out = NULL, db[4200], id[16], *av[24];
	int rc = 0;

	if (!r->dir)
		return 0;
	snprintf(db, sizeof(db), "%s/down.db", r->dir);
	if (r->pid > 0) {
		for (int b = 0; b < PER_RACK; b++) {
			char *args[] = { (char *)pl_test_patchlab(), "power",
					 id, "off", "--lab", r->lab, "--db", db,
					 "--no-wait", NULL };

			snprintf(id, sizeof(id), "r%dvb%d", i, b);
			if (e2e_run_argv(NULL, &out, in_ns(r->in_ns, av,
							    args)) != 0) {
				fprintf(stderr, "power %s off: %s", id,
					out ? out : "");
				rc = -1;
			}
			free(out);
			out = NULL;
		}
		{
			char *args[] = { (char *)pl_test_patchlab(), "vrack",
					 "down", "--dir", r->dir, NULL };

			if (e2e_run_argv(NULL, &out,
					 in_ns(r->in_ns, av, args)) != 0) {
				fprintf(stderr, "vrack down: %s",
					out ? out : "");
				rc = -1;
			}
			free(out);
		}
		if (pl_test_reap(r->pid, PL_TEST_REAP_DEADLINE_MS) != 0)
			rc = -1;
		r->pid = 0;
	}
	if (getenv("PL_KEEP_RACK"))
		fprintf(stderr, "kept %s\n", r->dir);
	else
		pl_test_rmrf(r->dir);
	free(r->dir);
	free(r->lab);
	memset(r, 0, sizeof(*r));
	return rc;
}

/* ---- fixture ------------------------------------------------------------ */

/* A suite of runs without sweeps: a clean update on every board, then a
 * corrupt image, which the no-verify boards boot (fail). */
static int write_mix_suite(struct ctx *c)
{
	char *scen = pl_test_source_path("scenarios");
	FILE *f;
	int rc;

	if (!scen || asprintf(&c->mix, "%s/mix.yaml", c->tmp) < 0)
		return -1;
	f = fopen(c->mix, "w");
	rc = f && fprintf(f,
		"name: hosts-mix\n"
		"scenario_path: [%s]\n"
		"images:\n"
		"  golden: {path: \"${VRACK}/images/v1.0.0.img\", version: 1.0.0}\n"
		"  new: {path: \"${VRACK}/images/v1.1.0.img\", version: 1.1.0}\n"
		"  corrupt: {path: \"${VRACK}/images/corrupt.img\"}\n"
		"defaults:\n"
		"  run_timeout: 1m\n"
		"runs:\n"
		"  - scenario: update_clean.lua\n"
		"  - scenario: bad_image.lua\n"
		"    params: {image: corrupt}\n", scen) > 0 ? 0 : -1;
	if (f && fclose(f) != 0)
		rc = -1;
	free(scen);
	return rc;
}

/* A suite with sweeps: a clean update on every board and a small flash-op
 * sweep (uniform, 4 points in one phase) on each good board and on each
 * no-verify board (some of whose cuts end `recovered`: device failures); and
 * one whose sweep plans no point: bad_image reports no flash operation
 * from its learning pass, as a board without a probe would. */
#define SWEEP_SUITE_HEAD                                                    \
	"scenario_path: [%s]\n"                                              \
	"images:\n"                                                          \
	"  golden: {path: \"${VRACK}/images/v1.0.0.img\", version: 1.0.0}\n" \
	"  new: {path: \"${VRACK}/images/v1.1.0.img\", version: 1.1.0}\n"    \
	"  corrupt: {path: \"${VRACK}/images/corrupt.img\"}\n"              \
	"defaults:\n"                                                        \
	"  run_timeout: 1m\n"                                                \
	"runs:\n"

static int write_sweep_suites(struct ctx *c)
{
	char *scen = pl_test_source_path("scenarios");
	FILE *f;
	int rc;

	if (!scen || asprintf(&c->sweep, "%s/sweep.yaml", c->tmp) < 0 ||
	    asprintf(&c->nopoint, "%s/nopoint.yaml", c->tmp) < 0)
		return -1;
	f = fopen(c->sweep, "w");
	rc = f && fprintf(f, "name: hosts-sweep\n") > 0 &&
	     fprintf(f, SWEEP_SUITE_HEAD, scen) > 0 && fprintf(f,
		"  - scenario: update_clean.lua\n"
		"  - scenario: cut_flash_op.lua\n"
		"    on: {tags: [good]}\n"
		"    sweep: {over: flash_ops, phases: [during], points: 4,\n"
		"            strategy: uniform}\n"
		"  - scenario: cut_flash_op.lua\n"
		"    on: {tags: [no-verify]}\n"
		"    sweep: {over: flash_ops, phases: [during], points: 4,\n"
		"            strategy: uniform}\n") > 0 ? 0 : -1;
	if (f && fclose(f) != 0)
		rc = -1;
	f = rc ? NULL : fopen(c->nopoint, "w");
	rc = f && fprintf(f, "name: hosts-nopoint\n") > 0 &&
	     fprintf(f, SWEEP_SUITE_HEAD, scen) > 0 && fprintf(f,
		"  - scenario: update_clean.lua\n"
		"    on: {tags: [good]}\n"
		"  - scenario: bad_image.lua\n"
		"    on: {tags: [good]}\n"
		"    params: {image: corrupt}\n"
		"    sweep: {over: flash_ops, phases: [during], points: 2,\n"
		"            strategy: uniform}\n") > 0 ? 0 : -1;
	if (f && fclose(f) != 0)
		rc = -1;
	free(scen);
	return rc;
}

static void on_tick(uv_timer_t *t)
{
	(void)t; /* wakes the loop so the predicate is looked at */
}

/* postgresql://patchlab@HOST:PORT/DB for the database of c->url. */
static char *tcp_url(const char *url, const char *host)
{
	const char *db = strstr(url, ":///"), *end;
	char *u;

	if (!db)
		return NULL;
	db += 4;
	end = strchr(db, '?');
	if (!end)
		end = db + strlen(db);
	if (asprintf(&u, "postgresql://patchlab@%s:%d/%.*s", host,
		     pl_test_pg_port(), (int)(end - db), db) < 0)
		return NULL;
	return u;
}

static int group_setup(void **state)
{
	struct ctx *c = &g;
	char key[4200];

	*state = c;
	c->tmp = pl_test_tmpdir("e2e-hosts");
	c->smoke = pl_test_source_path("scenarios/suites/smoke.yaml");
	if (!c->tmp || !c->smoke || write_mix_suite(c) ||
	    write_sweep_suites(c))
		return -1;
	pl_test_become_subreaper();
	c->nracks = g.ns[0] ? RACKS : NS_RACK;
	for (int i = 0; i < c->nracks; i++) {
		/* one signing key: an image any rack's boards accept */
		snprintf(key, sizeof(key), "%s/keys", c->racks[0].dir ?
			 c->racks[0].dir : "");
		if (rack_up(&c->racks[i], i, i == NS_RACK, i ? key : NULL))
			return -1;
	}
	/* the suites name their images by $VRACK (the submitter reads it) */
	setenv("VRACK", c->racks[0].dir, 1);
	c->url = pl_test_store_target(c->tmp, "unused");
	if (!c->url)
		return -1;
	if (g.ns[0] && !(c->ns_url = tcp_url(c->url, g.host_ip)))
		return -1;
	uv_loop_init(&c->loop);
	uv_timer_init(&c->loop, &c->tick);
	uv_timer_start(&c->tick, on_tick, 50, 50);
	c->loop_up = true;
	return 0;
}

/* The workers a failed case left running: killed, so that the next case
 * starts workers of the same names on its own. */
static int kill_leftovers(void **state)
{
	struct ctx *c = *state;
	struct e2e_proc *all[] = { &c->w[0], &c->w[1], &c->w[2], &c->low,
				   &c->high, &c->gone };

	for (size_t i = 0; c->loop_up && i < sizeof(all) / sizeof(*all); i++)
		if (all[i]->started && !all[i]->exited) {
			uv_process_kill(&all[i]->h, SIGKILL);
			e2e_wait(&c->loop, all[i], 30000);
		}
	return 0;
}

static int group_teardown(void **state)
{
	struct ctx *c = *state;
	int rc = 0;

	kill_leftovers(state);
	if (c->loop_up) {
		uv_close((uv_handle_t *)&c->tick, NULL);
		pl_test_loop_drain(&c->loop);
		c->loop_up = false;
	}
	for (int i = 0; i < RACKS; i++)
		rc |= rack_down(&c->racks[i], i);
	if (c->tmp && !getenv("PL_KEEP_RACK"))
		pl_test_rmrf(c->tmp);
	free(c->tmp);
	free(c->url);
	free(c->ns_url);
	free(c->mix);
	free(c->smoke);
	free(c->sweep);
	free(c->nopoint);
	netns_down();
	return rc;
}

/* ---- workers and the store ------------------------------------------- */

/* Worker hwI on rack I, in the namespace for NS_RACK (over TCP). */
static int start_worker(struct ctx *c, uv_loop_t *loop, struct e2e_proc *p,
			int i)
{
	char name[16], out[4200], log[4300], *av[32];
	struct rack *r = &c->racks[i];
	char *args[] = { (char *)pl_test_patchlab(), "worker", "--lab",
			 r->lab, "--db", r->in_ns ? c->ns_url : c->url,
			 "--name", name, "--out", out, "--poll", "100ms",
			 "--lease", "10s", NULL };
	int rc;

	snprintf(name, sizeof(name), "hw%d", i);
	snprintf(out, sizeof(out), "%s/%s", c->tmp, name);
	snprintf(log, sizeof(log), "%s/%s.log", c->tmp, name);
	rc = e2e_spawn(loop, p, NULL, log, in_ns(r->in_ns, av, args));
	return rc;
}

struct seen {
	struct pl_store *st;
	size_t want_online;
};

static bool boards_online(void *ud)
{
	struct seen *s = ud;
	struct pl_board_reg *b = NULL;
	size_t n = 0, online = 0;

	if (pl_store_list_boards(s->st, &b, &n))
		return false;
	for (size_t i = 0; i < n; i++)
		online += b[i].online;
	pl_store_boards_free(b, n);
	return online == s->want_online;
}

/* Start a worker per rack and wait until every board is online. */
static void start_workers(struct ctx *c, uv_loop_t *loop, struct e2e_proc *w,
			  struct seen *seen)
{
	for (int i = 0; i < c->nracks; i++)
		assert_int_equal(start_worker(c, loop, &w[i], i), 0);
	seen->want_online = (size_t)c->nracks * PER_RACK;
	if (pl_test_loop_until(loop, boards_online, seen,
			       READY_DEADLINE_MS) != 0) {
		for (int i = 0; i < c->nracks; i++)
			print_file(w[i].out_path);
		fail_msg("the workers did not register %zu boards",
			 seen->want_online);
	}
}

/* SIGTERM drains every worker: exit 0, its boards offline. */
static void drain_workers(struct ctx *c, uv_loop_t *loop, struct e2e_proc *w,
			  struct seen *seen)
{
	for (int i = 0; i < c->nracks; i++)
		uv_process_kill(&w[i].h, SIGTERM);
	for (int i = 0; i < c->nracks; i++)
		assert_int_equal(e2e_wait(loop, &w[i], E2E_RUN_DEADLINE_MS), 0);
	seen->want_online = 0;
	assert_true(boards_online(seen));
}

/* ---- verdicts ------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Append "scenario | type | params | verdict" of every run of a JSON
 * report to arr (board ids differ between the racks and the service).
 * Without params.repeat_index: submit's expansion adds it (1 here, one
 * repeat), run's does not. */
static void add_verdicts(json_t *arr, const char *json_path)
{
	json_t *root = json_load_file(json_path, 0, NULL), *r;
	size_t i;

	if (!root)
		fail_msg("no report %s", json_path);
	json_array_foreach(json_object_get(root, "runs"), i, r) {
		json_t *p = json_deep_copy(json_object_get(r, "params"));
		char *params, *s = NULL;

		json_object_del(p, "repeat_index");
		params = json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS);
		json_decref(p);

		assert_true(asprintf(&s, "%s | %s | %s | %s",
			json_string_value(json_object_get(r, "scenario")),
			json_string_value(json_object_get(r, "board_type")),
			params ? params : "{}",
			json_string_value(json_object_get(r, "verdict"))) > 0);
		json_array_append_new(arr, json_string(s));
		free(s);
		free(params);
	}
	json_decref(root);
}

/* The multiset as one sorted string, a line per run. */
static char *multiset(json_t *arr)
{
	size_t n = json_array_size(arr), len = 1;
	const char **v = calloc(n + 1, sizeof(*v));
	char *out;

	assert_non_null(v);
	for (size_t i = 0; i < n; i++) {
		v[i] = json_string_value(json_array_get(arr, i));
		len += strlen(v[i]) + 1;
	}
	qsort(v, n, sizeof(*v), cmp_str);
	out = calloc(1, len);
	assert_non_null(out);
	for (size_t i = 0; i < n; i++) {
		strcat(out, v[i]);
		strcat(out, "\n");
	}
	free(v);
	return out;
}

/* ---- the cases ------------------------------------------------------- */

static void three_racks_three_hosts_match_one_host(void **state)
{
	struct ctx *c = *state;
	struct e2e_proc *w = c->w;
	struct seen seen = { 0 };
	struct pl_run_filter f = { 0 };
	struct pl_run_row *runs = NULL;
	json_t *one = json_array(), *spread = json_array();
	char path[4200], *out = NULL, *a, *b;
	long long suite = 0;
	size_t n = 0, by_ns = 0;
	uv_loop_t *loop = &c->loop;
	int rc_one = -1, rc;
	double wall;

	PL_TEST_SKIP_IF(!g.ns[0], "no network namespace for the third rack "
			"(%s)", g.why_no_ns);
	/* one host at a time: `patchlab run` on each rack, where it is */
	for (int i = 0; i < c->nracks; i++) {
		char db[4200], *av[32];
		char *args[] = { (char *)pl_test_patchlab(), "run", c->mix,
				 "--lab", c->racks[i].lab, "--db", db, "--out",
				 c->tmp, "--json", path, "--seed", "7", "-q",
				 NULL };

		snprintf(db, sizeof(db), "%s/one%d.db", c->tmp, i);
		snprintf(path, sizeof(path), "%s/one%d.json", c->tmp, i);
		rc = e2e_run_argv(NULL, &out, in_ns(c->racks[i].in_ns, av,
						     args));
		if (rc != PL_EXIT_GATE_FAILED || (rc_one >= 0 && rc != rc_one))
			fail_msg("patchlab run on rack %d: exit %d\n%s", i, rc,
				 out ? out : "");
		rc_one = rc;
		free(out);
		out = NULL;
		add_verdicts(one, path);
	}
	assert_int_equal(json_array_size(one), c->nracks * PER_RACK * 2);

	rc = e2e_patchlab(NULL, &out, "db", "migrate", "--db", c->url, NULL);
	if (rc != 0)
		fail_msg("db migrate: exit %d\n%s", rc, out ? out : "");
	free(out);
	out = NULL;

	assert_int_equal(pl_store_open(&seen.st, c->url, NULL), 0);
	start_workers(c, loop, w, &seen);

	/* the lab service, from a fourth process */
	snprintf(path, sizeof(path), "%s/spread.json", c->tmp);
	wall = mono_s();
	rc = e2e_patchlab(NULL, &out, "submit", c->mix, "--db", c->url,
			  "--wait", "--timeout", "4m", "--json", path, "--seed",
			  "7", NULL);
	wall = mono_s() - wall;
	if (rc != rc_one) {
		for (int i = 0; i < c->nracks; i++)
			print_file(w[i].out_path);
		fail_msg("submit --wait: exit %d, run: %d\n%s", rc, rc_one,
			 out ? out : "");
	}
	assert_int_equal(sscanf(out, "suite %lld queued", &suite), 1);
	free(out);
	out = NULL;
	printf("three racks: submit --wait of %d runs took %.1f s\n",
	       c->nracks * PER_RACK * 2, wall);

	/* every run once, closed, by the worker of its board's rack */
	f.suite_id = suite;
	assert_int_equal(pl_store_list_runs(seen.st, &f, &runs, &n), 0);
	assert_int_equal(n, c->nracks * PER_RACK * 2);
	for (size_t i = 0; i < n; i++) {
		char want[16];
		int rack = -1;

		assert_false(runs[i].open);
		assert_int_equal(sscanf(runs[i].board_id, "r%dvb", &rack), 1);
		snprintf(want, sizeof(want), "hw%d", rack);
		assert_non_null(runs[i].worker);
		assert_string_equal(runs[i].worker, want);
		by_ns += rack == NS_RACK;
		for (size_t k = 0; k < i; k++)
			assert_false(strcmp(runs[k].board_id,
					    runs[i].board_id) == 0 &&
				     strcmp(runs[k].scenario,
					    runs[i].scenario) == 0);
	}
	pl_store_runs_free(runs, n);
	/* the namespace's worker, over TCP, did its rack's share */
	assert_int_equal(by_ns, PER_RACK * 2);

	/* the same verdicts as one host at a time */
	add_verdicts(spread, path);
	a = multiset(one);
	b = multiset(spread);
	if (strcmp(a, b) != 0)
		fail_msg("verdicts differ:\none host:\n%slab service:\n%s", a, b);
	printf("verdicts (scenario | type | params | verdict):\n%s", b);
	free(a);
	free(b);
	json_decref(one);
	json_decref(spread);

	drain_workers(c, loop, w, &seen);
	pl_store_close(seen.st);
}

struct queued {
	struct pl_store *st;
	int64_t after, suite;
	size_t jobs; /* the suite's jobs, once all there */
};

/* A suite newer than q->after with q->jobs jobs queued: q->suite. */
static bool suite_queued(void *ud)
{
	struct queued *q = ud;
	struct pl_suite_row *s = NULL;
	struct pl_job_row *j = NULL;
	size_t n = 0, nj = 0;

	if (pl_store_list_suites(q->st, &s, &n) == 0 && n)
		q->suite = s[0].id;
	pl_store_suites_free(s, n);
	if (q->suite <= q->after ||
	    pl_store_list_jobs(q->st, q->suite, &j, &nj))
		return false;
	pl_store_jobs_free(j, nj);
	return nj == q->jobs;
}

static int64_t newest_suite(struct pl_store *st)
{
	struct pl_suite_row *s = NULL;
	size_t n = 0;
	int64_t id = 0;

	if (pl_store_list_suites(st, &s, &n) == 0 && n)
		id = s[0].id;
	pl_store_suites_free(s, n);
	return id;
}

/* Spawn `submit SUITE --priority P --wait` and wait until its suite and
 * its jobs are in the store. */
static int64_t submit_queued(struct ctx *c, uv_loop_t *loop,
			     struct e2e_proc *p, struct pl_store *st,
			     const char *suite, const char *prio,
			     size_t jobs, const char *tag)
{
	char log[4200], json[4200];
	char *argv[] = { (char *)pl_test_patchlab(), "submit", (char *)suite,
			 "--db", c->url, "--priority", (char *)prio, "--wait",
			 "--timeout", "4m", "--json", json, NULL };
	struct queued q = { .st = st, .after = newest_suite(st), .jobs = jobs };

	snprintf(log, sizeof(log), "%s/submit-%s.log", c->tmp, tag);
	snprintf(json, sizeof(json), "%s/submit-%s.json", c->tmp, tag);
	assert_int_equal(e2e_spawn(loop, p, NULL, log, argv), 0);
	if (pl_test_loop_until(loop, suite_queued, &q, READY_DEADLINE_MS)) {
		print_file(log);
		fail_msg("submit %s: its %zu jobs were not queued", tag, jobs);
	}
	return q.suite;
}

/* Every job of the suite done with a run of its own, in the suite. */
static struct pl_job_row *jobs_done_once(struct pl_store *st, int64_t suite,
					 size_t want, size_t *n)
{
	struct pl_job_row *j = NULL;
	struct pl_run_filter f = { .suite_id = suite };
	struct pl_run_row *runs = NULL;
	size_t nr = 0;

	assert_int_equal(pl_store_list_jobs(st, suite, &j, n), 0);
	assert_int_equal(*n, want);
	for (size_t i = 0; i < *n; i++) {
		assert_int_equal(j[i].state, PL_JOB_DONE);
		assert_true(j[i].run_id > 0);
		assert_true(j[i].claimed_ns > 0);
		for (size_t k = 0; k < i; k++)
			assert_true(j[k].run_id != j[i].run_id);
	}
	assert_int_equal(pl_store_list_runs(st, &f, &runs, &nr), 0);
	assert_int_equal(nr, want);
	for (size_t i = 0; i < nr; i++) {
		bool found = false;

		assert_false(runs[i].open);
		for (size_t k = 0; k < *n; k++)
			found |= j[k].run_id == runs[i].id;
		assert_true(found);
	}
	pl_store_runs_free(runs, nr);
	return j;
}

static void two_submitters_high_priority_first(void **state)
{
	struct ctx *c = *state;
	struct e2e_proc *w = c->w, *low = &c->low, *high = &c->high,
			*gone = &c->gone;
	struct seen seen = { 0 };
	struct pl_job_row *jl = NULL, *jh = NULL;
	size_t boards = (size_t)c->nracks * PER_RACK, nl = 0, nh = 0;
	size_t early = 0;
	int64_t sl, sh, sg;
	char *out = NULL, id[32];
	uv_loop_t *loop = &c->loop;
	double wall;

	if (!g.ns[0])
		printf("two submitters: on the %d racks of this namespace "
		       "(%s)\n", c->nracks, g.why_no_ns);
	assert_int_equal(e2e_patchlab(NULL, &out, "db", "migrate", "--db",
				      c->url, NULL), 0);
	free(out);
	out = NULL;
	assert_int_equal(pl_store_open(&seen.st, c->url, NULL), 0);
	start_workers(c, loop, w, &seen);
	/* online, claiming nothing until both suites wait */
	for (int i = 0; i < c->nracks; i++)
		uv_process_kill(&w[i].h, SIGSTOP);

	sl = submit_queued(c, loop, low, seen.st, c->mix, "0", boards * 2,
			   "low");
	sh = submit_queued(c, loop, high, seen.st, c->smoke, "10", boards,
			   "high");
	/* a third, cancelled while it waits: incomplete, exit 2 */
	sg = submit_queued(c, loop, gone, seen.st, c->smoke, "5", boards,
			   "cancelled");
	snprintf(id, sizeof(id), "%" PRId64, sg);
	assert_int_equal(e2e_patchlab(NULL, &out, "cancel", id, "--db", c->url,
				      NULL), 0);
	free(out);
	out = NULL;

	wall = mono_s();
	for (int i = 0; i < c->nracks; i++)
		uv_process_kill(&w[i].h, SIGCONT);
	if (e2e_wait(loop, high, E2E_RUN_DEADLINE_MS) != PL_EXIT_OK ||
	    e2e_wait(loop, low, E2E_RUN_DEADLINE_MS) != PL_EXIT_GATE_FAILED ||
	    e2e_wait(loop, gone, E2E_RUN_DEADLINE_MS) != 2) {
		print_file(high->out_path);
		print_file(low->out_path);
		print_file(gone->out_path);
		for (int i = 0; i < c->nracks; i++)
			print_file(w[i].out_path);
		fail_msg("submit --wait exits: high %d (want 0), low %d "
			 "(want 1), cancelled %d (want 2)", high->code, low->code,
			 gone->code);
	}
	wall = mono_s() - wall;
	printf("two submitters: %zu + %zu runs in %.1f s after the workers "
	       "went on\n", boards * 2, boards, wall);

	/* every run present, once */
	jl = jobs_done_once(seen.st, sl, boards * 2, &nl);
	jh = jobs_done_once(seen.st, sh, boards, &nh);
	/* on every board, the high suite's run was claimed before any of
	 * the low one's (claims of different boards are not ordered) */
	for (size_t i = 0; i < nh; i++)
		for (size_t k = 0; k < nl; k++) {
			if (strcmp(jh[i].board_id, jl[k].board_id) != 0) {
				early += jl[k].claimed_ns < jh[i].claimed_ns;
				continue;
			}
			if (jh[i].claimed_ns >= jl[k].claimed_ns)
				fail_msg("board %s: the low suite's job %" PRId64
					 " was claimed before the high one's "
					 "%" PRId64, jh[i].board_id, jl[k].id,
					 jh[i].id);
		}
	printf("two submitters: %zu (low job, high job of another board) "
	       "pairs claimed low first\n", early);
	pl_store_jobs_free(jl, nl);
	pl_store_jobs_free(jh, nh);
	{
		struct pl_job_row *j = NULL;
		size_t n = 0;

		/* the cancelled suite ran nothing */
		assert_int_equal(pl_store_list_jobs(seen.st, sg, &j, &n), 0);
		assert_int_equal(n, boards);
		for (size_t i = 0; i < n; i++)
			assert_int_equal(j[i].run_id, 0);
		pl_store_jobs_free(j, n);
	}

	drain_workers(c, loop, w, &seen);
	pl_store_close(seen.st);
}

/* `patchlab run SUITE --seed 7` on each rack, where it is: the verdicts
 * into arr; every exit must be want. */
static void run_on_each_rack(struct ctx *c, const char *suite,
			     const char *tag, int want, json_t *arr)
{
	char path[4200], *out = NULL;

	for (int i = 0; i < c->nracks; i++) {
		char db[4200], *av[32];
		char *args[] = { (char *)pl_test_patchlab(), "run",
				 (char *)suite, "--lab", c->racks[i].lab,
				 "--db", db, "--out", c->tmp, "--json", path,
				 "--seed", "7", "-q", NULL };
		int rc;

		snprintf(db, sizeof(db), "%s/%s%d.db", c->tmp, tag, i);
		snprintf(path, sizeof(path), "%s/%s%d.json", c->tmp, tag, i);
		rc = e2e_run_argv(NULL, &out, in_ns(c->racks[i].in_ns, av,
						     args));
		if (rc != want)
			fail_msg("patchlab run %s on rack %d: exit %d, want "
				 "%d\n%s", tag, i, rc, want, out ? out : "");
		free(out);
		out = NULL;
		add_verdicts(arr, path);
	}
}

/* The gate a JSON report gives its suite. */
static char *report_gate(const char *path)
{
	json_t *root = json_load_file(path, 0, NULL), *gt;
	char *out = NULL;

	if (!root)
		fail_msg("no report %s", path);
	gt = json_object_get(root, "gate");
	if (json_is_object(gt))
		gt = json_object_get(gt, "result");
	if (json_is_string(gt))
		out = strdup(json_string_value(gt));
	json_decref(root);
	return out;
}

static void sweeps_over_the_workers_match_one_rack(void **state)
{
	struct ctx *c = *state;
	struct e2e_proc *w = c->w;
	struct seen seen = { 0 };
	struct pl_job_row *j = NULL;
	json_t *one = json_array(), *spread = json_array();
	char path[4200], *out = NULL, *a, *b, *gate;
	long long suite = 0;
	size_t n = 0, sweeps = 0, swept = 0;
	uv_loop_t *loop = &c->loop;
	int rc;
	double wall;

	if (!g.ns[0])
		printf("sweeps: on the %d racks of this namespace (%s)\n",
		       c->nracks, g.why_no_ns);
	/* one rack at a time, with `patchlab run` */
	run_on_each_rack(c, c->sweep, "sweep-one", PL_EXIT_GATE_FAILED, one);

	assert_int_equal(e2e_patchlab(NULL, &out, "db", "migrate", "--db",
				      c->url, NULL), 0);
	free(out);
	out = NULL;
	assert_int_equal(pl_store_open(&seen.st, c->url, NULL), 0);
	start_workers(c, loop, w, &seen);

	/* the lab service: a sweep job per good board */
	snprintf(path, sizeof(path), "%s/sweep-spread.json", c->tmp);
	wall = mono_s();
	rc = e2e_patchlab(NULL, &out, "submit", c->sweep, "--db", c->url,
			  "--wait", "--timeout", "4m", "--json", path, "--seed",
			  "7", NULL);
	wall = mono_s() - wall;
	if (rc != PL_EXIT_GATE_FAILED) {
		for (int i = 0; i < c->nracks; i++)
			print_file(w[i].out_path);
		fail_msg("submit --wait of the sweep suite: exit %d (want 1, as "
			 "run)\n%s", rc, out ? out : "");
	}
	assert_int_equal(sscanf(out, "suite %lld queued", &suite), 1);
	assert_non_null(strstr(out, "sweeps"));
	free(out);
	out = NULL;

	/* each sweep job ran on its board, by its rack's worker, and its
	 * runs (a learning pass and the points) are in the suite */
	assert_int_equal(pl_store_list_jobs(seen.st, suite, &j, &n), 0);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(j[i].state, PL_JOB_DONE);
		if (!j[i].sweep)
			continue;
		sweeps++;
		assert_true(j[i].sweep == 2 || j[i].sweep == 3);
		assert_true(j[i].nruns > 1);
		swept += j[i].nruns;
		for (size_t k = 0; k < j[i].nruns; k++) {
			struct pl_run_row *r = NULL;
			char want[16];

			assert_int_equal(pl_store_get_run(seen.st, j[i].runs[k],
							  &r, NULL, NULL), 0);
			assert_int_equal(r->suite_id, suite);
			assert_string_equal(r->board_id, j[i].board_id);
			snprintf(want, sizeof(want), "hw%c", j[i].board_id[1]);
			assert_string_equal(r->worker, want);
			pl_store_run_free(r, NULL, 0);
		}
	}
	pl_store_jobs_free(j, n);
	assert_int_equal(sweeps, c->nracks * 2);
	printf("sweeps: submit --wait of %d sweep jobs (%zu runs) and %d runs "
	       "took %.1f s\n", c->nracks * 2, swept, c->nracks * PER_RACK,
	       wall);

	/* the same verdicts, per scenario and cut point */
	add_verdicts(spread, path);
	assert_int_equal(json_array_size(spread), json_array_size(one));
	a = multiset(one);
	b = multiset(spread);
	if (strcmp(a, b) != 0)
		fail_msg("verdicts differ:\none rack at a time:\n%slab "
			 "service:\n%s", a, b);
	/* the comparison sees outcomes that differ by cut point */
	assert_non_null(strstr(b, "| rolled-back"));
	assert_non_null(strstr(b, "| recovered"));
	free(a);
	free(b);
	json_decref(one);
	json_decref(spread);

	/* a sweep that plans no point: incomplete, exit 2, as `run` */
	one = json_array();
	run_on_each_rack(c, c->nopoint, "nopoint-one", PL_EXIT_LAB_ERROR, one);
	snprintf(path, sizeof(path), "%s/nopoint-spread.json", c->tmp);
	rc = e2e_patchlab(NULL, &out, "submit", c->nopoint, "--db", c->url,
			  "--wait", "--timeout", "4m", "--json", path, "--seed",
			  "7", NULL);
	if (rc != PL_EXIT_LAB_ERROR || !strstr(out, "gate incomplete")) {
		for (int i = 0; i < c->nracks; i++)
			print_file(w[i].out_path);
		fail_msg("submit --wait of a sweep with no point: exit %d "
			 "(want 2, gate incomplete)\n%s", rc, out ? out : "");
	}
	free(out);
	out = NULL;
	gate = report_gate(path);
	assert_non_null(gate);
	assert_string_equal(gate, "incomplete");
	free(gate);
	spread = json_array();
	add_verdicts(spread, path);
	a = multiset(one);
	b = multiset(spread);
	if (strcmp(a, b) != 0)
		fail_msg("verdicts differ:\none rack at a time:\n%slab "
			 "service:\n%s", a, b);
	assert_non_null(strstr(b, "not-run"));
	free(a);
	free(b);
	json_decref(one);
	json_decref(spread);

	drain_workers(c, loop, w, &seen);
	pl_store_close(seen.st);
}

struct half {
	struct pl_store *st;
	int64_t after;   /* the submitted suite: an attempt's own is newer */
	const char *board;
	size_t want;
};

/* want runs ended on board under a suite newer than the submitted one:
 * an attempt's sweep half done (its points land only at its end) */
static bool sweep_half_done(void *ud)
{
	struct half *h = ud;
	struct pl_run_filter f = { .board_id = h->board };
	struct pl_run_row *r = NULL;
	size_t n = 0, done = 0;

	if (pl_store_list_runs(h->st, &f, &r, &n))
		return false;
	for (size_t i = 0; i < n; i++)
		done += r[i].suite_id > h->after && !r[i].open;
	pl_store_runs_free(r, n);
	return done >= h->want;
}

static void a_worker_killed_mid_sweep_starts_it_over(void **state)
{
	struct ctx *c = *state;
	struct e2e_proc *w = c->w, *sub = &c->low;
	struct seen seen = { 0 };
	struct pl_job_row *j = NULL;
	struct pl_run_filter f = { 0 };
	struct pl_run_row *runs = NULL;
	json_t *one = json_array(), *spread = json_array();
	char log[4200], json[4200], *out = NULL, *a, *b;
	char *argv[] = { (char *)pl_test_patchlab(), "submit", c->sweep,
			 "--db", c->url, "--wait", "--timeout", "4m", "--json",
			 json, "--seed", "7", NULL };
	struct half h = { .board = "r0vb0", .want = 3 };
	struct queued q = { 0 };
	size_t n = 0, retried = 0;
	uv_loop_t *loop = &c->loop;

	run_on_each_rack(c, c->sweep, "kill-one", PL_EXIT_GATE_FAILED, one);
	assert_int_equal(e2e_patchlab(NULL, &out, "db", "migrate", "--db",
				      c->url, NULL), 0);
	free(out);
	out = NULL;
	assert_int_equal(pl_store_open(&seen.st, c->url, NULL), 0);
	start_workers(c, loop, w, &seen);
	q.st = h.st = seen.st;
	q.after = newest_suite(seen.st);
	/* a clean update per board, two sweeps per rack */
	q.jobs = (size_t)c->nracks * (PER_RACK + 2);

	snprintf(log, sizeof(log), "%s/submit-kill.log", c->tmp);
	snprintf(json, sizeof(json), "%s/kill-spread.json", c->tmp);
	assert_int_equal(e2e_spawn(loop, sub, NULL, log, argv), 0);
	if (pl_test_loop_until(loop, suite_queued, &q, READY_DEADLINE_MS)) {
		print_file(log);
		fail_msg("submit: its %zu jobs were not queued", q.jobs);
	}
	/* the attempts' own suites come after the submitted one */
	h.after = q.suite;
	/* rack 0's worker dies with its good board's sweep half run: its
	 * run process is told (PR_SET_PDEATHSIG), stops, and gives the job
	 * back with none of its points; the worker comes back */
	if (pl_test_loop_until(loop, sweep_half_done, &h, READY_DEADLINE_MS)) {
		print_file(log);
		print_file(w[0].out_path);
		fail_msg("the sweep on %s did not get under way", h.board);
	}
	/* the queue shows the sweep running, its runs not known yet */
	assert_int_equal(e2e_patchlab(NULL, &out, "queue", "--db", c->url,
				      NULL), 0);
	if (!strstr(out, "(sweep of run 2, runs pending)"))
		fail_msg("patchlab queue does not show the sweep:\n%s", out);
	free(out);
	out = NULL;
	uv_process_kill(&w[0].h, SIGKILL);
	assert_true(e2e_wait(loop, &w[0], E2E_RUN_DEADLINE_MS) != 0);
	assert_int_equal(start_worker(c, loop, &w[0], 0), 0);
	if (e2e_wait(loop, sub, E2E_RUN_DEADLINE_MS) != PL_EXIT_GATE_FAILED) {
		print_file(log);
		for (int i = 0; i < c->nracks; i++)
			print_file(w[i].out_path);
		fail_msg("submit --wait with a worker killed mid-sweep: exit "
			 "%d (want 1, as run)", sub->code);
	}

	/* the sweep ran again, whole: the verdicts are run's, no point of
	 * the killed attempt among them */
	add_verdicts(spread, json);
	a = multiset(one);
	b = multiset(spread);
	if (strcmp(a, b) != 0)
		fail_msg("verdicts differ:\none rack at a time:\n%slab "
			 "service:\n%s", a, b);
	free(a);
	free(b);
	json_decref(one);
	json_decref(spread);
	assert_int_equal(pl_store_list_jobs(seen.st, q.suite, &j, &n), 0);
	assert_int_equal(n, q.jobs);
	for (size_t i = 0; i < n; i++)
		if (j[i].sweep && strcmp(j[i].board_id, h.board) == 0) {
			assert_int_equal(j[i].state, PL_JOB_DONE);
			assert_true(j[i].nruns > h.want);
			retried += j[i].attempt == 2;
		}
	pl_store_jobs_free(j, n);
	assert_int_equal(retried, 1);
	/* and the killed attempt left no suite of its own behind */
	f.board_id = h.board;
	assert_int_equal(pl_store_list_runs(seen.st, &f, &runs, &n), 0);
	for (size_t i = 0; i < n; i++)
		assert_true(runs[i].suite_id <= q.suite);
	printf("killed mid-sweep: the sweep on %s started over (attempt 2)\n",
	       h.board);
	pl_store_runs_free(runs, n);

	drain_workers(c, loop, w, &seen);
	pl_store_close(seen.st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(
			three_racks_three_hosts_match_one_host, kill_leftovers),
		cmocka_unit_test_teardown(two_submitters_high_priority_first,
					  kill_leftovers),
		cmocka_unit_test_teardown(sweeps_over_the_workers_match_one_rack,
					  kill_leftovers),
		cmocka_unit_test_teardown(a_worker_killed_mid_sweep_starts_it_over,
					  kill_leftovers),
	};
	int rc;

	/* the lab service is PostgreSQL's: this program always runs on it */
	setenv("PL_TEST_STORE", "pg", 1);
	if (netns_up()) {
		/* the namespace's worker comes over TCP to the host end */
		if (pl_test_pg_also_listen(g.host_ip, g.cidr) != 0)
			return 1;
	} else {
		printf("no network namespace: %s\n", g.why_no_ns);
	}
	pl_test_store_init();
	rc = cmocka_run_group_tests_name("/pl/e2e/labhosts", tests,
					 group_setup, group_teardown);
	netns_down();
	if (rc == 0 && g.why_no_ns[0]) {
		/* half of the acceptance did not run: not a pass */
		printf("SKIP: the three-rack case needs a network namespace: "
		       "%s\n", g.why_no_ns);
		return PL_TEST_SKIP_CODE;
	}
	return rc;
}
