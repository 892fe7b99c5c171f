/* SPDX-License-Identifier: MIT */
/*
 * The result store's SQLite backend: one file on one host. Contracts are in
 * store_internal.h (the ops) and patchlab/store.h.
 *
 * Why synchronous=FULL with WAL: NORMAL survives a killed controller but may
 * lose the last committed transactions when the HOST loses power, and a lab
 * that cuts power for a living shares power strips with its controller. We
 * commit once per run end (seconds apart) and buffer events in memory, so
 * the extra fsync per commit costs nothing measurable.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "patchlab/error.h"
#include "patchlab/store.h"
#include "results_internal.h"
#include "store_internal.h"

#define DB(st) ((sqlite3 *)(st)->be)

/* ------------------------------------------------------------ schema */

/*
 * Migrations: migrations[i] takes user_version i to i+1. Append only; a
 * released entry never changes (databases in the field ran it). The
 * PostgreSQL backend (store_pg.c) has the same 1..3; its 4 is the lab
 * service's queue, and its 5 is our 4.
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
	/* 1 -> 2: the change sequence (pl_store_changes()). Triggers, not
	 * code, append to it, so every writer (any process, any version from
	 * 2 on) is seen. A lease renewal is not a change; a new holder is.
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
	/* 2 -> 3: the lab worker that ran a run (NULL for `patchlab run`) */
	"ALTER TABLE runs ADD COLUMN worker TEXT;",
	/* 3 -> 4: a run that could not run is stored as verdict 'not-run'
	 * (with its reason), a suite that did not test everything as gate
	 * 'incomplete'. SQLite cannot change a CHECK in place: both tables
	 * are rebuilt under the migration's transaction, their indexes and
	 * change triggers made again; sq_migrate() checks the foreign keys
	 * once every row has its table again. */
	"CREATE TABLE suites3 ("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL,"
	"  file TEXT,"
	"  started INTEGER NOT NULL,"
	"  finished INTEGER,"
	"  gate TEXT CHECK (gate IN ('pass','fail','error','incomplete')),"
	"  seed INTEGER NOT NULL DEFAULT 0,"
	"  cmdline TEXT);"
	"INSERT INTO suites3 SELECT id, name, file, started, finished, gate,"
	"  seed, cmdline FROM suites;"
	"CREATE TABLE runs3 ("
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
	"    'recovered','fail','lab-error','not-run')),"
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
	"  worker TEXT,"
	"  CHECK ((state = 'open') = (verdict IS NULL)));"
	"INSERT INTO runs3 SELECT id, suite_id, board_id, board_type, image,"
	"  scenario, params, cut, seed, verdict, reason, started, finished,"
	"  duration_ns, console_log, replay, controller, controller_pid,"
	"  controller_host, state, worker FROM runs;"
	"DROP TABLE runs;"
	"DROP TABLE suites;"
	"ALTER TABLE suites3 RENAME TO suites;"
	"ALTER TABLE runs3 RENAME TO runs;"
	"CREATE INDEX runs_by_suite ON runs(suite_id);"
	"CREATE INDEX runs_open ON runs(state) WHERE state = 'open';"
	"CREATE TRIGGER changes_suite_new AFTER INSERT ON suites BEGIN"
	"  INSERT INTO changes (kind, suite_id) VALUES ('suite', new.id); END;"
	"CREATE TRIGGER changes_suite_set AFTER UPDATE ON suites BEGIN"
	"  INSERT INTO changes (kind, suite_id) VALUES ('suite', new.id); END;"
	"CREATE TRIGGER changes_run_new AFTER INSERT ON runs BEGIN"
	"  INSERT INTO changes (kind, suite_id, run_id, board_id)"
	"  VALUES ('run', new.suite_id, new.id, new.board_id); END;"
	"CREATE TRIGGER changes_run_set AFTER UPDATE ON runs BEGIN"
	"  INSERT INTO changes (kind, suite_id, run_id, board_id)"
	"  VALUES ('run', new.suite_id, new.id, new.board_id); END;",
	/* 4 -> 5: boards set aside, kept until released (patchlab/store.h,
	 * "quarantine"); setting or releasing one is a change of the board */
	"CREATE TABLE quarantine ("
	"  board_id TEXT PRIMARY KEY,"
	"  kind TEXT NOT NULL CHECK (kind IN ('device','lab')),"
	"  reason TEXT NOT NULL,"
	"  holder TEXT,"
	"  run_id INTEGER,"
	"  since INTEGER NOT NULL);"
	"CREATE TRIGGER changes_quarantine_new AFTER INSERT ON quarantine BEGIN"
	"  INSERT INTO changes (kind, board_id) VALUES ('lease', new.board_id);"
	"  END;"
	"CREATE TRIGGER changes_quarantine_set AFTER UPDATE ON quarantine BEGIN"
	"  INSERT INTO changes (kind, board_id) VALUES ('lease', new.board_id);"
	"  END;"
	"CREATE TRIGGER changes_quarantine_gone AFTER DELETE ON quarantine"
	"  BEGIN INSERT INTO changes (kind, board_id)"
	"  VALUES ('lease', old.board_id); END;",
};

