/* SPDX-License-Identifier: MIT */
/*
 * The result store on SQLite. Contracts are in patchlab/store.h; the design
 * (durability, crash recovery, leases) in docs/results.md.
 *
 * Why synchronous=FULL with WAL: NORMAL survives a killed controller but may
 * lose the last committed transactions when the HOST loses power, and a lab
 * that cuts power for a living shares power strips with its controller. We
 * commit once per run end (seconds apart) and buffer events in memory, so
 * the extra fsync per commit costs nothing measurable.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "patchlab/clock.h"
#include "patchlab/error.h"
#include "patchlab/store.h"
#include "results_internal.h"

/* Flush buffered events in their own transaction past this many. */
#define EVENT_BATCH 512

struct pending_event {
	int64_t run_id;
	uint64_t t_ns;
	enum pl_event_kind kind;
	char *payload;
};

struct pl_store {
	sqlite3 *db;
	char *path;
	struct pl_log log;
	pl_store_clock_fn clock;
	void *clock_data;
	char *holder;   /* PID@HOST/TOKEN */
	char host[256];
	int pid;
	/* runs this process began and has not ended */
	int64_t *open_runs;
	size_t nopen, capopen;
	struct pending_event *ev;
	size_t nev, capev;
};

/* ------------------------------------------------------------ schema */

/*
 * Migrations: migrations[i] takes user_version i to i+1. Append only; a
 * released entry never changes (databases in the field ran it).
 */
static const char *const migrations[] = {
	/* 0 -> 1: the first schema */
	"CREATE TABLE suites ("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL,"
	"  file TEXT,"
	"  started INTEGER NOT NULL,"
	"  finished INTEGER,"
	"  gate TEXT CHECK (gate IN ('pass','fail','error')),"
	"  seed INTEGER NOT NULL DEFAULT 0,"
	"  cmdline TEXT);"
	"CREATE TABLE runs ("
	"  id INTEGER PRIMARY KEY,"
	"  suite_id INTEGER REFERENCES suites(id),"
	"  board_id TEXT NOT NULL,"
	"  board_type TEXT NOT NULL,"
	"  image TEXT,"
	"  scenario TEXT NOT NULL,"
	"  params TEXT NOT NULL DEFAULT '{}',"
	"  cut TEXT NOT NULL DEFAULT '{}',"
	"  seed INTEGER NOT NULL DEFAULT 0,"
	"  verdict TEXT CHECK (verdict IN ('pass','rolled-back','bricked',"
	"    'recovered','fail','lab-error')),"
	"  reason TEXT,"
	"  started INTEGER NOT NULL,"
	"  finished INTEGER,"
	"  duration_ns INTEGER,"
	"  console_log TEXT,"
	"  replay TEXT,"
	"  controller TEXT NOT NULL,"
	"  controller_pid INTEGER NOT NULL,"
	"  controller_host TEXT NOT NULL,"
	"  state TEXT NOT NULL CHECK (state IN ('open','closed')),"
	"  CHECK ((state = 'open') = (verdict IS NULL)));"
	"CREATE INDEX runs_by_suite ON runs(suite_id);"
	"CREATE INDEX runs_open ON runs(state) WHERE state = 'open';"
	"CREATE TABLE events ("
	"  id INTEGER PRIMARY KEY,"
	"  run_id INTEGER NOT NULL REFERENCES runs(id),"
	"  t_ns INTEGER NOT NULL,"
	"  kind TEXT NOT NULL CHECK (kind IN ('power','trigger',"
	"    'console-match','probe','transfer','verdict','log')),"
	"  payload TEXT NOT NULL DEFAULT '{}');"
	"CREATE INDEX events_by_run ON events(run_id, t_ns);"
	"CREATE TABLE leases ("
	"  board_id TEXT PRIMARY KEY,"
	"  holder TEXT NOT NULL,"
	"  taken INTEGER NOT NULL,"
	"  renewed INTEGER NOT NULL,"
	"  expires INTEGER NOT NULL);",
	/* 1 -> 2: the change sequence (section "changes" below). Triggers,
	 * not code, append to it, so every writer (any process, any version
	 * from 2 on) is seen. A lease renewal is not a change; a new holder is.
	 * AUTOINCREMENT: a sequence number is never reused. */
	"CREATE TABLE changes ("
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  kind TEXT NOT NULL CHECK (kind IN ('suite','run','lease')),"
	"  suite_id INTEGER,"
	"  run_id INTEGER,"
	"  board_id TEXT);"
	"CREATE TRIGGER changes_suite_new AFTER INSERT ON suites BEGIN"
	"  INSERT INTO changes (kind, suite_id) VALUES ('suite', new.id); END;"
	"CREATE TRIGGER changes_suite_set AFTER UPDATE ON suites BEGIN"
	"  INSERT INTO changes (kind, suite_id) VALUES ('suite', new.id); END;"
	"CREATE TRIGGER changes_run_new AFTER INSERT ON runs BEGIN"
	"  INSERT INTO changes (kind, suite_id, run_id, board_id)"
	"  VALUES ('run', new.suite_id, new.id, new.board_id); END;"
	"CREATE TRIGGER changes_run_set AFTER UPDATE ON runs BEGIN"
	"  INSERT INTO changes (kind, suite_id, run_id, board_id)"
	"  VALUES ('run', new.suite_id, new.id, new.board_id); END;"
	"CREATE TRIGGER changes_lease_new AFTER INSERT ON leases BEGIN"
	"  INSERT INTO changes (kind, board_id) VALUES ('lease', new.board_id);"
	"  END;"
	"CREATE TRIGGER changes_lease_set AFTER UPDATE ON leases"
	"  WHEN old.holder IS NOT new.holder OR old.taken IS NOT new.taken BEGIN"
	"  INSERT INTO changes (kind, board_id) VALUES ('lease', new.board_id);"
	"  END;"
	"CREATE TRIGGER changes_lease_gone AFTER DELETE ON leases BEGIN"
	"  INSERT INTO changes (kind, board_id) VALUES ('lease', old.board_id);"
	"  END;",
};

