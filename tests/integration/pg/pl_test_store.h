/* SPDX-License-Identifier: MIT */
/*
 * The store's tests run twice: on SQLite, and on a real PostgreSQL 15 that
 * the test program starts itself (the copies named *_pg, which ctest runs
 * with PL_TEST_STORE=pg). A test asks this helper for a fresh store target
 * instead of making up a file name, and runs the same assertions on both.
 *
 * The server: initdb + pg_ctl from /usr/lib/postgresql/15/bin (Debian's
 * postgresql-15) in a short temporary directory, listening on a unix socket
 * there (and on a free TCP port of 127.0.0.1 for tests that want TCP), run
 * as the unprivileged `postgres` user (or `nobody`) when we are root, since
 * initdb refuses root. A watchdog process stops it and removes its
 * directory when the test program ends, however it ends.
 */
#ifndef PL_TEST_STORE_H
#define PL_TEST_STORE_H

#include <stdbool.h>

/* true when this program runs against PostgreSQL (PL_TEST_STORE=pg). */
bool pl_test_store_is_pg(void);

/*
 * Call first in main(). On PostgreSQL: start the server, or exit 77 with a
 * one-line reason when PostgreSQL 15 is not installed (any other failure
 * fails the program, with the server's log). On SQLite: nothing.
 */
void pl_test_store_init(void);

/*
 * Before pl_test_store_init(): the server also listens on addr (an IPv4
 * address of this host, e.g. the host end of a veth pair) and trusts
 * connections from cidr (a `host all all CIDR trust` line in pg_hba.conf),
 * for a client in another network namespace. Without it the server
 * listens on 127.0.0.1 and its socket only. 0, or -EINVAL (too long, or
 * the server already started).
 */
int pl_test_pg_also_listen(const char *addr, const char *cidr);

/* A fresh, empty store: dir/name (SQLite), or a new database on the
 * server as a libpq URI (PostgreSQL). malloc'ed; NULL on failure. */
char *pl_test_store_target(const char *dir, const char *name);

/* The server's socket directory, TCP port and superuser (PostgreSQL; the
 * server must have been started). */
const char *pl_test_pg_socket_dir(void);
int pl_test_pg_port(void);

/* Restart the server (pg_ctl restart -m fast: every connection is cut)
 * and wait until it accepts connections again. 0 or -1 (printed). */
int pl_test_pg_restart(void);

/* Run SQL directly on target, the statement for its backend. 0 or -EIO
 * (the engine's message printed). */
int pl_test_store_exec(const char *target, const char *sqlite_sql,
		       const char *pg_sql);

/* The integer the first column of the first row of a query reads. */
int pl_test_store_query_int(const char *target, const char *sqlite_sql,
			    const char *pg_sql, long long *out);

#endif