#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

static int sq_schema_latest(void)
{
	return SCHEMA_VERSION;
}

/* ----------------------------------------------------------- helpers */

static int db_error(struct pl_store *st, const char *what)
{
	pl_log(&st->log, PL_LOG_ERROR, "store %s: %s: %s", st->target, what,
	       sqlite3_errmsg(DB(st)));
	return -EIO;
}

static int exec(struct pl_store *st, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(DB(st), sql, NULL, NULL, &msg) != SQLITE_OK) {
		pl_log(&st->log, PL_LOG_ERROR, "store %s: %.40s: %s",
		       st->target, sql, msg ? msg : sqlite3_errmsg(DB(st)));
		sqlite3_free(msg);
		return -EIO;
	}
	return 0;
}

static int prepare(struct pl_store *st, const char *sql, sqlite3_stmt **s)
{
	if (sqlite3_prepare_v2(DB(st), sql, -1, s, NULL) != SQLITE_OK)
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
	if (!sqlite3_get_autocommit(DB(st)))
		sqlite3_exec(DB(st), "ROLLBACK", NULL, NULL, NULL);
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

/* Step s to its end, adding a row of r per result row, filled by fill(). */
typedef void (*fill_fn)(sqlite3_stmt *s, void *row, bool *oom);

static int collect(struct pl_store *st, sqlite3_stmt *s, size_t elem,
		   fill_fn fill, void **rows, size_t *n)
{
	struct pl_store_rows r = { .elem = elem };
	bool oom = false;
	void *row;
	int step, rc = 0;

	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		row = pl_store_rows_add(&r);
		if (!row) {
			oom = true;
			break;
		}
		fill(s, row, &oom);
	}
	if (oom)
		rc = -ENOMEM;
	else if (step != SQLITE_DONE)
		rc = db_error(st, "query");
	*rows = r.buf;
	*n = r.n;
	return rc;
}

/* ---------------------------------------------------------- open/close */

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

/* 0 when no row refers to a missing one, else -EIO (logged). */
static int foreign_keys_hold(struct pl_store *st)
{
	sqlite3_stmt *s;
	int rc = prepare(st, "PRAGMA foreign_key_check", &s);

	if (rc)
		return rc;
	if (sqlite3_step(s) == SQLITE_ROW) {
		pl_log(&st->log, PL_LOG_ERROR, "store %s: migration left a "
		       "row of %s referring to a missing row", st->target,
		       (const char *)sqlite3_column_text(s, 0));
		rc = -EIO;
	}
	sqlite3_finalize(s);
	return rc;
}

/* Bring the schema to SCHEMA_VERSION. Another process may be migrating at
 * the same moment: the version is read again under the write lock. */