#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

int pl_store_schema_version(void)
{
	return SCHEMA_VERSION;
}

/* ----------------------------------------------------------- helpers */

static int db_error(struct pl_store *st, const char *what)
{
	pl_log(&st->log, PL_LOG_ERROR, "store %s: %s: %s", st->path, what,
	       sqlite3_errmsg(st->db));
	return -EIO;
}

static int exec(struct pl_store *st, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		pl_log(&st->log, PL_LOG_ERROR, "store %s: %.40s: %s", st->path,
		       sql, msg ? msg : sqlite3_errmsg(st->db));
		sqlite3_free(msg);
		return -EIO;
	}
	return 0;
}

static int prepare(struct pl_store *st, const char *sql, sqlite3_stmt **s)
{
	if (sqlite3_prepare_v2(st->db, sql, -1, s, NULL) != SQLITE_OK)
		return db_error(st, "prepare");
	return 0;
}

/* Writers take the write lock up front so two processes never deadlock on
 * a read lock upgrade (which SQLite reports as SQLITE_BUSY at once). */
static int begin(struct pl_store *st)
{
	return exec(st, "BEGIN IMMEDIATE");
}

static int commit(struct pl_store *st)
{
	return exec(st, "COMMIT");
}

static void rollback(struct pl_store *st)
{
	if (!sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

/*
 * Bound without a copy (SQLITE_STATIC): every statement here is stepped and
 * finalized or reset while the strings it was given live. A copy
 * (SQLITE_TRANSIENT) allocates, and when that fails sqlite3_bind_text
 * leaves NULL bound, so a run would be stored with no verdict or reason
 * and the step would still succeed.
 */
static void bind_text(sqlite3_stmt *s, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, i);
}

static char *col_dup(sqlite3_stmt *s, int i, bool *oom)
{
	const unsigned char *t = sqlite3_column_text(s, i);
	char *d;

	if (!t)
		return NULL;
	d = strdup((const char *)t);
	if (!d)
		*oom = true;
	return d;
}

static uint64_t col_u64(sqlite3_stmt *s, int i)
{
	return (uint64_t)sqlite3_column_int64(s, i);
}

uint64_t pl_store_now(const struct pl_store *st)
{
	return st->clock ? st->clock(st->clock_data) : pl_wall_ns();
}

const char *pl_store_holder(const struct pl_store *st)
{
	return st->holder;
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
		       "object: %s", st->path, what,
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

static int user_version(struct pl_store *st, int *v)
{
	sqlite3_stmt *s;
	int rc = prepare(st, "PRAGMA user_version", &s);

	if (rc)
		return rc;
	if (sqlite3_step(s) != SQLITE_ROW)
		rc = db_error(st, "read user_version");
	else
		*v = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return rc;
}

/* Bring the schema to SCHEMA_VERSION. Another process may be migrating at
 * the same moment: the version is read again under the write lock. */
static int migrate(struct pl_store *st)
{
	char sql[64];
	int v, rc;

	rc = user_version(st, &v);
	if (rc || v == SCHEMA_VERSION)
		goto check_newer;
	rc = begin(st);
	if (rc)
		return rc;
	rc = user_version(st, &v);
	for (; rc == 0 && v < SCHEMA_VERSION; v++) {
		rc = exec(st, migrations[v]);
		if (rc == 0) {
			snprintf(sql, sizeof(sql), "PRAGMA user_version = %d",
				 v + 1);
			rc = exec(st, sql);
		}
		if (rc == 0)
			pl_log(&st->log, PL_LOG_INFO,
			       "store %s: schema migrated to version %d",
			       st->path, v + 1);
	}
	if (rc) {
		rollback(st);
		return rc;
	}
	rc = commit(st);
check_newer:
	if (rc == 0 && v > SCHEMA_VERSION) {
		pl_log(&st->log, PL_LOG_ERROR, "store %s: schema version %d is "
		       "newer than this patchlab (%d)", st->path, v,
		       SCHEMA_VERSION);
		rc = -EPROTO;
	}
	return rc;
}

int pl_store_open(struct pl_store **out, const char *path,
		  const struct pl_store_opts *opts)
{
	struct pl_store *st;
	unsigned busy = 5000;
	int rc;

	*out = NULL;
	if (!path) {
		path = PL_STORE_DEFAULT_PATH;
		rc = make_parent_dir(path);
		if (rc)
			return rc;
	}
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->log.max = PL_LOG_WARN; /* no logger given: the default sink's level */
	if (opts && opts->log)
		st->log = *opts->log;
	st->log.ctx = "store";
	if (opts) {
		st->clock = opts->clock;
		st->clock_data = opts->clock_data;
		if (opts->busy_timeout_ms)
			busy = opts->busy_timeout_ms;
	}
	st->path = strdup(path);
	if (!st->path) {
		rc = -ENOMEM;
		goto err_free;
	}
	rc = make_holder(st, opts ? opts->holder : NULL);
	if (rc)
		goto err_free;
	if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE |
			    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		rc = st->db ? db_error(st, "open") : -ENOMEM;
		goto err_close_db;
	}
	sqlite3_busy_timeout(st->db, (int)busy);
	/* Switching a new file to WAL needs an exclusive lock that SQLite
	 * does not wait for through the busy handler: retry by hand. */
	for (unsigned waited = 0;; waited += 10) {
		int src = sqlite3_exec(st->db, "PRAGMA journal_mode = WAL", NULL,
				       NULL, NULL);

		if ((src & 0xff) != SQLITE_BUSY || waited >= busy)
			break;
		sqlite3_sleep(10);
	}
	rc = exec(st, "PRAGMA journal_mode = WAL");
	if (rc == 0)
		rc = exec(st, "PRAGMA synchronous = FULL");
	if (rc == 0)
		rc = exec(st, "PRAGMA foreign_keys = ON");
	if (rc == 0)
		rc = migrate(st);
	if (rc)
		goto err_close_db;
	*out = st;
	return 0;

err_close_db:
	sqlite3_close(st->db);
err_free:
	free(st->holder);
	free(st->path);
	free(st);
	return rc;
}

static int flush_committed(struct pl_store *st);

void pl_store_close(struct pl_store *st)
{
	if (!st)
		return;
	if (flush_committed(st))
		pl_log(&st->log, PL_LOG_ERROR, "store %s: %zu events lost at "
		       "close", st->path, st->nev);
	for (size_t i = 0; i < st->nev; i++)
		free(st->ev[i].payload);
	free(st->ev);
	free(st->open_runs);
	sqlite3_close(st->db);
	free(st->holder);
	free(st->path);
	free(st);
}

/* ------------------------------------------------------------ suites */

int pl_store_suite_begin(struct pl_store *st, const struct pl_suite_info *info,
			 int64_t *suite_id)
{
	sqlite3_stmt *s;
	int rc;

	if (!info || !info->name)
		return -EINVAL;
	rc = prepare(st, "INSERT INTO suites (name, file, started, seed, "
		     "cmdline) VALUES (?, ?, ?, ?, ?)", &s);
	if (rc)
		return rc;
	bind_text(s, 1, info->name);
	bind_text(s, 2, info->file);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)pl_store_now(st));
	sqlite3_bind_int64(s, 4, (sqlite3_int64)info->seed);
	bind_text(s, 5, info->cmdline);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = db_error(st, "suite begin");
	else
		*suite_id = sqlite3_last_insert_rowid(st->db);
	sqlite3_finalize(s);
	return rc;
}

