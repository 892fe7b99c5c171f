/* SPDX-License-Identifier: MIT */
/*
 * patchlab submit SUITE --db URL: queue a release's suite in the lab
 * service, from any host, and (--wait) follow it to its verdicts and exit
 * like `run`. docs/lab-service.md.
 *
 * The suite expands here, as `run` expands it on one host, over the boards
 * the workers registered: one job per selected board and repeat, pinned to
 * that board, with its seed drawn from the suite seed and its position; a
 * run with a sweep is one sweep job per selected board, which the worker
 * plans and runs whole from the suite seed (its runs are known only once
 * it ends: until then it counts as one run not yet done). The
 * images go into the store by content first; the suite file and its
 * scenarios are read by the workers at the same path (a shared checkout).
 *
 * Exit codes: 0 the gate passed, 1 it failed (device failures), 2 lab error
 * or incomplete (cancelled, runs lost), 3 timed out (--timeout, or a run
 * still queued at --queue-timeout), 64 usage, 65 bad configuration.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <uv.h>

#include "cli.h"
#include "run_output.h"
#include "patchlab/clock.h"
#include "patchlab/config.h"
#include "patchlab/error.h"
#include "patchlab/exit.h"
#include "patchlab/fixture.h"
#include "patchlab/gate.h"
#include "patchlab/report.h"
#include "patchlab/store.h"
#include "patchlab/value_json.h"

#define EXIT_TIMED_OUT 3
/* How often a waiting submitter looks at its jobs, and how many attempts
 * and how much silence it allows workers when it reaps for them. */
#define WAIT_POLL_MS 200
#define REAP_ATTEMPTS 2
#define WORKER_STALE_MS 60000
#define MAX_FAILURES 12

static const struct pl_cli_opt submit_options[] = {
	{ "db", 0, "URL", "the lab service's store (postgresql://...)", false },
	{ "image", 'i', "NAME=PATH", "use PATH for the suite's image NAME", true },
	{ "tag", 't', "TAG", "only boards with this tag (repeat: all of them)", true },
	{ "priority", 'p', "P", "higher runs first (default 0)", false },
	{ "seed", 0, "S", "base seed of every random draw (default: new)", false },
	{ "name", 'n', "NAME", "who submits (default USER@HOST)", false },
	{ "wait", 'w', NULL, "follow the suite to its end and exit like run", false },
	{ "timeout", 0, "D", "with --wait: give up after D (exit 3)", false },
	{ "queue-timeout", 0, "D", "runs still queued after D end timed-out", false },
	{ "json", 0, "FILE", "with --wait: write the machine-readable result", false },
	{ "junit", 0, "FILE", "with --wait: write JUnit XML for CI", false },
	{ "html", 0, "FILE", "with --wait: write the HTML report", false },
	{ "quiet", 'q', NULL, "with --wait: no progress line", false },
	{ "verbose", 'v', NULL, "with --wait: a line per failing run, the "
	  "verdict table", false },
	{ NULL },
};

/* splitmix64's finaliser: a seed per job from the suite seed and position
 * (53 bits, so JSON readers keep it exact) */
static uint64_t job_seed(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return (x ^ (x >> 31)) & ((1ull << 53) - 1);
}

static bool has_tag(const struct pl_board_reg *b, const char *tag)
{
	for (size_t i = 0; b->tags && b->tags[i]; i++)
		if (strcmp(b->tags[i], tag) == 0)
			return true;
	return false;
}

/* pl_run_selects() for a board a worker registered. */
static bool selects(const struct pl_run_cfg *rc, const struct pl_board_reg *b)
{
	switch (rc->on.kind) {
	case PL_SELECT_ALL:
		return true;
	case PL_SELECT_BOARDS:
	case PL_SELECT_TYPES:
		for (size_t i = 0; i < rc->on.n; i++)
			if (strcmp(rc->on.names[i], rc->on.kind ==
				   PL_SELECT_BOARDS ? b->id : b->type) == 0)
				return true;
		return false;
	case PL_SELECT_TAGS:
		for (size_t i = 0; i < rc->on.n; i++)
			if (!has_tag(b, rc->on.names[i]))
				return false;
		return true;
	}
	return false;
}

/* The name `replay` gives a scenario: "scenarios/x.lua". */
static char *chunk_name(const struct pl_suite *s, const char *scen)
{
	size_t l = strlen(s->scenarios_dir);
	char *out;

	if (strncmp(scen, s->scenarios_dir, l) == 0 && scen[l] == '/') {
		if (asprintf(&out, "scenarios%s", scen + l) < 0)
			return NULL;
		return out;
	}
	return strdup(scen);
}

