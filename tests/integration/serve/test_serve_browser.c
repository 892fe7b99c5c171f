/* SPDX-License-Identifier: MIT */
/*
 * /pl/serve/browser: the pages of `patchlab serve` in a real browser,
 * headless Chromium driven over the DevTools protocol on a pipe
 * (--remote-debugging-pipe: JSON messages ended by NUL on fds 3 and 4; no
 * npm, no network). While runs are written to the store:
 *   - the suite page shows each new run (the time from the store's commit
 *     to the row in the DOM is printed, never asserted);
 *   - the server killed and started again: the page's event stream resumes
 *     and the page received every change of the store exactly once;
 *   - a board id, reason and console line with <script>, quotes and
 *     invalid UTF-8 show as text: no script of theirs runs;
 *   - the run page of an open run follows its console as it is written;
 *   - the board page shows the lease; the queue page says that a one-host
 *     store has no queue.
 * As integration_serve_browser_pg, on a PostgreSQL store with the lab
 * service's queue: the queue page shows queued jobs as they are submitted,
 * in claim order, drops them when they are cancelled and shows a claimed
 * one with its worker, all without a reload; the suite page follows its
 * jobs.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "patchlab/clock.h"
#include "pl_test.h"
#include "pl_test_store.h"
#include "serve_test.h"

#define NASTY_BOARD "vb<script>window.__xss=1</script>\"'\xff"
#define NASTY_REASON "<img src=x onerror=\"window.__xss=2\">"
#define NASTY_CONSOLE "boot ok\n<script>window.__xss=3</script>\n\xff\xfe bad\n"
#define DEADLINE_MS 30000
#define NEW_RUNS 10

/* ------------------------------------------------------------- CDP */

struct cdp {
	int pid;
	int to, from;     /* our ends of the browser's fds 3 and 4 */
	char *buf;
	size_t len, cap;
	int next_id;
	char session[128];
};

static int high_fd(int fd)
{
	int h = fcntl(fd, F_DUPFD_CLOEXEC, 10);

	close(fd);
	return h;
}

