/* SPDX-License-Identifier: MIT */
/*
 * The result store's PostgreSQL backend (libpq): one database for a lab that
 * spans hosts. Contracts are in store_internal.h (the ops) and
 * patchlab/store.h; set-up and roles in docs/lab-service.md.
 *
 * The tables are those of the SQLite backend (store_sqlite.c), with the
 * same schema version numbers up to 3; PostgreSQL's 4 is the lab queue and
 * its 5 is SQLite's 4 (not-run, incomplete), typed for PostgreSQL: times and seeds are BIGINT
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
#include <time.h>

#include <jansson.h>
#include <libpq-fe.h>
#include <openssl/sha.h>

#include "patchlab/error.h"
#include "patchlab/store.h"
#include "patchlab/strbuf.h"
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
 * migrations[i] takes version i to i+1. 1..3 are SQLite's (store_sqlite.c),
 * 4 the lab queue (PostgreSQL only), 5 SQLite's 4, 9 sweep jobs. Append
 * only.
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
	/* 3 -> 4: the lab service's queue (PostgreSQL only; store_queue.c).
	 * Images by content; workers and the boards they serve; a queued
	 * suite and its jobs, one per run, each pinned to a board. */
	"CREATE TABLE images ("
	"  sha256 TEXT PRIMARY KEY,"
	"  size BIGINT NOT NULL,"
	"  data BYTEA NOT NULL,"
	"  stored BIGINT NOT NULL);"
	"CREATE TABLE workers ("
	"  name TEXT PRIMARY KEY,"
	"  lab TEXT NOT NULL,"
	"  seen BIGINT NOT NULL,"
	"  online BOOLEAN NOT NULL);"
	"CREATE TABLE boards ("
	"  id TEXT PRIMARY KEY,"
	"  type TEXT NOT NULL,"
	"  tags TEXT NOT NULL DEFAULT '[]',"
	"  worker TEXT NOT NULL REFERENCES workers(name));"
	"CREATE TABLE queue ("
	"  suite_id BIGINT PRIMARY KEY REFERENCES suites(id),"
	"  submitter TEXT NOT NULL,"
	"  priority INTEGER NOT NULL DEFAULT 0,"
	"  images TEXT NOT NULL DEFAULT '{}',"
	"  queued BIGINT NOT NULL,"
	"  deadline BIGINT);"
	"CREATE TABLE jobs ("
	"  id BIGSERIAL PRIMARY KEY,"
	"  suite_id BIGINT NOT NULL REFERENCES queue(suite_id),"
	"  idx INTEGER NOT NULL,"
	"  board_id TEXT NOT NULL,"
	"  board_type TEXT NOT NULL,"
	"  scenario TEXT NOT NULL,"
	"  params TEXT NOT NULL DEFAULT '{}',"
	"  seed BIGINT NOT NULL,"
	"  priority INTEGER NOT NULL,"
	"  submitter TEXT NOT NULL,"
	"  queued BIGINT NOT NULL,"
	"  state TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued',"
	"    'claimed','done','cancelled','timed-out')),"
	"  worker TEXT,"
	"  attempt INTEGER NOT NULL DEFAULT 0,"
	"  expires BIGINT,"
	"  run_id BIGINT REFERENCES runs(id),"
	"  reason TEXT,"
	"  claimed BIGINT,"
	"  ended BIGINT,"
	"  UNIQUE (suite_id, idx));"
	"CREATE INDEX jobs_waiting ON jobs (board_id, priority DESC, queued, id)"
	"  WHERE state = 'queued';"
	"CREATE INDEX jobs_claimed ON jobs (worker) WHERE state = 'claimed';"
	/* A job's end in one round trip (pl_store_job_finish()): 0 done,
	 * 1 the lease was gone (the run is deleted), 2 no such run. */
	"CREATE FUNCTION patchlab_job_finish(j BIGINT, w TEXT, att INTEGER,"
	"  r BIGINT, now BIGINT) RETURNS INTEGER LANGUAGE plpgsql AS $$"
	"  DECLARE s BIGINT; own BIGINT;"
	"  BEGIN"
	"    SELECT suite_id INTO own FROM runs WHERE id = r;"
	"    IF NOT FOUND THEN RETURN 2; END IF;"
	"    SELECT suite_id INTO s FROM jobs WHERE id = j AND"
	"      state = 'claimed' AND worker = w AND attempt = att AND"
	"      expires > now FOR UPDATE;"
	"    IF NOT FOUND THEN"
	"      DELETE FROM events WHERE run_id = r;"
	"      DELETE FROM runs WHERE id = r;"
	"      s := NULL;"
	"    ELSE"
	"      UPDATE runs SET suite_id = s, worker = w WHERE id = r;"
	"      UPDATE jobs SET state = 'done', run_id = r, expires = NULL,"
	"        ended = now WHERE id = j;"
	"      PERFORM pg_notify('patchlab_queue', '');"
	"    END IF;"
	"    IF own IS DISTINCT FROM s THEN"
	"      DELETE FROM suites x WHERE x.id = own AND NOT EXISTS (SELECT 1"
	"        FROM runs WHERE suite_id = own) AND NOT EXISTS (SELECT 1"
	"        FROM queue WHERE suite_id = own);"
	"    END IF;"
	"    RETURN CASE WHEN s IS NULL THEN 1 ELSE 0 END;"
	"  END $$;",
	/* 4 -> 5: a run that could not run is stored as verdict 'not-run'
	 * (with its reason), a suite that did not test everything as gate
	 * 'incomplete' (the SQLite backend's 3 -> 4) */
	"ALTER TABLE suites DROP CONSTRAINT suites_gate_check;"
	"ALTER TABLE suites ADD CONSTRAINT suites_gate_check"
	"  CHECK (gate IN ('pass','fail','error','incomplete'));"
	"ALTER TABLE runs DROP CONSTRAINT runs_verdict_check;"
	"ALTER TABLE runs ADD CONSTRAINT runs_verdict_check"
	"  CHECK (verdict IN ('pass','rolled-back','bricked','recovered',"
	"    'fail','lab-error','not-run'));",
	/* 5 -> 6: a job's end is idempotent. A worker whose connection broke
	 * after the server committed the end asks again: the job is already
	 * done with this run, which must be kept, not dropped as late. */
	"ALTER FUNCTION patchlab_job_finish(BIGINT, TEXT, INTEGER, BIGINT,"
	"  BIGINT) RENAME TO patchlab_job_finish_once;"
	"CREATE FUNCTION patchlab_job_finish(j BIGINT, w TEXT, att INTEGER,"
	"  r BIGINT, now BIGINT) RETURNS INTEGER LANGUAGE plpgsql AS $$"
	"  BEGIN"
	"    PERFORM 1 FROM jobs WHERE id = j AND state = 'done' AND"
	"      run_id = r AND worker = w AND attempt = att;"
	"    IF FOUND THEN RETURN 0; END IF;"
	"    RETURN patchlab_job_finish_once(j, w, att, r, now);"
	"  END $$;",
	/* 6 -> 7: boards set aside, kept until released (patchlab/store.h,
	 * "quarantine"), seen by every worker; setting or releasing one is
	 * a change of the board */
	"CREATE TABLE quarantine ("
	"  board_id TEXT PRIMARY KEY,"
	"  kind TEXT NOT NULL CHECK (kind IN ('device','lab')),"
	"  reason TEXT NOT NULL,"
	"  holder TEXT,"
	"  run_id BIGINT,"
	"  since BIGINT NOT NULL);"
	"CREATE TRIGGER changes_quarantine AFTER INSERT OR UPDATE OR DELETE"
	"  ON quarantine FOR EACH ROW EXECUTE FUNCTION"
	"  patchlab_lease_changed();",
	/* 7 -> 8: round-robin between submitters (pl_store_claim()): each
	 * claim stamps its submitter with the next turn; among the jobs of
	 * one priority the submitter served longest ago goes first */
	"CREATE SEQUENCE patchlab_turn;"
	"CREATE TABLE submitters ("
	"  name TEXT PRIMARY KEY,"
	"  served BIGINT NOT NULL);",
	/* 8 -> 9: a job queued, claimed, requeued or
	 * ended is a change of kind 'job' (its suite and board), so serve's
	 * queue and suite pages follow the queue. One change per suite and
	 * board per transaction (a submit of 800 jobs on 4 boards is 4
	 * changes: the keys already recorded are kept in a transaction-local
	 * setting); a lease renewal (expires alone) is none. Self-contained:
	 * it may be renumbered as a whole. */
	"ALTER TABLE changes DROP CONSTRAINT changes_kind_check;"
	"ALTER TABLE changes ADD CONSTRAINT changes_kind_check"
	"  CHECK (kind IN ('suite','run','lease','job'));"
	"CREATE FUNCTION patchlab_job_changed() RETURNS trigger"
	"  LANGUAGE plpgsql AS $$"
	"  DECLARE"
	"    k TEXT := '<' || NEW.suite_id::text || '/' ||"
	"      md5(NEW.board_id) || '>';"
	"    seen TEXT := coalesce(current_setting('patchlab.job_changes',"
	"      true), '');"
	"  BEGIN"
	"    IF strpos(seen, k) = 0 THEN"
	"      PERFORM set_config('patchlab.job_changes', seen || k, true);"
	"      PERFORM patchlab_change('job', NEW.suite_id, NULL,"
	"        NEW.board_id);"
	"    END IF;"
	"    RETURN NULL; END $$;"
	/* a claim takes the changes' lock before the submitter's turn row
	 * (pl_store_claim()): claims wait in line for the lock alone, not
	 * behind one that holds the row while it waits for the lock */
	"CREATE FUNCTION patchlab_lock_changes() RETURNS boolean"
	"  LANGUAGE plpgsql AS $$ BEGIN"
	"    PERFORM pg_advisory_xact_lock(28780, 1); RETURN true; END $$;"
	"CREATE TRIGGER changes_job_new AFTER INSERT ON jobs"
	"  FOR EACH ROW EXECUTE FUNCTION patchlab_job_changed();"
	"CREATE TRIGGER changes_job_set AFTER UPDATE ON jobs FOR EACH ROW"
	"  WHEN (OLD.state IS DISTINCT FROM NEW.state OR"
	"        OLD.attempt IS DISTINCT FROM NEW.attempt OR"
	"        OLD.worker IS DISTINCT FROM NEW.worker)"
	"  EXECUTE FUNCTION patchlab_job_changed();",
	/* 9 -> 10: sweep jobs (pl_store_job_finish_sweep()): a job that runs
	 * the whole sweep of the suite's run `sweep` (1-based) on its board,
	 * and ends with every run it recorded (`runs`), moved from the
	 * attempt's own suite in one statement: 0 done (or done before by
	 * this attempt), 1 the lease was gone (the attempt's runs and suite
	 * are deleted), 2 the attempt recorded no run, 3 `own` is no
	 * attempt's suite (a queued suite, the job's own) */
	"ALTER TABLE jobs ADD COLUMN sweep INTEGER;"
	"ALTER TABLE jobs ADD COLUMN runs BIGINT[];"
	"CREATE FUNCTION patchlab_job_finish_sweep(j BIGINT, w TEXT,"
	"  att INTEGER, own BIGINT, now BIGINT) RETURNS INTEGER"
	"  LANGUAGE plpgsql AS $$"
	"  DECLARE s BIGINT; ids BIGINT[];"
	"  BEGIN"
	"    PERFORM 1 FROM jobs WHERE id = j AND state = 'done' AND"
	"      worker = w AND attempt = att AND runs IS NOT NULL;"
	"    IF FOUND THEN RETURN 0; END IF;"
	"    IF EXISTS (SELECT 1 FROM queue WHERE suite_id = own) THEN"
	"      RETURN 3; END IF;"
	"    SELECT suite_id INTO s FROM jobs WHERE id = j AND"
	"      state = 'claimed' AND worker = w AND attempt = att AND"
	"      expires > now AND sweep IS NOT NULL FOR UPDATE;"
	"    IF NOT FOUND THEN"
	"      DELETE FROM events WHERE run_id IN (SELECT id FROM runs"
	"        WHERE suite_id = own);"
	"      DELETE FROM runs WHERE suite_id = own;"
	"      DELETE FROM suites WHERE id = own;"
	"      RETURN 1;"
	"    END IF;"
	"    SELECT array_agg(id ORDER BY id) INTO ids FROM runs"
	"      WHERE suite_id = own;"
	"    IF ids IS NULL THEN RETURN 2; END IF;"
	"    UPDATE runs SET suite_id = s, worker = w WHERE suite_id = own;"
	"    DELETE FROM suites WHERE id = own;"
	"    UPDATE jobs SET state = 'done', runs = ids, run_id = NULL,"
	"      expires = NULL, ended = now WHERE id = j;"
	"    PERFORM pg_notify('patchlab_queue', '');"
	"    RETURN 0;"
	"  END $$;",
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
	unsigned waited = 0, step = 50;

	/* a server that went away since the last call closed the socket:
	 * reading what is pending finds that out before a statement fails
	 * on it (and keeps any NOTIFY for pl_store_notified()) */
	if (PQstatus(CONN(st)) == CONNECTION_OK &&
	    PQtransactionStatus(CONN(st)) == PQTRANS_IDLE)
		PQconsumeInput(CONN(st));
	if (PQstatus(CONN(st)) == CONNECTION_OK)
		return 0;
	/* a server restarting takes a second or two: wait for it up to the
	 * store's busy timeout, as SQLite's busy handler waits for a file
	 * (this call blocks, like every store call) */
	for (;;) {
		PQreset(CONN(st));
		if (PQstatus(CONN(st)) == CONNECTION_OK) {
			pl_log(&st->log, PL_LOG_WARN, "store %s: reconnected "
			       "after %u ms", st->target, waited);
			return 0;
		}
		if (waited >= st->busy_timeout_ms)
			return pg_fail(st, "reconnect", NULL);
		nanosleep(&(struct timespec){ .tv_nsec = step * 1000000L },
			  NULL);
		waited += step;
		step = step * 2 > 1000 ? 1000 : step * 2;
	}
}

