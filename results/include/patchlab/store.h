/* SPDX-License-Identifier: MIT */
/*
 * The result store: suites, runs, their event timelines and board leases in
 * one database: a SQLite file (default runs/patchlab.db) on one host, or
 * PostgreSQL (a libpq URI "postgresql://...") for a lab that spans hosts.
 * Both backends keep every contract below. Narrative: docs/results.md,
 * docs/lab-service.md.
 *
 * Durability: the database runs in WAL mode with synchronous=FULL. Every run
 * end is one transaction that writes the run's buffered events and its
 * verdict, so a run that ended is on disk even if the controller is killed a
 * moment later, or the host loses power. A run that never ended is found by
 * pl_store_recover() and closed as lab-error "controller stopped".
 *
 * PostgreSQL commits with the server's durability (synchronous_commit on
 * by default), so the same holds there for a server that did not lose its
 * disk.
 *
 * Processes: several controllers (and `patchlab results`) may open the same
 * file at once. Every write transaction is BEGIN IMMEDIATE, and a busy
 * database is waited for (busy timeout, default 5 s) instead of failing.
 *
 * Threads and the loop: a store handle belongs to one thread. Calls block on
 * disk I/O (milliseconds: fsync at run end); the controller calls them from
 * the loop thread only at run begin/end, and buffers events in memory.
 *
 * Errors: 0 or a negative code; -EIO for a database failure (logged with the
 * engine's message and the database path or URI, password removed), -ENOMEM, -EINVAL for bad arguments,
 * -ENOENT for an unknown id, -PL_ELEASED for a board leased by someone else.
 */
#ifndef PATCHLAB_STORE_H
#define PATCHLAB_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "patchlab/log.h"
#include "patchlab/verdict.h"

struct pl_store;

/* The default database path, relative to the working directory. */
#define PL_STORE_DEFAULT_PATH "runs/patchlab.db"

/* Wall-clock time in ns since the epoch; the store's only source of "now". */
typedef uint64_t (*pl_store_clock_fn)(void *user_data);

struct pl_store_opts {
	/* "now" for run/suite times and lease expiry; NULL: pl_wall_ns().
	 * Tests inject a clock they advance, so lease expiry needs no sleep. */
	pl_store_clock_fn clock;
	void *clock_data;
	const struct pl_log *log;  /* NULL: the default sink */
	unsigned busy_timeout_ms;  /* 0: 5000 */
	/* This process's name as a controller and lease holder; NULL: made up
	 * as "PID@HOST/TOKEN" with a random token. Borrowed (copied on open). */
	const char *holder;
};

/*
 * Open (creating if needed) the store at path, or PL_STORE_DEFAULT_PATH when
 * path is NULL (its directory is created). A path for which
 * pl_store_is_url() holds is a libpq connection URI and opens PostgreSQL
 * ("postgresql://" alone takes host, user and database from libpq's
 * environment: PGHOST, PGUSER, PGDATABASE...). Migrates an older schema to
 * the current one; refuses (-EPROTO) a database written by a newer patchlab.
 * opts may be NULL. Must be closed with pl_store_close().
 */
int pl_store_open(struct pl_store **out, const char *path,
		  const struct pl_store_opts *opts);

/* Flush buffered events of open runs (they stay open), then close. NULL ok. */
void pl_store_close(struct pl_store *st);

/* true when target names a PostgreSQL database ("postgresql:" or
 * "postgres:" URI) rather than a SQLite file. */
bool pl_store_is_url(const char *target);

/* "sqlite" or "postgresql". */
const char *pl_store_backend(const struct pl_store *st);

/* The schema version the SQLite backend writes (PRAGMA user_version). */
int pl_store_schema_version(void);

/* This database's schema version and the one this code writes for its
 * backend (latest may be NULL). */
int pl_store_schema_of(struct pl_store *st, int *version, int *latest);

/*
 * Bring the schema of target up to date and close (what `patchlab db
 * migrate` does; pl_store_open() does the same on its way). *from gets the
 * version found, *to the version written (either may be NULL). -EPROTO when
 * the database is newer than this code.
 */
