/* SPDX-License-Identifier: MIT */
/* A fresh store on either backend for the store's tests: pl_test_store.h. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "pl_test.h"
#include "pl_test_store.h"

#define PG_BIN "/usr/lib/postgresql/15/bin"
#define PG_USER "patchlab"
#define PG_START_DEADLINE_MS 120000u

/* The one server of this test program (a test program is one process). */
static struct {
	char dir[64];   /* short: a unix socket path lives in it */
	int port;
	unsigned dbs;
	bool up;
	char user[64];  /* the server's user when we are root, else "" */
	char opts[320]; /* the server's options */
	char also_addr[48], also_cidr[48]; /* pl_test_pg_also_listen() */
} srv;

bool pl_test_store_is_pg(void)
{
	const char *b = getenv("PL_TEST_STORE");

	return b && strcmp(b, "pg") == 0;
}

/* A free TCP port on 127.0.0.1 (the kernel's pick, released again). */
static int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

/* argv run as the server's user: ourselves, or via runuser when root. */
static int run_as(const char *user, char *const argv[], char **err)
{
	char *av[32];
	int n = 0;

	if (user) {
		av[n++] = "runuser";
		av[n++] = "-u";
		av[n++] = (char *)user;
		av[n++] = "--";
	}
	for (int i = 0; argv[i] && n < 31; i++)
		av[n++] = argv[i];
	av[n] = NULL;
	return pl_test_run(&(struct pl_test_run){ .merge_err = false,
						  .deadline_ms =
							  PG_START_DEADLINE_MS },
			   av, NULL, err);
}

/* Stop the server and remove its directory once the pipe's other end
 * closes, i.e. when this test program is gone (however it went). */
static void watchdog(const int pfd[2], const char *user)
{
	char data[128], c;
	int rfd = pfd[0];
	pid_t pid = fork();

	if (pid != 0)
		return;
	close(pfd[1]); /* or we would wait for ourselves */
	/* ctest waits for the test's stdout to close: not on our account */
	int nul = open("/dev/null", O_RDWR);

	dup2(nul, 0);
	dup2(nul, 1);
	dup2(nul, 2);
	setsid();
	while (read(rfd, &c, 1) < 0 && errno == EINTR)
		;
	snprintf(data, sizeof(data), "%s/data", srv.dir);
	if (fork() == 0) {
		if (user)
			execlp("runuser", "runuser", "-u", user, "--",
			       PG_BIN "/pg_ctl", "-D", data, "-m", "immediate",
			       "-w", "stop", (char *)NULL);
		else
			execl(PG_BIN "/pg_ctl", "pg_ctl", "-D", data, "-m",
			      "immediate", "-w", "stop", (char *)NULL);
		_exit(127);
	}
	wait(NULL);
	pl_test_rmrf(srv.dir);
	_exit(0);
}

static void fail_with_log(const char *what, const char *err)
{
	char *path = pl_test_path(srv.dir, "log"), *log;

	log = path ? pl_test_slurp(path) : NULL;
	fprintf(stderr, "postgresql: %s failed: %s\n%s\n", what,
		err ? err : "", log ? log : "(no server log)");
	free(log);
	free(path);
	exit(1);
}

int pl_test_pg_also_listen(const char *addr, const char *cidr)
{
	if (srv.up || strlen(addr) >= sizeof(srv.also_addr) ||
	    strlen(cidr) >= sizeof(srv.also_cidr) || strpbrk(addr, " ,'") ||
	    strpbrk(cidr, " \n"))
		return -EINVAL;
	snprintf(srv.also_addr, sizeof(srv.also_addr), "%s", addr);
	snprintf(srv.also_cidr, sizeof(srv.also_cidr), "%s", cidr);
	return 0;
}

/* pg_hba.conf trusts srv.also_cidr too. */
static void hba_also(const char *data)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/pg_hba.conf", data);
	f = fopen(path, "a");
	if (!f || fprintf(f, "host all all %s trust\n", srv.also_cidr) < 0 ||
	    fclose(f) != 0) {
		fprintf(stderr, "postgresql: %s: %s\n", path, strerror(errno));
		exit(1);
	}
}

void pl_test_store_init(void)
{
	char data[96], opts[320], port[16], *err = NULL;
	const char *user = NULL;
	struct passwd *pw = NULL;
	int pfd[2], rc;

	if (!pl_test_store_is_pg() || srv.up)
		return;
	if (access(PG_BIN "/initdb", X_OK) != 0 ||
	    access(PG_BIN "/postgres", X_OK) != 0) {
		printf("SKIP: no PostgreSQL 15 server (%s): install the Debian "
		       "package postgresql\n", PG_BIN);
		exit(PL_TEST_SKIP_CODE);
	}
	snprintf(srv.dir, sizeof(srv.dir), "/tmp/plpg-XXXXXX");
	if (!mkdtemp(srv.dir)) {
		perror("postgresql: mkdtemp");
		exit(1);
	}
	if (geteuid() == 0) {
		/* initdb refuses root: the server runs as a user of its own */
		pw = getpwnam("postgres");
		if (!pw)
			pw = getpwnam("nobody");
		if (!pw || chown(srv.dir, pw->pw_uid, pw->pw_gid) != 0) {
			fprintf(stderr, "postgresql: no unprivileged user for "
				"the server\n");
			exit(1);
		}
		user = pw->pw_name;
	}
	if (pipe2(pfd, O_CLOEXEC) != 0) {
		perror("postgresql: pipe");
		exit(1);
	}
	watchdog(pfd, user);
	close(pfd[0]);
	/* pfd[1] stays open (and unseen by children we exec) until we end */

	snprintf(data, sizeof(data), "%s/data", srv.dir);
	rc = run_as(user, (char *[]){ PG_BIN "/initdb", "-D", data, "-A",
				      "trust", "-U", PG_USER, "-E", "UTF8",
				      "--locale=C", "-N", NULL }, &err);
	if (rc != 0)
		fail_with_log("initdb", err);
	free(err);
	err = NULL;
	if (srv.also_addr[0])
		hba_also(data);
	srv.port = free_port();
	snprintf(port, sizeof(port), "%d", srv.port);
	/* fsync off: a test server's durability is not under test (the
	 * store's transactions are; a killed client is what we test) */
	snprintf(opts, sizeof(opts), "-k %s -p %d -c listen_addresses=127.0.0.1%s%s "
		 "-c fsync=off -c synchronous_commit=off "
		 "-c full_page_writes=off -c max_connections=300", srv.dir,
		 srv.port, srv.also_addr[0] ? "," : "", srv.also_addr);
	{
		char log[96];

		snprintf(log, sizeof(log), "%s/log", srv.dir);
		rc = run_as(user, (char *[]){ PG_BIN "/pg_ctl", "-D", data,
					      "-l", log, "-o", opts, "-w",
					      "-t", "100", "start", NULL },
			    &err);
	}
	if (rc != 0)
		fail_with_log("pg_ctl start", err);
	free(err);
	snprintf(srv.user, sizeof(srv.user), "%s", user ? user : "");
	snprintf(srv.opts, sizeof(srv.opts), "%s", opts);
	srv.up = true;
}