static bool pg_lost(struct pl_store *st)
{
	return PQstatus(CONN(st)) != CONNECTION_OK;
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
	bool alone;
	int gone = 0;

	if (out)
		*out = NULL;
	if (a && a->oom) {
		args_release(a);
		return -ENOMEM;
	}
	/* outside a transaction a statement stands alone (or is BEGIN):
	 * when the connection broke under it -- a restarting server closes
	 * every connection, most often before the statement ran, else
	 * rolling back what it had not committed -- it is sent once more on
	 * a new connection (the statements that change the queue are safe
	 * to repeat: a job's end is idempotent). Inside a transaction the
	 * caller's whole transaction failed instead. */
	alone = PQtransactionStatus(CONN(st)) == PQTRANS_IDLE;
	for (int tries = 0;; tries++) {
		/* no parameters: the simple protocol, which takes several
		 * statements at once (the migrations) */
		r = a ? PQexecParams(CONN(st), sql, a->n, NULL, a->v, NULL,
				     NULL, 0) :
			PQexec(CONN(st), sql);
		if (!alone || tries > 0 || !r ||
		    PQresultStatus(r) == want || !pg_lost(st))
			break;
		pl_log(&st->log, PL_LOG_WARN, "store %s: %s: the connection "
		       "broke; once more on a new one", st->target, what);
		PQclear(r);
		r = NULL;
		gone = ready(st);
		if (gone)
			break;
	}
	if (a)
		args_release(a);
	if (!r)
		return gone ? gone : -ENOMEM;
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
	PQsetNoticeProcessor(c, notice, st);
	/* a server restarting refuses for a moment: ready() waits for it as
	 * it does for a connection that broke */
	if (PQstatus(c) != CONNECTION_OK && ready(st)) {
		PQfinish(c);
		st->be = NULL;
		return -EIO;
	}
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
	if ((!r || PQresultStatus(r) != PGRES_TUPLES_OK) && pg_lost(st)) {
		/* the server went away between connecting and this first
		 * statement (a restart): wait for it as ready() does, once */
		PQclear(r);
		r = NULL;
		if (ready(st) == 0)
			r = PQexec(CONN(st), "SELECT to_regclass("
				   "'patchlab_schema') IS NULL");
	}
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

/* -------------------------------------------------------- quarantine */

static int pg_quarantine_set(struct pl_store *st, const char *board,
			     const char *kind, const char *reason,
			     int64_t run_id, uint64_t now)
{
	struct args a = { 0 };
	int rc = ready(st);

	if (rc)
		return rc;
	arg_s(&a, board);
	arg_s(&a, kind);
	arg_s(&a, reason);
	arg_s(&a, st->holder);
	if (run_id)
		arg_i(&a, run_id);
	else
		a.v[a.n++] = NULL;
	arg_u(&a, now);
	return cmd(st, "quarantine", "INSERT INTO quarantine (board_id, kind, "
		   "reason, holder, run_id, since) VALUES ($1, $2, $3, $4, "
		   "$5, $6) ON CONFLICT (board_id) DO UPDATE SET kind = "
		   "excluded.kind, reason = excluded.reason, holder = "
		   "excluded.holder, run_id = excluded.run_id, since = "
		   "excluded.since", &a);
}

static int pg_quarantine_release(struct pl_store *st, const char *board)
{
	struct args a = { 0 };
	long n = 0;
	int rc = ready(st);

	if (rc)
		return rc;
	arg_s(&a, board);
	rc = cmd_count(st, "release quarantine", "DELETE FROM quarantine "
		       "WHERE board_id = $1", &a, &n);
	return rc ? rc : n ? 0 : -ENOENT;
}

static void fill_quarantine(const PGresult *r, int i, void *row, bool *oom)
{
	struct pl_quarantine_row *q = row;

	q->board_id = val_dup(r, i, 0, oom);
	if (pl_quarantine_kind_parse(val_s(r, i, 1), &q->kind))
		q->kind = PL_QUARANTINE_DEVICE;
	q->reason = val_dup(r, i, 2, oom);
	q->holder = val_dup(r, i, 3, oom);
	q->run_id = val_i(r, i, 4);
	q->since_ns = val_u(r, i, 5);
}

static int pg_quarantines(struct pl_store *st,
			  struct pl_quarantine_row **rows, size_t *n)
{
	void *r;
	int rc = query(st, "list quarantine", "SELECT board_id, kind, reason, "
		       "holder, run_id, since FROM quarantine ORDER BY "
		       "board_id", NULL, sizeof(**rows), fill_quarantine, &r,
		       n);

	*rows = r;
	if (rc) {
		pl_store_quarantine_free(*rows, *n);
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
	.quarantine_set = pg_quarantine_set,
	.quarantine_release = pg_quarantine_release,
	.quarantines = pg_quarantines,
	.seq = pg_seq,
	.changes = pg_changes,
	.lost = pg_lost,
};

/* ================================================================ queue */
/*
 * The lab service's queue (patchlab/store.h, section "queue"). Jobs are
 * claimed with FOR UPDATE SKIP LOCKED: a worker never waits on a row
 * another worker is claiming, and never gets the same one. A claimed job
 * carries its worker, its attempt number and its lease expiry; every write
 * that ends an attempt checks all three in the same transaction, so an
 * attempt that lost its lease records nothing.
 */

static const char *const job_state_names[PL_JOB_STATE_COUNT] = {
	"queued", "claimed", "done", "cancelled", "timed-out",
};

const char *pl_job_state_name(enum pl_job_state s)
{
	return (unsigned)s < PL_JOB_STATE_COUNT ? job_state_names[s] : "?";
}

static enum pl_job_state job_state_parse(const char *s)
{
	for (int i = 0; s && i < PL_JOB_STATE_COUNT; i++)
		if (strcmp(s, job_state_names[i]) == 0)
			return (enum pl_job_state)i;
	return PL_JOB_DONE;
}

static int need_pg(struct pl_store *st)
{
	if (st->ops != &pl_store_pg_ops) {
		pl_log(&st->log, PL_LOG_ERROR, "store %s: the lab queue needs "
		       "PostgreSQL (--db postgresql://...)", st->target);
		return -ENOTSUP;
	}
	return ready(st);
}

/* ------------------------------------------------------------ images */

static void sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	SHA256(data, len, md);
	for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

int pl_store_image_put(struct pl_store *st, const void *data, size_t len,
		       char sha[65])
{
	char size[24], now[24];
	const char *v[4];
	int lens[4] = { 0 }, fmts[4] = { 0, 0, 1, 0 };
	PGresult *r;
	int rc = need_pg(st);

	if (rc)
		return rc;
	sha256_hex(data, len, sha);
	snprintf(size, sizeof(size), "%zu", len);
	snprintf(now, sizeof(now), "%" PRId64, (int64_t)pl_store_now(st));
	v[0] = sha;
	v[1] = size;
	v[2] = data;
	lens[2] = (int)len;
	v[3] = now;
	/* The bytes travel only when the server lacks them. */
	{
		struct args a = { 0 };

		arg_s(&a, sha);
		rc = run(st, "find image", "SELECT 1 FROM images WHERE "
			 "sha256 = $1", &a, PGRES_TUPLES_OK, &r);
		if (rc)
			return rc;
		if (PQntuples(r) > 0) {
			PQclear(r);
			return 0;
		}
		PQclear(r);
	}
	r = PQexecParams(CONN(st), "INSERT INTO images (sha256, size, data, "
			 "stored) VALUES ($1, $2, $3, $4) ON CONFLICT DO "
			 "NOTHING", 4, NULL, v, lens, fmts, 0);
	if (!r)
		return -ENOMEM;
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		rc = pg_fail(st, "store image", r);
	PQclear(r);
	return rc;
}

int pl_store_image_get(struct pl_store *st, const char *sha, void **data,
		       size_t *len)
{
	const char *v[1] = { sha };
	PGresult *r;
	int rc = need_pg(st);

	*data = NULL;
	*len = 0;
	if (rc)
		return rc;
	r = PQexecParams(CONN(st), "SELECT data FROM images WHERE sha256 = $1",
			 1, NULL, v, NULL, NULL, 1);
	if (!r)
		return -ENOMEM;
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		rc = pg_fail(st, "read image", r);
	} else if (PQntuples(r) == 0) {
		rc = -ENOENT;
	} else {
		*len = (size_t)PQgetlength(r, 0, 0);
		*data = malloc(*len ? *len : 1);
		if (!*data)
			rc = -ENOMEM;
		else
			memcpy(*data, PQgetvalue(r, 0, 0), *len);
	}
	PQclear(r);
	return rc;
}

/* ----------------------------------------------------------- workers */

static int end_attempt(struct pl_store *st, int64_t job, const char *worker,
		       const char *reason, bool requeue);

struct expired {
	int64_t id;
	int attempt;
	char *worker;
};

static void fill_expired(const PGresult *r, int i, void *row, bool *oom)
{
	struct expired *e = row;

	e->id = val_i(r, i, 0);
	e->attempt = (int)val_i(r, i, 1);
	e->worker = val_dup(r, i, 2, oom);
}

static void expired_free(struct expired *e, size_t n)
{
	for (size_t i = 0; e && i < n; i++)
		free(e[i].worker);
	free(e);
}

/* Take back the jobs an earlier life of worker name holds; inside the
 * caller's transaction. */
static int take_back(struct pl_store *st, const char *name, int max_attempts)
{
	struct args a = { 0 };
	struct expired *e = NULL;
	size_t ne = 0;
	void *r;
	int rc;

	arg_s(&a, name);
	rc = query(st, "take back jobs", "SELECT id, attempt, worker FROM jobs "
		   "WHERE state = 'claimed' AND worker = $1 ORDER BY id FOR "
		   "UPDATE", &a, sizeof(*e), fill_expired, &r, &ne);
	e = r;
	for (size_t i = 0; rc == 0 && i < ne; i++) {
		char why[256];

		snprintf(why, sizeof(why), "worker %s restarted during the run "
			 "(attempt %d)", name, e[i].attempt);
		rc = end_attempt(st, e[i].id, name, why,
				 e[i].attempt < max_attempts);
		if (rc == 0)
			pl_log(&st->log, PL_LOG_WARN, "store %s: job %" PRId64
			       ": %s", st->target, e[i].id, why);
	}
	expired_free(e, ne);
	return rc;
}

int pl_store_worker_register(struct pl_store *st, const char *name,
			     const char *lab,
			     const struct pl_worker_board *boards, size_t n,
			     int max_attempts)
{
	int rc = need_pg(st);

	if (rc)
		return rc;
	rc = begin(st);
	if (rc)
		return rc;
	{
		struct args a = { 0 };

		arg_s(&a, name);
		arg_s(&a, lab);
		arg_u(&a, pl_store_now(st));
		rc = cmd(st, "register worker", "INSERT INTO workers (name, "
			 "lab, seen, online) VALUES ($1, $2, $3, true) ON "
			 "CONFLICT (name) DO UPDATE SET lab = $2, seen = $3, "
			 "online = true", &a);
	}
	if (rc == 0)
		rc = take_back(st, name, max_attempts);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		struct args a = { 0 };
		json_t *tags = json_array();
		char *text;

		for (size_t t = 0; tags && boards[i].tags && boards[i].tags[t];
		     t++)
			json_array_append_new(tags,
					      json_string(boards[i].tags[t]));
		text = tags ? json_dumps(tags, JSON_COMPACT) : NULL;
		json_decref(tags);
		if (!text) {
			rc = -ENOMEM;
			break;
		}
		arg_s(&a, boards[i].id);
		arg_s(&a, boards[i].type);
		arg_s(&a, text);
		arg_s(&a, name);
		rc = cmd(st, "register board", "INSERT INTO boards (id, type, "
			 "tags, worker) VALUES ($1, $2, $3, $4) ON CONFLICT "
			 "(id) DO UPDATE SET type = $2, tags = $3, worker = $4",
			 &a);
		free(text);
	}
	if (rc == 0)
		rc = commit(st);
	if (rc)
		rollback(st);
	return rc;
}