int pl_store_migrate(const char *target, const struct pl_store_opts *opts,
		     int *from, int *to);

/* This store's holder/controller identity "PID@HOST/TOKEN" (or opts.holder);
 * borrowed, valid until pl_store_close(). */
const char *pl_store_holder(const struct pl_store *st);

/* The store's "now" (the injected clock, or the wall clock). */
uint64_t pl_store_now(const struct pl_store *st);

/* ------------------------------------------------------------ suites */

struct pl_suite_info {
	const char *name;    /* required */
	const char *file;    /* suite.yaml path; may be NULL */
	uint64_t seed;
	const char *cmdline; /* the command that started it; may be NULL */
};

/* Record a suite start; *suite_id receives its id. Committed on return. */
int pl_store_suite_begin(struct pl_store *st, const struct pl_suite_info *info,
			 int64_t *suite_id);

/* Record a suite end with its gate result ("pass", "fail", "error"). */
int pl_store_suite_end(struct pl_store *st, int64_t suite_id, const char *gate);

/* -------------------------------------------------------------- runs */

struct pl_run_info {
	int64_t suite_id;        /* 0: a run outside any suite */
	const char *board_id;    /* required: "board3" */
	const char *board_type;  /* required: "nrf52840-dk" */
	const char *image;       /* the image under test; may be NULL */
	const char *scenario;    /* required: "cut_during_swap" */
	const char *params_json; /* a JSON object or NULL; validated */
	struct pl_cut_point cut;
	uint64_t seed;
	const char *console_log; /* path of the console log file; may be NULL */
	const char *replay;      /* the command that replays this run; may be NULL */
	const char *worker;      /* the lab worker running it; may be NULL */
};

/*
 * Record a run start and mark it open, under this store's controller identity
 * (pid and host). *run_id receives its id. Committed on return, so a crash
 * after this call leaves an open run for pl_store_recover().
 */
int pl_store_run_begin(struct pl_store *st, const struct pl_run_info *info,
		       int64_t *run_id);

/* Event kinds of a run's timeline. Names are written to the store. */
enum pl_event_kind {
	PL_EV_POWER,         /* a power command: requested/issued/completed */
	PL_EV_TRIGGER,       /* a trigger fired: match time, command time */
	PL_EV_CONSOLE_MATCH, /* an expected console line was seen */
	PL_EV_PROBE,         /* a debug probe operation */
	PL_EV_TRANSFER,      /* image transfer progress */
	PL_EV_VERDICT,       /* the verdict decision and its evidence */
	PL_EV_LOG,           /* anything else worth showing in the timeline */
	PL_EV_COUNT
};

/* "power", "trigger", "console-match", "probe", "transfer", "verdict", "log". */
const char *pl_event_kind_name(enum pl_event_kind k);
int pl_event_kind_parse(const char *s, enum pl_event_kind *out);

/*
 * Append an event to the timeline of a run begun through this store handle
 * and not yet ended (-ENOENT otherwise). t_ns is CLOCK_MONOTONIC
 * (pl_now_ns()); payload_json is a JSON object (validated, -EINVAL if not)
 * or NULL. Events are buffered in memory and written in the run-end
 * transaction (or earlier in batches), so this call does no I/O in the common
 * case; they are durable once pl_store_run_end() returns.
 */
int pl_store_run_event(struct pl_store *st, int64_t run_id, uint64_t t_ns,
		       enum pl_event_kind kind, const char *payload_json);

/* A power event with the three times the architecture asks for (monotonic
 * ns; 0 = not reached): payload {"cmd", "requested_ns", "issued_ns",
 * "completed_ns"}. t_ns of the event is requested_ns. */
int pl_store_event_power(struct pl_store *st, int64_t run_id, const char *cmd,
			 uint64_t requested_ns, uint64_t issued_ns,
			 uint64_t completed_ns);

/* A trigger firing: payload {"trigger", "match_ns", "command_ns",
 * "latency_ns"}. t_ns of the event is match_ns. */
