/* SPDX-License-Identifier: MIT */
/*
 * The result store's front end. Contracts are in patchlab/store.h; the
 * design (durability, crash recovery, leases) in docs/results.md; the lab
 * service on PostgreSQL in docs/lab-service.md.
 *
 * What lives here is what both backends share: argument checks, JSON
 * validation, the identity of this process, events buffered until their run
 * ends, the list of runs this handle has open, and recovery's decisions
 * (which controller is dead). The SQL of each engine is in store_sqlite.c
 * and store_pg.c behind struct pl_store_ops (store_internal.h).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "patchlab/clock.h"
#include "patchlab/error.h"
#include "patchlab/store.h"
#include "results_internal.h"
#include "store_internal.h"

/* Flush buffered events in their own transaction past this many. */
#define EVENT_BATCH 512

/*
 * rc = call, made once more when it failed because the backend lost its
 * connection (a PostgreSQL restart): the backend reconnects first, waiting
 * up to busy_timeout_ms for the server, as SQLite waits for a busy file.
 * Every write is one transaction, so the second call finds nothing half
 * done. Debt: a connection lost between COMMIT and its answer makes a
 * retried INSERT (suite, run begin) a second row.
 */
#define RETRY(st, rc, call)                                              \
	do {                                                             \
		(rc) = (call);                                           \
		if ((rc) == -EIO && (st)->ops->lost && (st)->ops->lost(st)) \
			(rc) = (call);                                   \
	} while (0)

/* ----------------------------------------------------------- helpers */

uint64_t pl_store_now(const struct pl_store *st)
{
	return st->clock ? st->clock(st->clock_data) : pl_wall_ns();
}

const char *pl_store_holder(const struct pl_store *st)
{
	return st->holder;
}

int pl_store_schema_version(void)
{
	return pl_store_sqlite_ops.schema_latest();
}

bool pl_store_is_url(const char *target)
{
	return target && (strncmp(target, "postgresql:", 11) == 0 ||
			  strncmp(target, "postgres:", 9) == 0);
}

const char *pl_store_backend(const struct pl_store *st)
{
	return st->ops->name;
}

void *pl_store_rows_add(struct pl_store_rows *r)
{
	char *row;

	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;
		char *p = realloc(r->buf, cap * r->elem);

		if (!p)
			return NULL;
		r->buf = p;
		r->cap = cap;
	}
	row = r->buf + r->n++ * r->elem;
	memset(row, 0, r->elem);
	return row;
}

void pl_store_open_runs_free(struct pl_store_open_run *o, size_t n)
{
	for (size_t i = 0; o && i < n; i++) {
		free(o[i].board);
		free(o[i].controller);
		free(o[i].host);
	}
	free(o);
}

/* A JSON object or NULL (-> "{}") in canonical compact form, or -EINVAL. */
static int normalize_json(struct pl_store *st, const char *what,
			  const char *text, char **out)
{
	json_error_t err;
	json_t *o;

	*out = NULL;
	if (!text) {
		*out = strdup("{}");
		return *out ? 0 : -ENOMEM;
	}
	o = json_loads(text, 0, &err);
	/* jansson says "out of memory" with its error code, or says nothing
	 * at all when its first buffer could not be had */
	if (!o && (json_error_code(&err) == json_error_out_of_memory ||
		   !err.text[0]))
		return -ENOMEM;
	if (!json_is_object(o)) {
		pl_log(&st->log, PL_LOG_ERROR, "store %s: %s is not a JSON "
		       "object: %s", st->target, what,
		       o ? "another JSON type" : err.text);
		json_decref(o);
		return -EINVAL;
	}
	*out = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	return *out ? 0 : -ENOMEM;
}

/* ---------------------------------------------------------- open/close */

static int make_parent_dir(const char *path)
{
	char *dir = strdup(path), *slash;
	int rc = 0;

	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0777) < 0 && errno != EEXIST)
			rc = -errno;
	}
	free(dir);
	return rc;
}

