/* SPDX-License-Identifier: MIT */
/*
 * The result store's PostgreSQL backend (libpq): one database for a lab that
 * spans hosts. Contracts are in store_internal.h (the ops) and
 * patchlab/store.h; set-up and roles in docs/lab-service.md.
 *
 * The tables are those of the SQLite backend, with the same schema version
 * numbers (store_sqlite.c), typed for PostgreSQL: times and seeds are BIGINT
 * (ns since the epoch fit until 2262; a seed past 2^63 is stored as its
 * two's complement and read back unchanged). The version lives in the
 * one-row table patchlab_schema.
 *
 * The change sequence must hand out numbers in COMMIT order, or a reader
 * that saw seq N could later miss N-1 committed after it. A sequence alone
 * does not: numbers are taken at INSERT time. So the trigger function takes
 * a transaction-scoped advisory lock before it takes a number; writers of
 * changes serialize from that point to their commit (one run end, suite or
 * lease change at a time per database: far below what a lab writes), and
 * NOTIFY patchlab_changes tells listeners there is something to read.
 *
 * Connection loss: a call made on a broken connection resets it first, so
 * a store survives a server restart between calls; a call that loses the
 * connection midway returns -EIO (nothing half-written: every write is one
 * transaction) and the caller may retry.
 *
 * Debt: calls block like the SQLite backend's. The worker and serve call
 * them where the SQLite store is called today; moving them onto the loop
 * (PQsocket, PQsendQuery) is the next step for serve.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "patchlab/error.h"
#include "patchlab/store.h"
#include "patchlab/text.h"
#include "results_internal.h"
#include "store_internal.h"

#define CONN(st) ((PGconn *)(st)->be)

/* Keys of pg_advisory_xact_lock(PL_LOCK_NS, key): "pl" in ASCII. */
#define PL_LOCK_NS 0x706c
#define PL_LOCK_MIGRATE 0
#define PL_LOCK_CHANGES 1

/* ------------------------------------------------------------ schema */

/*
 * migrations[i] takes version i to i+1, as in store_sqlite.c (the same
 * numbers mean the same tables). Append only.
 */