int pl_test_pg_restart(void)
{
	char data[96], log[96], *err = NULL;
	int rc;

	snprintf(data, sizeof(data), "%s/data", srv.dir);
	snprintf(log, sizeof(log), "%s/log", srv.dir);
	/* -w: pg_ctl waits (with its deadline, -t) until it accepts */
	rc = run_as(srv.user[0] ? srv.user : NULL,
		    (char *[]){ PG_BIN "/pg_ctl", "-D", data, "-l", log, "-o",
				srv.opts, "-m", "fast", "-w", "-t", "100",
				"restart", NULL }, &err);
	if (rc != 0)
		fprintf(stderr, "postgresql: pg_ctl restart: exit %d: %s\n", rc,
			err ? err : "");
	free(err);
	return rc == 0 ? 0 : -1;
}

const char *pl_test_pg_socket_dir(void)
{
	return srv.dir;
}

int pl_test_pg_port(void)
{
	return srv.port;
}

static char *admin_uri(const char *db)
{
	char *uri;

	if (asprintf(&uri, "postgresql:///%s?host=%s&port=%d&user=" PG_USER,
		     db, srv.dir, srv.port) < 0)
		return NULL;
	return uri;
}

/* "drop cascades to table changes": what a test asked for */
static void quiet(void *ud, const char *msg)
{
	(void)ud;
	(void)msg;
}

static int pg_exec(const char *uri, const char *sql, long long *out)
{
	PGconn *c = PQconnectdb(uri);
	PGresult *r;
	int rc = 0;

	PQsetNoticeProcessor(c, quiet, NULL);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "postgresql: connect %s: %s", uri,
			PQerrorMessage(c));
		PQfinish(c);
		return -EIO;
	}
	r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK &&
	    PQresultStatus(r) != PGRES_TUPLES_OK) {
		fprintf(stderr, "postgresql: %s: %s", sql,
			PQresultErrorMessage(r));
		rc = -EIO;
	} else if (out) {
		if (PQntuples(r) < 1)
			rc = -ENOENT;
		else
			*out = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	}
	PQclear(r);
	PQfinish(c);
	return rc;
}

char *pl_test_store_target(const char *dir, const char *name)
{
	char db[64], sql[96], *admin;
	int rc;

	if (!pl_test_store_is_pg())
		return pl_test_path(dir, name);
	pl_test_store_init();
	snprintf(db, sizeof(db), "t%u", ++srv.dbs);
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", db);
	admin = admin_uri("postgres");
	rc = admin ? pg_exec(admin, sql, NULL) : -ENOMEM;
	free(admin);
	return rc ? NULL : admin_uri(db);
}

int pl_test_store_exec(const char *target, const char *sqlite_sql,
		       const char *pg_sql)
{
	sqlite3 *db;
	char *msg = NULL;
	int rc = 0;

	if (strncmp(target, "postgresql:", 11) == 0)
		return pg_exec(target, pg_sql, NULL);
	if (sqlite3_open(target, &db) != SQLITE_OK)
		rc = -EIO;
	else if (sqlite3_exec(db, sqlite_sql, NULL, NULL, &msg) != SQLITE_OK)
		rc = -EIO;
	if (rc)
		fprintf(stderr, "sqlite: %s: %s\n", sqlite_sql,
			msg ? msg : sqlite3_errmsg(db));
	sqlite3_free(msg);
	sqlite3_close(db);
	return rc;
}

int pl_test_store_query_int(const char *target, const char *sqlite_sql,
			    const char *pg_sql, long long *out)
{
	sqlite3_stmt *s;
	sqlite3 *db;
	int rc = -EIO;

	if (strncmp(target, "postgresql:", 11) == 0)
		return pg_exec(target, pg_sql, out);
	if (sqlite3_open(target, &db) != SQLITE_OK)
		goto out_close;
	if (sqlite3_prepare_v2(db, sqlite_sql, -1, &s, NULL) != SQLITE_OK)
		goto out_close;
	if (sqlite3_step(s) == SQLITE_ROW) {
		*out = sqlite3_column_int64(s, 0);
		rc = 0;
	}
	sqlite3_finalize(s);
out_close:
	sqlite3_close(db);
	return rc;
}
