/* SPDX-License-Identifier: MIT */
/*
 * patchlab worker --lab LAB --db URL --name N [--boards ID,ID]: one per
 * host of a lab that spans hosts (docs/lab-service.md). It registers the
 * boards of LAB it serves, claims the queued runs pinned to them, and runs
 * each with the same engine as `patchlab run` (pl_engine_run() in replay
 * form: exactly this scenario, parameters and seed on this board), in a
 * process of its own per run so that runs on different boards overlap and
 * a run that crashes takes no other with it. A sweep job (the suite's run
 * with a sweep) is run with the same engine as `run` runs that suite run,
 * not replayed: the learning pass and every point on this board, then all
 * its runs move into the submitted suite at once (docs/lab-service.md,
 * "Sweep jobs"); a stop mid-sweep drops them all and the sweep starts over.
 *
 *   worker (this loop)                run process (worker --exec JOB)
 *   ------------------                --------------------------------
 *   poll: reap, claim per free board
 *   spawn --exec JOB --attempt A  ->  images from the store (by SHA-256)
 *   heartbeat: renew job leases       pl_engine_run(replay of the job)
 *   child exit: a run process that    pl_store_job_finish(): the run moves
 *   died without a word gets its      into the submitted suite, if the
 *   job requeued or ended lab-error   lease still holds; else dropped
 *
 * SIGTERM or SIGINT drains: the runs in flight finish, nothing more is
 * claimed. A second signal stops the runs (their engines power the boards
 * off and record lab-error "controller stopped") and the worker ends.
 *
 * Waking: the worker LISTENs on patchlab_queue (every submit and job end
 * notifies it) with the connection's socket on the loop, and claims at
 * once; it also polls (--poll, default 500 ms), for the expired leases it
 * reaps and for a connection that was reset (which drops the LISTEN).
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <uv.h>

#include "cli.h"
#include "patchlab/clock.h"
#include "patchlab/config.h"
#include "patchlab/engine.h"
#include "patchlab/error.h"
#include "patchlab/exit.h"
#include "patchlab/fixture.h"
#include "patchlab/store.h"

/* Exit codes of a run process, read by its worker. */
#define RUN_DONE 0        /* the run is recorded as its job's result */
#define RUN_LOST 3        /* the lease was gone: nothing recorded */
#define RUN_FAILED 4      /* no run; the job was requeued or ended */

#define DEFAULT_LEASE_MS 30000u
#define DEFAULT_POLL_MS 500u
#define MAX_BACKOFF_MS 5000u

static const struct pl_cli_opt worker_options[] = {
	{ "lab", 'l', "LAB", "lab inventory (default lab.yaml)", false },
	{ "db", 0, "URL", "the lab service's store (postgresql://...)", false },
	{ "name", 'n', "N", "this worker's name (default: the host name)", false },
	{ "boards", 'b', "ID,ID", "serve only these boards of LAB (default all)", false },
	{ "out", 'o', "DIR", "console logs and the image cache (default runs)", false },
	{ "lease", 0, "D", "a run's lease, renewed every third of it (default 30s)", false },
	{ "poll", 0, "D", "look for queued runs this often (default 500ms)", false },
	{ "attempts", 0, "N", "runs of a job a lost worker leaves (default 2)", false },
	{ "idle-exit", 0, NULL, "end once nothing waits for these boards", false },
	{ "exec", 0, "JOB", "(internal) run one claimed job and exit", false },
	{ "attempt", 0, "A", "(internal) the attempt of --exec", false },
	{ NULL },
};

struct slot {
	struct worker *w;
	const char *board;    /* borrowed from the lab */
	uv_process_t proc;
	bool busy;
	int64_t job;
	int attempt;
};

struct worker {
	const struct pl_cli_args *a;
	uv_loop_t loop;
	struct pl_store *st;
	const char *db, *lab_path, *name, *out;
	char exe[PATH_MAX];
	struct slot *slots;
	int64_t *beat_jobs;   /* per slot: the heartbeat's list */
	size_t nslots, running;
	uv_timer_t poll, beat;
	uv_poll_t wake;       /* the store's socket: NOTIFY patchlab_queue */
	bool listening;
	uv_signal_t sigint, sigterm;
	unsigned signals;
	bool idle_exit;
	uint64_t lease_ms, poll_ms, backoff_ms;
	int attempts;
	size_t claimed;
};

/* ------------------------------------------------------ the run process */