static const char *const migrations[] = {
	/* 0 -> 1: the first schema */
	"CREATE TABLE suites ("
	"  id BIGSERIAL PRIMARY KEY,"
	"  name TEXT NOT NULL,"
	"  file TEXT,"
	"  started BIGINT NOT NULL,"
	"  finished BIGINT,"
	"  gate TEXT CHECK (gate IN ('pass','fail','error')),"
	"  seed BIGINT NOT NULL DEFAULT 0,"
	"  cmdline TEXT);"
	"CREATE TABLE runs ("
	"  id BIGSERIAL PRIMARY KEY,"
	"  suite_id BIGINT REFERENCES suites(id),"
	"  board_id TEXT NOT NULL,"
	"  board_type TEXT NOT NULL,"
	"  image TEXT,"
	"  scenario TEXT NOT NULL,"
	"  params TEXT NOT NULL DEFAULT '{}',"
	"  cut TEXT NOT NULL DEFAULT '{}',"
	"  seed BIGINT NOT NULL DEFAULT 0,"
	"  verdict TEXT CHECK (verdict IN ('pass','rolled-back','bricked',"
	"    'recovered','fail','lab-error')),"
	"  reason TEXT,"
	"  started BIGINT NOT NULL,"
	"  finished BIGINT,"
	"  duration_ns BIGINT,"
	"  console_log TEXT,"
	"  replay TEXT,"
	"  controller TEXT NOT NULL,"
	"  controller_pid INTEGER NOT NULL,"
	"  controller_host TEXT NOT NULL,"
	"  state TEXT NOT NULL CHECK (state IN ('open','closed')),"
	"  CHECK ((state = 'open') = (verdict IS NULL)));"
	"CREATE INDEX runs_by_suite ON runs(suite_id);"
	"CREATE INDEX runs_by_board ON runs(board_id, id);"
	"CREATE INDEX runs_open ON runs(state) WHERE state = 'open';"
	"CREATE TABLE events ("
	"  id BIGSERIAL PRIMARY KEY,"
	"  run_id BIGINT NOT NULL REFERENCES runs(id),"
	"  t_ns BIGINT NOT NULL,"
	"  kind TEXT NOT NULL CHECK (kind IN ('power','trigger',"
	"    'console-match','probe','transfer','verdict','log')),"
	"  payload TEXT NOT NULL DEFAULT '{}');"
	"CREATE INDEX events_by_run ON events(run_id, t_ns);"
	"CREATE TABLE leases ("
	"  board_id TEXT PRIMARY KEY,"
	"  holder TEXT NOT NULL,"
	"  taken BIGINT NOT NULL,"
	"  renewed BIGINT NOT NULL,"
	"  expires BIGINT NOT NULL);",
	/* 1 -> 2: the change sequence, in commit order (see the top) */
	"CREATE TABLE changes ("
	"  seq BIGSERIAL PRIMARY KEY,"
	"  kind TEXT NOT NULL CHECK (kind IN ('suite','run','lease')),"
	"  suite_id BIGINT,"
	"  run_id BIGINT,"
	"  board_id TEXT);"
	"CREATE FUNCTION patchlab_change(k TEXT, s BIGINT, r BIGINT, b TEXT)"
	"  RETURNS void LANGUAGE plpgsql AS $$"
	"  DECLARE n BIGINT;"
	"  BEGIN"
	"    PERFORM pg_advisory_xact_lock(28780, 1);"
	"    INSERT INTO changes (kind, suite_id, run_id, board_id)"
	"      VALUES (k, s, r, b) RETURNING seq INTO n;"
	"    PERFORM pg_notify('patchlab_changes', n::text);"
	"  END $$;"
	"CREATE FUNCTION patchlab_suite_changed() RETURNS trigger"
	"  LANGUAGE plpgsql AS $$ BEGIN"
	"    PERFORM patchlab_change('suite', NEW.id, NULL, NULL);"
	"    RETURN NULL; END $$;"
	"CREATE FUNCTION patchlab_run_changed() RETURNS trigger"
	"  LANGUAGE plpgsql AS $$ BEGIN"
	"    PERFORM patchlab_change('run', NEW.suite_id, NEW.id, NEW.board_id);"
	"    RETURN NULL; END $$;"
	"CREATE FUNCTION patchlab_lease_changed() RETURNS trigger"
	"  LANGUAGE plpgsql AS $$ BEGIN"
	"    IF TG_OP = 'DELETE' THEN"
	"      PERFORM patchlab_change('lease', NULL, NULL, OLD.board_id);"
	"    ELSE"
	"      PERFORM patchlab_change('lease', NULL, NULL, NEW.board_id);"
	"    END IF;"
	"    RETURN NULL; END $$;"
	"CREATE TRIGGER changes_suite AFTER INSERT OR UPDATE ON suites"
	"  FOR EACH ROW EXECUTE FUNCTION patchlab_suite_changed();"
	"CREATE TRIGGER changes_run AFTER INSERT OR UPDATE ON runs"
	"  FOR EACH ROW EXECUTE FUNCTION patchlab_run_changed();"
	"CREATE TRIGGER changes_lease_new AFTER INSERT OR DELETE ON leases"
	"  FOR EACH ROW EXECUTE FUNCTION patchlab_lease_changed();"
	"CREATE TRIGGER changes_lease_set AFTER UPDATE ON leases FOR EACH ROW"
	"  WHEN (OLD.holder IS DISTINCT FROM NEW.holder OR"
	"        OLD.taken IS DISTINCT FROM NEW.taken)"
	"  EXECUTE FUNCTION patchlab_lease_changed();",
	/* 2 -> 3: the lab worker that ran a run (NULL for `patchlab run`) */
	"ALTER TABLE runs ADD COLUMN worker TEXT;",
};

#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

static int pg_schema_latest(void)
{
	return SCHEMA_VERSION;
}

/* ----------------------------------------------------------- helpers */

/* Text parameters of one statement; run() releases them. */
#define MAX_ARGS 16

struct args {
	const char *v[MAX_ARGS];
	char num[MAX_ARGS][24];
	char *own[MAX_ARGS]; /* UTF-8 copies made by arg_s() */
	int n;
	bool oom;
};

/*
 * A text parameter. PostgreSQL's TEXT holds valid UTF-8 only, and a store
 * takes any bytes (a console's reason for a verdict, a board name from a
 * file): invalid sequences are stored as U+FFFD, which is what every report
 * shows for them anyway (patchlab/text.h).
 */
static void arg_s(struct args *a, const char *s)
{
	if (s && !pl_utf8_valid(s, strlen(s))) {
		a->own[a->n] = pl_utf8_dup(s);
		if (!a->own[a->n])
			a->oom = true;
		s = a->own[a->n];
	}
	a->v[a->n++] = s;
}

static void args_release(struct args *a)
{
	for (int i = 0; i < a->n; i++) {
		free(a->own[i]);
		a->own[i] = NULL;
	}
}

static void arg_i(struct args *a, int64_t i)
{
	snprintf(a->num[a->n], sizeof(a->num[a->n]), "%" PRId64, i);
	a->v[a->n] = a->num[a->n];
	a->n++;
}

static void arg_u(struct args *a, uint64_t u)
{
	arg_i(a, (int64_t)u); /* BIGINT: two's complement past 2^63 */
}

static int pg_fail(struct pl_store *st, const char *what, const PGresult *r)
{
	const char *msg = r ? PQresultErrorMessage(r) : "";

	if (!msg || !*msg)
		msg = PQerrorMessage(CONN(st));
	pl_log(&st->log, PL_LOG_ERROR, "store %s: %s: %.*s", st->target, what,
	       (int)strcspn(msg, "\n"), msg);
	return -EIO;
}