static int sq_migrate(struct pl_store *st, int *from)
{
	char sql[64];
	int v = 0, rc;

	rc = user_version(st, &v);
	if (from)
		*from = v;
	if (rc || v >= SCHEMA_VERSION)
		goto check_newer;
	/* A migration may rebuild a table others refer to (3 -> 4): the
	 * references are checked once at the end instead, as SQLite's
	 * documented procedure for a table rebuild says (the pragma is a
	 * no-op inside a transaction, so it comes first). */
	rc = exec(st, "PRAGMA foreign_keys = OFF");
	if (rc)
		return rc;
	rc = begin(st);
	if (rc)
		goto fk_on;
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
			       st->target, v + 1);
	}
	if (rc == 0)
		rc = foreign_keys_hold(st);
	if (rc) {
		rollback(st);
		goto fk_on;
	}
	rc = commit(st);
fk_on:
	if (exec(st, "PRAGMA foreign_keys = ON") && rc == 0)
		rc = -EIO;
	if (rc)
		return rc;
check_newer:
	if (rc == 0 && v > SCHEMA_VERSION) {
		pl_log(&st->log, PL_LOG_ERROR, "store %s: schema version %d is "
		       "newer than this patchlab (%d)", st->target, v,
		       SCHEMA_VERSION);
		rc = -EPROTO;
	}
	return rc;
}

static int sq_schema_version(struct pl_store *st, int *v)
{
	return user_version(st, v);
}

static int sq_open(struct pl_store *st, const char *path)
{
	sqlite3 *db = NULL;
	unsigned busy = st->busy_timeout_ms;
	int rc;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
			    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		st->be = db;
		rc = db ? db_error(st, "open") : -ENOMEM;
		goto err_close_db;
	}
	st->be = db;
	sqlite3_busy_timeout(db, (int)busy);
	/* Switching a new file to WAL needs an exclusive lock that SQLite
	 * does not wait for through the busy handler: retry by hand. */
	for (unsigned waited = 0;; waited += 10) {
		int src = sqlite3_exec(db, "PRAGMA journal_mode = WAL", NULL,
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
	if (rc)
		goto err_close_db;
	return 0;

err_close_db:
	sqlite3_close(db);
	st->be = NULL;
	return rc;
}

static void sq_close(struct pl_store *st)
{
	sqlite3_close(DB(st));
	st->be = NULL;
}

/* ------------------------------------------------------------ suites */

static int sq_suite_begin(struct pl_store *st, const struct pl_suite_info *info,
			  uint64_t now, int64_t *suite_id)
{
	sqlite3_stmt *s;
	int rc;

	rc = prepare(st, "INSERT INTO suites (name, file, started, seed, "
		     "cmdline) VALUES (?, ?, ?, ?, ?)", &s);
	if (rc)
		return rc;
	bind_text(s, 1, info->name);
	bind_text(s, 2, info->file);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)now);
	sqlite3_bind_int64(s, 4, (sqlite3_int64)info->seed);
	bind_text(s, 5, info->cmdline);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = db_error(st, "suite begin");
	else
		*suite_id = sqlite3_last_insert_rowid(DB(st));
	sqlite3_finalize(s);
	return rc;
}

static int sq_suite_end(struct pl_store *st, int64_t suite_id,
			const char *gate, uint64_t now)
{
	sqlite3_stmt *s;
	int rc;

	rc = prepare(st, "UPDATE suites SET finished = ?, gate = ? "
		     "WHERE id = ?", &s);
	if (rc)
		return rc;
	sqlite3_bind_int64(s, 1, (sqlite3_int64)now);
	bind_text(s, 2, gate);
	sqlite3_bind_int64(s, 3, suite_id);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = db_error(st, "suite end");
	else if (sqlite3_changes(DB(st)) == 0)
		rc = -ENOENT;
	sqlite3_finalize(s);
	return rc;
}

/* -------------------------------------------------------------- runs */