int pl_store_event_trigger(struct pl_store *st, int64_t run_id,
			   const char *trigger, uint64_t match_ns,
			   uint64_t command_ns);

/*
 * End an open run: its buffered events, verdict, reason, finish time and
 * duration are written in ONE transaction, committed (and fsynced) before
 * this returns. reason may be NULL. -ENOENT for an unknown run, -EALREADY
 * for a run already closed (nothing is changed).
 */
int pl_store_run_end(struct pl_store *st, int64_t run_id, enum pl_verdict v,
		     const char *reason);

/*
 * Set the command that replays a run, once its id is known (the command
 * names the id). Committed on return. -ENOENT for an unknown run.
 */
int pl_store_run_set_replay(struct pl_store *st, int64_t run_id,
			    const char *replay);

/*
 * Set a run's cut point once it is known (a trigger a scenario armed
 * itself, rather than a sweep's point known at the start). Committed on
 * return. -ENOENT for an unknown run.
 */
int pl_store_run_set_cut(struct pl_store *st, int64_t run_id,
			 const struct pl_cut_point *cut);

/*
 * Told about a run whose controller died, BEFORE the run is marked: power the
 * board off here. Return 0 to let the run be closed as lab-error; a negative
 * code leaves the run open (so a later recover retries) and stops recovery
 * with that code.
 */
typedef int (*pl_store_recover_fn)(void *user_data, int64_t run_id,
				   const char *board_id,
				   const char *controller);

/*
 * Close every run left open by a dead controller as lab-error with reason
 * "controller stopped", calling cb (may be NULL) for each first. A controller
 * is dead when it ran on this host and its pid no longer exists, or ran on
 * another host and holds no unexpired lease on the run's board. Runs of this
 * store handle are never touched; runs recorded under another identity with
 * this same pid count as dead (an earlier life of a controller that restarted
 * with the same pid, e.g. pid 1 in a container), so open ONE store per
 * process. *n (may be NULL) receives the number of runs closed.
 */
int pl_store_recover(struct pl_store *st, pl_store_recover_fn cb,
		     void *user_data, size_t *n);

/* ----------------------------------------------------------- queries */

struct pl_suite_row {
	int64_t id;
	char *name, *file, *cmdline;
	char *gate;          /* NULL while the suite runs */
	uint64_t seed;
	uint64_t started_ns; /* wall clock */
	uint64_t finished_ns; /* 0 while the suite runs */
};

/* All suites, newest first. Free with pl_store_suites_free(). */
int pl_store_list_suites(struct pl_store *st, struct pl_suite_row **rows,
			 size_t *n);
/* One suite; -ENOENT if unknown. Free with pl_store_suites_free(row, 1). */
int pl_store_get_suite(struct pl_store *st, int64_t id,
		       struct pl_suite_row **row);
void pl_store_suites_free(struct pl_suite_row *rows, size_t n);

struct pl_run_row {
	int64_t id, suite_id;
	char *board_id, *board_type, *image, *scenario;
	char *params_json;   /* "{}" when none */
	struct pl_cut_point cut; /* strings owned by the row */
	uint64_t seed;
	bool open;           /* still running, or its controller died */
	enum pl_verdict verdict; /* meaningful when !open */
	char *reason;
	uint64_t started_ns, finished_ns, duration_ns;
	char *console_log, *replay;
	char *controller;    /* "PID@HOST/TOKEN" */
	int controller_pid;
	char *controller_host;
	char *worker;        /* the lab worker that ran it; NULL for `run` */
};

/* Filters; zero/NULL fields match everything. */
struct pl_run_filter {
	int64_t suite_id;
	const char *board_id;
	const char *board_type;
	const char *scenario;
	bool by_verdict;
	enum pl_verdict verdict;
	bool open_only;       /* only runs still open */
};

/* Runs matching f (NULL: all), in id order. Free with pl_store_runs_free(). */
int pl_store_list_runs(struct pl_store *st, const struct pl_run_filter *f,
		       struct pl_run_row **rows, size_t *n);
void pl_store_runs_free(struct pl_run_row *rows, size_t n);

