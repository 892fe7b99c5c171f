/* SPDX-License-Identifier: MIT */
/* Rack, processes and store helpers of the end-to-end tests (e2e_util.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "e2e_util.h"
#include "pl_test.h"

static void on_exit_cb(uv_process_t *h, int64_t status, int term_signal)
{
	struct e2e_proc *p = h->data;

	p->code = term_signal ? 128 + term_signal : (int)status;
	p->exited = true;
	uv_close((uv_handle_t *)h, NULL);
}

int e2e_spawn(uv_loop_t *loop, struct e2e_proc *p, const char *cwd,
	      const char *out_path, char *const argv[])
{
	uv_process_options_t o = { 0 };
	uv_stdio_container_t io[3];
	int in, out, rc;

	memset(p, 0, sizeof(*p));
	p->code = -1;
	if (snprintf(p->out_path, sizeof(p->out_path), "%s", out_path) >=
	    (int)sizeof(p->out_path))
		return UV_ENAMETOOLONG;
	in = open("/dev/null", O_RDONLY | O_CLOEXEC);
	out = open(out_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (in < 0 || out < 0) {
		rc = -errno;
		goto out_close;
	}
	io[0].flags = UV_INHERIT_FD;
	io[0].data.fd = in;
	io[1].flags = UV_INHERIT_FD;
	io[1].data.fd = out;
	io[2].flags = UV_INHERIT_FD;
	io[2].data.fd = out;
	o.file = argv[0];
	o.args = (char **)argv;
	o.cwd = cwd;
	o.stdio = io;
	o.stdio_count = 3;
	o.exit_cb = on_exit_cb;
	p->h.data = p;
	rc = uv_spawn(loop, &p->h, &o);
	if (rc == 0)
		p->started = true;
	else
		/* the handle is initialised even when the spawn fails */
		uv_close((uv_handle_t *)&p->h, NULL);
out_close:
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return rc;
}

static bool proc_exited(void *ud)
{
	return ((struct e2e_proc *)ud)->exited;
}

int e2e_wait(uv_loop_t *loop, struct e2e_proc *p, unsigned timeout_ms)
{
	if (!p->started)
		return p->code;
	if (pl_test_loop_until(loop, proc_exited, p, timeout_ms) != 0) {
		fprintf(stderr, "e2e: pid %d still running after %u ms: killed\n",
			p->h.pid, timeout_ms);
		uv_process_kill(&p->h, SIGKILL);
		/* SIGKILL cannot be ignored: this wait ends */
		while (!p->exited)
			uv_run(loop, UV_RUN_ONCE);
	}
	uv_run(loop, UV_RUN_NOWAIT); /* the handle's close callback */
	return p->code;
}

/* Every e2e run: one output (as a terminal shows it), the e2e deadline. */
static struct pl_test_run run_in(const char *cwd)
{
	return (struct pl_test_run){ .cwd = cwd, .merge_err = true,
				     .deadline_ms = E2E_RUN_DEADLINE_MS };
}

int e2e_patchlab_argv(const char *cwd, char **out, char *const args[])
{
	struct pl_test_run o = run_in(cwd);

	return pl_test_patchlab_argv(&o, args, out, NULL);
}

int e2e_patchlab(const char *cwd, char **out, ...)
{
	struct pl_test_run o = run_in(cwd);
	va_list ap;
	int rc;

	va_start(ap, out);
	rc = pl_test_patchlab_va(&o, out, NULL, ap);
	va_end(ap);
	return rc;
}

int e2e_run_argv(const char *cwd, char **out, char *const argv[])
{
	struct pl_test_run o = run_in(cwd);

	return pl_test_run(&o, argv, out, NULL);
}