int pl_store_worker_offline(struct pl_store *st, const char *name)
{
	struct args a = { 0 };
	int rc = need_pg(st);

	if (rc)
		return rc;
	arg_s(&a, name);
	return cmd(st, "worker offline", "UPDATE workers SET online = false "
		   "WHERE name = $1", &a);
}

static void fill_board(const PGresult *r, int i, void *row, bool *oom)
{
	struct pl_board_reg *b = row;
	json_t *tags = json_loads(PQgetvalue(r, i, 2), 0, NULL);
	size_t n = json_array_size(tags);

	b->id = val_dup(r, i, 0, oom);
	b->type = val_dup(r, i, 1, oom);
	b->worker = val_dup(r, i, 3, oom);
	b->online = strcmp(PQgetvalue(r, i, 4), "t") == 0;
	b->tags = calloc(n + 1, sizeof(*b->tags));
	if (!b->tags)
		*oom = true;
	for (size_t t = 0; b->tags && t < n; t++) {
		b->tags[t] = strdup(json_string_value(json_array_get(tags, t)) ?
					    json_string_value(
						    json_array_get(tags, t)) :
					    "");
		if (!b->tags[t])
			*oom = true;
	}
	json_decref(tags);
}

void pl_store_boards_free(struct pl_board_reg *rows, size_t n)
{
	for (size_t i = 0; rows && i < n; i++) {
		free(rows[i].id);
		free(rows[i].type);
		free(rows[i].worker);
		for (size_t t = 0; rows[i].tags && rows[i].tags[t]; t++)
			free(rows[i].tags[t]);
		free(rows[i].tags);
	}
	free(rows);
}