static int sq_run_begin(struct pl_store *st, const struct pl_run_info *info,
			const char *params, const char *cut, uint64_t now,
			int64_t *run_id)
{
	sqlite3_stmt *s = NULL;
	int rc;

	rc = prepare(st, "INSERT INTO runs (suite_id, board_id, board_type, "
		     "image, scenario, params, cut, seed, started, "
		     "console_log, replay, controller, controller_pid, "
		     "controller_host, worker, state) VALUES (?, ?, ?, ?, ?, "
		     "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open')", &s);
	if (rc)
		return rc;
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
	sqlite3_bind_int64(s, 9, (sqlite3_int64)now);
	bind_text(s, 10, info->console_log);
	bind_text(s, 11, info->replay);
	bind_text(s, 12, st->holder);
	sqlite3_bind_int(s, 13, st->pid);
	bind_text(s, 14, st->host);
	bind_text(s, 15, info->worker);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = db_error(st, "run begin");
	else
		*run_id = sqlite3_last_insert_rowid(DB(st));
	sqlite3_finalize(s);
	return rc;
}

/* Write every buffered event; the caller holds the write transaction. */
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
		struct pl_store_event *e = &st->ev[i];

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

static int sq_write_events(struct pl_store *st)
{
	int rc = begin(st);

	if (rc)
		return rc;
	rc = flush_events(st);
	if (rc == 0)
		rc = commit(st);
	if (rc)
		rollback(st);
	return rc;
}

/* Close run id as verdict v; the caller holds the write transaction. */
static int close_run(struct pl_store *st, int64_t id, enum pl_verdict v,
		     const char *reason, uint64_t now)
{
	sqlite3_stmt *s;
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
	else if (sqlite3_changes(DB(st)) == 0)
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

static int sq_run_end(struct pl_store *st, int64_t run_id, enum pl_verdict v,
		      const char *reason, uint64_t now)
{
	bool exists;
	int rc;

	rc = begin(st);
	if (rc)
		return rc;
	rc = flush_events(st);
	if (rc)
		goto err_rollback;
	rc = close_run(st, run_id, v, reason, now);
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
	return 0;

err_rollback:
	rollback(st);
	return rc;
}

static int sq_run_close(struct pl_store *st, int64_t id, enum pl_verdict v,
			const char *reason, uint64_t now)
{
	int rc = begin(st);

	if (rc)
		return rc;
	rc = close_run(st, id, v, reason, now);
	if (rc == 0)
		rc = commit(st);
	if (rc)
		rollback(st);
	return rc;
}

static int sq_run_set(struct pl_store *st, int64_t run_id, const char *column,
		      const char *text)
{
	sqlite3_stmt *s;
	int rc = prepare(st, strcmp(column, "cut") == 0 ?
			 "UPDATE runs SET cut = ? WHERE id = ?" :
			 "UPDATE runs SET replay = ? WHERE id = ?", &s);

	if (rc)
		return rc;
	bind_text(s, 1, text);
	sqlite3_bind_int64(s, 2, run_id);
	rc = sqlite3_step(s) == SQLITE_DONE ? 0 : db_error(st, "set run");
	if (rc == 0 && sqlite3_changes(DB(st)) == 0)
		rc = -ENOENT;
	sqlite3_finalize(s);
	return rc;
}

/* ---------------------------------------------------------- recovery */

static bool sq_lease_alive(struct pl_store *st, const char *board,
			   const char *holder, uint64_t now)
{
	sqlite3_stmt *s;
	bool alive;

	if (prepare(st, "SELECT 1 FROM leases WHERE board_id = ? AND "
		    "holder = ? AND expires > ?", &s))
		return true; /* when in doubt, leave the run alone */
	bind_text(s, 1, board);
	bind_text(s, 2, holder);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)now);
	alive = sqlite3_step(s) == SQLITE_ROW;
	sqlite3_finalize(s);
	return alive;
}

static void fill_open_run(sqlite3_stmt *s, void *row, bool *oom)
{
	struct pl_store_open_run *o = row;

	o->id = sqlite3_column_int64(s, 0);
	o->board = col_dup(s, 1, oom);
	o->controller = col_dup(s, 2, oom);
	o->pid = sqlite3_column_int(s, 3);
	o->host = col_dup(s, 4, oom);
}