struct exec_run {
	int64_t run_id; /* the engine's record of the run, 0 until it ends */
	int64_t first;  /* a sweep job: its first run (its learning pass) */
	size_t nruns;
};

static void on_run_ended(void *ud, int64_t run_id, const char *board,
			 enum pl_verdict v, const char *reason)
{
	struct exec_run *er = ud;

	(void)board;
	(void)v;
	(void)reason;
	er->run_id = run_id;
	if (run_id && !er->first)
		er->first = run_id;
	er->nruns += run_id != 0;
}

/* A sweep job's end: every run the engine recorded, under the suite of its
 * own, moves into the submitted suite (pl_store_job_finish_sweep()). */
static int finish_sweep(struct pl_store *st, const struct pl_job_row *job,
			const char *name, const struct exec_run *er)
{
	struct pl_run_row *run = NULL;
	int64_t own;
	int err;

	err = pl_store_get_run(st, er->first, &run, NULL, NULL);
	if (err)
		return err;
	own = run->suite_id;
	pl_store_run_free(run, NULL, 0);
	err = pl_store_job_finish_sweep(st, job->id, name, job->attempt, own);
	if (err == 0)
		fprintf(stderr, "patchlab worker %s: sweep job %" PRId64 " on %s: "
			"%zu runs recorded\n", name, job->id, job->board_id,
			er->nruns);
	return err;
}

/* The job as claimed by name with attempt, or NULL (printed why). */
static struct pl_job_row *find_job(struct pl_store *st, int64_t id,
				   const char *name, int attempt)
{
	struct pl_job_row *j = NULL, *found = NULL;
	size_t n = 0;

	if (pl_store_list_jobs(st, 0, &j, &n))
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (j[i].id != id || j[i].state != PL_JOB_CLAIMED ||
		    !j[i].worker || strcmp(j[i].worker, name) ||
		    j[i].attempt != attempt)
			continue;
		found = malloc(sizeof(*found));
		if (found) {
			*found = j[i];
			memset(&j[i], 0, sizeof(j[i])); /* moved */
		}
	}
	pl_store_jobs_free(j, n);
	return found;
}

/* Write data to path through a temporary file: a reader never sees half. */
static int write_file(const char *path, const void *data, size_t len)
{
	char *tmp;
	FILE *f;
	int err = 0;

	if (asprintf(&tmp, "%s.%d", path, (int)getpid()) < 0)
		return -ENOMEM;
	f = fopen(tmp, "wb");
	if (!f) {
		err = -errno;
		free(tmp);
		return err;
	}
	if (fwrite(data, 1, len, f) != len)
		err = -EIO;
	if (fclose(f) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err)
		unlink(tmp);
	free(tmp);
	return err;
}

/* Every image of the job's suite in OUT/images/SHA, fetched once per
 * host; overrides[i] = "NAME=PATH" (malloc'ed). 0 or an error. */
static int fetch_images(struct pl_store *st, const char *out,
			const char *images_json, char ***overrides)
{
	json_t *o = json_loads(images_json ? images_json : "{}", 0, NULL);
	const char *name;
	json_t *sha;
	size_t i = 0;
	char dir[PATH_MAX];
	int err = 0;

	*overrides = calloc(json_object_size(o) + 1, sizeof(**overrides));
	if (!o || !*overrides) {
		json_decref(o);
		return -ENOMEM;
	}
	snprintf(dir, sizeof(dir), "%s/images", out);
	mkdir(out, 0755);
	mkdir(dir, 0755);
	json_object_foreach(o, name, sha) {
		char path[PATH_MAX + 80];
		void *data = NULL;
		size_t len = 0;

		snprintf(path, sizeof(path), "%s/%s", dir,
			 json_string_value(sha) ? json_string_value(sha) : "?");
		if (access(path, R_OK) != 0) {
			err = pl_store_image_get(st, json_string_value(sha),
						 &data, &len);
			if (!err)
				err = write_file(path, data, len);
			free(data);
			if (err) {
				fprintf(stderr, "patchlab worker: image %s: %s\n",
					name, pl_strerror(err));
				break;
			}
		}
		if (asprintf(&(*overrides)[i++], "%s=%s", name, path) < 0) {
			(*overrides)[--i] = NULL;
			err = -ENOMEM;
			break;
		}
	}
	json_decref(o);
	return err;
}