int pl_store_suite_end(struct pl_store *st, int64_t suite_id, const char *gate)
{
	sqlite3_stmt *s;
	int rc;

	if (!gate || (strcmp(gate, "pass") && strcmp(gate, "fail") &&
		      strcmp(gate, "error")))
		return -EINVAL;
	rc = prepare(st, "UPDATE suites SET finished = ?, gate = ? "
		     "WHERE id = ?", &s);
	if (rc)
		return rc;
	sqlite3_bind_int64(s, 1, (sqlite3_int64)pl_store_now(st));
	bind_text(s, 2, gate);
	sqlite3_bind_int64(s, 3, suite_id);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = db_error(st, "suite end");
	else if (sqlite3_changes(st->db) == 0)
		rc = -ENOENT;
	sqlite3_finalize(s);
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
	sqlite3_stmt *s = NULL;
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
	rc = prepare(st, "INSERT INTO runs (suite_id, board_id, board_type, "
		     "image, scenario, params, cut, seed, started, "
		     "console_log, replay, controller, controller_pid, "
		     "controller_host, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, "
		     "?, ?, ?, ?, ?, ?, 'open')", &s);
	if (rc)
		goto out_free;
	if (info->suite_id)
		sqlite3_bind_int64(s, 1, info->suite_id);
	else
		sqlite3_bind_null(s, 1);
	bind_text(s, 2, info->board_id);
	bind_text(s, 3, info->board_type);
	bind_text(s, 4, info->image);
	bind_text(s, 5, info->scenario);
	bind_text(s, 6, params);
	bind_text(s, 7, cut);
	sqlite3_bind_int64(s, 8, (sqlite3_int64)info->seed);
	sqlite3_bind_int64(s, 9, (sqlite3_int64)pl_store_now(st));
	bind_text(s, 10, info->console_log);
	bind_text(s, 11, info->replay);
	bind_text(s, 12, st->holder);
	sqlite3_bind_int(s, 13, st->pid);
	bind_text(s, 14, st->host);
	if (sqlite3_step(s) != SQLITE_DONE) {
		rc = db_error(st, "run begin");
		goto out_free;
	}
	*run_id = sqlite3_last_insert_rowid(st->db);
	remember_open(st, *run_id);
out_free:
	sqlite3_finalize(s);
	free(cut);
	free(params);
	return rc;
}