static int sq_open_runs_list(struct pl_store *st,
			     struct pl_store_open_run **rows, size_t *n)
{
	sqlite3_stmt *s;
	void *r;
	int rc = prepare(st, "SELECT id, board_id, controller, controller_pid, "
			 "controller_host FROM runs WHERE state = 'open' "
			 "ORDER BY id", &s);

	*rows = NULL;
	*n = 0;
	if (rc)
		return rc;
	rc = collect(st, s, sizeof(**rows), fill_open_run, &r, n);
	sqlite3_finalize(s);
	*rows = r;
	if (rc) {
		pl_store_open_runs_free(*rows, *n);
		*rows = NULL;
		*n = 0;
	}
	return rc;
}

/* ----------------------------------------------------------- queries */

#define SUITE_COLS "id, name, file, cmdline, gate, seed, started, finished"

static void fill_suite(sqlite3_stmt *s, void *row, bool *oom)
{
	struct pl_suite_row *r = row;

	r->id = sqlite3_column_int64(s, 0);
	r->name = col_dup(s, 1, oom);
	r->file = col_dup(s, 2, oom);
	r->cmdline = col_dup(s, 3, oom);
	r->gate = col_dup(s, 4, oom);
	r->seed = col_u64(s, 5);
	r->started_ns = col_u64(s, 6);
	r->finished_ns = col_u64(s, 7);
}

static int sq_suites(struct pl_store *st, int64_t id,
		     struct pl_suite_row **rows, size_t *n)
{
	sqlite3_stmt *s;
	void *r;
	int rc = prepare(st, "SELECT " SUITE_COLS " FROM suites "
			 "WHERE ?1 = 0 OR id = ?1 ORDER BY id DESC", &s);

	*rows = NULL;
	*n = 0;
	if (rc)
		return rc;
	sqlite3_bind_int64(s, 1, id);
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

#define RUN_COLS                                                          \
	"id, suite_id, board_id, board_type, image, scenario, params, cut, " \
	"seed, state, verdict, reason, started, finished, duration_ns, "     \
	"console_log, replay, controller, controller_pid, controller_host, " \
	"worker"

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
	r->worker = col_dup(s, 20, oom);
}

static int sq_runs(struct pl_store *st, const struct pl_store_run_query *q,
		   struct pl_run_row **rows, size_t *n)
{
	static const struct pl_run_filter all = { 0 };
	const struct pl_run_filter *f = q->f ? q->f : &all;
	sqlite3_stmt *s;
	void *r;
	int rc;

	*rows = NULL;
	*n = 0;
	rc = prepare(st, "SELECT " RUN_COLS " FROM runs WHERE "
		     "(?1 = 0 OR suite_id = ?1) AND "
		     "(?2 IS NULL OR board_id = ?2) AND "
		     "(?3 IS NULL OR board_type = ?3) AND "
		     "(?4 IS NULL OR scenario = ?4) AND "
		     "(?5 IS NULL OR verdict = ?5) AND "
		     "(?6 = 0 OR state = 'open') AND "
		     "(?7 = 0 OR id = ?7) "
		     "ORDER BY CASE WHEN ?8 THEN -id ELSE id END LIMIT ?9", &s);
	if (rc)
		return rc;
	sqlite3_bind_int64(s, 1, f->suite_id);
	bind_text(s, 2, q->last_of_board ? q->last_of_board : f->board_id);
	bind_text(s, 3, f->board_type);
	bind_text(s, 4, f->scenario);
	bind_text(s, 5, f->by_verdict ? pl_verdict_name(f->verdict) : NULL);
	sqlite3_bind_int(s, 6, f->open_only);
	sqlite3_bind_int64(s, 7, q->id);
	sqlite3_bind_int(s, 8, q->last_of_board != NULL);
	sqlite3_bind_int(s, 9, q->last_of_board ? 1 : -1);
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

static int sq_events(struct pl_store *st, int64_t run_id,
		     struct pl_event_row **rows, size_t *n)
{
	sqlite3_stmt *s;
	void *r;
	int rc = prepare(st, "SELECT id, t_ns, kind, payload FROM events "
			 "WHERE run_id = ? ORDER BY t_ns, id", &s);