/* A connection that broke since the last call is reset (the server
 * restarted, a proxy dropped it): one attempt, then the call fails. */
static int ready(struct pl_store *st)
{
	if (PQstatus(CONN(st)) == CONNECTION_OK)
		return 0;
	PQreset(CONN(st));
	if (PQstatus(CONN(st)) == CONNECTION_OK) {
		pl_log(&st->log, PL_LOG_WARN, "store %s: reconnected",
		       st->target);
		return 0;
	}
	return pg_fail(st, "reconnect", NULL);
}

/*
 * Run sql with a's parameters; *out gets the result when it is want
 * (PGRES_COMMAND_OK or PGRES_TUPLES_OK), else it is logged as what and
 * -EIO is returned. out NULL: the result is dropped.
 */
static int run(struct pl_store *st, const char *what, const char *sql,
	       struct args *a, ExecStatusType want, PGresult **out)
{
	PGresult *r;

	if (out)
		*out = NULL;
	if (a && a->oom) {
		args_release(a);
		return -ENOMEM;
	}
	/* no parameters: the simple protocol, which takes several
	 * statements at once (the migrations) */
	r = a ? PQexecParams(CONN(st), sql, a->n, NULL, a->v, NULL, NULL, 0) :
		PQexec(CONN(st), sql);
	if (a)
		args_release(a);
	if (!r)
		return -ENOMEM;
	if (PQresultStatus(r) != want) {
		int rc = pg_fail(st, what, r);

		PQclear(r);
		return rc;
	}
	if (out)
		*out = r;
	else
		PQclear(r);
	return 0;
}

static int cmd(struct pl_store *st, const char *what, const char *sql,
	       struct args *a)
{
	return run(st, what, sql, a, PGRES_COMMAND_OK, NULL);
}

/* Rows changed by a command, or -EIO. */
static int cmd_count(struct pl_store *st, const char *what, const char *sql,
		     struct args *a, long *count)
{
	PGresult *r;
	int rc = run(st, what, sql, a, PGRES_COMMAND_OK, &r);