int pl_store_run_event(struct pl_store *st, int64_t run_id, uint64_t t_ns,
		       enum pl_event_kind kind, const char *payload_json)
{
	struct pending_event *e;
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
		struct pending_event *p = realloc(st->ev, cap * sizeof(*p));

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

/* Write every buffered event; the caller holds the write transaction and
 * calls drop_flushed() once it committed, so a failed commit keeps them. */
static int flush_events(struct pl_store *st)
{
	sqlite3_stmt *s;
	int rc;

	if (st->nev == 0)
		return 0;
	rc = prepare(st, "INSERT INTO events (run_id, t_ns, kind, payload) "
		     "VALUES (?, ?, ?, ?)", &s);
	if (rc)
		return rc;
	for (size_t i = 0; i < st->nev && rc == 0; i++) {
		struct pending_event *e = &st->ev[i];

		sqlite3_bind_int64(s, 1, e->run_id);
		sqlite3_bind_int64(s, 2, (sqlite3_int64)e->t_ns);
		bind_text(s, 3, pl_event_kind_name(e->kind));
		bind_text(s, 4, e->payload);
		if (sqlite3_step(s) != SQLITE_DONE)
			rc = db_error(st, "write events");
		sqlite3_reset(s);
	}
	sqlite3_finalize(s);
	return rc;
}

/* After the transaction holding flush_events() committed. */
static void drop_flushed(struct pl_store *st)
{
	for (size_t i = 0; i < st->nev; i++)
		free(st->ev[i].payload);
	st->nev = 0;
}

/* Write the buffered events in a transaction of their own. */
static int flush_committed(struct pl_store *st)
{
	int rc;

	if (st->nev == 0)
		return 0;
	rc = begin(st);
	if (rc)
		return rc;
	rc = flush_events(st);
	if (rc == 0)
		rc = commit(st);
	if (rc) {
		rollback(st);
		return rc;
	}
	drop_flushed(st);
	return 0;
}

/* Close run id as verdict v; the caller holds the write transaction. */
static int close_run(struct pl_store *st, int64_t id, enum pl_verdict v,
		     const char *reason)
{
	sqlite3_stmt *s;
	uint64_t now = pl_store_now(st);
	int rc;

	rc = prepare(st, "UPDATE runs SET state = 'closed', verdict = ?1, "
		     "reason = ?2, finished = ?3, duration_ns = "
		     "max(0, ?3 - started) WHERE id = ?4 AND state = 'open'",
		     &s);
	if (rc)
		return rc;
	bind_text(s, 1, pl_verdict_name(v));
	bind_text(s, 2, reason);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)now);
	sqlite3_bind_int64(s, 4, id);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = db_error(st, "run end");
	else if (sqlite3_changes(st->db) == 0)
		rc = -EALREADY;
	sqlite3_finalize(s);
	return rc;
}

static int run_exists(struct pl_store *st, int64_t id, bool *exists)
{
	sqlite3_stmt *s;
	int rc = prepare(st, "SELECT 1 FROM runs WHERE id = ?", &s);

	if (rc)
		return rc;
	sqlite3_bind_int64(s, 1, id);
	rc = sqlite3_step(s);
	*exists = rc == SQLITE_ROW;
	rc = (rc == SQLITE_ROW || rc == SQLITE_DONE) ? 0 :
						       db_error(st, "find run");
	sqlite3_finalize(s);
	return rc;
}

int pl_store_run_end(struct pl_store *st, int64_t run_id, enum pl_verdict v,
		     const char *reason)
{
	ssize_t slot;
	bool exists;
	int rc;

	if ((unsigned)v >= PL_VERDICT_COUNT)
		return -EINVAL;
	rc = begin(st);
	if (rc)
		return rc;
	rc = flush_events(st);
	if (rc)
		goto err_rollback;
	rc = close_run(st, run_id, v, reason);
	if (rc == -EALREADY) {
		rc = run_exists(st, run_id, &exists);
		if (rc == 0)
			rc = exists ? -EALREADY : -ENOENT;
	}
	if (rc)
		goto err_rollback;
	rc = commit(st);
	if (rc)
		goto err_rollback;
	drop_flushed(st);
	slot = find_open(st, run_id);
	if (slot >= 0)
		st->open_runs[slot] = st->open_runs[--st->nopen];
	return 0;

err_rollback:
	/* The events stay buffered: a retry writes them again. */
	rollback(st);
	return rc;
}

int pl_store_run_set_replay(struct pl_store *st, int64_t run_id,
			    const char *replay)
{
	sqlite3_stmt *s;
	int rc = prepare(st, "UPDATE runs SET replay = ? WHERE id = ?", &s);

	if (rc)
		return rc;
	bind_text(s, 1, replay);
	sqlite3_bind_int64(s, 2, run_id);
	rc = sqlite3_step(s) == SQLITE_DONE ? 0 : -EIO;
	if (rc == 0 && sqlite3_changes(st->db) == 0)
		rc = -ENOENT;
	sqlite3_finalize(s);
	return rc;
}