int pl_store_list_boards(struct pl_store *st, struct pl_board_reg **rows,
			 size_t *n)
{
	void *r;
	int rc = need_pg(st);

	*rows = NULL;
	*n = 0;
	if (rc)
		return rc;
	rc = query(st, "list boards", "SELECT b.id, b.type, b.tags, b.worker, "
		   "w.online FROM boards b JOIN workers w ON w.name = b.worker "
		   "ORDER BY b.id", NULL, sizeof(**rows), fill_board, &r, n);
	*rows = r;
	if (rc) {
		pl_store_boards_free(*rows, *n);
		*rows = NULL;
		*n = 0;
	}
	return rc;
}

/* ------------------------------------------------------------ submit */

int pl_store_submit(struct pl_store *st, const struct pl_submit_info *in,
		    const struct pl_job_info *jobs, size_t n,
		    int64_t *suite_id)
{
	uint64_t now = pl_store_now(st);
	const char *who = in->submitter ? in->submitter : st->holder;
	PGresult *r;
	int rc = need_pg(st);

	if (rc)
		return rc;
	if (!in->suite.name)
		return -EINVAL;
	rc = begin(st);
	if (rc)
		return rc;
	{
		struct args a = { 0 };

		arg_s(&a, in->suite.name);
		arg_s(&a, in->suite.file);
		arg_u(&a, now);
		arg_u(&a, in->suite.seed);
		arg_s(&a, in->suite.cmdline);
		rc = run(st, "submit", "INSERT INTO suites (name, file, "
			 "started, seed, cmdline) VALUES ($1, $2, $3, $4, $5) "
			 "RETURNING id", &a, PGRES_TUPLES_OK, &r);
		if (rc)
			goto err_rollback;
		*suite_id = val_i(r, 0, 0);
		PQclear(r);
	}
	{
		struct args a = { 0 };

		arg_i(&a, *suite_id);
		arg_s(&a, who);
		arg_i(&a, in->priority);
		arg_s(&a, in->images_json ? in->images_json : "{}");
		arg_u(&a, now);
		if (in->queue_timeout_ns)
			arg_u(&a, now + in->queue_timeout_ns);
		else
			arg_s(&a, NULL);
		rc = cmd(st, "submit", "INSERT INTO queue (suite_id, submitter, "
			 "priority, images, queued, deadline) VALUES ($1, $2, "
			 "$3, $4, $5, $6)", &a);
	}
	for (size_t i = 0; rc == 0 && i < n; i++) {
		struct args a = { 0 };

		arg_i(&a, *suite_id);
		arg_i(&a, (int64_t)i + 1);
		arg_s(&a, jobs[i].board_id);
		arg_s(&a, jobs[i].board_type);
		arg_s(&a, jobs[i].scenario);
		arg_s(&a, jobs[i].params_json ? jobs[i].params_json : "{}");
		arg_u(&a, jobs[i].seed);
		arg_i(&a, in->priority);
		arg_s(&a, who);
		arg_u(&a, now);
		if (jobs[i].sweep)
			arg_i(&a, jobs[i].sweep);
		else
			arg_s(&a, NULL);
		rc = cmd(st, "queue job", "INSERT INTO jobs (suite_id, idx, "
			 "board_id, board_type, scenario, params, seed, "
			 "priority, submitter, queued, sweep) VALUES ($1, $2, "
			 "$3, $4, $5, $6, $7, $8, $9, $10, $11)", &a);
	}
	if (rc == 0)
		rc = cmd(st, "wake workers", "NOTIFY patchlab_queue", NULL);
	if (rc == 0)
		rc = commit(st);
	if (rc == 0)
		return 0;
err_rollback:
	rollback(st);
	return rc;
}