	*rows = NULL;
	*n = 0;
	if (rc)
		return rc;
	sqlite3_bind_int64(s, 1, run_id);
	rc = collect(st, s, sizeof(**rows), fill_event, &r, n);
	sqlite3_finalize(s);
	*rows = r;
	if (rc) {
		pl_store_run_free(NULL, *rows, *n);
		*rows = NULL;
		*n = 0;
	}
	return rc;
}

/* ------------------------------------------------------------ leases */

static int sq_lease_take(struct pl_store *st, const char *board,
			 const char *holder, uint64_t now, uint64_t expires,
			 char **prev)
{
	sqlite3_stmt *s = NULL;
	bool oom = false;
	int rc, step;

	*prev = NULL;
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
		*prev = col_dup(s, 0, &oom);
		if (oom) {
			rc = -ENOMEM;
			goto err_rollback;
		}
		if (strcmp(*prev, holder) != 0 && col_u64(s, 1) > now) {
			rc = -PL_ELEASED;
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
	return 0;

err_rollback:
	sqlite3_finalize(s);
	rollback(st);
	if (rc != -PL_ELEASED) {
		free(*prev);
		*prev = NULL;
	}
	return rc;
}

static int sq_lease_change(struct pl_store *st, const char *board,
			   const char *holder, uint64_t now, uint64_t expires,
			   bool release)
{
	sqlite3_stmt *s = NULL;
	int rc, step;

	rc = begin(st);
	if (rc)
		return rc;
	rc = prepare(st, release ?
		     "DELETE FROM leases WHERE board_id = ?1 AND holder = ?2" :
		     "UPDATE leases SET renewed = ?3, expires = ?4 "
		     "WHERE board_id = ?1 AND holder = ?2", &s);
	if (rc)
		goto err_rollback;
	bind_text(s, 1, board);
	bind_text(s, 2, holder);
	if (!release) {
		sqlite3_bind_int64(s, 3, (sqlite3_int64)now);
		sqlite3_bind_int64(s, 4, (sqlite3_int64)expires);
	}
	if (sqlite3_step(s) != SQLITE_DONE) {
		rc = db_error(st, "change lease");
		goto err_rollback;
	}
	if (sqlite3_changes(DB(st)) == 0) {
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

static void fill_lease(sqlite3_stmt *s, void *row, bool *oom)
{
	struct pl_lease_row *l = row;

	l->board_id = col_dup(s, 0, oom);
	l->holder = col_dup(s, 1, oom);
	l->taken_ns = col_u64(s, 2);
	l->renewed_ns = col_u64(s, 3);
	l->expires_ns = col_u64(s, 4);
}

static int sq_leases(struct pl_store *st, struct pl_lease_row **rows,
		     size_t *n)
{
	sqlite3_stmt *s;
	void *r;
	int rc = prepare(st, "SELECT board_id, holder, taken, renewed, "
			 "expires FROM leases ORDER BY board_id", &s);

	*rows = NULL;
	*n = 0;
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

/* -------------------------------------------------------- quarantine */

static int sq_quarantine_set(struct pl_store *st, const char *board,
			     const char *kind, const char *reason,
			     int64_t run_id, uint64_t now)
{
	sqlite3_stmt *s;
	int rc = prepare(st, "INSERT INTO quarantine (board_id, kind, reason, "
			 "holder, run_id, since) VALUES (?, ?, ?, ?, ?, ?) "
			 "ON CONFLICT (board_id) DO UPDATE SET kind = "
			 "excluded.kind, reason = excluded.reason, holder = "
			 "excluded.holder, run_id = excluded.run_id, since = "
			 "excluded.since", &s);

	if (rc)
		return rc;
	bind_text(s, 1, board);
	bind_text(s, 2, kind);
	bind_text(s, 3, reason);
	bind_text(s, 4, st->holder);
	if (run_id)
		sqlite3_bind_int64(s, 5, run_id);
	else
		sqlite3_bind_null(s, 5);
	sqlite3_bind_int64(s, 6, (sqlite3_int64)now);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = db_error(st, "quarantine");
	sqlite3_finalize(s);
	return rc;
}

static int sq_quarantine_release(struct pl_store *st, const char *board)
{
	sqlite3_stmt *s;
	int rc = prepare(st, "DELETE FROM quarantine WHERE board_id = ?", &s);

	if (rc)
		return rc;
	bind_text(s, 1, board);
	if (sqlite3_step(s) != SQLITE_DONE)
		rc = db_error(st, "release quarantine");
	else if (sqlite3_changes(DB(st)) == 0)
		rc = -ENOENT;
	sqlite3_finalize(s);
	return rc;
}

static void fill_quarantine(sqlite3_stmt *s, void *row, bool *oom)
{
	struct pl_quarantine_row *q = row;
	const unsigned char *kind = sqlite3_column_text(s, 1);

	q->board_id = col_dup(s, 0, oom);
	if (pl_quarantine_kind_parse((const char *)kind, &q->kind))
		q->kind = PL_QUARANTINE_DEVICE;
	q->reason = col_dup(s, 2, oom);
	q->holder = col_dup(s, 3, oom);
	q->run_id = sqlite3_column_int64(s, 4);
	q->since_ns = col_u64(s, 5);
}

static int sq_quarantines(struct pl_store *st,
			  struct pl_quarantine_row **rows, size_t *n)
{
	sqlite3_stmt *s;
	void *r;
	int rc = prepare(st, "SELECT board_id, kind, reason, holder, run_id, "
			 "since FROM quarantine ORDER BY board_id", &s);

	*rows = NULL;
	*n = 0;
	if (rc)
		return rc;
	rc = collect(st, s, sizeof(**rows), fill_quarantine, &r, n);
	sqlite3_finalize(s);
	*rows = r;
	if (rc) {
		pl_store_quarantine_free(*rows, *n);
		*rows = NULL;
		*n = 0;
	}
	return rc;
}

/* ----------------------------------------------------------- changes */

static int sq_seq(struct pl_store *st, int64_t *seq)
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

	c->seq = sqlite3_column_int64(s, 0);
	c->kind = pl_store_change_kind_parse(
		(const char *)sqlite3_column_text(s, 1));
	c->suite_id = sqlite3_column_int64(s, 2);
	c->run_id = sqlite3_column_int64(s, 3);
	c->board_id = col_dup(s, 4, oom);
}

static int sq_changes(struct pl_store *st, int64_t since, size_t max,
		      struct pl_change_row **rows, size_t *n)
{
	sqlite3_stmt *s;
	void *r;
	int rc = prepare(st, "SELECT seq, kind, suite_id, run_id, board_id "
			 "FROM changes WHERE seq > ? ORDER BY seq LIMIT ?", &s);

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

const struct pl_store_ops pl_store_sqlite_ops = {
	.name = "sqlite",
	.open = sq_open,
	.close = sq_close,
	.schema_latest = sq_schema_latest,
	.schema_version = sq_schema_version,
	.migrate = sq_migrate,
	.suite_begin = sq_suite_begin,
	.suite_end = sq_suite_end,
	.run_begin = sq_run_begin,
	.write_events = sq_write_events,
	.run_end = sq_run_end,
	.run_close = sq_run_close,
	.run_set = sq_run_set,
	.open_runs_list = sq_open_runs_list,
	.lease_alive = sq_lease_alive,
	.suites = sq_suites,
	.runs = sq_runs,
	.events = sq_events,
	.lease_take = sq_lease_take,
	.lease_change = sq_lease_change,
	.leases = sq_leases,
	.quarantine_set = sq_quarantine_set,
	.quarantine_release = sq_quarantine_release,
	.quarantines = sq_quarantines,
	.seq = sq_seq,
	.changes = sq_changes,
};