int pl_store_run_set_cut(struct pl_store *st, int64_t run_id,
			 const struct pl_cut_point *cut)
{
	json_t *cj = pl_cut_to_json(cut);
	char *text = cj ? json_dumps(cj, JSON_COMPACT) : NULL;
	sqlite3_stmt *s;
	int rc;

	json_decref(cj);
	if (!text)
		return -ENOMEM;
	rc = prepare(st, "UPDATE runs SET cut = ? WHERE id = ?", &s);
	if (rc) {
		free(text);
		return rc;
	}
	bind_text(s, 1, text);
	sqlite3_bind_int64(s, 2, run_id);
	rc = sqlite3_step(s) == SQLITE_DONE ? 0 : -EIO;
	if (rc == 0 && sqlite3_changes(st->db) == 0)
		rc = -ENOENT;
	sqlite3_finalize(s);
	free(text);
	return rc;
}

/* ---------------------------------------------------------- recovery */

static bool lease_alive(struct pl_store *st, const char *board,
			const char *holder)
{
	sqlite3_stmt *s;
	bool alive = false;

	if (prepare(st, "SELECT 1 FROM leases WHERE board_id = ? AND "
		    "holder = ? AND expires > ?", &s))
		return true; /* when in doubt, leave the run alone */
	bind_text(s, 1, board);
	bind_text(s, 2, holder);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)pl_store_now(st));
	alive = sqlite3_step(s) == SQLITE_ROW;
	sqlite3_finalize(s);
	return alive;
}

static bool controller_alive(struct pl_store *st, const char *controller,
			     int pid, const char *host, const char *board)
{
	if (strcmp(controller, st->holder) == 0)
		return true;
	if (strcmp(host, st->host) == 0) {
		/* Debt: a recycled pid looks alive; the run then waits for
		 * the next recover after that process ends. */
		if (pid == st->pid)
			return false; /* our pid, another store identity:
				       * an earlier life of this process */
		return kill(pid, 0) == 0 || errno == EPERM;
	}
	return lease_alive(st, board, controller);
}

struct orphan {
	int64_t id;
	char *board, *controller;
};

static void orphans_free(struct orphan *o, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(o[i].board);
		free(o[i].controller);
	}
	free(o);
}

static int find_orphans(struct pl_store *st, struct orphan **out, size_t *n)
{
	struct orphan *o = NULL, *p;
	size_t cap = 0;
	sqlite3_stmt *s;
	bool oom = false;
	int rc, step;

	*n = 0;
	rc = prepare(st, "SELECT id, board_id, controller, controller_pid, "
		     "controller_host FROM runs WHERE state = 'open' "
		     "ORDER BY id", &s);
	if (rc)
		return rc;
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		const char *board = (const char *)sqlite3_column_text(s, 1);
		const char *ctl = (const char *)sqlite3_column_text(s, 2);
		const char *host = (const char *)sqlite3_column_text(s, 4);

		if (controller_alive(st, ctl, sqlite3_column_int(s, 3), host,
				     board))
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 8;
			p = realloc(o, cap * sizeof(*o));
			if (!p) {
				oom = true;
				break;
			}
			o = p;
		}
		o[*n].id = sqlite3_column_int64(s, 0);
		o[*n].board = col_dup(s, 1, &oom);
		o[*n].controller = col_dup(s, 2, &oom);
		(*n)++;
	}
	if (oom)
		rc = -ENOMEM;
	else if (step != SQLITE_ROW && step != SQLITE_DONE)
		rc = db_error(st, "find open runs");
	sqlite3_finalize(s);
	if (rc) {
		orphans_free(o, *n);
		*n = 0;
		return rc;
	}
	*out = o;
	return 0;
}

int pl_store_recover(struct pl_store *st, pl_store_recover_fn cb,
		     void *user_data, size_t *n)
{
	struct orphan *o = NULL;
	size_t norph = 0, done = 0;
	int rc;

	rc = find_orphans(st, &o, &norph);
	for (size_t i = 0; rc == 0 && i < norph; i++) {
		/* Power first: a board left powered mid-update by a dead
		 * controller must be made safe before anyone reads the
		 * verdict and hands it to the next run. */
		if (cb) {
			rc = cb(user_data, o[i].id, o[i].board,
				o[i].controller);
			if (rc)
				break;
		}
		rc = begin(st);
		if (rc)
			break;
		rc = close_run(st, o[i].id, PL_VERDICT_LAB_ERROR,
			       "controller stopped");
		if (rc == -EALREADY) {
			/* another process recovered it meanwhile */
			rc = 0;
			rollback(st);
			continue;
		}
		if (rc == 0)
			rc = commit(st);
		if (rc) {
			rollback(st);
			break;
		}
		done++;
		pl_log(&st->log, PL_LOG_WARN, "store %s: run %lld on %s "
		       "closed as lab-error: controller %s stopped",
		       st->path, (long long)o[i].id, o[i].board,
		       o[i].controller);
	}
	orphans_free(o, norph);
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

#define SUITE_COLS "id, name, file, cmdline, gate, seed, started, finished"

static void suite_from_stmt(sqlite3_stmt *s, struct pl_suite_row *r,
			    bool *oom)
{
	r->id = sqlite3_column_int64(s, 0);
	r->name = col_dup(s, 1, oom);
	r->file = col_dup(s, 2, oom);
	r->cmdline = col_dup(s, 3, oom);
	r->gate = col_dup(s, 4, oom);
	r->seed = col_u64(s, 5);
	r->started_ns = col_u64(s, 6);
	r->finished_ns = col_u64(s, 7);
}

/* Run a query that yields rows of elem bytes, filled by fill(). */
typedef void (*fill_fn)(sqlite3_stmt *s, void *row, bool *oom);

static int collect(struct pl_store *st, sqlite3_stmt *s, size_t elem,
		   fill_fn fill, void **rows, size_t *n)
{
	size_t cap = 0;
	char *buf = NULL, *p;
	bool oom = false;
	int step, rc = 0;

	*rows = NULL;
	*n = 0;
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			p = realloc(buf, cap * elem);
			if (!p) {
				oom = true;
				break;
			}
			buf = p;
		}
		memset(buf + *n * elem, 0, elem);
		fill(s, buf + *n * elem, &oom);
		(*n)++;
	}
	if (oom)
		rc = -ENOMEM;
	else if (step != SQLITE_DONE)
		rc = db_error(st, "query");
	*rows = buf;
	return rc;
}