struct pl_event_row {
	int64_t id;
	uint64_t t_ns;
	enum pl_event_kind kind;
	char *payload_json;
};

/* One run and its events in time order; -ENOENT if unknown. Buffered events
 * of an open run are included. Free with pl_store_run_free(). */
int pl_store_get_run(struct pl_store *st, int64_t id, struct pl_run_row **run,
		     struct pl_event_row **events, size_t *nevents);
void pl_store_run_free(struct pl_run_row *run, struct pl_event_row *events,
		       size_t nevents);

/* ------------------------------------------------------------ leases */

/*
 * A lease gives one controller a board until it expires. Holders renew well
 * before expiry; a holder that dies stops renewing, and once its lease has
 * expired another may take the board over. Times are the store clock's.
 */
struct pl_lease_row {
	char *board_id;
	char *holder;
	uint64_t taken_ns, renewed_ns, expires_ns;
};

/*
 * Take board for holder (NULL: pl_store_holder(st)) for ttl_ms. Succeeds when
 * the board is free, already held by holder (a renewal), or its lease has
 * expired (a takeover, logged with the previous holder). Otherwise returns
 * -PL_ELEASED and, if current is non-NULL, *current = the holder (free()).
 */
int pl_store_lease_take(struct pl_store *st, const char *board,
			const char *holder, uint64_t ttl_ms, char **current);

/* Extend holder's lease by ttl_ms from now. -PL_ELEASED if holder does not
 * hold it (lost to a takeover), -ENOENT if nobody does. */
int pl_store_lease_renew(struct pl_store *st, const char *board,
			 const char *holder, uint64_t ttl_ms);

/* Give the board back. -PL_ELEASED if holder does not hold it, -ENOENT if
 * nobody does. */
int pl_store_lease_release(struct pl_store *st, const char *board,
			   const char *holder);

/* Every lease, expired ones included (compare expires_ns with
 * pl_store_now()). Free with pl_store_leases_free(). */
int pl_store_list_leases(struct pl_store *st, struct pl_lease_row **rows,
			 size_t *n);
void pl_store_leases_free(struct pl_lease_row *rows, size_t n);
/* The row of board in rows (from pl_store_list_leases()), or NULL. */
const struct pl_lease_row *pl_lease_rows_find(const struct pl_lease_row *rows,
					      size_t n, const char *board);

/* -------------------------------------------------------- quarantine */

/*
 * A board set aside. Kind "device": a device outcome that needs a person (a
 * brick with no way back, a manual recovery). Kind "lab": a lab fault (a
 * fixture that failed, a recovery that failed in the lab, a probe that
 * failed its health check) -- never a verdict on the device. Kept in the
 * store, so that every later suite, every worker of a lab service and
 * `patchlab boards` see it until it is released: by hand (`patchlab boards
 * --release ID`, serve's POST /api/boards/ID/release-quarantine) or, for
 * kind "lab", by a later suite whose health check of the board passes.
 * Setting or releasing one is a change of the board (PL_CHANGE_LEASE).
 */
enum pl_quarantine_kind {
	PL_QUARANTINE_DEVICE,
	PL_QUARANTINE_LAB,
};

struct pl_quarantine_row {
	char *board_id;
	enum pl_quarantine_kind kind;
	char *reason;
	char *holder;     /* who set it (pl_store_holder() of its store) */
	int64_t run_id;   /* the run that set it; 0 if none */
	uint64_t since_ns;
};

/* "device", "lab"; and back (-EINVAL). */
const char *pl_quarantine_kind_name(enum pl_quarantine_kind k);
int pl_quarantine_kind_parse(const char *s, enum pl_quarantine_kind *k);

/* Quarantine board (replacing what it had) for reason, set by run_id (0:
 * none). */
int pl_store_quarantine(struct pl_store *st, const char *board,
			enum pl_quarantine_kind kind, const char *reason,
			int64_t run_id);
/* Release board's quarantine; -ENOENT when it had none. */
int pl_store_quarantine_release(struct pl_store *st, const char *board);
/* Every quarantined board. Free with pl_store_quarantine_free(). */
int pl_store_list_quarantine(struct pl_store *st,
			     struct pl_quarantine_row **rows, size_t *n);