/*
 * The INSERT that follows a CTE "c" of jobs that ended without running
 * (cancelled, queue timeout): a `not-run` run per job in its suite, with
 * why, so that every report shows it and the suite's gate cannot pass
 * (a job that never ran is not a run that passed). why is SQL text
 * without a quote. The rows counted are the jobs.
 */
#define NOT_RUN_OF_C(why)                                                  \
	"INSERT INTO runs (suite_id, board_id, board_type, scenario, params, " \
	"seed, verdict, reason, started, finished, duration_ns, controller, "  \
	"controller_pid, controller_host, state) SELECT suite_id, board_id, "  \
	"board_type, scenario, params, seed, 'not-run', '" why "' || CASE "    \
	"WHEN sweep IS NOT NULL THEN ' (a sweep: its points were never "       \
	"planned)' ELSE '' END, ended, ended, 0, 'lab service', 0, '', "       \
	"'closed' FROM c"

/* ------------------------------------------------------------- claim */

#define JOB_COLS                                                          \
	"j.id, j.suite_id, j.run_id, j.idx, j.priority, j.attempt, j.state, " \
	"j.board_id, j.board_type, j.scenario, j.params, j.submitter, "      \
	"j.worker, j.reason, s.file, q.images, j.seed, j.queued, j.expires, " \
	"j.claimed, j.ended, s.name, j.sweep, j.runs"
#define JOB_FROM                                                          \
	" FROM jobs j JOIN queue q ON q.suite_id = j.suite_id "              \
	"JOIN suites s ON s.id = j.suite_id "

/* A PostgreSQL BIGINT[] as text, "{1,2,3}", into *ids (malloc'ed). */
static int parse_ids(const char *s, int64_t **ids, size_t *n)
{
	size_t cap = 1;

	*ids = NULL;
	*n = 0;
	for (const char *p = s; *p; p++)
		cap += *p == ',';
	*ids = calloc(cap, sizeof(**ids));
	if (!*ids)
		return -ENOMEM;
	for (const char *p = s; *p;) {
		char *end;
		long long v;

		if (*p < '0' || *p > '9') {
			p++;
			continue;
		}
		v = strtoll(p, &end, 10);
		if (*n < cap)
			(*ids)[(*n)++] = (int64_t)v;
		p = end;
	}
	return 0;
}

static void fill_job(const PGresult *r, int i, void *row, bool *oom)
{
	struct pl_job_row *j = row;

	j->id = val_i(r, i, 0);
	j->suite_id = val_i(r, i, 1);
	j->run_id = val_i(r, i, 2);
	j->index = (int)val_i(r, i, 3);
	j->priority = (int)val_i(r, i, 4);
	j->attempt = (int)val_i(r, i, 5);
	j->state = job_state_parse(val_s(r, i, 6));
	j->board_id = val_dup(r, i, 7, oom);
	j->board_type = val_dup(r, i, 8, oom);
	j->scenario = val_dup(r, i, 9, oom);
	j->params_json = val_dup(r, i, 10, oom);
	j->submitter = val_dup(r, i, 11, oom);
	j->worker = val_dup(r, i, 12, oom);
	j->reason = val_dup(r, i, 13, oom);
	j->suite_file = val_dup(r, i, 14, oom);
	j->images_json = val_dup(r, i, 15, oom);
	j->seed = val_u(r, i, 16);
	j->queued_ns = val_u(r, i, 17);
	j->expires_ns = val_u(r, i, 18);
	j->claimed_ns = val_u(r, i, 19);
	j->ended_ns = val_u(r, i, 20);
	j->suite_name = val_dup(r, i, 21, oom);
	j->sweep = (int)val_i(r, i, 22);
	if (!PQgetisnull(r, i, 23) && parse_ids(val_s(r, i, 23), &j->runs,
						&j->nruns))
		*oom = true;
}

void pl_store_jobs_free(struct pl_job_row *rows, size_t n)
{
	for (size_t i = 0; rows && i < n; i++) {
		free(rows[i].board_id);
		free(rows[i].board_type);
		free(rows[i].scenario);
		free(rows[i].params_json);
		free(rows[i].submitter);
		free(rows[i].worker);
		free(rows[i].reason);
		free(rows[i].suite_name);
		free(rows[i].suite_file);
		free(rows[i].images_json);
		free(rows[i].runs);
	}
	free(rows);
}

/* boards as a PostgreSQL text[] literal: {"a","b"}, quotes escaped. */
static char *text_array(const char *const *v, size_t n)
{
	struct pl_strbuf sb = { 0 };
	int rc = pl_strbuf_putc(&sb, '{');

	for (size_t i = 0; rc == 0 && i < n; i++) {
		rc = pl_strbuf_puts(&sb, i ? ",\"" : "\"");
		for (const char *c = v[i]; rc == 0 && *c; c++) {
			if (*c == '"' || *c == '\\')
				rc = pl_strbuf_putc(&sb, '\\');
			if (rc == 0)
				rc = pl_strbuf_putc(&sb, *c);
		}
		if (rc == 0)
			rc = pl_strbuf_putc(&sb, '"');
	}
	if (rc == 0)
		rc = pl_strbuf_putc(&sb, '}');
	if (rc) {
		pl_strbuf_free(&sb);
		return NULL;
	}
	return pl_strbuf_steal(&sb);
}

int pl_store_claim(struct pl_store *st, const char *worker,
		   const char *const *boards, size_t nboards, uint64_t ttl_ms,
		   struct pl_job_row **job)
{
	uint64_t now = pl_store_now(st);
	struct args a = { 0 };
	char *arr;
	void *r;
	size_t n = 0;
	int rc = need_pg(st);