static void free_strv(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

static int exec_job(const struct pl_cli_args *a, const char *db,
		    const char *name, const char *out, int attempts)
{
	struct exec_run er = { 0 };
	struct pl_engine_output eo = { .run_ended = on_run_ended,
				       .user_data = &er };
	struct pl_engine_replay rp = { 0 };
	struct pl_engine_opts o = { 0 };
	struct pl_job_row *job = NULL;
	struct pl_store *st = NULL;
	char **images = NULL, reason[128];
	pid_t parent = getppid();
	long id, attempt;
	int rc, err;

	if (pl_parse_long(pl_cli_opt(a, "exec"), &id) || !pl_cli_opt(a, "attempt") ||
	    pl_parse_long(pl_cli_opt(a, "attempt"), &attempt))
		return pl_cli_usage_error(a->cmd, "--exec JOB --attempt A");
	/* the worker gone, the run stops: its engine powers the board off */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		return RUN_LOST;
	err = pl_store_open(&st, db, NULL);
	if (err) {
		fprintf(stderr, "patchlab worker: %s: %s\n", db, pl_strerror(err));
		return PL_EXIT_LAB_ERROR;
	}
	job = find_job(st, id, name, (int)attempt);
	if (!job) {
		pl_store_close(st);
		return RUN_LOST;
	}
	err = fetch_images(st, out, job->images_json, &images);
	if (err) {
		snprintf(reason, sizeof(reason), "worker %s could not fetch the "
			 "images: %s", name, pl_strerror(err));
		pl_store_job_fail(st, job->id, name, job->attempt, 0, reason,
				  true, attempts);
		rc = RUN_FAILED;
		goto out_free;
	}
	rp.scenario = job->scenario;
	rp.params_json = job->params_json;
	rp.seed = job->seed;
	rp.board_type = job->board_type;
	rp.board_id = job->board_id;
	/* a sweep job: the suite's run, planned and swept on this board as
	 * `run --seed` plans it (the job's seed is the suite's); else a
	 * replay of exactly the job's run */
	o.sweep_run = job->sweep > 0 ? (unsigned)job->sweep : 0;
	o.replay = job->sweep > 0 ? NULL : &rp;
	o.suite_path = job->suite_file;
	o.lab_path = pl_cli_opt(a, "lab");
	o.out_dir = out;
	o.db_path = db;
	o.image_overrides = (const char *const *)images;
	o.seed = job->seed;
	o.has_seed = true;
	o.boards = (const char *const[]){ job->board_id, NULL };
	o.jobs = 1;
	o.cmdline = a->cmdline;
	o.output = &eo;
	rc = pl_engine_run(&o);
	if (getppid() != parent) {
		/* the worker died under us: the run is not a result */
		snprintf(reason, sizeof(reason), "worker %s stopped during the "
			 "run", name);
		/* a sweep's earlier points go with it: it starts over */
		pl_store_job_fail(st, job->id, name, job->attempt,
				  job->sweep > 0 ? er.first : er.run_id,
				  reason, true, attempts);
		rc = RUN_LOST;
	} else if (er.run_id && job->sweep > 0) {
		err = finish_sweep(st, job, name, &er);
		rc = err == 0 ? RUN_DONE : err == -PL_ELEASED ? RUN_LOST :
							       PL_EXIT_LAB_ERROR;
	} else if (er.run_id) {
		/* a connection broken by a server restart: the store sends
		 * it once more, and a repeated end is harmless */
		err = pl_store_job_finish(st, job->id, name, job->attempt,
					  er.run_id);
		rc = err == 0 ? RUN_DONE : err == -PL_ELEASED ? RUN_LOST :
							       PL_EXIT_LAB_ERROR;
	} else {
		snprintf(reason, sizeof(reason), "worker %s: the engine could "
			 "not start the run (exit %d)", name, rc);
		pl_store_job_fail(st, job->id, name, job->attempt, 0, reason,
				  false, attempts);
		rc = RUN_FAILED;
	}
out_free:
	free_strv(images);
	pl_store_jobs_free(job, 1);
	pl_store_close(st);
	return rc;
}

/* ------------------------------------------------------------ the worker */

static void stop_if_done(struct worker *w)
{
	if (w->running == 0 && (w->signals || w->idle_exit))
		uv_stop(&w->loop);
}

static void on_proc_closed(uv_handle_t *h)
{
	struct slot *s = h->data;

	s->busy = false;
	s->w->running--;
	stop_if_done(s->w);
}

static void on_run_exit(uv_process_t *p, int64_t status, int signum)
{
	struct slot *s = p->data;
	struct worker *w = s->w;
	char why[160];

	if (signum || (status != RUN_DONE && status != RUN_LOST &&
		       status != RUN_FAILED)) {
		/* it died without a word: its job must not wait for the
		 * lease to expire */
		if (signum)
			snprintf(why, sizeof(why), "worker %s: the run process "
				 "was killed by signal %d", w->name, signum);
		else
			snprintf(why, sizeof(why), "worker %s: the run process "
				 "failed (exit %d)", w->name, (int)status);
		fprintf(stderr, "patchlab worker: job %" PRId64 " on %s: %s\n",
			s->job, s->board, why);
		/* a lab problem (the database away, a crash): another
		 * attempt may well run, as many as --attempts allows */
		pl_store_job_fail(w->st, s->job, w->name, s->attempt, 0, why,
				  !w->signals, w->attempts);
	}
	p->data = s;
	uv_close((uv_handle_t *)p, on_proc_closed);
}

static int spawn(struct worker *w, struct slot *s, const struct pl_job_row *j)
{
	char job[24], att[16], lease[24];
	char *args[] = { w->exe, "worker", "--exec", job, "--attempt", att,
			 "--db", (char *)w->db, "--lab", (char *)w->lab_path,
			 "--name", (char *)w->name, "--out", (char *)w->out,
			 "--attempts", lease, NULL };
	uv_stdio_container_t io[3] = {
		{ .flags = UV_INHERIT_FD, .data.fd = 0 },
		{ .flags = UV_INHERIT_FD, .data.fd = 1 },
		{ .flags = UV_INHERIT_FD, .data.fd = 2 },
	};
	uv_process_options_t po = { .file = w->exe, .args = args,
				    .exit_cb = on_run_exit, .stdio = io,
				    .stdio_count = 3 };
	int err;

	snprintf(job, sizeof(job), "%" PRId64, j->id);
	snprintf(att, sizeof(att), "%d", j->attempt);
	snprintf(lease, sizeof(lease), "%d", w->attempts);
	s->proc.data = s;
	err = uv_spawn(&w->loop, &s->proc, &po);
	if (err) {
		/* uv_spawn made the handle: it must be closed */
		uv_close((uv_handle_t *)&s->proc, NULL);
		return err;
	}
	s->busy = true;
	s->job = j->id;
	s->attempt = j->attempt;
	w->running++;
	return 0;
}

/* Claim a job for every free board; false when the store failed. */
static bool claim_all(struct worker *w, bool *any)
{
	*any = false;
	for (size_t i = 0; i < w->nslots && !w->signals; i++) {
		struct slot *s = &w->slots[i];
		struct pl_job_row *j = NULL;
		int err;

		if (s->busy)
			continue;
		err = pl_store_claim(w->st, w->name, &s->board, 1, w->lease_ms,
				     &j);
		if (err == -ENOENT)
			continue;
		if (err)
			return false;
		*any = true;
		w->claimed++;
		err = spawn(w, s, j);
		if (err) {
			char why[128];

			snprintf(why, sizeof(why), "worker %s cannot start a "
				 "run process: %s", w->name, uv_strerror(err));
			pl_store_job_fail(w->st, j->id, w->name, j->attempt, 0,
					  why, true, w->attempts);
		}
		pl_store_jobs_free(j, 1);
	}
	return true;
}

static void on_poll(uv_timer_t *t)
{
	struct worker *w = t->data;
	bool any = false, ok;

	ok = pl_store_reap(w->st, w->attempts, 6 * w->lease_ms, NULL) == 0;
	if (ok)
		ok = claim_all(w, &any);
	/* the database away: look again later and later, not in a loop */
	w->backoff_ms = ok ? w->poll_ms :
		w->backoff_ms * 2 > MAX_BACKOFF_MS ? MAX_BACKOFF_MS :
						      w->backoff_ms * 2;
	if (ok && !any && w->idle_exit && w->running == 0) {
		uv_stop(&w->loop);
		return;
	}
	/* notifications libpq read during these calls wake nobody: they
	 * are drained here, and were answered by the claims just made */
	if (w->listening) {
		size_t n = 0;

		pl_store_notified(w->st, &n);
	}
	uv_timer_start(&w->poll, on_poll, w->backoff_ms, 0);
}

/* A notification (a submit, a job's end): look at the queue now. */
static void on_wake(uv_poll_t *h, int status, int events)
{
	struct worker *w = h->data;
	size_t n = 0;

	(void)events;
	if (status < 0 || pl_store_notified(w->st, &n)) {
		/* the connection broke: polling alone from here */
		uv_poll_stop(h);
		return;
	}
	if (n && !w->signals)
		uv_timer_start(&w->poll, on_poll, 0, 0);
}

static void on_beat(uv_timer_t *t)
{
	struct worker *w = t->data;
	size_t held = 0, n = 0;

	/* the jobs of the run processes alive: what the store holds for
	 * this worker beyond them has no run to end it */
	for (size_t i = 0; i < w->nslots; i++)
		if (w->slots[i].busy)
			w->beat_jobs[n++] = w->slots[i].job;
	if (pl_store_heartbeat(w->st, w->name, w->lease_ms, w->beat_jobs, n,
			       &held))
		fprintf(stderr, "patchlab worker %s: heartbeat failed; retrying\n",
			w->name);
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct worker *w = h->data;

	if (w->signals++ == 0) {
		fprintf(stderr, "patchlab worker %s: %s: draining, %zu runs in "
			"flight\n", w->name, strsignal(signum), w->running);
		uv_timer_stop(&w->poll);
		stop_if_done(w);
		return;
	}
	fprintf(stderr, "patchlab worker %s: stopping the runs in flight\n",
		w->name);
	for (size_t i = 0; i < w->nslots; i++)
		if (w->slots[i].busy)
			uv_process_kill(&w->slots[i].proc, SIGTERM);
}

static void close_walk(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

/* The boards of the lab this worker serves (--boards). An exit code. */
static int pick_boards(struct worker *w, const struct pl_lab *lab,
		       struct pl_worker_board **reg)
{
	const char *only = pl_cli_opt(w->a, "boards");

	w->slots = calloc(lab->nboards + 1, sizeof(*w->slots));
	w->beat_jobs = calloc(lab->nboards + 1, sizeof(*w->beat_jobs));
	*reg = calloc(lab->nboards + 1, sizeof(**reg));
	if (!w->slots || !w->beat_jobs || !*reg)
		return PL_EXIT_LAB_ERROR;
	for (size_t i = 0; i < lab->nboards; i++) {
		const struct pl_board_cfg *b = &lab->boards[i];
		size_t l = strlen(b->id);
		bool take = !only;

		for (const char *p = only; p && *p;) {
			const char *e = strchr(p, ',');
			size_t n = e ? (size_t)(e - p) : strlen(p);

			take |= n == l && strncmp(p, b->id, l) == 0;
			p = e ? e + 1 : p + n;
		}
		if (!take)
			continue;
		(*reg)[w->nslots] = (struct pl_worker_board){
			.id = b->id, .type = b->type->name, .tags = b->tags };
		w->slots[w->nslots].w = w;
		w->slots[w->nslots++].board = b->id;
	}
	if (w->nslots == 0)
		return pl_cli_usage_error(w->a->cmd, "--boards names no board "
					  "of %s", lab->file);
	return 0;
}

static int parse_numbers(struct worker *w)
{
	const char *v;
	long n;

	w->lease_ms = DEFAULT_LEASE_MS;
	w->poll_ms = DEFAULT_POLL_MS;
	w->attempts = 2;
	if ((v = pl_cli_opt(w->a, "lease")) &&
	    (pl_parse_duration_ms(v, &w->lease_ms) || w->lease_ms < 300))
		return pl_cli_usage_error(w->a->cmd, "--lease takes a duration "
					  ">= 300ms, not '%s'", v);
	if ((v = pl_cli_opt(w->a, "poll")) &&
	    (pl_parse_duration_ms(v, &w->poll_ms) || w->poll_ms < 1))
		return pl_cli_usage_error(w->a->cmd, "--poll takes a duration, "
					  "not '%s'", v);
	if ((v = pl_cli_opt(w->a, "attempts"))) {
		if (pl_parse_long(v, &n) || n < 1 || n > 100)
			return pl_cli_usage_error(w->a->cmd, "--attempts takes "
						  "1..100, not '%s'", v);
		w->attempts = (int)n;
	}
	return 0;
}

static int worker_run(const struct pl_cli_args *a)
{
	struct worker w = { .a = a };
	struct pl_worker_board *reg = NULL;
	struct pl_lab *lab = NULL;
	char host[256];
	ssize_t len;
	int rc, err;

	w.db = pl_cli_opt(a, "db");
	w.lab_path = pl_cli_opt(a, "lab") ? pl_cli_opt(a, "lab") : "lab.yaml";
	w.out = pl_cli_opt(a, "out") ? pl_cli_opt(a, "out") : "runs";
	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	w.name = pl_cli_opt(a, "name") ? pl_cli_opt(a, "name") : host;
	if (!w.db || !pl_store_is_url(w.db))
		return pl_cli_usage_error(a->cmd, "give --db postgresql://...: "
					  "the queue lives in PostgreSQL");
	rc = parse_numbers(&w);
	if (rc)
		return rc;
	if (pl_cli_opt(a, "exec"))
		return exec_job(a, w.db, w.name, w.out, w.attempts);
	w.idle_exit = pl_cli_flag(a, "idle-exit");
	len = readlink("/proc/self/exe", w.exe, sizeof(w.exe) - 1);
	if (len <= 0)
		return PL_EXIT_LAB_ERROR;
	w.exe[len] = '\0';
	rc = pl_cli_load_lab(w.lab_path, &(struct pl_config_opts){ 0 }, &lab);
	if (rc)
		return rc;
	rc = pick_boards(&w, lab, &reg);
	if (rc)
		goto out_free;
	rc = PL_EXIT_LAB_ERROR;
	err = pl_store_open(&w.st, w.db, NULL);
	if (!err)
		err = pl_store_worker_register(w.st, w.name, lab->file, reg,
					       w.nslots, w.attempts);
	if (err) {
		fprintf(stderr, "patchlab worker: %s: %s\n", w.db,
			pl_strerror(err));
		goto out_free;
	}
	fprintf(stderr, "patchlab worker %s: serving %zu boards of %s\n",
		w.name, w.nslots, lab->file);
	uv_loop_init(&w.loop);
	uv_timer_init(&w.loop, &w.poll);
	uv_timer_init(&w.loop, &w.beat);
	uv_signal_init(&w.loop, &w.sigint);
	uv_signal_init(&w.loop, &w.sigterm);
	w.poll.data = w.beat.data = w.sigint.data = w.sigterm.data = &w;
	w.backoff_ms = w.poll_ms;
	{
		int fd = -1;

		if (pl_store_listen(w.st, "patchlab_queue", &fd) == 0 &&
		    fd >= 0 && uv_poll_init(&w.loop, &w.wake, fd) == 0) {
			w.wake.data = &w;
			w.listening = true;
			uv_poll_start(&w.wake, UV_READABLE, on_wake);
		}
	}
	uv_timer_start(&w.poll, on_poll, 0, 0);
	uv_timer_start(&w.beat, on_beat, w.lease_ms / 3, w.lease_ms / 3);
	uv_signal_start(&w.sigint, on_signal, SIGINT);
	uv_signal_start(&w.sigterm, on_signal, SIGTERM);
	uv_run(&w.loop, UV_RUN_DEFAULT);
	/* stopped: what a stop left running (the second signal) is reaped */
	while (w.running)
		uv_run(&w.loop, UV_RUN_ONCE);
	uv_walk(&w.loop, close_walk, NULL);
	uv_run(&w.loop, UV_RUN_DEFAULT);
	uv_loop_close(&w.loop);
	pl_store_worker_offline(w.st, w.name);
	fprintf(stderr, "patchlab worker %s: stopped after %zu runs\n", w.name,
		w.claimed);
	rc = PL_EXIT_OK;
out_free:
	pl_store_close(w.st);
	free(reg);
	free(w.slots);
	free(w.beat_jobs);
	pl_lab_free(lab);
	return rc;
}

const struct pl_cli_cmd pl_cmd_worker = {
	.name = "worker",
	.run = worker_run,
	.help = "serve a lab's boards to the lab service's queue",
	.usage = "",
	.min_args = 0,
	.max_args = 0,
	.phase = PL_CLI_SERVICE,
	.options = worker_options,
	.details = "Claims the runs `patchlab submit` queued for these boards\n"
		   "and runs each with the engine of `patchlab run`, in a\n"
		   "process of its own. SIGTERM drains (runs in flight finish),\n"
		   "a second signal stops them with the boards powered off.\n"
		   "Exit codes: 0 stopped, 2 lab error, 64 usage, 65 bad lab.",
};