	if (rc)
		return rc;
	*count = strtol(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	return 0;
}

static int begin(struct pl_store *st)
{
	int rc = ready(st);

	return rc ? rc : cmd(st, "begin", "BEGIN", NULL);
}

static int commit(struct pl_store *st)
{
	return cmd(st, "commit", "COMMIT", NULL);
}

static void rollback(struct pl_store *st)
{
	PGTransactionStatusType t = PQtransactionStatus(CONN(st));

	if (t == PQTRANS_INTRANS || t == PQTRANS_INERROR)
		PQclear(PQexec(CONN(st), "ROLLBACK"));
}

static char *val_dup(const PGresult *r, int row, int col, bool *oom)
{
	char *d;

	if (PQgetisnull(r, row, col))
		return NULL;
	d = strdup(PQgetvalue(r, row, col));
	if (!d)
		*oom = true;
	return d;
}

static int64_t val_i(const PGresult *r, int row, int col)
{
	if (PQgetisnull(r, row, col))
		return 0;
	return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static uint64_t val_u(const PGresult *r, int row, int col)
{
	return (uint64_t)val_i(r, row, col);
}

static const char *val_s(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

/* Rows of a query, each filled by fill() into a zeroed elem-byte row. */
typedef void (*fill_fn)(const PGresult *r, int row, void *out, bool *oom);

static int query(struct pl_store *st, const char *what, const char *sql,
		 struct args *a, size_t elem, fill_fn fill, void **rows,
		 size_t *n)
{
	struct pl_store_rows out = { .elem = elem };
	bool oom = false;
	PGresult *r;
	int rc;

	*rows = NULL;
	*n = 0;
	rc = ready(st);
	if (rc == 0)
		rc = run(st, what, sql, a, PGRES_TUPLES_OK, &r);
	if (rc)
		return rc;
	for (int i = 0; i < PQntuples(r) && !oom; i++) {
		void *row = pl_store_rows_add(&out);

		if (!row) {
			oom = true;
			break;
		}
		fill(r, i, row, &oom);
	}
	PQclear(r);
	*rows = out.buf;
	*n = out.n;
	return oom ? -ENOMEM : 0;
}

/* ---------------------------------------------------------- open/close */

/* Server notices ("relation exists, skipping") go to our log, not stderr. */
static void notice(void *ud, const char *msg)
{
	struct pl_store *st = ud;

	pl_log(&st->log, PL_LOG_DEBUG, "store %s: server says %.*s",
	       st->target, (int)strcspn(msg, "\n"), msg);
}

static int pg_open(struct pl_store *st, const char *uri)
{
	PGconn *c = PQconnectdb(uri);

	if (!c)
		return -ENOMEM;
	st->be = c;
	if (PQstatus(c) != CONNECTION_OK) {
		int rc = pg_fail(st, "connect", NULL);

		PQfinish(c);
		st->be = NULL;
		return rc;
	}
	PQsetNoticeProcessor(c, notice, st);
	return 0;
}

static void pg_close(struct pl_store *st)
{
	PQfinish(CONN(st));
	st->be = NULL;
}

/* The version, or 0 when patchlab_schema does not exist yet. */
static int read_version(struct pl_store *st, int *v)
{
	PGresult *r;
	int rc;

	*v = 0;
	r = PQexec(CONN(st), "SELECT to_regclass('patchlab_schema') IS NULL");
	if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
		rc = pg_fail(st, "read schema version", r);
		PQclear(r);
		return rc;
	}
	if (strcmp(PQgetvalue(r, 0, 0), "t") == 0) {
		PQclear(r);
		return 0;
	}
	PQclear(r);
	rc = run(st, "read schema version",
		 "SELECT version FROM patchlab_schema", NULL, PGRES_TUPLES_OK,
		 &r);
	if (rc)
		return rc;
	if (PQntuples(r) == 1)
		*v = (int)val_i(r, 0, 0);
	PQclear(r);
	return 0;
}

static int pg_schema_version(struct pl_store *st, int *v)
{
	int rc = ready(st);

	return rc ? rc : read_version(st, v);
}

/*
 * Bring the schema to SCHEMA_VERSION. The fast path reads the version
 * without a lock, so a role that may not create tables (docs/lab-service.md)
 * opens an up-to-date database; migrating takes an advisory lock that other
 * migrators wait for, and reads the version again under it.
 */
static int pg_migrate(struct pl_store *st, int *from)
{
	char sql[96];
	int v = 0, rc;

	rc = read_version(st, &v);
	if (from)
		*from = v;
	if (rc || v >= SCHEMA_VERSION)
		goto check_newer;
	rc = begin(st);
	if (rc)
		return rc;
	snprintf(sql, sizeof(sql), "SELECT pg_advisory_xact_lock(%d, %d)",
		 PL_LOCK_NS, PL_LOCK_MIGRATE);
	rc = run(st, "lock the schema", sql, NULL, PGRES_TUPLES_OK, NULL);
	if (rc == 0)
		rc = cmd(st, "create patchlab_schema",
			 "CREATE TABLE IF NOT EXISTS patchlab_schema ("
			 "  one BOOLEAN PRIMARY KEY DEFAULT true CHECK (one),"
			 "  version INTEGER NOT NULL);"
			 "INSERT INTO patchlab_schema (version) VALUES (0)"
			 "  ON CONFLICT DO NOTHING", NULL);
	if (rc == 0)
		rc = read_version(st, &v);
	for (; rc == 0 && v < SCHEMA_VERSION; v++) {
		rc = cmd(st, "migrate", migrations[v], NULL);
		if (rc == 0) {
			snprintf(sql, sizeof(sql), "UPDATE patchlab_schema "
				 "SET version = %d", v + 1);
			rc = cmd(st, "migrate", sql, NULL);
		}
		if (rc == 0)
			pl_log(&st->log, PL_LOG_INFO,
			       "store %s: schema migrated to version %d",
			       st->target, v + 1);
	}
	if (rc == 0)
		rc = commit(st);
	if (rc) {
		rollback(st);
		return rc;
	}
check_newer:
	if (rc == 0 && v > SCHEMA_VERSION) {
		pl_log(&st->log, PL_LOG_ERROR, "store %s: schema version %d is "
		       "newer than this patchlab (%d)", st->target, v,
		       SCHEMA_VERSION);
		rc = -EPROTO;
	}
	return rc;
}

/* ------------------------------------------------------------ suites */

/* The id a RETURNING id statement gave. */
static int insert_id(struct pl_store *st, const char *what, const char *sql,
		     struct args *a, int64_t *id)
{
	PGresult *r;
	int rc = ready(st);

	if (rc == 0)
		rc = run(st, what, sql, a, PGRES_TUPLES_OK, &r);
	if (rc)
		return rc;
	*id = val_i(r, 0, 0);
	PQclear(r);
	return 0;
}

static int pg_suite_begin(struct pl_store *st, const struct pl_suite_info *in,
			  uint64_t now, int64_t *id)
{
	struct args a = { 0 };

	arg_s(&a, in->name);
	arg_s(&a, in->file);
	arg_u(&a, now);
	arg_u(&a, in->seed);
	arg_s(&a, in->cmdline);
	return insert_id(st, "suite begin", "INSERT INTO suites (name, file, "
			 "started, seed, cmdline) VALUES ($1, $2, $3, $4, $5) "
			 "RETURNING id", &a, id);
}

static int pg_suite_end(struct pl_store *st, int64_t id, const char *gate,
			uint64_t now)
{
	struct args a = { 0 };
	long n = 0;
	int rc = ready(st);

	arg_u(&a, now);
	arg_s(&a, gate);
	arg_i(&a, id);
	if (rc == 0)
		rc = cmd_count(st, "suite end", "UPDATE suites SET finished = "
			       "$1, gate = $2 WHERE id = $3", &a, &n);
	return rc ? rc : n ? 0 : -ENOENT;
}

/* -------------------------------------------------------------- runs */

static int pg_run_begin(struct pl_store *st, const struct pl_run_info *in,
			const char *params, const char *cut, uint64_t now,
			int64_t *id)
{
	struct args a = { 0 };

	if (in->suite_id)
		arg_i(&a, in->suite_id);
	else
		arg_s(&a, NULL);
	arg_s(&a, in->board_id);
	arg_s(&a, in->board_type);
	arg_s(&a, in->image);
	arg_s(&a, in->scenario);
	arg_s(&a, params);
	arg_s(&a, cut);
	arg_u(&a, in->seed);
	arg_u(&a, now);
	arg_s(&a, in->console_log);
	arg_s(&a, in->replay);
	arg_s(&a, st->holder);
	arg_i(&a, st->pid);
	arg_s(&a, st->host);
	arg_s(&a, in->worker);
	return insert_id(st, "run begin", "INSERT INTO runs (suite_id, "
			 "board_id, board_type, image, scenario, params, cut, "
			 "seed, started, console_log, replay, controller, "
			 "controller_pid, controller_host, worker, state) "
			 "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, "
			 "$11, $12, $13, $14, $15, 'open') RETURNING id", &a,
			 id);
}

/* Write every buffered event; the caller holds the transaction. */
static int flush_events(struct pl_store *st)
{
	int rc = 0;

	for (size_t i = 0; i < st->nev && rc == 0; i++) {
		const struct pl_store_event *e = &st->ev[i];
		struct args a = { 0 };

		arg_i(&a, e->run_id);
		arg_u(&a, e->t_ns);
		arg_s(&a, pl_event_kind_name(e->kind));
		arg_s(&a, e->payload);
		rc = cmd(st, "write events", "INSERT INTO events (run_id, "
			 "t_ns, kind, payload) VALUES ($1, $2, $3, $4)", &a);
	}
	return rc;
}

static int pg_write_events(struct pl_store *st)
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

/* Close run id; the caller holds the transaction. -EALREADY when it is not
 * open (closed, or unknown: the caller tells them apart). */
static int close_run(struct pl_store *st, int64_t id, enum pl_verdict v,
		     const char *reason, uint64_t now)
{
	struct args a = { 0 };
	long n = 0;
	int rc;

	arg_s(&a, pl_verdict_name(v));
	arg_s(&a, reason);
	arg_u(&a, now);
	arg_i(&a, id);
	rc = cmd_count(st, "run end", "UPDATE runs SET state = 'closed', "
		       "verdict = $1, reason = $2, finished = $3, "
		       "duration_ns = greatest(0, $3 - started) "
		       "WHERE id = $4 AND state = 'open'", &a, &n);
	return rc ? rc : n ? 0 : -EALREADY;
}

static int run_exists(struct pl_store *st, int64_t id, bool *exists)
{
	struct args a = { 0 };
	PGresult *r;
	int rc;

	arg_i(&a, id);
	rc = run(st, "find run", "SELECT 1 FROM runs WHERE id = $1", &a,
		 PGRES_TUPLES_OK, &r);
	if (rc)
		return rc;
	*exists = PQntuples(r) > 0;
	PQclear(r);
	return 0;
}

static int pg_run_end(struct pl_store *st, int64_t id, enum pl_verdict v,
		      const char *reason, uint64_t now)
{
	bool exists;
	int rc = begin(st);

	if (rc)
		return rc;
	rc = flush_events(st);
	if (rc == 0)
		rc = close_run(st, id, v, reason, now);
	if (rc == -EALREADY) {
		rc = run_exists(st, id, &exists);
		if (rc == 0)
			rc = exists ? -EALREADY : -ENOENT;
	}
	if (rc == 0)
		rc = commit(st);
	if (rc)
		rollback(st);
	return rc;
}

static int pg_run_close(struct pl_store *st, int64_t id, enum pl_verdict v,
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

static int pg_run_set(struct pl_store *st, int64_t id, const char *column,
		      const char *text)
{
	struct args a = { 0 };
	long n = 0;
	int rc = ready(st);

	arg_s(&a, text);
	arg_i(&a, id);
	if (rc == 0)
		rc = cmd_count(st, "set run", strcmp(column, "cut") == 0 ?
			       "UPDATE runs SET cut = $1 WHERE id = $2" :
			       "UPDATE runs SET replay = $1 WHERE id = $2",
			       &a, &n);
	return rc ? rc : n ? 0 : -ENOENT;
}

/* ---------------------------------------------------------- recovery */

static bool pg_lease_alive(struct pl_store *st, const char *board,
			   const char *holder, uint64_t now)
{
	struct args a = { 0 };
	PGresult *r;
	bool alive;

	arg_s(&a, board);
	arg_s(&a, holder);
	arg_u(&a, now);
	if (ready(st) || run(st, "read lease", "SELECT 1 FROM leases WHERE "
			     "board_id = $1 AND holder = $2 AND expires > $3",
			     &a, PGRES_TUPLES_OK, &r))
		return true; /* when in doubt, leave the run alone */
	alive = PQntuples(r) > 0;
	PQclear(r);
	return alive;
}

static void fill_open_run(const PGresult *r, int i, void *row, bool *oom)
{
	struct pl_store_open_run *o = row;

	o->id = val_i(r, i, 0);
	o->board = val_dup(r, i, 1, oom);
	o->controller = val_dup(r, i, 2, oom);
	o->pid = (int)val_i(r, i, 3);
	o->host = val_dup(r, i, 4, oom);
}

static int pg_open_runs_list(struct pl_store *st,
			     struct pl_store_open_run **rows, size_t *n)
{
	void *r;
	int rc = query(st, "find open runs", "SELECT id, board_id, "
		       "controller, controller_pid, controller_host FROM runs "
		       "WHERE state = 'open' ORDER BY id", NULL, sizeof(**rows),
		       fill_open_run, &r, n);

	*rows = r;
	if (rc) {
		pl_store_open_runs_free(*rows, *n);
		*rows = NULL;
		*n = 0;
	}
	return rc;
}

/* ----------------------------------------------------------- queries */

static void fill_suite(const PGresult *r, int i, void *row, bool *oom)
{
	struct pl_suite_row *s = row;

	s->id = val_i(r, i, 0);
	s->name = val_dup(r, i, 1, oom);
	s->file = val_dup(r, i, 2, oom);
	s->cmdline = val_dup(r, i, 3, oom);
	s->gate = val_dup(r, i, 4, oom);
	s->seed = val_u(r, i, 5);
	s->started_ns = val_u(r, i, 6);
	s->finished_ns = val_u(r, i, 7);
}

static int pg_suites(struct pl_store *st, int64_t id,
		     struct pl_suite_row **rows, size_t *n)
{
	struct args a = { 0 };
	void *r;
	int rc;

	arg_i(&a, id);
	rc = query(st, "list suites", "SELECT id, name, file, cmdline, gate, "
		   "seed, started, finished FROM suites WHERE $1::bigint = 0 "
		   "OR id = $1 ORDER BY id DESC", &a, sizeof(**rows),
		   fill_suite, &r, n);
	*rows = r;
	if (rc) {
		pl_store_suites_free(*rows, *n);
		*rows = NULL;
		*n = 0;
	}
	return rc;
}

static void fill_run(const PGresult *r, int i, void *row, bool *oom)
{
	struct pl_run_row *o = row;
	const char *v;

	o->id = val_i(r, i, 0);
	o->suite_id = val_i(r, i, 1);
	o->board_id = val_dup(r, i, 2, oom);
	o->board_type = val_dup(r, i, 3, oom);
	o->image = val_dup(r, i, 4, oom);
	o->scenario = val_dup(r, i, 5, oom);
	o->params_json = val_dup(r, i, 6, oom);
	if (pl_cut_from_text(val_s(r, i, 7), &o->cut))
		*oom = true;
	o->seed = val_u(r, i, 8);
	v = val_s(r, i, 9);
	o->open = v && strcmp(v, "open") == 0;
	o->verdict = PL_VERDICT_LAB_ERROR;
	pl_verdict_parse(val_s(r, i, 10), &o->verdict);
	o->reason = val_dup(r, i, 11, oom);
	o->started_ns = val_u(r, i, 12);
	o->finished_ns = val_u(r, i, 13);
	o->duration_ns = val_u(r, i, 14);
	o->console_log = val_dup(r, i, 15, oom);
	o->replay = val_dup(r, i, 16, oom);
	o->controller = val_dup(r, i, 17, oom);
	o->controller_pid = (int)val_i(r, i, 18);
	o->controller_host = val_dup(r, i, 19, oom);
	o->worker = val_dup(r, i, 20, oom);
}

static int pg_runs(struct pl_store *st, const struct pl_store_run_query *q,
		   struct pl_run_row **rows, size_t *n)
{
	static const struct pl_run_filter all = { 0 };
	const struct pl_run_filter *f = q->f ? q->f : &all;
	struct args a = { 0 };
	void *r;
	int rc;

	arg_i(&a, f->suite_id);
	arg_s(&a, q->last_of_board ? q->last_of_board : f->board_id);
	arg_s(&a, f->board_type);
	arg_s(&a, f->scenario);
	arg_s(&a, f->by_verdict ? pl_verdict_name(f->verdict) : NULL);
	arg_s(&a, f->open_only ? "t" : "f");
	arg_i(&a, q->id);
	arg_s(&a, q->last_of_board ? "t" : "f");
	arg_s(&a, q->last_of_board ? "1" : NULL);
	rc = query(st, "list runs", "SELECT id, suite_id, board_id, "
		   "board_type, image, scenario, params, cut, seed, state, "
		   "verdict, reason, started, finished, duration_ns, "
		   "console_log, replay, controller, controller_pid, "
		   "controller_host, worker FROM runs WHERE "
		   "($1::bigint = 0 OR suite_id = $1) AND "
		   "($2::text IS NULL OR board_id = $2) AND "
		   "($3::text IS NULL OR board_type = $3) AND "
		   "($4::text IS NULL OR scenario = $4) AND "
		   "($5::text IS NULL OR verdict = $5) AND "
		   "(NOT $6::boolean OR state = 'open') AND "
		   "($7::bigint = 0 OR id = $7) "
		   "ORDER BY CASE WHEN $8::boolean THEN -id ELSE id END "
		   "LIMIT $9::bigint", &a, sizeof(**rows), fill_run, &r, n);
	*rows = r;
	if (rc) {
		pl_store_runs_free(*rows, *n);
		*rows = NULL;
		*n = 0;
	}
	return rc;
}

static void fill_event(const PGresult *r, int i, void *row, bool *oom)
{
	struct pl_event_row *e = row;

	e->id = val_i(r, i, 0);
	e->t_ns = val_u(r, i, 1);
	e->kind = PL_EV_LOG;
	pl_event_kind_parse(val_s(r, i, 2), &e->kind);
	e->payload_json = val_dup(r, i, 3, oom);
}

static int pg_events(struct pl_store *st, int64_t run_id,
		     struct pl_event_row **rows, size_t *n)
{
	struct args a = { 0 };
	void *r;
	int rc;

	arg_i(&a, run_id);
	rc = query(st, "read events", "SELECT id, t_ns, kind, payload FROM "
		   "events WHERE run_id = $1 ORDER BY t_ns, id", &a,
		   sizeof(**rows), fill_event, &r, n);
	*rows = r;
	if (rc) {
		pl_store_run_free(NULL, *rows, *n);
		*rows = NULL;
		*n = 0;
	}
	return rc;
}

/* ------------------------------------------------------------ leases */

/* The holder of board's lease (*holder NULL when none) and its expiry;
 * lock: FOR UPDATE, inside the caller's transaction. */
static int lease_read(struct pl_store *st, const char *board, bool lock,
		      char **holder, uint64_t *expires)
{
	struct args a = { 0 };
	bool oom = false;
	PGresult *r;
	int rc;

	*holder = NULL;
	arg_s(&a, board);
	rc = run(st, "read lease", lock ?
		 "SELECT holder, expires FROM leases WHERE board_id = $1 "
		 "FOR UPDATE" :
		 "SELECT holder, expires FROM leases WHERE board_id = $1",
		 &a, PGRES_TUPLES_OK, &r);
	if (rc)
		return rc;
	if (PQntuples(r) > 0) {
		*holder = val_dup(r, 0, 0, &oom);
		*expires = val_u(r, 0, 1);
	}
	PQclear(r);
	return oom ? -ENOMEM : 0;
}

static int pg_lease_take(struct pl_store *st, const char *board,
			 const char *holder, uint64_t now, uint64_t expires,
			 char **prev)
{
	struct args a = { 0 };
	uint64_t exp = 0;
	long n = 0;
	int rc;

	*prev = NULL;
	rc = begin(st);
	if (rc)
		return rc;
	rc = lease_read(st, board, true, prev, &exp);
	if (rc)
		goto err_rollback;
	if (*prev && strcmp(*prev, holder) != 0 && exp > now) {
		rc = -PL_ELEASED;
		goto err_rollback;
	}
	/* Two takers of a free board both find no row: the second one's
	 * conflict re-checks the WHERE against the first's lease. */
	arg_s(&a, board);
	arg_s(&a, holder);
	arg_u(&a, now);
	arg_u(&a, expires);
	rc = cmd_count(st, "take lease", "INSERT INTO leases (board_id, "
		       "holder, taken, renewed, expires) VALUES ($1, $2, $3, "
		       "$3, $4) ON CONFLICT (board_id) DO UPDATE SET "
		       "holder = $2, taken = CASE WHEN leases.holder = $2 "
		       "THEN leases.taken ELSE $3 END, renewed = $3, "
		       "expires = $4 WHERE leases.holder = $2 OR "
		       "leases.expires <= $3", &a, &n);
	if (rc)
		goto err_rollback;
	if (n == 0) {
		free(*prev);
		rc = lease_read(st, board, false, prev, &exp);
		if (rc == 0)
			rc = -PL_ELEASED;
		goto err_rollback;
	}
	rc = commit(st);
	if (rc)
		goto err_rollback;
	return 0;

err_rollback:
	rollback(st);
	if (rc != -PL_ELEASED) {
		free(*prev);
		*prev = NULL;
	}
	return rc;
}

static int pg_lease_change(struct pl_store *st, const char *board,
			   const char *holder, uint64_t now, uint64_t expires,
			   bool release)
{
	struct args a = { 0 };
	uint64_t exp;
	char *cur = NULL;
	long n = 0;
	int rc = ready(st);

	if (rc)
		return rc;
	arg_s(&a, board);
	arg_s(&a, holder);
	if (!release) {
		arg_u(&a, now);
		arg_u(&a, expires);
	}
	rc = cmd_count(st, "change lease", release ?
		       "DELETE FROM leases WHERE board_id = $1 AND "
		       "holder = $2" :
		       "UPDATE leases SET renewed = $3, expires = $4 "
		       "WHERE board_id = $1 AND holder = $2", &a, &n);
	if (rc || n)
		return rc;
	rc = lease_read(st, board, false, &cur, &exp);
	if (rc == 0)
		rc = cur ? -PL_ELEASED : -ENOENT;
	free(cur);
	return rc;
}

static void fill_lease(const PGresult *r, int i, void *row, bool *oom)
{
	struct pl_lease_row *l = row;

	l->board_id = val_dup(r, i, 0, oom);
	l->holder = val_dup(r, i, 1, oom);
	l->taken_ns = val_u(r, i, 2);
	l->renewed_ns = val_u(r, i, 3);
	l->expires_ns = val_u(r, i, 4);
}

static int pg_leases(struct pl_store *st, struct pl_lease_row **rows,
		     size_t *n)
{
	void *r;
	int rc = query(st, "list leases", "SELECT board_id, holder, taken, "
		       "renewed, expires FROM leases ORDER BY board_id", NULL,
		       sizeof(**rows), fill_lease, &r, n);

	*rows = r;
	if (rc) {
		pl_store_leases_free(*rows, *n);
		*rows = NULL;
		*n = 0;
	}
	return rc;
}

/* ----------------------------------------------------------- changes */

static int pg_seq(struct pl_store *st, int64_t *seq)
{
	PGresult *r;
	int rc = ready(st);

	if (rc == 0)
		rc = run(st, "read the change sequence", "SELECT "
			 "coalesce(max(seq), 0) FROM changes", NULL,
			 PGRES_TUPLES_OK, &r);
	if (rc)
		return rc;
	*seq = val_i(r, 0, 0);
	PQclear(r);
	return 0;
}

static void fill_change(const PGresult *r, int i, void *row, bool *oom)
{
	struct pl_change_row *c = row;

	c->seq = val_i(r, i, 0);
	c->kind = pl_store_change_kind_parse(val_s(r, i, 1));
	c->suite_id = val_i(r, i, 2);
	c->run_id = val_i(r, i, 3);
	c->board_id = val_dup(r, i, 4, oom);
}

static int pg_changes(struct pl_store *st, int64_t since, size_t max,
		      struct pl_change_row **rows, size_t *n)
{
	struct args a = { 0 };
	void *r;
	int rc;

	arg_i(&a, since);
	if (max)
		arg_i(&a, (int64_t)max);
	else
		arg_s(&a, NULL);
	rc = query(st, "read changes", "SELECT seq, kind, suite_id, run_id, "
		   "board_id FROM changes WHERE seq > $1 ORDER BY seq "
		   "LIMIT $2::bigint", &a, sizeof(**rows), fill_change, &r, n);
	*rows = r;
	if (rc) {
		pl_store_changes_free(*rows, *n);
		*rows = NULL;
		*n = 0;
	}
	return rc;
}

const struct pl_store_ops pl_store_pg_ops = {
	.name = "postgresql",
	.open = pg_open,
	.close = pg_close,
	.schema_latest = pg_schema_latest,
	.schema_version = pg_schema_version,
	.migrate = pg_migrate,
	.suite_begin = pg_suite_begin,
	.suite_end = pg_suite_end,
	.run_begin = pg_run_begin,
	.write_events = pg_write_events,
	.run_end = pg_run_end,
	.run_close = pg_run_close,
	.run_set = pg_run_set,
	.open_runs_list = pg_open_runs_list,
	.lease_alive = pg_lease_alive,
	.suites = pg_suites,
	.runs = pg_runs,
	.events = pg_events,
	.lease_take = pg_lease_take,
	.lease_change = pg_lease_change,
	.leases = pg_leases,
	.seq = pg_seq,
	.changes = pg_changes,
};