static void cdp_start(struct cdp *c, const char *profile)
{
	int to[2], from[2];
	char *ud, *argv[] = {
		"chromium", "--headless", "--no-sandbox", "--disable-gpu",
		"--no-first-run", "--disable-background-networking",
		"--disable-component-update", "--disable-sync",
		"--disable-extensions", "--remote-debugging-pipe", NULL,
		"about:blank", NULL,
	};

	memset(c, 0, sizeof(*c));
	assert_true(asprintf(&ud, "--user-data-dir=%s", profile) > 0);
	argv[10] = ud;
	assert_int_equal(pipe2(to, O_CLOEXEC), 0);
	assert_int_equal(pipe2(from, O_CLOEXEC), 0);
	/* above 4, so that dup2 onto 3 and 4 never meets itself */
	to[0] = high_fd(to[0]);
	to[1] = high_fd(to[1]);
	from[0] = high_fd(from[0]);
	from[1] = high_fd(from[1]);
	c->pid = fork();
	assert_true(c->pid >= 0);
	if (c->pid == 0) {
		int null = open("/dev/null", O_RDWR);

		/* dies with the test, whatever kills the test */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (null < 0 || dup2(null, 0) < 0 || dup2(to[0], 3) < 0 ||
		    dup2(from[1], 4) < 0)
			_exit(127);
		if (!getenv("PL_TEST_VERBOSE") &&
		    (dup2(null, 1) < 0 || dup2(null, 2) < 0))
			_exit(127);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(to[0]);
	close(from[1]);
	c->to = to[1];
	c->from = from[0];
	c->next_id = 1;
	free(ud);
}

/* Send method(params) (params stolen; NULL: {}), to the page session when
 * session, and wait for its answer: the "result" (new reference), or NULL
 * with the error's message in *err (malloc'ed) when err is non-NULL. */
static json_t *cdp_try(struct cdp *c, const char *method, json_t *params,
		       bool session, char **err)
{
	int64_t end = serve_now_ms() + DEADLINE_MS;
	int id = c->next_id++;
	json_t *msg = json_pack("{s:i,s:s,s:o}", "id", id, "method", method,
				"params", params ? params : json_object());
	char *text;
	size_t n;

	assert_non_null(msg);
	if (session)
		json_object_set_new(msg, "sessionId", json_string(c->session));
	text = json_dumps(msg, JSON_COMPACT);
	json_decref(msg);
	assert_non_null(text);
	n = strlen(text) + 1; /* the NUL ends the message */
	for (size_t off = 0; off < n;) {
		ssize_t w = write(c->to, text + off, n - off);

		assert_true(w > 0);
		off += (size_t)w;
	}
	free(text);
	for (;;) {
		char *nul;

		while (c->len && (nul = memchr(c->buf, '\0', c->len))) {
			size_t used = (size_t)(nul - c->buf) + 1;
			json_t *m = json_loads(c->buf, 0, NULL), *r = NULL;

			memmove(c->buf, c->buf + used, c->len - used);
			c->len -= used;
			if (!m)
				continue;
			if (json_integer_value(json_object_get(m, "id")) == id) {
				json_t *e = json_object_get(m, "error");

				if (e && !err)
					fail_msg("%s: %s", method,
						 json_dumps(m, 0));
				if (e) {
					*err = strdup(json_string_value(
						json_object_get(e, "message")) ?
						json_string_value(
						json_object_get(e, "message")) :
						"?");
					json_decref(m);
					return NULL;
				}
				r = json_incref(json_object_get(m, "result"));
			} else if (getenv("PL_TEST_VERBOSE")) {
				const char *ev = json_string_value(
					json_object_get(m, "method"));

				if (ev && strcmp(ev, "Runtime.exceptionThrown")
				    == 0)
					fprintf(stderr, "page exception: %s\n",
						json_dumps(m, 0));
			}
			json_decref(m);
			if (r)
				return r;
		}
		if (c->len + 65536 > c->cap) {
			c->cap = c->cap ? c->cap * 2 : 1 << 20;
			c->buf = realloc(c->buf, c->cap);
			assert_non_null(c->buf);
		}
		{
			struct pollfd pfd = { .fd = c->from, .events = POLLIN };
			int64_t left = end - serve_now_ms();
			ssize_t r;

			if (left <= 0)
				fail_msg("%s: no answer from chromium within "
					 "%d ms", method, DEADLINE_MS);
			if (poll(&pfd, 1, (int)left) <= 0)
				continue;
			r = read(c->from, c->buf + c->len, c->cap - c->len);
			if (r <= 0)
				fail_msg("%s: chromium closed the pipe", method);
			c->len += (size_t)r;
		}
	}
}

static json_t *cdp_call(struct cdp *c, const char *method, json_t *params,
			bool session)
{
	return cdp_try(c, method, params, session, NULL);
}

static void cdp_open(struct cdp *c, const char *url)
{
	json_t *r = cdp_call(c, "Target.createTarget",
			     json_pack("{s:s}", "url", url), false);
	const char *tid = json_string_value(json_object_get(r, "targetId"));
	json_t *a;

	assert_non_null(tid);
	a = cdp_call(c, "Target.attachToTarget",
		     json_pack("{s:s,s:b}", "targetId", tid, "flatten", 1),
		     false);
	snprintf(c->session, sizeof(c->session), "%s",
		 json_string_value(json_object_get(a, "sessionId")));
	json_decref(a);
	json_decref(r);
	json_decref(cdp_call(c, "Runtime.enable", NULL, true));
	json_decref(cdp_call(c, "Page.enable", NULL, true));
}

/*
 * Wait (deadline) until the page expression expr is truthy and return its
 * value (JSON, new reference). The page checks every 20 ms; the wait is
 * the browser's, bounded on both sides.
 */
static json_t *page_wait(struct cdp *c, const char *expr)
{
	char *js;
	json_t *r, *v;

	assert_true(asprintf(&js, "new Promise(ok=>{const end=Date.now()+%d;"
			     "const t=()=>{let v;try{v=(%s);}catch(e){}"
			     "if(v||Date.now()>end){ok(v===undefined?null:v);"
			     "return;}setTimeout(t,20);};t();})",
			     DEADLINE_MS - 2000, expr) > 0);
	/* a navigation under way destroys the context we asked: again */
	for (int64_t end = serve_now_ms() + DEADLINE_MS;;) {
		char *err = NULL;

		r = cdp_try(c, "Runtime.evaluate",
			    json_pack("{s:s,s:b,s:b}", "expression", js,
				      "awaitPromise", 1, "returnByValue", 1),
			    true, &err);
		if (r)
			break;
		if (serve_now_ms() > end)
			fail_msg("page: %s: %s", expr, err);
		free(err);
	}
	free(js);
	v = json_object_get(json_object_get(r, "result"), "value");
	if (!v || json_is_null(v) || json_is_false(v))
		fail_msg("page never satisfied: %s", expr);
	json_incref(v);
	json_decref(r);
	return v;
}

/* The value of expr now (JSON, new reference). */
static json_t *page_eval(struct cdp *c, const char *expr)
{
	json_t *r = cdp_call(c, "Runtime.evaluate",
			     json_pack("{s:s,s:b}", "expression", expr,
				       "returnByValue", 1), true);
	json_t *v = json_object_get(json_object_get(r, "result"), "value");

	v = v ? json_incref(v) : json_null();
	json_decref(r);
	return v;
}

static bool page_true(struct cdp *c, const char *expr)
{
	json_t *v = page_eval(c, expr);
	bool t = json_is_true(v);

	if (!t)
		fprintf(stderr, "page: false: %s\n", expr);
	json_decref(v);
	return t;
}

static void page_goto(struct cdp *c, const char *url)
{
	json_decref(cdp_call(c, "Page.navigate", json_pack("{s:s}", "url", url),
			     true));
}

static void cdp_stop(struct cdp *c)
{
	json_decref(cdp_call(c, "Browser.close", NULL, false));
	close(c->to);
	close(c->from);
	assert_int_equal(pl_test_reap(c->pid, DEADLINE_MS), 0);
	c->pid = 0;
	free(c->buf);
}

/* ------------------------------------------------------------ test */

/* What a failed assertion leaves running: the teardown ends it. */
static struct serve_proc *live_srv;
static struct cdp *live_cdp;

static int teardown(void **state)
{
	(void)state;
	if (live_srv && live_srv->pid)
		serve_stop(live_srv, true);
	if (live_cdp && live_cdp->pid > 0) {
		kill(live_cdp->pid, SIGKILL);
		pl_test_reap(live_cdp->pid, DEADLINE_MS);
	}
	live_srv = NULL;
	live_cdp = NULL;
	return 0;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return (x > y) - (x < y);
}

/* No script but ours ran or exists; no element a string smuggled in. */
static void nothing_executed(struct cdp *c)
{
	assert_true(page_true(c, "window.__xss===undefined"));
	assert_true(page_true(c, "document.scripts.length===1"));
	assert_true(page_true(c, "document.querySelector('img')===null"));
}

static void pages_show_runs_live_as_text_and_resume(void **state)
{
	char *dir = pl_test_tmpdir("serve-browser"), *db, *lab, *console,
	     *profile, *url, expr[512];
	struct pl_suite_info si = { .name = "nightly <swap> & co" };
	const char *extra[] = { "--lab", NULL, NULL };
	struct serve_proc srv;
	struct pl_store *st;
	struct pl_change_row *ch;
	long long lat[NEW_RUNS];
	int64_t suite, id, nasty, init, want_last = 0;
	json_t *v;
	struct cdp c;
	size_t n;

	(void)state;
	PL_TEST_SKIP_IF(!pl_test_have_program("chromium"),
			"chromium not installed (scripts/install-deps)");
	db = pl_test_path(dir, "p.db");
	lab = pl_test_path(dir, "lab.yaml");
	console = pl_test_path(dir, "nasty.console");
	profile = pl_test_path(dir, "profile");
	write_file(lab,
		   "lab:\n  name: serve-lab\nboards:\n"
		   "  - id: vb0\n    type: virtual-mcu\n"
		   "    power: {driver: lcus, port: /dev/null, channel: 1}\n"
		   "    console: {driver: tty, path: /tmp/vb0.console}\n");
	write_file(console, NASTY_CONSOLE);
	assert_int_equal(pl_store_open(&st, db, NULL), 0);
	assert_int_equal(pl_store_suite_begin(st, &si, &suite), 0);
	assert_int_equal(serve_write_run(st, suite, "vb0", "cut_swap", 3,
					 PL_VERDICT_PASS, NULL, NULL, &id), 0);
	assert_int_equal(serve_write_run(st, suite, NASTY_BOARD,
					 "cut_\"q'\xfe", 4, PL_VERDICT_RECOVERED,
					 NASTY_REASON, console, &nasty), 0);
	assert_int_equal(pl_store_lease_take(st, "vb0", "tester@lab/abc",
					     600000, NULL), 0);
	extra[1] = lab;
	live_srv = &srv;
	assert_int_equal(serve_start(&srv, db, "0", extra), 0);
	live_cdp = &c;
	cdp_start(&c, profile);

	/* the suite page, live */
	assert_true(asprintf(&url, "%ssuites/%lld", srv.url,
			     (long long)suite) > 0);
	cdp_open(&c, url);
	json_decref(page_wait(&c, "document.body.dataset.live==='live'&&"
				  "document.querySelector('#runs tr[data-run]')"));
	v = page_eval(&c, "Number(document.body.dataset.seq)");
	init = json_integer_value(v);
	json_decref(v);
	assert_true(init > 0);
	/* the report's own rendering: gate, matrix, one mark per cut */
	assert_true(page_true(&c, "!!document.getElementById('gate')&&"
				  "!!document.getElementById('verdict-matrix')"));
	assert_true(page_true(&c, "document.querySelectorAll('#cutmap "
				  "rect.cut').length===2"));
	/* hostile strings are text */
	snprintf(expr, sizeof(expr), "document.getElementById('run-%lld')"
		 ".textContent.includes('vb<script>window.__xss=1</script>\\"
		 "\"\\'\\uFFFD')", (long long)nasty);
	assert_true(page_true(&c, expr));
	snprintf(expr, sizeof(expr), "document.getElementById('run-%lld')"
		 ".textContent.includes('<img src=x onerror=\"window.__xss=2"
		 "\">')", (long long)nasty);
	assert_true(page_true(&c, expr));
	assert_true(page_true(&c, "document.getElementById('cutmap')"
				  ".textContent.includes('vb<script>')"));
	nothing_executed(&c);

	/* new runs appear as they are stored; when is the DOM's business */
	json_decref(page_eval(&c, "window.__seen={};new MutationObserver(()=>{"
				  "for(const r of document.querySelectorAll("
				  "'#runs tr[data-run]'))if(!(r.dataset.run in "
				  "window.__seen))window.__seen[r.dataset.run]="
				  "Date.now();}).observe(document.getElementById"
				  "('app'),{childList:true,subtree:true});1"));
	for (int i = 0; i < NEW_RUNS; i++) {
		long long stored_ms;

		assert_int_equal(serve_write_run(st, suite, "vb0", "cut_swap",
						 10 + i, i % 3 ?
						 PL_VERDICT_PASS :
						 PL_VERDICT_BRICKED, "r", NULL,
						 &id), 0);
		stored_ms = (long long)(pl_wall_ns() / 1000000u);
		snprintf(expr, sizeof(expr), "window.__seen['%lld']",
			 (long long)id);
		v = page_wait(&c, expr);
		lat[i] = (long long)json_number_value(v) - stored_ms;
		json_decref(v);
	}
	qsort(lat, NEW_RUNS, sizeof(lat[0]), cmp_ll);
	fprintf(stderr, "serve: store commit -> run row in the page: median "
		"%lld ms, max %lld ms over %d runs (the store is polled every "
		"250 ms)\n", lat[NEW_RUNS / 2], lat[NEW_RUNS - 1], NEW_RUNS);

	/* kill -9; runs stored while it is down; started again on its port:
	 * the page gets them, and every change exactly once */
	json_decref(page_eval(&c, "window.__es0=PL.es;1"));
	assert_int_equal(serve_stop(&srv, true), 128 + SIGKILL);
	json_decref(page_wait(&c, "document.body.dataset.live!=='live'"));
	for (int i = 0; i < 3; i++)
		assert_int_equal(serve_write_run(st, suite, "vb0", "cut_swap",
						 30 + i, PL_VERDICT_ROLLED_BACK,
						 NULL, NULL, &id), 0);
	{
		char port[8];

		snprintf(port, sizeof(port), "%s", srv.port);
		assert_int_equal(serve_start(&srv, db, port, extra), 0);
	}
	snprintf(expr, sizeof(expr), "document.getElementById('run-%lld')",
		 (long long)id);
	json_decref(page_wait(&c, expr));
	assert_int_equal(pl_store_changes(st, init, 0, &ch, &n), 0);
	assert_true(n >= NEW_RUNS * 2 + 6);
	want_last = ch[n - 1].seq;
	snprintf(expr, sizeof(expr), "window.plEvents.length&&window.plEvents["
		 "window.plEvents.length-1]===%lld&&JSON.stringify("
		 "window.plEvents)", (long long)want_last);
	v = page_wait(&c, expr);
	fprintf(stderr, "serve: after the restart the page %s\n",
		page_true(&c, "PL.es===window.__es0") ?
		"resumed on its own EventSource (Last-Event-ID)" :
		"opened a new stream from its last id (?since=)");
	{
		json_t *got = json_loads(json_string_value(v), 0, NULL);

		assert_non_null(got);
		if (json_array_size(got) != n)
			fail_msg("page got %zu events, the store has %zu "
				 "changes after %lld: %s", json_array_size(got),
				 n, (long long)init, json_string_value(v));
		for (size_t i = 0; i < n; i++)
			assert_int_equal(json_integer_value(
				json_array_get(got, i)), ch[i].seq);
		json_decref(got);
	}
	json_decref(v);
	pl_store_changes_free(ch, n);

	/* the run page: the console as text */
	free(url);
	assert_true(asprintf(&url, "%sruns/%lld", srv.url,
			     (long long)nasty) > 0);
	page_goto(&c, url);
	json_decref(page_wait(&c, "document.getElementById('console')"));
	assert_true(page_true(&c, "document.getElementById('console')"
				  ".textContent.includes('<script>window.__xss"
				  "=3</script>\\n\\uFFFD\\uFFFD bad')"));
	assert_true(page_true(&c, "document.getElementById('timeline')"
				  ".textContent.includes('power')"));
	nothing_executed(&c);

	/* the run page of a run that holds its board: its console, live */
	{
		char *live = pl_test_path(dir, "live.console");
		struct pl_run_info ri = {
			.suite_id = suite, .board_id = "vb0",
			.board_type = "virtual-mcu", .scenario = "cut_swap",
			.console_log = live,
		};
		FILE *lf;

		write_file(live, "U-Boot 2023 <b>\n");
		assert_int_equal(pl_store_run_begin(st, &ri, &id), 0);
		free(url);
		assert_true(asprintf(&url, "%sruns/%lld", srv.url,
				     (long long)id) > 0);
		page_goto(&c, url);
		json_decref(page_wait(&c, "document.getElementById('console')&&"
					  "document.getElementById('console')"
					  ".textContent.includes('U-Boot 2023 "
					  "<b>')"));
		lf = fopen(live, "a");
		assert_non_null(lf);
		assert_true(fputs("swap: copying slot <a> \xff\n", lf) >= 0);
		assert_int_equal(fclose(lf), 0);
		json_decref(page_wait(&c, "document.getElementById('console')"
					  ".textContent.includes('swap: copying "
					  "slot <a> \uFFFD')"));
		assert_int_equal(pl_store_run_end(st, id, PL_VERDICT_PASS,
						  NULL), 0);
		json_decref(page_wait(&c, "document.getElementById('run-title')"
					  "&&document.querySelector('#run-title "
					  ".v-pass')"));
		nothing_executed(&c);
		free(live);
	}

	/* the board page: the lease */
	free(url);
	assert_true(asprintf(&url, "%sboards/vb0", srv.url) > 0);
	page_goto(&c, url);
	json_decref(page_wait(&c, "document.getElementById('board-lease')&&"
				  "document.getElementById('board-lease')"
				  ".textContent.includes('tester@lab/abc')"));
	/* and the lab page: boards and suites by name */
	page_goto(&c, srv.url);
	json_decref(page_wait(&c, "document.querySelector('#suites')&&"
				  "document.querySelector('#suites')"
				  ".textContent.includes('nightly <swap> & co')"));
	assert_true(page_true(&c, "document.querySelector('#boards "
				  "tr[data-board=vb0]').textContent"
				  ".includes('tester@lab/abc')"));
	nothing_executed(&c);
	/* the queue page: one host, no queue, and it says so */
	free(url);
	assert_true(asprintf(&url, "%squeue", srv.url) > 0);
	page_goto(&c, url);
	json_decref(page_wait(&c, "document.getElementById('no-queue')&&"
				  "document.getElementById('no-queue')"
				  ".textContent.includes('no queue')"));

	cdp_stop(&c);
	assert_int_equal(serve_stop(&srv, false), 0);
	pl_store_close(st);
	pl_test_rmrf(dir);
	free(dir);
	free(db);
	free(lab);
	free(console);
	free(profile);
	free(url);
}

/* Queue n jobs of a suite named name at priority p, job i on boards[i]. */
static int64_t queue_suite(struct pl_store *st, const char *name, int p,
			   const char *const *boards, size_t n)
{
	struct pl_submit_info sub = {
		.suite = { .name = name, .file = "/s.yaml" }, .priority = p,
	};
	struct pl_job_info jobs[4];
	int64_t id;

	assert_true(n <= 4);
	for (size_t i = 0; i < n; i++)
		jobs[i] = (struct pl_job_info){
			.board_id = boards[i], .board_type = "virtual-mcu",
			.scenario = "cut_\"q'\xfe", .seed = i };
	assert_int_equal(pl_store_submit(st, &sub, jobs, n, &id), 0);
	return id;
}

static void queue_page_follows_the_jobs(void **state)
{
	char *dir = pl_test_tmpdir("serve-queue"), *db, *profile, *url;
	struct pl_worker_board wb[] = { { "vb0", "virtual-mcu", NULL } };
	const char *two[] = { NASTY_BOARD, "vb0" }, *vb0[] = { "vb0" };
	struct serve_proc srv;
	struct pl_store *st;
	struct pl_job_row *j;
	int64_t first, second;
	char expr[512];
	struct cdp c;
	size_t n;

	(void)state;
	PL_TEST_SKIP_IF(!pl_test_have_program("chromium"),
			"chromium not installed (scripts/install-deps)");
	db = pl_test_store_target(dir, "q");
	assert_non_null(db);
	profile = pl_test_path(dir, "profile");
	assert_int_equal(pl_store_open(&st, db, NULL), 0);
	assert_int_equal(pl_store_worker_register(st, "w1", "lab", wb, 1, 2),
			 0);
	first = queue_suite(st, "nightly <script>", 3, two, 2);
	live_srv = &srv;
	assert_int_equal(serve_start(&srv, db, "0", NULL), 0);
	live_cdp = &c;
	cdp_start(&c, profile);
	assert_true(asprintf(&url, "%squeue", srv.url) > 0);
	cdp_open(&c, url);
	json_decref(page_wait(&c, "document.body.dataset.live==='live'&&"
				  "document.querySelectorAll('#queued "
				  "tr[data-job]').length===2"));
	/* hostile strings are text */
	assert_true(page_true(&c, "document.getElementById('queued')"
				  ".textContent.includes('vb<script>window."
				  "__xss=1</script>\\\"\\'\\uFFFD')"));
	assert_true(page_true(&c, "document.getElementById('queued')"
				  ".textContent.includes('nightly <script>')"));
	nothing_executed(&c);
	/* from here on the page is never loaded again */
	json_decref(page_eval(&c, "window.__same=1;1"));

	/* a submit shows, first in claim order (its priority is higher) */
	second = queue_suite(st, "second", 7, vb0, 1);
	snprintf(expr, sizeof(expr), "document.querySelectorAll('#queued "
		 "tr[data-job]').length===3&&document.querySelector('#queued "
		 "tr[data-job]').textContent.includes('#%lld second')",
		 (long long)second);
	json_decref(page_wait(&c, expr));
	/* a cancel (as `patchlab cancel` does it): its jobs leave the
	 * queued for the ended */
	assert_int_equal(pl_store_cancel(st, first, &n), 0);
	assert_int_equal(n, 2);
	json_decref(page_wait(&c, "document.querySelectorAll('#queued "
				  "tr[data-job]').length===1&&document."
				  "querySelectorAll('#ended tr[data-state="
				  "cancelled]').length===2"));
	assert_true(page_true(&c, "window.__same===1"));
	nothing_executed(&c);

	/* the suite page counts its jobs, live: a claim shows */
	free(url);
	assert_true(asprintf(&url, "%ssuites/%lld", srv.url,
			     (long long)second) > 0);
	page_goto(&c, url);
	json_decref(page_wait(&c, "document.body.dataset.live==='live'&&"
				  "document.getElementById('jobs')&&"
				  "document.getElementById('jobs').textContent"
				  ".includes('1 queued, 0 running')"));
	json_decref(page_eval(&c, "window.__same=2;1"));
	assert_int_equal(pl_store_claim(st, "w1", vb0, 1, 600000, &j), 0);
	assert_int_equal(j->suite_id, second);
	pl_store_jobs_free(j, 1);
	json_decref(page_wait(&c, "document.getElementById('jobs')&&"
				  "document.getElementById('jobs').textContent"
				  ".includes('0 queued, 1 running')"));
	assert_true(page_true(&c, "window.__same===2"));
	/* and the queue page, the claimed job with its worker */
	free(url);
	assert_true(asprintf(&url, "%squeue", srv.url) > 0);
	page_goto(&c, url);
	json_decref(page_wait(&c, "document.querySelector('#claimed "
				  "tr[data-job]')&&document.querySelector("
				  "'#claimed tr[data-job]').textContent"
				  ".includes('w1')"));
	nothing_executed(&c);

	cdp_stop(&c);
	assert_int_equal(serve_stop(&srv, false), 0);
	pl_store_close(st);
	pl_test_rmrf(dir);
	free(dir);
	free(db);
	free(profile);
	free(url);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(
			pages_show_runs_live_as_text_and_resume, teardown),
	};
	const struct CMUnitTest pg_tests[] = {
		cmocka_unit_test_teardown(queue_page_follows_the_jobs,
					  teardown),
	};

	pl_test_store_init();
	if (pl_test_store_is_pg())
		return cmocka_run_group_tests_name("/pl/serve/browser/pg",
						   pg_tests, NULL, NULL);
	return cmocka_run_group_tests_name("/pl/serve/browser", tests, NULL,
					   NULL);
}