struct plan {
	struct pl_job_info *jobs;
	char **owned; /* strings the jobs point to */
	size_t n, nowned;
};

static void plan_free(struct plan *p)
{
	for (size_t i = 0; i < p->nowned; i++)
		free(p->owned[i]);
	free(p->owned);
	free(p->jobs);
}

static char *own(struct plan *p, char *s)
{
	if (s)
		p->owned[p->nowned++] = s;
	return s;
}

/* The run's params as a JSON object (malloc'ed), or NULL. */
static char *params_str(const struct pl_run_cfg *rc)
{
	json_t *pj = pl_value_to_json(rc->params);
	char *out;

	if (!json_is_object(pj)) {
		json_decref(pj);
		pj = json_object();
	}
	out = json_dumps(pj, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(pj);
	return out;
}

/* Expand the suite over the registered online boards carrying tags. An
 * exit code; 0 with p filled. */
static int expand(const struct pl_suite *s, const struct pl_board_reg *b,
		  size_t nb, const char *const *tags, uint64_t seed,
		  struct plan *p)
{
	size_t max = 0;

	for (size_t r = 0; r < s->nruns; r++)
		max += (size_t)(s->runs[r].sweep ? 1 : s->runs[r].repeat) * nb;
	p->jobs = calloc(max + 1, sizeof(*p->jobs));
	p->owned = calloc(2 * max + 1, sizeof(*p->owned));
	if (!p->jobs || !p->owned)
		return PL_EXIT_LAB_ERROR;
	for (size_t r = 0; r < s->nruns; r++) {
		const struct pl_run_cfg *rc = &s->runs[r];
		char *scen = own(p, chunk_name(s, rc->scenario));
		size_t before = p->n;

		if (!scen)
			return PL_EXIT_LAB_ERROR;
		for (size_t i = 0; i < nb; i++) {
			bool ok = b[i].online && selects(rc, &b[i]);

			for (size_t t = 0; ok && tags && tags[t]; t++)
				ok = has_tag(&b[i], tags[t]);
			if (ok && rc->sweep) {
				/* a sweep job: the worker plans and runs the
				 * whole sweep on this board from the suite's
				 * seed, as `run` would (docs/lab-service.md) */
				struct pl_job_info *j = &p->jobs[p->n++];

				j->board_id = b[i].id;
				j->board_type = b[i].type;
				j->scenario = scen;
				j->params_json = own(p, params_str(rc));
				if (!j->params_json)
					return PL_EXIT_LAB_ERROR;
				j->seed = seed;
				j->sweep = (int)r + 1;
				continue;
			}
			for (unsigned k = 1; ok && k <= rc->repeat; k++) {
				json_t *pj = pl_value_to_json(rc->params);
				struct pl_job_info *j = &p->jobs[p->n++];

				if (!json_is_object(pj)) {
					json_decref(pj);
					pj = json_object();
				}
				json_object_set_new(pj, "repeat_index",
						    json_integer(k));
				j->board_id = b[i].id;
				j->board_type = b[i].type;
				j->scenario = scen;
				j->params_json = own(p, json_dumps(pj,
						JSON_COMPACT | JSON_SORT_KEYS));
				json_decref(pj);
				if (!j->params_json)
					return PL_EXIT_LAB_ERROR;
				j->seed = job_seed(seed ^ (r << 40) ^
						   ((uint64_t)k << 20) ^ i);
			}
		}
		if (p->n == before) {
			fprintf(stderr, "patchlab submit: %s: run %zu (%s) "
				"selects no board an online worker serves\n",
				s->file, r + 1, scen);
			return PL_EXIT_LAB_ERROR;
		}
	}
	return 0;
}

/* Read every image of the suite into the store: {"NAME": "SHA256"}. */
static int upload_images(struct pl_store *st, const struct pl_suite *s,
			 char **json_out)
{
	json_t *o = json_object();
	int err = o ? 0 : -ENOMEM;

	for (size_t i = 0; err == 0 && i < s->nimages; i++) {
		FILE *f = fopen(s->images[i].path, "rb");
		char sha[65];
		void *data = NULL;
		long len;

		if (!f) {
			err = -errno;
			fprintf(stderr, "patchlab submit: image %s: %s: %s\n",
				s->images[i].name, s->images[i].path,
				strerror(errno));
			break;
		}
		if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 &&
		    fseek(f, 0, SEEK_SET) == 0 &&
		    (data = malloc((size_t)len + 1)) &&
		    fread(data, 1, (size_t)len, f) == (size_t)len)
			err = pl_store_image_put(st, data, (size_t)len, sha);
		else
			err = data ? -EIO : -ENOMEM;
		fclose(f);
		free(data);
		if (err == 0)
			err = json_object_set_new(o, s->images[i].name,
						  json_string(sha)) ? -ENOMEM : 0;
		if (err)
			fprintf(stderr, "patchlab submit: image %s: %s\n",
				s->images[i].name, pl_strerror(err));
	}
	*json_out = err ? NULL : json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	return err ? err : *json_out ? 0 : -ENOMEM;
}