	*job = NULL;
	if (rc)
		return rc;
	if (nboards == 0)
		return -ENOENT;
	arr = text_array(boards, nboards);
	if (!arr)
		return -ENOMEM;
	arg_s(&a, worker);
	arg_u(&a, now + ttl_ms * 1000000u);
	arg_s(&a, arr);
	arg_u(&a, now);
	/* One statement, so the claim commits on its own: the row is locked
	 * from the SELECT to the commit, and SKIP LOCKED passes it by. A
	 * board of a worker marked offline takes nothing; a suite past its
	 * queue deadline neither (the reaper ends its jobs). Priority first;
	 * within one priority, round-robin between submitters (the one
	 * served longest ago, or never), then age. The claim is a change
	 * (schema 9): once a job is found, the changes' lock is taken before
	 * the submitter's row, which other claims then never wait on while
	 * this one waits for the lock. */
	rc = query(st, "claim", "WITH c AS (UPDATE jobs SET state = 'claimed', "
		   "worker = $1, attempt = attempt + 1, expires = $2, "
		   "claimed = $4 "
		   "WHERE id = (SELECT j.id FROM jobs j JOIN queue q ON "
		   "q.suite_id = j.suite_id LEFT JOIN submitters t ON "
		   "t.name = j.submitter WHERE j.state = 'queued' AND "
		   "j.board_id = ANY ($3::text[]) AND (q.deadline IS NULL OR "
		   "q.deadline > $4) ORDER BY j.priority DESC, "
		   "coalesce(t.served, 0), j.queued, j.id "
		   "LIMIT 1 FOR UPDATE OF j SKIP LOCKED) AND "
		   "patchlab_lock_changes() RETURNING *), "
		   "turn AS (INSERT INTO submitters (name, served) SELECT "
		   "submitter, nextval('patchlab_turn') FROM c ON CONFLICT "
		   "(name) DO UPDATE SET served = excluded.served) "
		   "SELECT " JOB_COLS " FROM c j JOIN queue q ON q.suite_id = "
		   "j.suite_id JOIN suites s ON s.id = j.suite_id", &a,
		   sizeof(**job), fill_job, &r, &n);
	free(arr);
	*job = r;
	if (rc == 0 && n == 0)
		rc = -ENOENT;
	if (rc) {
		pl_store_jobs_free(*job, n);
		*job = NULL;
	}
	return rc;
}

/* jobs as a PostgreSQL array literal, "{1,2}"; NULL when out of memory */
static char *id_array(const int64_t *jobs, size_t njobs)
{
	size_t cap = 3 + njobs * 21, len = 1;
	char *s = malloc(cap);

	if (!s)
		return NULL;
	s[0] = '{';
	for (size_t i = 0; i < njobs; i++)
		len += (size_t)snprintf(s + len, cap - len, "%s%" PRId64,
					i ? "," : "", jobs[i]);
	snprintf(s + len, cap - len, "}");
	return s;
}

int pl_store_heartbeat(struct pl_store *st, const char *worker,
		       uint64_t ttl_ms, const int64_t *jobs, size_t njobs,
		       size_t *n)
{
	uint64_t now = pl_store_now(st);
	long held = 0, lost = 0;
	char *ids;
	int rc = need_pg(st);

	if (n)
		*n = 0;
	if (rc)
		return rc;
	ids = id_array(jobs, njobs);
	if (!ids)
		return -ENOMEM;
	{
		struct args a = { 0 };

		arg_s(&a, worker);
		arg_u(&a, now);
		rc = cmd(st, "heartbeat", "UPDATE workers SET seen = $2, "
			 "online = true WHERE name = $1", &a);
	}
	if (rc == 0) {
		struct args a = { 0 };

		arg_s(&a, worker);
		arg_u(&a, now + ttl_ms * 1000000u);
		arg_u(&a, now);
		arg_s(&a, ids);
		/* a lease that already expired stays expired: the reaper
		 * may have given the job to someone else */
		rc = cmd_count(st, "renew job leases", "UPDATE jobs SET "
			       "expires = $2 WHERE state = 'claimed' AND "
			       "worker = $1 AND expires > $3 AND "
			       "id = ANY($4::BIGINT[])", &a, &held);
	}
	if (rc == 0) {
		struct args a = { 0 };

		arg_s(&a, worker);
		arg_u(&a, now);
		arg_s(&a, ids);
		/* held by the store for worker, unknown to worker: no run
		 * process will ever end it */
		rc = cmd_count(st, "end unknown leases", "UPDATE jobs SET "
			       "expires = $2 WHERE state = 'claimed' AND "
			       "worker = $1 AND expires > $2 AND "
			       "NOT (id = ANY($3::BIGINT[]))", &a, &lost);
		if (rc == 0 && lost)
			pl_log(&st->log, PL_LOG_WARN, "store %s: %ld job(s) "
			       "claimed for worker %s that it is not running "
			       "(an answer lost with a connection): their "
			       "leases end now", st->target, lost, worker);
	}
	free(ids);
	if (n)
		*n = rc ? 0 : (size_t)held;
	return rc;
}

/* Lock job and check that worker's attempt still holds it: 0, or
 * -PL_ELEASED. *suite gets its suite. Inside the caller's transaction. */
static int job_held(struct pl_store *st, int64_t job, const char *worker,
		    int attempt, int64_t *suite)
{
	struct args a = { 0 };
	PGresult *r;
	int rc;

	arg_i(&a, job);
	arg_s(&a, worker);
	arg_i(&a, attempt);
	arg_u(&a, pl_store_now(st));
	rc = run(st, "check job lease", "SELECT suite_id FROM jobs WHERE "
		 "id = $1 AND state = 'claimed' AND worker = $2 AND "
		 "attempt = $3 AND expires > $4 FOR UPDATE", &a,
		 PGRES_TUPLES_OK, &r);
	if (rc)
		return rc;
	rc = PQntuples(r) == 1 ? 0 : -PL_ELEASED;
	if (rc == 0)
		*suite = val_i(r, 0, 0);
	PQclear(r);
	return rc;
}

/* Delete every run of an attempt's own suite (a sweep job's many, a
 * plain job's one) and the suite. */
static int drop_suite(struct pl_store *st, int64_t own_suite)
{
	struct args a = { 0 }, b = { 0 }, c = { 0 };
	int rc;

	arg_i(&a, own_suite);
	rc = cmd(st, "drop runs", "DELETE FROM events WHERE run_id IN (SELECT "
		 "id FROM runs WHERE suite_id = $1)", &a);
	arg_i(&b, own_suite);
	if (rc == 0)
		rc = cmd(st, "drop runs", "DELETE FROM runs WHERE suite_id = $1",
			 &b);
	arg_i(&c, own_suite);
	if (rc == 0)
		rc = cmd(st, "drop runs", "DELETE FROM suites WHERE id = $1 AND "
			 "NOT EXISTS (SELECT 1 FROM queue WHERE suite_id = $1)",
			 &c);
	return rc;
}

