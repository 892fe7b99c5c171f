/* SPDX-License-Identifier: MIT */
/*
 * The store's two halves: store.c is the front end every caller sees
 * (argument checks, JSON validation, event buffering, the open-run list,
 * recovery's decisions, row freeing); a backend (store_sqlite.c,
 * store_pg.c) only speaks SQL to its engine. Never installed.
 *
 * Every backend op takes the store and returns 0 or a negative code with
 * the meaning patchlab/store.h gives it; an engine failure is logged by the
 * backend (naming st->target) and returned as -EIO. Rows handed back are
 * malloc'ed as the public free functions expect.
 */
#ifndef PL_STORE_INTERNAL_H
#define PL_STORE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "patchlab/store.h"

/* An event buffered in memory until its run ends (or a batch fills). */
struct pl_store_event {
	int64_t run_id;
	uint64_t t_ns;
	enum pl_event_kind kind;
	char *payload; /* canonical JSON object */
};

/* A run still marked open, as recovery reads it. */
struct pl_store_open_run {
	int64_t id;
	char *board, *controller, *host;
	int pid;
};

struct pl_store_ops;

struct pl_store {
	const struct pl_store_ops *ops;
	void *be;       /* the backend's connection state */
	char *target;   /* the path or URI (password removed), for messages */
	struct pl_log log;
	pl_store_clock_fn clock;
	void *clock_data;
	unsigned busy_timeout_ms;
	char *holder;   /* PID@HOST/TOKEN */
	char host[256];
	int pid;
	/* runs this process began and has not ended */
	int64_t *open_runs;
	size_t nopen, capopen;
	struct pl_store_event *ev;
	size_t nev, capev;
};

/* What a row query selects; zero fields match everything. */
struct pl_store_run_query {
	const struct pl_run_filter *f; /* may be NULL */
	int64_t id;                    /* one run */
	const char *last_of_board;     /* the newest run of this board */
};

/*
 * The backend table. All members are required. Calls block (they are the
 * store's calls); none keeps a pointer to its arguments.
 */
struct pl_store_ops {
	const char *name; /* "sqlite", "postgresql" */
	/* Connect to target and set st->be; no schema work. */
	int (*open)(struct pl_store *st, const char *target);
	void (*close)(struct pl_store *st);
	/* The schema version this backend writes. */
	int (*schema_latest)(void);
	/* The database's schema version (0: empty). */
	int (*schema_version)(struct pl_store *st, int *v);
	/* Bring the schema to schema_latest() under a lock other migrators
	 * wait for; -EPROTO (logged) when the database is newer. *from gets
	 * the version found (may be NULL). */
	int (*migrate)(struct pl_store *st, int *from);

	int (*suite_begin)(struct pl_store *st, const struct pl_suite_info *in,
			   uint64_t now, int64_t *id);
	int (*suite_end)(struct pl_store *st, int64_t id, const char *gate,
			 uint64_t now); /* -ENOENT */
	/* params and cut are canonical JSON text. */
	int (*run_begin)(struct pl_store *st, const struct pl_run_info *in,
			 const char *params, const char *cut, uint64_t now,
			 int64_t *id);
	/* Write st->ev[0..st->nev) in one transaction (the caller drops them
	 * once this returned 0). */
	int (*write_events)(struct pl_store *st);
	/* In ONE transaction: st->ev, then close run id. -EALREADY if it is
	 * closed, -ENOENT if unknown (nothing written then). */
	int (*run_end)(struct pl_store *st, int64_t id, enum pl_verdict v,
		       const char *reason, uint64_t now);
	/* Close an open run outside the buffer (recovery); -EALREADY if it
	 * was closed meanwhile. */
	int (*run_close)(struct pl_store *st, int64_t id, enum pl_verdict v,
			 const char *reason, uint64_t now);
	/* Set column "replay" or "cut" of run id; -ENOENT. */
	int (*run_set)(struct pl_store *st, int64_t id, const char *column,
		       const char *text);

	int (*open_runs_list)(struct pl_store *st,
			      struct pl_store_open_run **rows, size_t *n);
	/* true when holder's lease on board has not expired at now; errors
	 * read as alive (when in doubt, leave the run alone). */
	bool (*lease_alive)(struct pl_store *st, const char *board,
			    const char *holder, uint64_t now);

	/* id 0: all, newest first. */
	int (*suites)(struct pl_store *st, int64_t id,
		      struct pl_suite_row **rows, size_t *n);
	int (*runs)(struct pl_store *st, const struct pl_store_run_query *q,
		    struct pl_run_row **rows, size_t *n);
	int (*events)(struct pl_store *st, int64_t run_id,
		      struct pl_event_row **rows, size_t *n);

	/* Take or renew board for holder until expires. -PL_ELEASED with
	 * *prev = the live holder; on success *prev = the previous holder
	 * when the lease was taken over (may be NULL). */
	int (*lease_take)(struct pl_store *st, const char *board,
			  const char *holder, uint64_t now, uint64_t expires,
			  char **prev);
	/* Renew (release false) or drop (release true) holder's lease:
	 * -PL_ELEASED when another holds it, -ENOENT when nobody does. */
	int (*lease_change)(struct pl_store *st, const char *board,
			    const char *holder, uint64_t now, uint64_t expires,
			    bool release);
	int (*leases)(struct pl_store *st, struct pl_lease_row **rows,
		      size_t *n);
	int (*quarantine_set)(struct pl_store *st, const char *board,
			      const char *kind, const char *reason,
			      int64_t run_id, uint64_t now);
	int (*quarantine_release)(struct pl_store *st, const char *board);
	int (*quarantines)(struct pl_store *st,
			   struct pl_quarantine_row **rows, size_t *n);
	int (*seq)(struct pl_store *st, int64_t *seq);
	int (*changes)(struct pl_store *st, int64_t since, size_t max,
		       struct pl_change_row **rows, size_t *n);
	/* true when the last call failed because the connection to the
	 * server broke (the front end then makes the call once more; the
	 * backend reconnects first). NULL: never (a file). */
	bool (*lost)(struct pl_store *st);
};

extern const struct pl_store_ops pl_store_sqlite_ops;
extern const struct pl_store_ops pl_store_pg_ops;

/* Shared by the backends (store.c). */
void pl_store_open_runs_free(struct pl_store_open_run *o, size_t n);
/* "suite", "run", "lease", "job" -> kind (PL_CHANGE_RUN when unknown). */
enum pl_change_kind pl_store_change_kind_parse(const char *s);

/* A grow-by-doubling array of elem-byte rows, zeroed as they are added. */
struct pl_store_rows {
	char *buf;
	size_t n, cap, elem;
};

/* The next zeroed row, or NULL when memory ran out. */
void *pl_store_rows_add(struct pl_store_rows *r);

#endif