/* ---------------------------------------------------------------- wait */

struct waiter {
	struct pl_store *st;
	int64_t suite;
	uint64_t deadline_ns; /* 0: none */
	uint64_t start_ns;    /* when the wait began: progress's elapsed */
	/* the view `run` shows (run_output.c): progress, -v lines, gate */
	const struct pl_engine_output *out;
	unsigned char *shown; /* per job index: counted in progress */
	size_t njobs, ended, shown_ended, shown_total;
	size_t sweeps_pending; /* sweep jobs queued or running */
	unsigned long verdicts[PL_VERDICT_COUNT];
	int err;              /* a store error that lasted: stop waiting */
	unsigned failures;    /* store calls failed in a row */
	bool timed_out, finished;
	size_t counts[PL_JOB_STATE_COUNT];
	uv_timer_t timer;
};

/* Count a job that ended (done, cancelled or timed out) once, by its run's
 * verdict; a job that ended without a run counts as not run, as `run`
 * counts a run it could not run. A run the store cannot read now is
 * counted at the next poll. */
static void count_ended(struct waiter *w, const struct pl_job_row *j)
{
	struct pl_run_row **runs;
	const int64_t *ids = j->nruns ? j->runs : &j->run_id;
	size_t n = j->nruns ? j->nruns : j->run_id ? 1 : 0;
	int err = 0;

	if (j->index < 1 || (size_t)j->index > w->njobs ||
	    w->shown[j->index - 1])
		return;
	if (j->state != PL_JOB_DONE)
		n = 0;
	/* a sweep job's runs all at once, or none of them yet */
	runs = calloc(n + 1, sizeof(*runs));
	if (!runs)
		return;
	for (size_t i = 0; i < n && (err == 0 || err == -ENOENT); i++)
		err = pl_store_get_run(w->st, ids[i], &runs[i], NULL, NULL);
	if (err == 0 || err == -ENOENT) {
		w->shown[j->index - 1] = 1;
		w->ended += n ? n : 1;
		if (n == 0)
			w->verdicts[PL_VERDICT_NOT_RUN]++;
		for (size_t i = 0; i < n; i++) {
			if (!runs[i]) {
				w->verdicts[PL_VERDICT_NOT_RUN]++;
				continue;
			}
			w->verdicts[runs[i]->verdict]++;
			if (w->out->run_ended)
				w->out->run_ended(w->out->user_data,
						  runs[i]->id, runs[i]->board_id,
						  runs[i]->verdict,
						  runs[i]->reason);
		}
	}
	for (size_t i = 0; i < n; i++)
		pl_store_run_free(runs[i], NULL, 0);
	free(runs);
}