/* Delete run and, when it was the only run of its suite, that suite. */
static int drop_run(struct pl_store *st, int64_t run, int64_t own_suite)
{
	struct args a = { 0 }, b = { 0 }, c = { 0 };
	int rc;

	arg_i(&a, run);
	rc = cmd(st, "drop run", "DELETE FROM events WHERE run_id = $1", &a);
	arg_i(&b, run);
	if (rc == 0)
		rc = cmd(st, "drop run", "DELETE FROM runs WHERE id = $1", &b);
	arg_i(&c, own_suite);
	if (rc == 0 && own_suite)
		rc = cmd(st, "drop run", "DELETE FROM suites WHERE id = $1 AND "
			 "NOT EXISTS (SELECT 1 FROM runs WHERE suite_id = $1) "
			 "AND NOT EXISTS (SELECT 1 FROM queue WHERE "
			 "suite_id = $1)", &c);
	return rc;
}

int pl_store_job_finish(struct pl_store *st, int64_t job, const char *worker,
			int attempt, int64_t run_id)
{
	struct args a = { 0 };
	PGresult *r;
	int rc = need_pg(st), res;

	if (rc)
		return rc;
	arg_i(&a, job);
	arg_s(&a, worker);
	arg_i(&a, attempt);
	arg_i(&a, run_id);
	arg_u(&a, pl_store_now(st));
	/* one statement, one transaction, one round trip */
	rc = run(st, "finish job", "SELECT patchlab_job_finish($1, $2, $3, "
		 "$4, $5)", &a, PGRES_TUPLES_OK, &r);
	if (rc)
		return rc;
	res = (int)val_i(r, 0, 0);
	PQclear(r);
	if (res == 2)
		return -ENOENT;
	if (res == 1) {
		pl_log(&st->log, PL_LOG_WARN, "store %s: job %" PRId64
		       " is no longer %s's: its run %" PRId64 " is dropped",
		       st->target, job, worker, run_id);
		return -PL_ELEASED;
	}
	return 0;
}

int pl_store_job_finish_sweep(struct pl_store *st, int64_t job,
			      const char *worker, int attempt,
			      int64_t own_suite)
{
	struct args a = { 0 };
	PGresult *r;
	int rc = need_pg(st), res;

	if (rc)
		return rc;
	if (own_suite <= 0)
		return -EINVAL;
	arg_i(&a, job);
	arg_s(&a, worker);
	arg_i(&a, attempt);
	arg_i(&a, own_suite);
	arg_u(&a, pl_store_now(st));
	/* one statement: every run of the sweep moves, or none */
	rc = run(st, "finish sweep job", "SELECT patchlab_job_finish_sweep("
		 "$1, $2, $3, $4, $5)", &a, PGRES_TUPLES_OK, &r);
	if (rc)
		return rc;
	res = (int)val_i(r, 0, 0);
	PQclear(r);
	switch (res) {
	case 0:
		return 0;
	case 1:
		pl_log(&st->log, PL_LOG_WARN, "store %s: sweep job %" PRId64
		       " is no longer %s's: the runs of its suite %" PRId64
		       " are dropped", st->target, job, worker, own_suite);
		return -PL_ELEASED;
	case 2:
		return -ENOENT;
	default:
		return -EINVAL;
	}
}

/* Record a closed lab-error run for job (its suite, board, scenario) with
 * reason, done by worker; the caller holds the transaction. */
static int record_lab_error(struct pl_store *st, int64_t job,
			    const char *worker, const char *reason,
			    int64_t *run_id)
{
	struct args a = { 0 };
	uint64_t now = pl_store_now(st);
	PGresult *r;
	int rc;

	arg_i(&a, job);
	arg_u(&a, now);
	arg_s(&a, st->holder);
	arg_i(&a, st->pid);
	arg_s(&a, st->host);
	arg_s(&a, worker);
	arg_s(&a, reason);
	rc = run(st, "record lab-error", "INSERT INTO runs (suite_id, "
		 "board_id, board_type, scenario, params, seed, started, "
		 "finished, duration_ns, controller, controller_pid, "
		 "controller_host, worker, state, verdict, reason) SELECT "
		 "suite_id, board_id, board_type, scenario, params, seed, $2, "
		 "$2, 0, $3, $4, $5, $6, 'closed', 'lab-error', $7 FROM jobs "
		 "WHERE id = $1 RETURNING id", &a, PGRES_TUPLES_OK, &r);
	if (rc)
		return rc;
	*run_id = PQntuples(r) ? val_i(r, 0, 0) : 0;
	PQclear(r);
	return *run_id ? 0 : -ENOENT;
}

/* End job's attempt: requeue it (keeping why in its reason) or record
 * reason as its lab-error result. Inside the caller's transaction. */
static int end_attempt(struct pl_store *st, int64_t job, const char *worker,
		       const char *reason, bool requeue)
{
	struct args a = { 0 };
	int64_t run_id = 0;
	int rc;

	if (requeue) {
		arg_i(&a, job);
		arg_s(&a, reason);
		return cmd(st, "requeue job", "UPDATE jobs SET state = "
			   "'queued', worker = NULL, expires = NULL, reason = "
			   "$2 WHERE id = $1", &a);
	}
	rc = record_lab_error(st, job, worker, reason, &run_id);
	if (rc)
		return rc;
	arg_i(&a, job);
	arg_i(&a, run_id);
	arg_s(&a, reason);
	arg_u(&a, pl_store_now(st));
	return cmd(st, "end job", "UPDATE jobs SET state = 'done', run_id = "
		   "$2, expires = NULL, reason = $3, ended = $4 WHERE id = $1",
		   &a);
}

int pl_store_job_fail(struct pl_store *st, int64_t job, const char *worker,
		      int attempt, int64_t run_id, const char *reason,
		      bool requeue, int max_attempts)
{
	int64_t suite = 0, own = 0;
	PGresult *r;
	int rc = need_pg(st), held;

	if (rc)
		return rc;
	rc = begin(st);
	if (rc)
		return rc;
	/* the attempt's own runs go whether or not it still holds the
	 * job: they are never a result (a worker restarted under a run
	 * process took the job back first) */
	held = job_held(st, job, worker, attempt, &suite);
	rc = held == -PL_ELEASED ? 0 : held;
	if (rc == 0 && run_id) {
		struct args a = { 0 };

		arg_i(&a, run_id);
		/* the run's suite is the attempt's own unless it is queued:
		 * all its runs go (a sweep job's many), or just this one */
		rc = run(st, "drop run", "SELECT r.suite_id, q.suite_id FROM "
			 "runs r LEFT JOIN queue q ON q.suite_id = r.suite_id "
			 "WHERE r.id = $1", &a, PGRES_TUPLES_OK, &r);
		if (rc == 0) {
			bool queued = PQntuples(r) && !PQgetisnull(r, 0, 1);

			own = PQntuples(r) ? val_i(r, 0, 0) : 0;
			PQclear(r);
			if (own && !queued)
				rc = drop_suite(st, own);
			else if (held == 0)
				rc = drop_run(st, run_id, 0);
		}
	}
	if (rc == 0 && held == 0)
		rc = end_attempt(st, job, worker, reason,
				 requeue && attempt < max_attempts);
	if (rc == 0 && held == 0)
		rc = cmd(st, "end job", "NOTIFY patchlab_queue", NULL);
	if (rc == 0)
		rc = commit(st);
	if (rc)
		rollback(st);
	return rc ? rc : held;
}