void pl_store_quarantine_free(struct pl_quarantine_row *rows, size_t n);
/* The row of board in rows, or NULL. */
const struct pl_quarantine_row *
pl_quarantine_rows_find(const struct pl_quarantine_row *rows, size_t n,
			const char *board);

/* ----------------------------------------------------------- changes */

/*
 * The change sequence: every suite or run written, every lease taken,
 * handed to another holder or released, and (PostgreSQL) every job of the
 * queue queued, claimed, requeued or ended, gets the next number, in the
 * same transaction as the change, whichever process made it. A reader that saw
 * seq N reads what came after with pl_store_changes(st, N, ...) and misses
 * nothing. Numbers only grow and are never reused (gaps are possible).
 */
enum pl_change_kind {
	PL_CHANGE_SUITE, /* suite_id began or ended */
	PL_CHANGE_RUN,   /* run_id (of suite_id, on board_id) began or changed */
	PL_CHANGE_LEASE, /* board_id's lease taken, handed over or released,
			  * or its quarantine set or released */
	PL_CHANGE_JOB,   /* jobs of suite_id on board_id (the queue, below)
			  * queued, claimed, requeued, cancelled or ended:
			  * one change per suite and board per transaction;
			  * a job lease's renewal is none. PostgreSQL only */
	PL_CHANGE_COUNT
};

/* "suite", "run", "lease", "job". */
const char *pl_change_kind_name(enum pl_change_kind k);

struct pl_change_row {
	int64_t seq;
	enum pl_change_kind kind;
	int64_t suite_id;  /* 0 when none (a lease, a run outside a suite) */
	int64_t run_id;    /* 0 unless kind is PL_CHANGE_RUN */
	char *board_id;    /* NULL for a suite */
};

/* The newest sequence number (0 in a store with no change yet). One indexed
 * read: cheap enough to poll a few times a second. */
int pl_store_seq(struct pl_store *st, int64_t *seq);

/* The changes after since, oldest first, at most max (0: all). Free with
 * pl_store_changes_free(). */
int pl_store_changes(struct pl_store *st, int64_t since, size_t max,
		     struct pl_change_row **rows, size_t *n);
void pl_store_changes_free(struct pl_change_row *rows, size_t n);

/* The newest run of board (highest id), or -ENOENT if it has none. Free
 * with pl_store_runs_free(*row, 1). */
int pl_store_board_last_run(struct pl_store *st, const char *board,
			    struct pl_run_row **row);

/* ------------------------------------------------------------- queue */

/*
 * The lab service's queue (docs/lab-service.md): PostgreSQL only; every
 * call returns -ENOTSUP on a SQLite store. A submitter uploads images and
 * queues a suite as jobs, one per run it expands to, each pinned to a board
 * a worker registered; workers claim jobs for their free boards, hold a
 * lease on each that they renew by heartbeat, and finish it by moving the
 * run their engine recorded into the queued suite, in one transaction that
 * first checks the lease still holds (or else records nothing). A sweep job
 * ends the same way with every run of its sweep.
 */

/* Store bytes under their SHA-256 (hex, 64 chars + NUL in sha); storing
 * the same bytes twice stores nothing. */
int pl_store_image_put(struct pl_store *st, const void *data, size_t len,
		       char sha[65]);
/* The bytes stored under sha (malloc'ed, free()), or -ENOENT. */
int pl_store_image_get(struct pl_store *st, const char *sha, void **data,
		       size_t *len);

/* A board a worker serves, as it registers it. */
struct pl_worker_board {
	const char *id, *type;
	const char *const *tags; /* NULL-terminated, may be NULL */
};

/* Register (or re-register) worker name with its lab and boards; it is
 * online from now. A worker name is one process at a time: the jobs an
 * earlier life of name still holds are taken back (requeued while they
 * had fewer than max_attempts, else recorded lab-error). */