static void on_poll(uv_timer_t *t)
{
	struct waiter *w = t->data;
	struct pl_job_row *j = NULL;
	size_t n = 0, total;

	/* a dead worker's runs come back or end: anyone waiting reaps */
	w->err = pl_store_reap(w->st, REAP_ATTEMPTS, WORKER_STALE_MS, NULL);
	if (w->err == 0)
		w->err = pl_store_list_jobs(w->st, w->suite, &j, &n);
	if (w->err) {
		/* the database restarting: each call waits for it a while
		 * (the store's busy timeout); give up only when it stays
		 * away */
		if (++w->failures >= MAX_FAILURES)
			uv_stop(t->loop);
		return;
	}
	w->failures = 0;
	memset(w->counts, 0, sizeof(w->counts));
	w->sweeps_pending = 0;
	/* the runs known: a job's one, a finished sweep's many; a sweep
	 * still queued or running counts as one run not yet done (as `run`
	 * counts a sweep's learning pass before its points are planned) */
	total = 0;
	for (size_t i = 0; i < n; i++) {
		w->counts[j[i].state]++;
		if (j[i].state != PL_JOB_QUEUED && j[i].state != PL_JOB_CLAIMED)
			count_ended(w, &j[i]);
		else if (j[i].sweep)
			w->sweeps_pending++;
		total += j[i].nruns ? j[i].nruns : 1;
	}
	pl_store_jobs_free(j, n);
	if ((w->ended != w->shown_ended || total != w->shown_total) &&
	    w->out->progress) {
		struct pl_engine_progress p = {
			.done = w->ended, .total = total,
			.counts = w->verdicts,
			.elapsed_ns = pl_now_ns() - w->start_ns,
		};

		w->shown_ended = w->ended;
		w->shown_total = total;
		w->out->progress(w->out->user_data, &p);
	}
	if (w->counts[PL_JOB_QUEUED] + w->counts[PL_JOB_CLAIMED] == 0) {
		w->finished = true;
		uv_stop(t->loop);
	} else if (w->deadline_ns && pl_now_ns() >= w->deadline_ns) {
		w->timed_out = true;
		uv_stop(t->loop);
	}
}

/* Follow the suite until no job waits or runs, or the deadline. 0, or a
 * store error. */