int pl_store_reap(struct pl_store *st, int max_attempts, uint64_t stale_ms,
		  size_t *n)
{
	uint64_t now = pl_store_now(st);
	struct expired *e = NULL;
	size_t ne = 0, done = 0;
	long cnt = 0;
	void *r;
	int rc = need_pg(st);

	if (n)
		*n = 0;
	if (rc)
		return rc;
	rc = begin(st);
	if (rc)
		return rc;
	{
		struct args a = { 0 };

		arg_u(&a, now);
		/* SKIP LOCKED: a worker finishing one of them right now
		 * wins, and two reapers split the work */
		rc = query(st, "reap", "SELECT id, attempt, worker FROM jobs "
			   "WHERE state = 'claimed' AND expires <= $1 ORDER BY "
			   "id FOR UPDATE SKIP LOCKED", &a, sizeof(*e),
			   fill_expired, &r, &ne);
		e = r;
	}
	for (size_t i = 0; rc == 0 && i < ne; i++) {
		char why[256];

		snprintf(why, sizeof(why), "worker %s stopped: its lease on "
			 "the run expired (attempt %d)",
			 e[i].worker ? e[i].worker : "?", e[i].attempt);
		rc = end_attempt(st, e[i].id, e[i].worker, why,
				 e[i].attempt < max_attempts);
		if (rc == 0)
			pl_log(&st->log, PL_LOG_WARN, "store %s: job %" PRId64
			       ": %s: %s", st->target, e[i].id, why,
			       e[i].attempt < max_attempts ? "requeued" :
							     "lab-error");
	}
	done = ne;
	if (rc == 0 && stale_ms) {
		struct args a = { 0 };

		arg_u(&a, now - stale_ms * 1000000u);
		rc = cmd(st, "reap workers", "UPDATE workers SET online = "
			 "false WHERE online AND seen < $1", &a);
	}
	if (rc == 0) {
		struct args a = { 0 };

		arg_u(&a, now);
		rc = cmd_count(st, "queue timeout", "WITH c AS (UPDATE jobs j "
			       "SET state = 'timed-out', reason = 'queue "
			       "timeout', ended = $1 FROM queue q WHERE "
			       "q.suite_id = j.suite_id AND j.state = 'queued' "
			       "AND q.deadline <= $1 RETURNING j.*) "
			       NOT_RUN_OF_C("still queued at the queue "
					    "timeout of its suite"), &a, &cnt);
		done += (size_t)cnt;
	}
	if (rc == 0 && done)
		rc = cmd(st, "reap", "NOTIFY patchlab_queue", NULL);
	if (rc == 0)
		rc = commit(st);
	if (rc)
		rollback(st);
	expired_free(e, ne);
	if (n && rc == 0)
		*n = done;
	return rc;
}

int pl_store_list_jobs(struct pl_store *st, int64_t suite_id,
		       struct pl_job_row **rows, size_t *n)
{
	struct args a = { 0 };
	void *r;
	int rc = need_pg(st);

	*rows = NULL;
	*n = 0;
	if (rc)
		return rc;
	arg_i(&a, suite_id);
	rc = query(st, "list jobs", "SELECT " JOB_COLS JOB_FROM "WHERE "
		   "CASE WHEN $1::bigint = 0 THEN j.state IN ('queued', "
		   "'claimed') ELSE j.suite_id = $1 END ORDER BY j.id", &a,
		   sizeof(**rows), fill_job, &r, n);
	*rows = r;
	if (rc) {
		pl_store_jobs_free(*rows, *n);
		*rows = NULL;
		*n = 0;
	}
	return rc;
}

int pl_store_list_queue(struct pl_store *st, size_t ended_max,
			struct pl_job_row **rows, size_t *n)
{
	struct args a = { 0 };
	void *r;
	int rc = need_pg(st);

	*rows = NULL;
	*n = 0;
	if (rc)
		return rc;
	arg_i(&a, (int64_t)ended_max);
	/* g: 0 queued, 1 claimed, 2 ended. The queued in claim order
	 * (pl_store_claim()): by priority; within one, round k takes the
	 * k-th oldest job of each submitter, submitters in the order of
	 * their turn (served longest ago, or never, first; then who waits
	 * longest), then age. */
	rc = query(st, "list the queue", "SELECT * FROM ("
		   "SELECT " JOB_COLS ", 0 AS g, j.priority AS p, "
		   "row_number() OVER (PARTITION BY j.priority, j.submitter "
		   "ORDER BY j.queued, j.id) AS k, coalesce(t.served, 0) AS sv, "
		   "min(j.id) OVER (PARTITION BY j.priority, j.submitter) AS fi, "
		   "j.queued AS o" JOB_FROM "LEFT JOIN submitters t ON t.name = "
		   "j.submitter WHERE j.state = 'queued' "
		   "UNION ALL SELECT " JOB_COLS ", 1, 0, 0, 0, 0, j.claimed"
		   JOB_FROM "WHERE j.state = 'claimed' "
		   "UNION ALL (SELECT " JOB_COLS ", 2, 0, 0, 0, 0, "
		   "-coalesce(j.ended, j.queued)" JOB_FROM "WHERE j.state IN "
		   "('done', 'cancelled', 'timed-out') ORDER BY "
		   "coalesce(j.ended, j.queued) DESC, j.id DESC LIMIT $1)) x "
		   "ORDER BY g, p DESC, k, sv, fi, o, id", &a, sizeof(**rows),
		   fill_job, &r, n);
	*rows = r;
	if (rc) {
		pl_store_jobs_free(*rows, *n);
		*rows = NULL;
		*n = 0;
	}
	return rc;
}

int pl_store_cancel(struct pl_store *st, int64_t suite_id, size_t *n)
{
	struct args a = { 0 }, b = { 0 };
	PGresult *r;
	long cnt = 0;
	int rc = need_pg(st);

	if (n)
		*n = 0;
	if (rc)
		return rc;
	arg_i(&a, suite_id);
	rc = run(st, "cancel", "SELECT 1 FROM queue WHERE suite_id = $1", &a,
		 PGRES_TUPLES_OK, &r);
	if (rc)
		return rc;
	rc = PQntuples(r) ? 0 : -ENOENT;
	PQclear(r);
	if (rc)
		return rc;
	arg_i(&b, suite_id);
	arg_u(&b, pl_store_now(st));
	rc = cmd_count(st, "cancel", "WITH c AS (UPDATE jobs SET state = "
		       "'cancelled', reason = 'cancelled', ended = $2 WHERE "
		       "suite_id = $1 AND state = 'queued' RETURNING *) "
		       NOT_RUN_OF_C("cancelled before it ran"), &b, &cnt);
	if (rc == 0 && n)
		*n = (size_t)cnt;
	return rc;
}

/* ------------------------------------------------------------ listen */

int pl_store_listen(struct pl_store *st, const char *channel, int *fd)
{
	char sql[96];
	int rc = need_pg(st);

	if (rc)
		return rc;
	if (!channel || !*channel || strlen(channel) > 63 ||
	    strspn(channel, "abcdefghijklmnopqrstuvwxyz_") != strlen(channel))
		return -EINVAL;
	snprintf(sql, sizeof(sql), "LISTEN %s", channel);
	rc = cmd(st, "listen", sql, NULL);
	if (rc == 0)
		*fd = PQsocket(CONN(st));
	return rc;
}

int pl_store_notified(struct pl_store *st, size_t *n)
{
	PGnotify *nt;

	*n = 0;
	if (st->ops != &pl_store_pg_ops)
		return -ENOTSUP;
	if (!PQconsumeInput(CONN(st)))
		return pg_fail(st, "read notifications", NULL);
	while ((nt = PQnotifies(CONN(st)))) {
		(*n)++;
		PQfreemem(nt);
	}
	return 0;
}