static void fill_suite(sqlite3_stmt *s, void *row, bool *oom)
{
	suite_from_stmt(s, row, oom);
}

int pl_store_list_suites(struct pl_store *st, struct pl_suite_row **rows,
			 size_t *n)
{
	sqlite3_stmt *s;
	void *r;
	int rc = prepare(st, "SELECT " SUITE_COLS " FROM suites "
			 "ORDER BY id DESC", &s);

	if (rc)
		return rc;
	rc = collect(st, s, sizeof(**rows), fill_suite, &r, n);
	sqlite3_finalize(s);
	*rows = r;
	if (rc) {
		pl_store_suites_free(*rows, *n);
		*rows = NULL;
		*n = 0;
	}
	return rc;
}

int pl_store_get_suite(struct pl_store *st, int64_t id,
		       struct pl_suite_row **row)
{
	sqlite3_stmt *s;
	size_t n;
	void *r;
	int rc = prepare(st, "SELECT " SUITE_COLS " FROM suites WHERE id = ?",
			 &s);

	if (rc)
		return rc;
	sqlite3_bind_int64(s, 1, id);
	rc = collect(st, s, sizeof(**row), fill_suite, &r, &n);
	sqlite3_finalize(s);
	*row = r;
	if (rc == 0 && n == 0)
		rc = -ENOENT;
	if (rc) {
		pl_store_suites_free(*row, n);
		*row = NULL;
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
}

void pl_store_runs_free(struct pl_run_row *rows, size_t n)
{
	if (!rows)
		return;
	for (size_t i = 0; i < n; i++)
		run_row_clear(&rows[i]);
	free(rows);
}

#define RUN_COLS                                                          \
	"id, suite_id, board_id, board_type, image, scenario, params, cut, " \
	"seed, state, verdict, reason, started, finished, duration_ns, "     \
	"console_log, replay, controller, controller_pid, controller_host"

static void fill_run(sqlite3_stmt *s, void *row, bool *oom)
{
	struct pl_run_row *r = row;
	const char *v;

	r->id = sqlite3_column_int64(s, 0);
	r->suite_id = sqlite3_column_int64(s, 1);
	r->board_id = col_dup(s, 2, oom);
	r->board_type = col_dup(s, 3, oom);
	r->image = col_dup(s, 4, oom);
	r->scenario = col_dup(s, 5, oom);
	r->params_json = col_dup(s, 6, oom);
	if (pl_cut_from_text((const char *)sqlite3_column_text(s, 7),
			     &r->cut))
		*oom = true;
	r->seed = col_u64(s, 8);
	v = (const char *)sqlite3_column_text(s, 9);
	r->open = v && strcmp(v, "open") == 0;
	r->verdict = PL_VERDICT_LAB_ERROR;
	pl_verdict_parse((const char *)sqlite3_column_text(s, 10),
			 &r->verdict);
	r->reason = col_dup(s, 11, oom);
	r->started_ns = col_u64(s, 12);
	r->finished_ns = col_u64(s, 13);
	r->duration_ns = col_u64(s, 14);
	r->console_log = col_dup(s, 15, oom);
	r->replay = col_dup(s, 16, oom);
	r->controller = col_dup(s, 17, oom);
	r->controller_pid = sqlite3_column_int(s, 18);
	r->controller_host = col_dup(s, 19, oom);
}

int pl_store_list_runs(struct pl_store *st, const struct pl_run_filter *f,
		       struct pl_run_row **rows, size_t *n)
{
	static const struct pl_run_filter all = { 0 };
	sqlite3_stmt *s;
	void *r;
	int rc;