static int wait_suite(struct waiter *w)
{
	uv_loop_t loop;

	w->shown = calloc(w->njobs + 1, 1);
	if (!w->shown)
		return -ENOMEM;
	uv_loop_init(&loop);
	uv_timer_init(&loop, &w->timer);
	w->timer.data = w;
	uv_timer_start(&w->timer, on_poll, 0, WAIT_POLL_MS);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_close((uv_handle_t *)&w->timer, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	free(w->shown);
	return w->err;
}

/* The gate of the finished suite, stored and shown as `run` shows it, and
 * the reports. An exit code. */
static int conclude(const struct pl_cli_args *a, struct pl_store *st,
		    const struct pl_suite *s, int64_t suite,
		    const struct pl_engine_output *out)
{
	static const struct {
		const char *opt;
		enum pl_report_format fmt;
	} reports[] = {
		{ "json", PL_REPORT_JSON },
		{ "junit", PL_REPORT_JUNIT },
		{ "html", PL_REPORT_HTML },
	};
	struct pl_gate_thresholds th = { .max_brick_rate = 1 };
	struct pl_gate *g = NULL;
	int rc = PL_EXIT_LAB_ERROR, err;

	if (s->gate.given) {
		th.max_brick_rate = s->gate.max_brick_rate;
		th.min_cuts = s->gate.min_cuts;
	}
	err = pl_gate_compute(st, suite, &th, &g);
	if (err == 0) {
		enum pl_gate_result r = pl_gate_result(g);

		pl_store_suite_end(st, suite, pl_gate_result_name(r));
		if (out->gate)
			out->gate(out->user_data, g);
		printf("suite %" PRId64 ": gate %s: %s\n", suite,
		       pl_gate_result_name(r), pl_gate_why(g));
		rc = r == PL_GATE_PASS ? PL_EXIT_OK :
		     r == PL_GATE_FAIL ? PL_EXIT_GATE_FAILED :
					 PL_EXIT_LAB_ERROR;
		pl_gate_free(g);
	} else {
		fprintf(stderr, "patchlab submit: the gate of suite %" PRId64
			": %s\n", suite, pl_strerror(err));
	}
	for (size_t i = 0; i < sizeof(reports) / sizeof(reports[0]); i++) {
		const char *path = pl_cli_opt(a, reports[i].opt);

		if (!path)
			continue;
		err = pl_report_write(st, suite, &th, reports[i].fmt, path);
		if (err) {
			fprintf(stderr, "patchlab submit: cannot write the %s "
				"report %s: %s\n", reports[i].opt, path,
				pl_strerror(err));
			rc = PL_EXIT_LAB_ERROR;
		} else if (out->report) {
			out->report(out->user_data, reports[i].opt, path);
		}
	}
	return rc;
}

/* ------------------------------------------------------------- command */

static int parse_opts(const struct pl_cli_args *a, const char ***images,
		      const char ***tags, long *prio, uint64_t *seed,
		      uint64_t *timeout_ms, uint64_t *qtimeout_ms)
{
	const char *v;
	size_t ni = 0, nt = 0;
	long n;

	if ((v = pl_cli_opt(a, "priority")) && pl_parse_long(v, prio))
		return pl_cli_usage_error(a->cmd, "--priority takes a number, "
					  "not '%s'", v);
	if ((v = pl_cli_opt(a, "seed"))) {
		if (pl_parse_long(v, &n) || n < 0)
			return pl_cli_usage_error(a->cmd, "--seed takes a "
						  "number, not '%s'", v);
		*seed = (uint64_t)n;
	}
	if ((v = pl_cli_opt(a, "timeout")) && pl_parse_duration_ms(v,
								   timeout_ms))
		return pl_cli_usage_error(a->cmd, "--timeout takes a duration "
					  "(30s, 10m), not '%s'", v);
	if ((v = pl_cli_opt(a, "queue-timeout")) &&
	    pl_parse_duration_ms(v, qtimeout_ms))
		return pl_cli_usage_error(a->cmd, "--queue-timeout takes a "
					  "duration (30s, 10m), not '%s'", v);
	if (!pl_cli_flag(a, "wait") && (pl_cli_opt(a, "json") ||
	    pl_cli_opt(a, "junit") || pl_cli_opt(a, "html") ||
	    pl_cli_opt(a, "timeout")))
		return pl_cli_usage_error(a->cmd, "--json, --junit, --html and "
					  "--timeout need --wait");
	while (pl_cli_opt_at(a, "image", ni))
		ni++;
	while (pl_cli_opt_at(a, "tag", nt))
		nt++;
	*images = calloc(ni + 1, sizeof(**images));
	*tags = calloc(nt + 1, sizeof(**tags));
	if (!*images || !*tags)
		return PL_EXIT_LAB_ERROR;
	for (size_t i = 0; i < ni; i++) {
		(*images)[i] = pl_cli_opt_at(a, "image", i);
		if (!strchr((*images)[i], '='))
			return pl_cli_usage_error(a->cmd, "--image takes "
						  "NAME=PATH, not '%s'",
						  (*images)[i]);
	}
	for (size_t i = 0; i < nt; i++)
		(*tags)[i] = pl_cli_opt_at(a, "tag", i);
	return 0;
}

/* "suite N queued: ..." on stdout, at once (CI logs read it). */
static void print_queued(int64_t suite_id, const struct plan *plan,
			 uint64_t seed)
{
	size_t sweeps = 0;

	for (size_t i = 0; i < plan->n; i++)
		sweeps += plan->jobs[i].sweep > 0;
	if (sweeps)
		printf("suite %" PRId64 " queued: %zu runs and %zu sweeps (their "
		       "runs are planned on the boards), seed %" PRIu64 "\n",
		       suite_id, plan->n - sweeps, sweeps, seed);
	else
		printf("suite %" PRId64 " queued: %zu runs, seed %" PRIu64 "\n",
		       suite_id, plan->n, seed);
	fflush(stdout);
}

/* The exit code once the wait is over: the gate's (rc), unless runs timed
 * out (3) or were cancelled (2: the suite is incomplete). */
static int after_wait(const struct waiter *w, int rc)
{
	if (w->timed_out || w->counts[PL_JOB_TIMED_OUT]) {
		if (w->counts[PL_JOB_TIMED_OUT])
			fprintf(stderr, "patchlab submit: %zu runs were still "
				"queued at the queue timeout\n",
				w->counts[PL_JOB_TIMED_OUT]);
		return EXIT_TIMED_OUT;
	}
	if (w->counts[PL_JOB_CANCELLED] && rc != PL_EXIT_GATE_FAILED) {
		fprintf(stderr, "patchlab submit: %zu runs were cancelled: the "
			"suite is incomplete\n", w->counts[PL_JOB_CANCELLED]);
		return PL_EXIT_LAB_ERROR;
	}
	return rc;
}

static int submit_run(const struct pl_cli_args *a)
{
	const char *db = pl_cli_opt(a, "db");
	const char **images = NULL, **tags = NULL;
	char who[300], host[256], abs[PATH_MAX], *images_json = NULL;
	struct pl_submit_info si = { 0 };
	struct pl_board_reg *boards = NULL;
	struct pl_suite *suite = NULL;
	struct pl_store *st = NULL;
	struct plan plan = { 0 };
	struct waiter w = { 0 };
	struct pl_cli_run_output out;
	uint64_t seed = pl_wall_ns() % 1000000007u, timeout_ms = 0,
		 qtimeout_ms = 0;
	size_t nboards = 0;
	int64_t suite_id = 0;
	long prio = 0;
	int rc, err;

	if (!db || !pl_store_is_url(db))
		return pl_cli_usage_error(a->cmd, "give --db postgresql://...: "
					  "the queue lives in PostgreSQL");
	rc = parse_opts(a, &images, &tags, &prio, &seed, &timeout_ms,
			&qtimeout_ms);
	if (rc)
		goto out_free;
	rc = pl_cli_load_suite(a->argv[0], &(struct pl_config_opts){
				      .image_overrides = images }, &suite);
	if (rc)
		goto out_free;
	rc = PL_EXIT_LAB_ERROR;
	err = pl_store_open(&st, db, NULL);
	if (err) {
		fprintf(stderr, "patchlab submit: %s: %s\n", db,
			pl_strerror(err));
		goto out_free;
	}
	err = pl_store_list_boards(st, &boards, &nboards);
	if (err) {
		fprintf(stderr, "patchlab submit: the lab's boards: %s\n",
			pl_strerror(err));
		goto out_free;
	}
	rc = expand(suite, boards, nboards, tags, seed, &plan);
	if (rc)
		goto out_free;
	rc = PL_EXIT_LAB_ERROR;
	if (upload_images(st, suite, &images_json))
		goto out_free;
	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	snprintf(who, sizeof(who), "%s@%s", getenv("USER") ? getenv("USER") :
		 "?", host);
	si.suite.name = suite->name;
	si.suite.file = realpath(suite->file, abs) ? abs : suite->file;
	si.suite.seed = seed;
	si.suite.cmdline = a->cmdline;
	si.submitter = pl_cli_opt(a, "name") ? pl_cli_opt(a, "name") : who;
	si.priority = (int)prio;
	si.images_json = images_json;
	si.queue_timeout_ns = qtimeout_ms * 1000000u;
	err = pl_store_submit(st, &si, plan.jobs, plan.n, &suite_id);
	if (err) {
		fprintf(stderr, "patchlab submit: %s\n", pl_strerror(err));
		goto out_free;
	}
	print_queued(suite_id, &plan, seed);
	if (!pl_cli_flag(a, "wait")) {
		rc = PL_EXIT_OK;
		goto out_free;
	}
	pl_cli_run_output_init(&out, pl_cli_flag(a, "quiet"),
			       pl_cli_flag(a, "verbose"));
	w.st = st;
	w.suite = suite_id;
	w.njobs = plan.n;
	w.out = &out.out;
	w.start_ns = pl_now_ns();
	w.deadline_ns = timeout_ms ? pl_now_ns() + timeout_ms * 1000000u : 0;
	err = wait_suite(&w);
	if ((err || w.timed_out) && out.tty && !out.quiet && w.shown_ended)
		fputc('\n', stderr); /* end the live progress line */
	if (err) {
		fprintf(stderr, "patchlab submit: lost the lab service while "
			"waiting: %s\n", pl_strerror(err));
		goto out_free;
	}
	if (w.timed_out) {
		size_t n = 0;

		pl_store_cancel(st, suite_id, &n);
		fprintf(stderr, "patchlab submit: suite %" PRId64 " timed out "
			"with %zu runs waiting and %zu running (%zu of them "
			"sweeps, their runs not recorded)\n", suite_id,
			w.counts[PL_JOB_QUEUED], w.counts[PL_JOB_CLAIMED],
			w.sweeps_pending);
	}
	rc = after_wait(&w, conclude(a, st, suite, suite_id, &out.out));
out_free:
	pl_store_boards_free(boards, nboards);
	plan_free(&plan);
	free(images_json);
	pl_store_close(st);
	pl_suite_free(suite);
	free(images);
	free(tags);
	return rc;
}

const struct pl_cli_cmd pl_cmd_submit = {
	.name = "submit",
	.run = submit_run,
	.help = "queue a suite in the lab service; --wait follows it like run",
	.usage = "SUITE",
	.min_args = 1,
	.max_args = 1,
	.phase = PL_CLI_OFFLINE,
	.options = submit_options,
	.details = "The suite expands over the boards the workers registered\n"
		   "(patchlab worker), one run per selected board and repeat,\n"
		   "one sweep job per selected board for a run with a sweep;\n"
		   "images go into the store by content, the suite and its\n"
		   "scenarios are read by the workers at the same path.\n"
		   "Exit codes (--wait): 0 the gate passed, 1 it failed (device\n"
		   "failures), 2 lab error or incomplete, 3 timed out (--timeout\n"
		   "or --queue-timeout), 64 usage, 65 bad configuration.",
};