int pl_store_worker_register(struct pl_store *st, const char *name,
			     const char *lab,
			     const struct pl_worker_board *boards, size_t n,
			     int max_attempts);
/* Mark worker name offline (it stopped); its boards take no jobs. */
int pl_store_worker_offline(struct pl_store *st, const char *name);

struct pl_board_reg {
	char *id, *type, *worker;
	char **tags;   /* NULL-terminated */
	bool online;
};
/* Every board of every registered worker, by id. Free with
 * pl_store_boards_free(). */
int pl_store_list_boards(struct pl_store *st, struct pl_board_reg **rows,
			 size_t *n);
void pl_store_boards_free(struct pl_board_reg *rows, size_t n);

/* One job to queue. */
struct pl_job_info {
	const char *board_id, *board_type;
	const char *scenario;    /* as `replay` takes it: "scenarios/x.lua" */
	const char *params_json; /* NULL: {} */
	uint64_t seed;
	/* 0: one run. N: a sweep job, the whole sweep of the suite's run N
	 * (1-based) on this board: its learning pass and every point, as
	 * `run` plans them from seed (the suite's), ended with
	 * pl_store_job_finish_sweep(); how many runs is known only then */
	int sweep;
};

struct pl_submit_info {
	struct pl_suite_info suite;  /* name, file (path on the workers) ... */
	const char *submitter;       /* NULL: this store's holder */
	int priority;                /* higher first */
	const char *images_json;     /* {"NAME": "SHA256"}; NULL: {} */
	uint64_t queue_timeout_ns;   /* 0: none */
};

/* Queue a suite: its suite row, its queue entry and n jobs, in one
 * transaction; workers are woken (NOTIFY patchlab_queue). */
int pl_store_submit(struct pl_store *st, const struct pl_submit_info *in,
		    const struct pl_job_info *jobs, size_t n,
		    int64_t *suite_id);

enum pl_job_state {
	PL_JOB_QUEUED, PL_JOB_CLAIMED, PL_JOB_DONE, PL_JOB_CANCELLED,
	PL_JOB_TIMED_OUT, PL_JOB_STATE_COUNT
};
/* "queued", "claimed", "done", "cancelled", "timed-out". */
const char *pl_job_state_name(enum pl_job_state s);

struct pl_job_row {
	int64_t id, suite_id, run_id; /* run_id 0 until done */
	int index, priority, attempt;
	enum pl_job_state state;
	char *board_id, *board_type, *scenario, *params_json, *submitter;
	char *worker, *reason;  /* NULL when none */
	char *suite_name, *suite_file, *images_json;
	uint64_t seed, queued_ns, expires_ns;
	uint64_t claimed_ns, ended_ns; /* the last claim, the end; 0: not yet */
	int sweep;              /* pl_job_info.sweep */
	/* a sweep job done: the runs it recorded, in id order (run_id is 0);
	 * NULL/0 otherwise (a sweep job ended lab-error has run_id) */
	int64_t *runs;
	size_t nruns;
};
void pl_store_jobs_free(struct pl_job_row *rows, size_t n);

/*
 * Claim the next queued job of one of boards (priority, then age) for
 * worker, leased for ttl_ms: FOR UPDATE SKIP LOCKED, so two workers never
 * claim one job and never wait on each other. -ENOENT when none waits.
 * Free *job with pl_store_jobs_free(*job, 1).
 */
int pl_store_claim(struct pl_store *st, const char *worker,
		   const char *const *boards, size_t nboards, uint64_t ttl_ms,
		   struct pl_job_row **job);
/*
 * Worker's heartbeat: renew the leases of the jobs it runs (jobs, njobs).
 * A job the store has claimed for worker that is not among them -- a claim
 * whose answer a broken connection lost, a run whose end never reached the
 * store -- has its lease ended now, so the next pl_store_reap() gives it
 * back (or ends it lab-error) instead of worker holding it forever. *n (may
 * be NULL) gets how many of jobs it still holds.
 */
int pl_store_heartbeat(struct pl_store *st, const char *worker,
		       uint64_t ttl_ms, const int64_t *jobs, size_t njobs,
		       size_t *n);