static int make_holder(struct pl_store *st, const char *given)
{
	unsigned char r[6];

	st->pid = (int)getpid();
	if (gethostname(st->host, sizeof(st->host)) < 0)
		snprintf(st->host, sizeof(st->host), "localhost");
	st->host[sizeof(st->host) - 1] = '\0';
	if (given) {
		st->holder = strdup(given);
		return st->holder ? 0 : -ENOMEM;
	}
	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		memset(r, 0, sizeof(r));
	if (asprintf(&st->holder, "%d@%s/%02x%02x%02x%02x%02x%02x", st->pid,
		     st->host, r[0], r[1], r[2], r[3], r[4], r[5]) < 0) {
		st->holder = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* target for messages: a URI's password becomes "***". */
static char *redact(const char *target)
{
	const char *auth = strstr(target, "://"), *at, *colon;
	char *out;

	if (!auth)
		return strdup(target);
	auth += 3;
	at = strchr(auth, '@');
	colon = strchr(auth, ':');
	if (!at || !colon || colon > at || strchr(auth, '/') < at)
		return strdup(target);
	if (asprintf(&out, "%.*s:***%s", (int)(colon - target), target, at) < 0)
		return NULL;
	return out;
}

static int store_new(struct pl_store **out, const char *target,
		     const struct pl_store_opts *opts)
{
	struct pl_store *st = calloc(1, sizeof(*st));
	int rc;

	*out = NULL;
	if (!st)
		return -ENOMEM;
	st->ops = pl_store_is_url(target) ? &pl_store_pg_ops :
					    &pl_store_sqlite_ops;
	st->log.max = PL_LOG_WARN; /* no logger given: the default sink's level */
	if (opts && opts->log)
		st->log = *opts->log;
	st->log.ctx = "store";
	st->busy_timeout_ms = 5000;
	if (opts) {
		st->clock = opts->clock;
		st->clock_data = opts->clock_data;
		if (opts->busy_timeout_ms)
			st->busy_timeout_ms = opts->busy_timeout_ms;
	}
	st->target = redact(target);
	if (!st->target) {
		rc = -ENOMEM;
		goto err_free;
	}
	rc = make_holder(st, opts ? opts->holder : NULL);
	if (rc)
		goto err_free;
	*out = st;
	return 0;

err_free:
	free(st->holder);
	free(st->target);
	free(st);
	return rc;
}

static void store_free(struct pl_store *st)
{
	for (size_t i = 0; i < st->nev; i++)
		free(st->ev[i].payload);
	free(st->ev);
	free(st->open_runs);
	free(st->holder);
	free(st->target);
	free(st);
}

static int store_connect(struct pl_store **out, const char *target,
			 const struct pl_store_opts *opts, bool do_migrate,
			 int *from)
{
	struct pl_store *st;
	int rc;

	if (!target) {
		target = PL_STORE_DEFAULT_PATH;
		rc = make_parent_dir(target);
		if (rc)
			return rc;
	}
	rc = store_new(&st, target, opts);
	if (rc)
		return rc;
	rc = st->ops->open(st, target);
	if (rc)
		goto err_free;
	rc = do_migrate ? st->ops->migrate(st, from) : 0;
	if (rc)
		goto err_close;
	*out = st;
	return 0;

err_close:
	st->ops->close(st);
err_free:
	store_free(st);
	return rc;
}

int pl_store_open(struct pl_store **out, const char *path,
		  const struct pl_store_opts *opts)
{
	*out = NULL;
	return store_connect(out, path, opts, true, NULL);
}

int pl_store_migrate(const char *target, const struct pl_store_opts *opts,
		     int *from, int *to)
{
	struct pl_store *st = NULL;
	int rc, f = 0;

	rc = store_connect(&st, target, opts, true, &f);
	if (from)
		*from = f;
	if (to)
		*to = st ? st->ops->schema_latest() : 0;
	pl_store_close(st);
	return rc;
}

int pl_store_schema_of(struct pl_store *st, int *version, int *latest)
{
	if (latest)
		*latest = st->ops->schema_latest();
	return st->ops->schema_version(st, version);
}

static int flush_committed(struct pl_store *st);

void pl_store_close(struct pl_store *st)
{
	if (!st)
		return;
	if (flush_committed(st))
		pl_log(&st->log, PL_LOG_ERROR, "store %s: %zu events lost at "
		       "close", st->target, st->nev);
	st->ops->close(st);
	store_free(st);
}

/* ------------------------------------------------------------ suites */

int pl_store_suite_begin(struct pl_store *st, const struct pl_suite_info *info,
			 int64_t *suite_id)
{
	if (!info || !info->name)
		return -EINVAL;
	int rc;

	RETRY(st, rc, st->ops->suite_begin(st, info, pl_store_now(st),
					     suite_id));
	return rc;
}

int pl_store_suite_end(struct pl_store *st, int64_t suite_id, const char *gate)
{
	int rc;

	if (!gate || (strcmp(gate, "pass") && strcmp(gate, "fail") &&
		      strcmp(gate, "error") && strcmp(gate, "incomplete")))
		return -EINVAL;
	RETRY(st, rc, st->ops->suite_end(st, suite_id, gate, pl_store_now(st)));
	return rc;
}

/* -------------------------------------------------------------- runs */

static int remember_open(struct pl_store *st, int64_t id)
{
	if (st->nopen == st->capopen) {
		size_t cap = st->capopen ? st->capopen * 2 : 16;
		int64_t *p = realloc(st->open_runs, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		st->open_runs = p;
		st->capopen = cap;
	}
	st->open_runs[st->nopen++] = id;
	return 0;
}

static ssize_t find_open(const struct pl_store *st, int64_t id)
{
	for (size_t i = 0; i < st->nopen; i++)
		if (st->open_runs[i] == id)
			return (ssize_t)i;
	return -1;
}

int pl_store_run_begin(struct pl_store *st, const struct pl_run_info *info,
		       int64_t *run_id)
{
	char *params = NULL, *cut = NULL;
	json_t *cj;
	int rc;

	if (!info || !info->board_id || !info->board_type || !info->scenario)
		return -EINVAL;
	rc = normalize_json(st, "run params", info->params_json, &params);
	if (rc)
		return rc;
	cj = pl_cut_to_json(&info->cut);
	cut = cj ? json_dumps(cj, JSON_COMPACT) : NULL;
	json_decref(cj);
	if (!cut) {
		rc = -ENOMEM;
		goto out_free;
	}
	/* Reserve the slot first: after the INSERT nothing may fail. */
	rc = remember_open(st, 0);
	if (rc)
		goto out_free;
	st->nopen--;
	RETRY(st, rc, st->ops->run_begin(st, info, params, cut,
					 pl_store_now(st), run_id));
	if (rc == 0)
		remember_open(st, *run_id);
out_free:
	free(cut);
	free(params);
	return rc;
}

int pl_store_run_event(struct pl_store *st, int64_t run_id, uint64_t t_ns,
		       enum pl_event_kind kind, const char *payload_json)
{
	struct pl_store_event *e;
	char *payload;
	int rc;

	if ((unsigned)kind >= PL_EV_COUNT)
		return -EINVAL;
	if (find_open(st, run_id) < 0)
		return -ENOENT;
	rc = normalize_json(st, "event payload", payload_json, &payload);
	if (rc)
		return rc;
	if (st->nev == st->capev) {
		size_t cap = st->capev ? st->capev * 2 : 64;
		struct pl_store_event *p = realloc(st->ev, cap * sizeof(*p));

		if (!p) {
			free(payload);
			return -ENOMEM;
		}
		st->ev = p;
		st->capev = cap;
	}
	e = &st->ev[st->nev++];
	e->run_id = run_id;
	e->t_ns = t_ns;
	e->kind = kind;
	e->payload = payload;
	if (st->nev < EVENT_BATCH)
		return 0;
	return flush_committed(st);
}

static int event_json(struct pl_store *st, int64_t run_id, uint64_t t_ns,
		      enum pl_event_kind kind, json_t *o)
{
	char *text;
	int rc;

	if (!o)
		return -ENOMEM;
	text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	if (!text)
		return -ENOMEM;
	rc = pl_store_run_event(st, run_id, t_ns, kind, text);
	free(text);
	return rc;
}

int pl_store_event_power(struct pl_store *st, int64_t run_id, const char *cmd,
			 uint64_t requested_ns, uint64_t issued_ns,
			 uint64_t completed_ns)
{
	return event_json(st, run_id, requested_ns, PL_EV_POWER,
			  json_pack("{s:s, s:I, s:I, s:I}", "cmd",
				    cmd ? cmd : "?", "requested_ns",
				    (json_int_t)requested_ns, "issued_ns",
				    (json_int_t)issued_ns, "completed_ns",
				    (json_int_t)completed_ns));
}

int pl_store_event_trigger(struct pl_store *st, int64_t run_id,
			   const char *trigger, uint64_t match_ns,
			   uint64_t command_ns)
{
	json_int_t lat = command_ns >= match_ns ?
				 (json_int_t)(command_ns - match_ns) : -1;

	return event_json(st, run_id, match_ns, PL_EV_TRIGGER,
			  json_pack("{s:s, s:I, s:I, s:I}", "trigger",
				    trigger ? trigger : "?", "match_ns",
				    (json_int_t)match_ns, "command_ns",
				    (json_int_t)command_ns, "latency_ns", lat));
}

/* After the transaction that wrote the buffered events committed. */
static void drop_flushed(struct pl_store *st)
{
	for (size_t i = 0; i < st->nev; i++)
		free(st->ev[i].payload);
	st->nev = 0;
}

/* Write the buffered events in a transaction of their own; a failure
 * keeps them buffered. */
static int flush_committed(struct pl_store *st)
{
	int rc;

	if (st->nev == 0)
		return 0;
	RETRY(st, rc, st->ops->write_events(st));
	if (rc == 0)
		drop_flushed(st);
	return rc;
}

int pl_store_run_end(struct pl_store *st, int64_t run_id, enum pl_verdict v,
		     const char *reason)
{
	ssize_t slot;
	int rc;

	if ((unsigned)v >= PL_VERDICT_COUNT)
		return -EINVAL;
	/* On failure the events stay buffered: a retry writes them again. */
	RETRY(st, rc, st->ops->run_end(st, run_id, v, reason,
				       pl_store_now(st)));
	if (rc)
		return rc;
	drop_flushed(st);
	slot = find_open(st, run_id);
	if (slot >= 0)
		st->open_runs[slot] = st->open_runs[--st->nopen];
	return 0;
}

int pl_store_run_set_replay(struct pl_store *st, int64_t run_id,
			    const char *replay)
{
	return st->ops->run_set(st, run_id, "replay", replay);
}

int pl_store_run_set_cut(struct pl_store *st, int64_t run_id,
			 const struct pl_cut_point *cut)
{
	json_t *cj = pl_cut_to_json(cut);
	char *text = cj ? json_dumps(cj, JSON_COMPACT) : NULL;
	int rc;

	json_decref(cj);
	if (!text)
		return -ENOMEM;
	rc = st->ops->run_set(st, run_id, "cut", text);
	free(text);
	return rc;
}

/* ---------------------------------------------------------- recovery */

static bool controller_alive(struct pl_store *st,
			     const struct pl_store_open_run *r)
{
	if (strcmp(r->controller, st->holder) == 0)
		return true;
	if (strcmp(r->host, st->host) == 0) {
		/* Debt: a recycled pid looks alive; the run then waits for
		 * the next recover after that process ends. */
		if (r->pid == st->pid)
			return false; /* our pid, another store identity:
				       * an earlier life of this process */
		return kill(r->pid, 0) == 0 || errno == EPERM;
	}
	return st->ops->lease_alive(st, r->board, r->controller,
				    pl_store_now(st));
}

int pl_store_recover(struct pl_store *st, pl_store_recover_fn cb,
		     void *user_data, size_t *n)
{
	struct pl_store_open_run *o = NULL;
	size_t norph = 0, done = 0;
	int rc;

	rc = st->ops->open_runs_list(st, &o, &norph);
	for (size_t i = 0; rc == 0 && i < norph; i++) {
		if (controller_alive(st, &o[i]))
			continue;
		/* Power first: a board left powered mid-update by a dead
		 * controller must be made safe before anyone reads the
		 * verdict and hands it to the next run. */
		if (cb) {
			rc = cb(user_data, o[i].id, o[i].board,
				o[i].controller);
			if (rc)
				break;
		}
		RETRY(st, rc, st->ops->run_close(st, o[i].id,
						 PL_VERDICT_LAB_ERROR,
						 "controller stopped",
						 pl_store_now(st)));
		if (rc == -EALREADY) {
			/* another process recovered it meanwhile */
			rc = 0;
			continue;
		}
		if (rc)
			break;
		done++;
		pl_log(&st->log, PL_LOG_WARN, "store %s: run %lld on %s "
		       "closed as lab-error: controller %s stopped",
		       st->target, (long long)o[i].id, o[i].board,
		       o[i].controller);
	}
	pl_store_open_runs_free(o, norph);
	if (n)
		*n = done;
	return rc;
}

/* ----------------------------------------------------------- queries */

static void suite_row_clear(struct pl_suite_row *r)
{
	free(r->name);
	free(r->file);
	free(r->cmdline);
	free(r->gate);
}

void pl_store_suites_free(struct pl_suite_row *rows, size_t n)
{
	if (!rows)
		return;
	for (size_t i = 0; i < n; i++)
		suite_row_clear(&rows[i]);
	free(rows);
}

int pl_store_list_suites(struct pl_store *st, struct pl_suite_row **rows,
			 size_t *n)
{
	return st->ops->suites(st, 0, rows, n);
}

int pl_store_get_suite(struct pl_store *st, int64_t id,
		       struct pl_suite_row **row)
{
	size_t n = 0;
	int rc = st->ops->suites(st, id, row, &n);

	if (rc == 0 && n == 0) {
		pl_store_suites_free(*row, 0);
		*row = NULL;
		rc = -ENOENT;
	}
	return rc;
}

static void run_row_clear(struct pl_run_row *r)
{
	free(r->board_id);
	free(r->board_type);
	free(r->image);
	free(r->scenario);
	free(r->params_json);
	pl_cut_clear(&r->cut);
	free(r->reason);
	free(r->console_log);
	free(r->replay);
	free(r->controller);
	free(r->controller_host);
	free(r->worker);
}

void pl_store_runs_free(struct pl_run_row *rows, size_t n)
{
	if (!rows)
		return;
	for (size_t i = 0; i < n; i++)
		run_row_clear(&rows[i]);
	free(rows);
}

int pl_store_list_runs(struct pl_store *st, const struct pl_run_filter *f,
		       struct pl_run_row **rows, size_t *n)
{
	struct pl_store_run_query q = { .f = f };
	int rc;

	RETRY(st, rc, st->ops->runs(st, &q, rows, n));
	return rc;
}

void pl_store_run_free(struct pl_run_row *run, struct pl_event_row *events,
		       size_t nevents)
{
	pl_store_runs_free(run, run ? 1 : 0);
	if (!events)
		return;
	for (size_t i = 0; i < nevents; i++)
		free(events[i].payload_json);
	free(events);
}

/* One row of q into *row, or -ENOENT. */
static int one_run(struct pl_store *st, const struct pl_store_run_query *q,
		   struct pl_run_row **row)
{
	size_t n = 0;
	int rc = st->ops->runs(st, q, row, &n);

	if (rc == 0 && n == 0) {
		pl_store_runs_free(*row, 0);
		*row = NULL;
		rc = -ENOENT;
	}
	return rc;
}

int pl_store_get_run(struct pl_store *st, int64_t id, struct pl_run_row **run,
		     struct pl_event_row **events, size_t *nevents)
{
	struct pl_store_run_query q = { .id = id };
	struct pl_run_row *r = NULL;
	size_t ne = 0;
	int rc;

	*run = NULL;
	if (events)
		*events = NULL;
	if (nevents)
		*nevents = 0;
	/* Buffered events become visible (and durable) first. */
	rc = flush_committed(st);
	if (rc)
		return rc;
	rc = one_run(st, &q, &r);
	if (rc)
		return rc;
	if (events) {
		rc = st->ops->events(st, id, events, &ne);
		if (rc) {
			pl_store_runs_free(r, 1);
			return rc;
		}
		if (nevents)
			*nevents = ne;
	}
	*run = r;
	return 0;
}

int pl_store_board_last_run(struct pl_store *st, const char *board,
			    struct pl_run_row **row)
{
	struct pl_store_run_query q = { .last_of_board = board };

	*row = NULL;
	if (!board)
		return -EINVAL;
	return one_run(st, &q, row);
}

/* ------------------------------------------------------------ leases */

int pl_store_lease_take(struct pl_store *st, const char *board,
			const char *holder, uint64_t ttl_ms, char **current)
{
	uint64_t now = pl_store_now(st);
	char *prev = NULL;
	int rc;

	if (current)
		*current = NULL;
	if (!board)
		return -EINVAL;
	if (!holder)
		holder = st->holder;
	rc = st->ops->lease_take(st, board, holder, now,
				 now + ttl_ms * 1000000u, &prev);
	if (rc == -PL_ELEASED && current) {
		*current = prev;
		prev = NULL;
	}
	if (rc == 0 && prev && strcmp(prev, holder) != 0)
		pl_log(&st->log, PL_LOG_WARN, "lease on %s taken over from %s "
		       "(expired)", board, prev);
	free(prev);
	return rc;
}

int pl_store_lease_renew(struct pl_store *st, const char *board,
			 const char *holder, uint64_t ttl_ms)
{
	uint64_t now = pl_store_now(st);

	if (!board)
		return -EINVAL;
	return st->ops->lease_change(st, board, holder ? holder : st->holder,
				     now, now + ttl_ms * 1000000u, false);
}

int pl_store_lease_release(struct pl_store *st, const char *board,
			   const char *holder)
{
	uint64_t now = pl_store_now(st);

	if (!board)
		return -EINVAL;
	return st->ops->lease_change(st, board, holder ? holder : st->holder,
				     now, now, true);
}

const struct pl_lease_row *pl_lease_rows_find(const struct pl_lease_row *rows,
					      size_t n, const char *board)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(rows[i].board_id, board) == 0)
			return &rows[i];
	return NULL;
}

void pl_store_leases_free(struct pl_lease_row *rows, size_t n)
{
	if (!rows)
		return;
	for (size_t i = 0; i < n; i++) {
		free(rows[i].board_id);
		free(rows[i].holder);
	}
	free(rows);
}

int pl_store_list_leases(struct pl_store *st, struct pl_lease_row **rows,
			 size_t *n)
{
	return st->ops->leases(st, rows, n);
}

/* -------------------------------------------------------- quarantine */

static const char *const quarantine_kind_names[] = { "device", "lab" };

const char *pl_quarantine_kind_name(enum pl_quarantine_kind k)
{
	return (unsigned)k < 2 ? quarantine_kind_names[k] : "?";
}

int pl_quarantine_kind_parse(const char *s, enum pl_quarantine_kind *k)
{
	for (unsigned i = 0; s && i < 2; i++)
		if (strcmp(s, quarantine_kind_names[i]) == 0) {
			*k = (enum pl_quarantine_kind)i;
			return 0;
		}
	return -EINVAL;
}

int pl_store_quarantine(struct pl_store *st, const char *board,
			enum pl_quarantine_kind kind, const char *reason,
			int64_t run_id)
{
	if (!board || !reason || (unsigned)kind > PL_QUARANTINE_LAB)
		return -EINVAL;
	return st->ops->quarantine_set(st, board,
				       pl_quarantine_kind_name(kind), reason,
				       run_id, pl_store_now(st));
}

int pl_store_quarantine_release(struct pl_store *st, const char *board)
{
	return board ? st->ops->quarantine_release(st, board) : -EINVAL;
}

int pl_store_list_quarantine(struct pl_store *st,
			     struct pl_quarantine_row **rows, size_t *n)
{
	return st->ops->quarantines(st, rows, n);
}

void pl_store_quarantine_free(struct pl_quarantine_row *rows, size_t n)
{
	if (!rows)
		return;
	for (size_t i = 0; i < n; i++) {
		free(rows[i].board_id);
		free(rows[i].reason);
		free(rows[i].holder);
	}
	free(rows);
}

const struct pl_quarantine_row *
pl_quarantine_rows_find(const struct pl_quarantine_row *rows, size_t n,
			const char *board)
{
	for (size_t i = 0; board && i < n; i++)
		if (rows[i].board_id && strcmp(rows[i].board_id, board) == 0)
			return &rows[i];
	return NULL;
}

/* ----------------------------------------------------------- changes */

static const char *const change_kind_names[PL_CHANGE_COUNT] = {
	"suite", "run", "lease", "job",
};

const char *pl_change_kind_name(enum pl_change_kind k)
{
	return (unsigned)k < PL_CHANGE_COUNT ? change_kind_names[k] : "?";
}

enum pl_change_kind pl_store_change_kind_parse(const char *s)
{
	for (int i = 0; s && i < PL_CHANGE_COUNT; i++)
		if (strcmp(s, change_kind_names[i]) == 0)
			return (enum pl_change_kind)i;
	return PL_CHANGE_RUN;
}

int pl_store_seq(struct pl_store *st, int64_t *seq)
{
	int rc;

	RETRY(st, rc, st->ops->seq(st, seq));
	return rc;
}

void pl_store_changes_free(struct pl_change_row *rows, size_t n)
{
	if (!rows)
		return;
	for (size_t i = 0; i < n; i++)
		free(rows[i].board_id);
	free(rows);
}

int pl_store_changes(struct pl_store *st, int64_t since, size_t max,
		     struct pl_change_row **rows, size_t *n)
{
	int rc;

	*rows = NULL;
	*n = 0;
	RETRY(st, rc, st->ops->changes(st, since, max, rows, n));
	return rc;
}