	if (!f)
		f = &all;
	rc = prepare(st, "SELECT " RUN_COLS " FROM runs WHERE "
		     "(?1 = 0 OR suite_id = ?1) AND "
		     "(?2 IS NULL OR board_id = ?2) AND "
		     "(?3 IS NULL OR board_type = ?3) AND "
		     "(?4 IS NULL OR scenario = ?4) AND "
		     "(?5 IS NULL OR verdict = ?5) AND "
		     "(?6 = 0 OR state = 'open') ORDER BY id", &s);
	if (rc)
		return rc;
	sqlite3_bind_int64(s, 1, f->suite_id);
	bind_text(s, 2, f->board_id);
	bind_text(s, 3, f->board_type);
	bind_text(s, 4, f->scenario);
	bind_text(s, 5, f->by_verdict ? pl_verdict_name(f->verdict) : NULL);
	sqlite3_bind_int(s, 6, f->open_only);
	rc = collect(st, s, sizeof(**rows), fill_run, &r, n);
	sqlite3_finalize(s);
	*rows = r;
	if (rc) {
		pl_store_runs_free(*rows, *n);
		*rows = NULL;
		*n = 0;
	}
	return rc;
}

static void fill_event(sqlite3_stmt *s, void *row, bool *oom)
{
	struct pl_event_row *e = row;

	e->id = sqlite3_column_int64(s, 0);
	e->t_ns = col_u64(s, 1);
	e->kind = PL_EV_LOG;
	pl_event_kind_parse((const char *)sqlite3_column_text(s, 2),
			    &e->kind);
	e->payload_json = col_dup(s, 3, oom);
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

int pl_store_get_run(struct pl_store *st, int64_t id, struct pl_run_row **run,
		     struct pl_event_row **events, size_t *nevents)
{
	sqlite3_stmt *s;
	size_t n = 0;
	void *r = NULL, *e = NULL;
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
	rc = prepare(st, "SELECT " RUN_COLS " FROM runs WHERE id = ?", &s);
	if (rc)
		return rc;
	sqlite3_bind_int64(s, 1, id);
	rc = collect(st, s, sizeof(**run), fill_run, &r, &n);
	sqlite3_finalize(s);
	if (rc == 0 && n == 0)
		rc = -ENOENT;
	if (rc)
		goto err_free_run;
	if (events) {
		rc = prepare(st, "SELECT id, t_ns, kind, payload FROM events "
			     "WHERE run_id = ? ORDER BY t_ns, id", &s);
		if (rc)
			goto err_free_run;
		sqlite3_bind_int64(s, 1, id);
		rc = collect(st, s, sizeof(**events), fill_event, &e,
			     nevents);
		sqlite3_finalize(s);
		if (rc) {
			pl_store_run_free(NULL, e, *nevents);
			*nevents = 0;
			goto err_free_run;
		}
		*events = e;
	}
	*run = r;
	return 0;

err_free_run:
	pl_store_runs_free(r, n);
	return rc;
}

/* ------------------------------------------------------------ leases */

int pl_store_lease_take(struct pl_store *st, const char *board,
			const char *holder, uint64_t ttl_ms, char **current)
{
	uint64_t now = pl_store_now(st);
	uint64_t expires = now + ttl_ms * 1000000u;
	char *prev = NULL;
	sqlite3_stmt *s = NULL;
	bool oom = false;
	int rc, step;

	if (current)
		*current = NULL;
	if (!board)
		return -EINVAL;
	if (!holder)
		holder = st->holder;
	rc = begin(st);
	if (rc)
		return rc;
	rc = prepare(st, "SELECT holder, expires FROM leases "
		     "WHERE board_id = ?", &s);
	if (rc)
		goto err_rollback;
	bind_text(s, 1, board);
	step = sqlite3_step(s);
	if (step == SQLITE_ROW) {
		prev = col_dup(s, 0, &oom);
		if (oom) {
			rc = -ENOMEM;
			goto err_rollback;
		}
		if (strcmp(prev, holder) != 0 &&
		    col_u64(s, 1) > now) {
			rc = -PL_ELEASED;
			if (current) {
				*current = prev;
				prev = NULL;
			}
			goto err_rollback;
		}
	} else if (step != SQLITE_DONE) {
		rc = db_error(st, "read lease");
		goto err_rollback;
	}
	sqlite3_finalize(s);
	s = NULL;
	rc = prepare(st, "INSERT INTO leases (board_id, holder, taken, "
		     "renewed, expires) VALUES (?1, ?2, ?3, ?3, ?4) "
		     "ON CONFLICT (board_id) DO UPDATE SET holder = ?2, "
		     "taken = CASE WHEN holder = ?2 THEN taken ELSE ?3 END, "
		     "renewed = ?3, expires = ?4", &s);
	if (rc)
		goto err_rollback;
	bind_text(s, 1, board);
	bind_text(s, 2, holder);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)now);
	sqlite3_bind_int64(s, 4, (sqlite3_int64)expires);
	if (sqlite3_step(s) != SQLITE_DONE) {
		rc = db_error(st, "take lease");
		goto err_rollback;
	}
	sqlite3_finalize(s);
	s = NULL;
	rc = commit(st);
	if (rc)
		goto err_rollback;
	if (prev && strcmp(prev, holder) != 0)
		pl_log(&st->log, PL_LOG_WARN, "lease on %s taken over from %s "
		       "(expired)", board, prev);
	free(prev);
	return 0;

err_rollback:
	sqlite3_finalize(s);
	rollback(st);
	free(prev);
	return rc;
}

/* Update or delete holder's lease on board; sql binds ?1 board, ?2 holder,
 * ?3 now, ?4 expires. */
static int lease_change(struct pl_store *st, const char *board,
			const char *holder, const char *sql, uint64_t ttl_ms)
{
	uint64_t now = pl_store_now(st);
	sqlite3_stmt *s = NULL;
	int rc, step;

	if (!board)
		return -EINVAL;
	if (!holder)
		holder = st->holder;
	rc = begin(st);
	if (rc)
		return rc;
	rc = prepare(st, sql, &s);
	if (rc)
		goto err_rollback;
	bind_text(s, 1, board);
	bind_text(s, 2, holder);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)now);
	sqlite3_bind_int64(s, 4, (sqlite3_int64)(now + ttl_ms * 1000000u));
	if (sqlite3_step(s) != SQLITE_DONE) {
		rc = db_error(st, "change lease");
		goto err_rollback;
	}
	if (sqlite3_changes(st->db) == 0) {
		sqlite3_finalize(s);
		rc = prepare(st, "SELECT 1 FROM leases WHERE board_id = ?",
			     &s);
		if (rc)
			goto err_rollback;
		bind_text(s, 1, board);
		step = sqlite3_step(s);
		rc = step == SQLITE_ROW ? -PL_ELEASED : -ENOENT;
		goto err_rollback;
	}
	sqlite3_finalize(s);
	return commit(st);