int e2e_rack_up(struct e2e_rack *r, const char *tag, int boards,
		const char *profiles)
{
	char nb[16], *out = NULL;
	int rc;

	memset(r, 0, sizeof(*r));
	/* the rack daemon comes back to us: reaped after `vrack down` */
	pl_test_become_subreaper();
	r->dir = pl_test_tmpdir(tag);
	if (!r->dir || asprintf(&r->lab, "%s/lab.yaml", r->dir) < 0)
		return -1;
	r->boards = boards;
	snprintf(nb, sizeof(nb), "%d", boards);
	rc = e2e_patchlab(NULL, &out, "vrack", "up", "--dir", r->dir,
			  "--boards", nb, "--profile", profiles, "--speed",
			  "20", NULL);
	r->pid = pl_test_rack_pid(r->dir);
	if (rc != 0 || r->pid <= 0) {
		fprintf(stderr, "vrack up in %s: exit %d\n%s", r->dir, rc,
			out ? out : "");
		free(out);
		return -1;
	}
	free(out);
	setenv("VRACK", r->dir, 1);
	return 0;
}

int e2e_rack_down(struct e2e_rack *r)
{
	char *out = NULL, db[4200];
	int rc = 0, st;
	pid_t pid;

	if (!r->dir)
		return 0;
	snprintf(db, sizeof(db), "%s/down.db", r->dir);
	if (r->pid > 0) {
		/* power always left off */
		for (int b = 0; b < r->boards; b++) {
			char id[16];
			int prc;

			snprintf(id, sizeof(id), "vb%d", b);
			prc = e2e_patchlab(NULL, &out, "power", id, "off",
					   "--lab", r->lab, "--db", db,
					   "--no-wait", NULL);
			if (prc != 0) {
				fprintf(stderr, "power %s off: exit %d\n%s", id,
					prc, out ? out : "");
				rc = -1;
			}
			free(out);
			out = NULL;
		}
		if (e2e_patchlab(NULL, &out, "vrack", "down", "--dir", r->dir,
				 NULL) != 0) {
			fprintf(stderr, "vrack down: %s", out ? out : "");
			rc = -1;
		}
		free(out);
		if (pl_test_reap(r->pid, 30000) != 0)
			rc = -1;
		r->pid = 0;
	}
	/* anything else re-parented to us (nothing should be) is reaped */
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
		fprintf(stderr, "e2e: reaped leftover pid %d\n", (int)pid);
	if (getenv("PL_KEEP_RACK"))
		fprintf(stderr, "kept %s\n", r->dir);
	else
		pl_test_rmrf(r->dir);
	free(r->dir);
	free(r->lab);
	memset(r, 0, sizeof(*r));
	return rc;
}

int e2e_ctx_setup(void **state, const char *suite, const char *tag,
		  int boards, const char *profiles)
{
	struct e2e_ctx *c = calloc(1, sizeof(*c));

	*state = c;
	if (!c)
		return -1;
	c->suite = pl_test_source_path(suite);
	return e2e_rack_up(&c->rack, tag, boards, profiles);
}

int e2e_ctx_teardown(void **state)
{
	struct e2e_ctx *c = *state;
	int rc;

	if (!c)
		return 0;
	rc = e2e_rack_down(&c->rack);
	free(c->suite);
	free(c);
	return rc;
}

sqlite3 *e2e_db_open(const char *path)
{
	sqlite3 *db = NULL;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK) {
		fprintf(stderr, "e2e: open %s: %s\n", path,
			db ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, 10000);
	return db;
}

bool e2e_db_once(sqlite3 **db, const char *path)
{
	if (!*db && access(path, F_OK) == 0)
		*db = e2e_db_open(path);
	return *db != NULL;
}

int64_t e2e_db_int(sqlite3 *db, const char *sql, int64_t dflt)
{
	sqlite3_stmt *s = NULL;
	int64_t v = dflt;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
		fprintf(stderr, "e2e: %s: %s\n", sql, sqlite3_errmsg(db));
		return dflt;
	}
	if (sqlite3_step(s) == SQLITE_ROW &&
	    sqlite3_column_type(s, 0) != SQLITE_NULL)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

char *e2e_db_text(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *s = NULL;
	char *v = NULL;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
		fprintf(stderr, "e2e: %s: %s\n", sql, sqlite3_errmsg(db));
		return NULL;
	}
	if (sqlite3_step(s) == SQLITE_ROW &&
	    sqlite3_column_type(s, 0) != SQLITE_NULL)
		v = strdup((const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	return v;
}