/*
 * Worker's attempt of job recorded run_id (under a suite of its own, as
 * the engine does): in one transaction, if the job is still worker's with
 * this attempt, move the run into the job's suite, mark it the worker's
 * and the job done; else delete the run and return -PL_ELEASED (the job
 * was taken back: nothing is recorded twice).
 */
int pl_store_job_finish(struct pl_store *st, int64_t job, const char *worker,
			int attempt, int64_t run_id);
/*
 * pl_store_job_finish() of a sweep job: every run of own_suite (the suite
 * the attempt's engine recorded the sweep under) moves into the job's
 * suite, marked the worker's, and the job is done with their ids (its
 * runs), all in one transaction -- or, when the attempt no longer holds
 * the job, every run of own_suite and the suite are deleted and
 * -PL_ELEASED returned: never half a sweep. Repeating a finish that was
 * committed changes nothing (0). -ENOENT when own_suite has no run,
 * -EINVAL when it is a queued suite.
 */
int pl_store_job_finish_sweep(struct pl_store *st, int64_t job,
			      const char *worker, int attempt,
			      int64_t own_suite);
/*
 * Worker's attempt of job ended without a result (the engine could not
 * start it, or the worker stopped under it): requeue it when requeue and
 * the job had fewer than max_attempts, else record a lab-error run with
 * reason under the job's suite and mark it done. A run the attempt's
 * engine recorded (run_id, 0 when none) is deleted in the same
 * transaction, with every other run of its suite when that suite is the
 * attempt's own (a sweep job's earlier points) -- even when the job is no
 * longer worker's: an attempt's own runs are never a result. -PL_ELEASED when the job is no longer worker's.
 */
int pl_store_job_fail(struct pl_store *st, int64_t job, const char *worker,
		      int attempt, int64_t run_id, const char *reason,
		      bool requeue, int max_attempts);
/*
 * Housekeeping any worker or waiting submitter does: jobs whose lease
 * expired (their worker died or lost the database) are requeued while
 * they had fewer than max_attempts, else recorded lab-error naming the
 * worker; workers silent for stale_ms go offline; queued jobs of suites
 * past their queue timeout end timed-out. *n (may be NULL) gets the jobs
 * touched.
 */
int pl_store_reap(struct pl_store *st, int max_attempts, uint64_t stale_ms,
		  size_t *n);
/*
 * LISTEN on channel ("patchlab_queue": a submit, a job's end; or
 * "patchlab_changes") on this store's connection; *fd gets the socket to
 * watch for readability (the loop's, e.g. uv_poll). After it is readable,
 * and after other calls on the store, pl_store_notified() says how many
 * notifications came. A reconnect drops the LISTEN: keep a polling
 * fallback. channel: [a-z_] only (-EINVAL).
 */
int pl_store_listen(struct pl_store *st, const char *channel, int *fd);
/* Read what the server sent without blocking; *n gets the notifications
 * that arrived since the last call (0 when none). */
int pl_store_notified(struct pl_store *st, size_t *n);

/* Jobs of suite_id (0: every job queued or claimed), in id order. */
int pl_store_list_jobs(struct pl_store *st, int64_t suite_id,
		       struct pl_job_row **rows, size_t *n);
/*
 * The queue as a person reads it: the queued jobs in the order claims take
 * them (priority, then round-robin between submitters, then age: see
 * pl_store_claim(); each board takes its own in this order, and a claim
 * meanwhile may reorder the submitters of one priority), then the claimed
 * ones by claim time, then at most ended_max of the jobs that ended
 * (done, cancelled, timed out), the latest first. One statement: one
 * snapshot. Free with pl_store_jobs_free().
 */
int pl_store_list_queue(struct pl_store *st, size_t ended_max,
			struct pl_job_row **rows, size_t *n);
/* Cancel the queued jobs of suite_id (claimed ones finish). *n (may be
 * NULL) gets how many; -ENOENT for a suite that was never queued. */
int pl_store_cancel(struct pl_store *st, int64_t suite_id, size_t *n);

#endif