err_rollback:
	sqlite3_finalize(s);
	rollback(st);
	return rc;
}

int pl_store_lease_renew(struct pl_store *st, const char *board,
			 const char *holder, uint64_t ttl_ms)
{
	return lease_change(st, board, holder,
			    "UPDATE leases SET renewed = ?3, expires = ?4 "
			    "WHERE board_id = ?1 AND holder = ?2", ttl_ms);
}

int pl_store_lease_release(struct pl_store *st, const char *board,
			   const char *holder)
{
	return lease_change(st, board, holder,
			    "DELETE FROM leases WHERE board_id = ?1 AND "
			    "holder = ?2 AND ?3 + ?4 IS NOT NULL", 0);
}

static void fill_lease(sqlite3_stmt *s, void *row, bool *oom)
{
	struct pl_lease_row *l = row;

	l->board_id = col_dup(s, 0, oom);
	l->holder = col_dup(s, 1, oom);
	l->taken_ns = col_u64(s, 2);
	l->renewed_ns = col_u64(s, 3);
	l->expires_ns = col_u64(s, 4);
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
	sqlite3_stmt *s;
	void *r;
	int rc = prepare(st, "SELECT board_id, holder, taken, renewed, "
			 "expires FROM leases ORDER BY board_id", &s);

	if (rc)
		return rc;
	rc = collect(st, s, sizeof(**rows), fill_lease, &r, n);
	sqlite3_finalize(s);
	*rows = r;
	if (rc) {
		pl_store_leases_free(*rows, *n);
		*rows = NULL;
		*n = 0;
	}
	return rc;
}

/* ----------------------------------------------------------- changes */

/*
 * The change sequence (schema 2): one row per suite or run written and per
 * lease taken, handed over or released, appended by triggers in the same
 * transaction as the change. Readers (patchlab serve) poll the newest seq
 * and read what came after the one they saw.
 */

static const char *const change_kind_names[PL_CHANGE_COUNT] = {
	"suite", "run", "lease",
};

const char *pl_change_kind_name(enum pl_change_kind k)
{
	return (unsigned)k < PL_CHANGE_COUNT ? change_kind_names[k] : "?";
}

int pl_store_seq(struct pl_store *st, int64_t *seq)
{
	sqlite3_stmt *s;
	int rc = prepare(st, "SELECT coalesce(max(seq), 0) FROM changes", &s);

	if (rc)
		return rc;
	if (sqlite3_step(s) == SQLITE_ROW)
		*seq = sqlite3_column_int64(s, 0);
	else
		rc = db_error(st, "read the change sequence");
	sqlite3_finalize(s);
	return rc;
}

static void fill_change(sqlite3_stmt *s, void *row, bool *oom)
{
	struct pl_change_row *c = row;
	const char *k = (const char *)sqlite3_column_text(s, 1);

	c->seq = sqlite3_column_int64(s, 0);
	c->kind = PL_CHANGE_RUN;
	for (int i = 0; k && i < PL_CHANGE_COUNT; i++)
		if (strcmp(k, change_kind_names[i]) == 0)
			c->kind = (enum pl_change_kind)i;
	c->suite_id = sqlite3_column_int64(s, 2);
	c->run_id = sqlite3_column_int64(s, 3);
	c->board_id = col_dup(s, 4, oom);
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
	sqlite3_stmt *s;
	void *r;
	int rc = prepare(st, "SELECT seq, kind, suite_id, run_id, board_id "
			 "FROM changes WHERE seq > ? ORDER BY seq LIMIT ?", &s);

	*rows = NULL;
	*n = 0;
	if (rc)
		return rc;
	sqlite3_bind_int64(s, 1, since);
	sqlite3_bind_int64(s, 2, max ? (int64_t)max : -1);
	rc = collect(st, s, sizeof(**rows), fill_change, &r, n);
	sqlite3_finalize(s);
	*rows = r;
	if (rc) {
		pl_store_changes_free(*rows, *n);
		*rows = NULL;
		*n = 0;
	}
	return rc;
}

int pl_store_board_last_run(struct pl_store *st, const char *board,
			    struct pl_run_row **row)
{
	sqlite3_stmt *s;
	size_t n = 0;
	void *r;
	int rc;

	*row = NULL;
	if (!board)
		return -EINVAL;
	rc = prepare(st, "SELECT " RUN_COLS " FROM runs WHERE board_id = ? "
		     "ORDER BY id DESC LIMIT 1", &s);
	if (rc)
		return rc;
	bind_text(s, 1, board);
	rc = collect(st, s, sizeof(**row), fill_run, &r, &n);
	sqlite3_finalize(s);
	if (rc == 0 && n == 0)
		rc = -ENOENT;
	if (rc) {
		pl_store_runs_free(r, n);
		return rc;
	}
	*row = r;
	return 0;
}
