/* SPDX-License-Identifier: MIT */
/*
 * /pl/serve/api: the real `patchlab serve` on a store written through the
 * store API (as a controller writes it): the JSON of /api/, the event
 * stream of /events (Last-Event-ID, new runs, a server killed and started
 * again with no change lost), the write actions' token and cancel, the
 * Host check. On SQLite, and as integration_serve_api_pg on a PostgreSQL
 * server the test starts (where a suite can be queued and cancelled, and
 * /api/queue lists its jobs, which /events follows).
 */
#include <errno.h>
#include <glob.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "pl_test.h"
#include "pl_test_store.h"
#include "serve_test.h"

/* A board id, reason and console line a hostile board could produce. */
#define NASTY_BOARD "vb<script>window.__xss=1</script>\"'\xff"
#define NASTY_SCEN "cut_\"q'\xfe"
#define NASTY_REASON "<img src=x onerror=\"window.__xss=2\">"
#define NASTY_CONSOLE "boot ok\n<script>window.__xss=3</script>\n\xff\xfe bad\n"
#define DEADLINE_MS 30000

struct fx {
	char *dir, *db, *lab, *token, *console;
	struct pl_store *st;
	int64_t suite, nasty_run, bricked_run;
	struct serve_proc srv;
};

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct pl_suite_info si = { .name = "nightly <swap> & co", .seed = 1 };
	const char *extra[] = { "--lab", NULL, "--token-file", NULL, NULL };
	int64_t id;

	assert_non_null(f);
	f->dir = pl_test_tmpdir("serve-api");
	f->db = pl_test_store_target(f->dir, "p.db");
	f->lab = pl_test_path(f->dir, "lab.yaml");
	f->token = pl_test_path(f->dir, "token");
	f->console = pl_test_path(f->dir, "nasty.console");
	write_file(f->lab,
		   "lab:\n  name: serve-lab\nboards:\n"
		   "  - id: vb0\n    type: virtual-mcu\n"
		   "    power: {driver: lcus, port: /dev/null, channel: 1}\n"
		   "    console: {driver: tty, path: /tmp/vb0.console}\n"
		   "  - id: vb1\n    type: virtual-mcu\n"
		   "    power: {driver: lcus, port: /dev/null, channel: 2}\n"
		   "    console: {driver: tty, path: /tmp/vb1.console}\n");
	write_file(f->token, "s3cret-token\n");
	write_file(f->console, NASTY_CONSOLE);
	assert_int_equal(pl_store_open(&f->st, f->db, NULL), 0);
	assert_int_equal(pl_store_suite_begin(f->st, &si, &f->suite), 0);
	assert_int_equal(serve_write_run(f->st, f->suite, "vb0", "cut_swap", 3,
					 PL_VERDICT_PASS, NULL, NULL, &id), 0);
	assert_int_equal(serve_write_run(f->st, f->suite, "vb1", "cut_swap", 5,
					 PL_VERDICT_BRICKED, "no boot", NULL,
					 &f->bricked_run), 0);
	assert_int_equal(serve_write_run(f->st, f->suite, NASTY_BOARD,
					 NASTY_SCEN, 4, PL_VERDICT_RECOVERED,
					 NASTY_REASON, f->console,
					 &f->nasty_run), 0);
	assert_int_equal(pl_store_lease_take(f->st, "vb0", "tester@lab/abc",
					     600000, NULL), 0);
	extra[1] = f->lab;
	extra[3] = f->token;
	assert_int_equal(serve_start(&f->srv, f->db, "0", extra), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	if (!f)
		return 0;
	if (f->srv.pid)
		assert_int_equal(serve_stop(&f->srv, false), 0);
	pl_store_close(f->st);
	pl_test_rmrf(f->dir);
	free(f->dir);
	free(f->db);
	free(f->lab);
	free(f->token);
	free(f->console);
	free(f);
	return 0;
}

/* GET path: 200 and its JSON (valid UTF-8, or json_loads fails). */
static json_t *get_json(struct fx *f, const char *path)
{
	json_error_t err;
	char *body;
	json_t *j;
	int status;

	assert_int_equal(http_req(&f->srv, "GET", path, NULL, &status, &body),
			 0);
	if (status != 200)
		fprintf(stderr, "GET %s: %d %s\n", path, status, body);
	assert_int_equal(status, 200);
	j = json_loads(body, 0, &err);
	if (!j)
		fprintf(stderr, "GET %s: bad JSON: %s\n", path, err.text);
	assert_non_null(j);
	free(body);
	return j;
}

static const char *sget(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static int status_of(struct fx *f, const char *method, const char *path,
		     const char *headers)
{
	char *body;
	int status;

	assert_int_equal(http_req(&f->srv, method, path, headers, &status,
				  &body), 0);
	free(body);
	return status;
}

static void lab_lists_boards_with_lease_and_last_verdict(void **state)
{
	struct fx *f = *state;
	json_t *j = get_json(f, "/api/lab"), *b0, *b1, *s;

	assert_string_equal(sget(j, "lab"), "serve-lab");
	assert_true(json_integer_value(json_object_get(j, "seq")) > 0);
	assert_int_equal(json_array_size(json_object_get(j, "boards")), 2);
	b0 = json_array_get(json_object_get(j, "boards"), 0);
	b1 = json_array_get(json_object_get(j, "boards"), 1);
	assert_string_equal(sget(b0, "id"), "vb0");
	assert_string_equal(sget(b0, "type"), "virtual-mcu");
	assert_string_equal(sget(json_object_get(b0, "lease"), "holder"),
			    "tester@lab/abc");
	assert_true(json_is_false(json_object_get(json_object_get(b0, "lease"),
						  "expired")));
	assert_string_equal(sget(json_object_get(b0, "last_run"), "verdict"),
			    "pass");
	assert_true(json_is_null(json_object_get(b1, "lease")));
	assert_string_equal(sget(json_object_get(b1, "last_run"), "verdict"),
			    "bricked");
	assert_true(json_is_null(json_object_get(b1, "quarantine")));
	json_decref(j);

	j = get_json(f, "/api/suites");
	s = json_array_get(json_object_get(j, "suites"), 0);
	assert_string_equal(sget(s, "name"), "nightly <swap> & co");
	assert_int_equal(json_integer_value(json_object_get(s, "id")),
			 f->suite);
	json_decref(j);

	j = get_json(f, "/api/boards/vb0");
	assert_string_equal(sget(json_object_get(json_object_get(j, "board"),
						 "lease"), "holder"),
			    "tester@lab/abc");
	json_decref(j);
}

static void suite_has_runs_counts_and_the_reports_rendering(void **state)
{
	struct fx *f = *state;
	char path[64];
	json_t *j, *s, *runs, *nasty;
	const char *html;

	snprintf(path, sizeof(path), "/api/suites/%lld", (long long)f->suite);
	j = get_json(f, path);
	s = json_object_get(j, "suite");
	assert_string_equal(sget(s, "result"), "fail");
	runs = json_object_get(s, "runs");
	assert_int_equal(json_array_size(runs), 3);
	assert_int_equal(json_integer_value(json_object_get(
		json_object_get(s, "counts"), "bricked")), 1);
	nasty = json_array_get(runs, 2);
	/* invalid bytes became U+FFFD; the markup is plain text */
	assert_string_equal(sget(nasty, "board_id"),
			    "vb<script>window.__xss=1</script>\"'\xef\xbf\xbd");
	assert_string_equal(sget(nasty, "scenario"), "cut_\"q'\xef\xbf\xbd");
	assert_string_equal(sget(nasty, "reason"), NASTY_REASON);
	/* the HTML report's gate, matrix and cut map, escaped there */
	html = sget(s, "html");
	assert_non_null(strstr(html, "id=\"gate\""));
	assert_non_null(strstr(html, "id=\"verdict-matrix\""));
	assert_non_null(strstr(html, "class=\"cut v-bricked\""));
	assert_non_null(strstr(html, "nightly &lt;swap&gt; &amp; co"));
	assert_null(strstr(html, "<script"));
	assert_non_null(strstr(html, "vb&lt;script&gt;"));
	json_decref(j);

	assert_int_equal(status_of(f, "GET", "/api/suites/999", NULL), 404);
}

static void run_has_timeline_and_console_as_text(void **state)
{
	struct fx *f = *state;
	char path[64];
	json_t *j, *r, *ev;
	const char *console;

	snprintf(path, sizeof(path), "/api/runs/%lld",
		 (long long)f->nasty_run);
	j = get_json(f, path);
	r = json_object_get(j, "run");
	ev = json_object_get(r, "events");
	assert_int_equal(json_array_size(ev), 1);
	assert_string_equal(sget(json_array_get(ev, 0), "kind"), "power");
	assert_string_equal(sget(json_object_get(json_array_get(ev, 0),
						 "payload"), "cmd"), "off");
	console = sget(r, "console");
	assert_non_null(console);
	assert_non_null(strstr(console, "<script>window.__xss=3</script>"));
	assert_non_null(strstr(console, "\xef\xbf\xbd\xef\xbf\xbd bad"));
	assert_string_equal(sget(json_object_get(r, "cut"), "phase"),
			    "during");
	json_decref(j);
}

static void pages_and_unknown_paths(void **state)
{
	struct fx *f = *state;
	char *body;
	int status;

	assert_int_equal(http_req(&f->srv, "GET", "/", NULL, &status, &body),
			 0);
	assert_int_equal(status, 200);
	assert_non_null(strstr(body, "<script nonce=\""));
	assert_null(strstr(body, "http://"));  /* no asset from the network */
	assert_null(strstr(body, "https://"));
	free(body);
	assert_int_equal(status_of(f, "GET", "/suites/1", NULL), 200);
	assert_int_equal(status_of(f, "GET", "/nowhere", NULL), 404);
	assert_int_equal(status_of(f, "GET", "/api/runs/abc", NULL), 404);
	assert_int_equal(status_of(f, "GET", "/api/changes?since=x", NULL),
			 400);
	assert_int_equal(status_of(f, "DELETE", "/api/lab", NULL), 405);
	/* DNS rebinding: a foreign Host is refused on a loopback server */
	assert_int_equal(status_of(f, "GET", "/api/lab",
				   "Host: evil.example:80\r\n"), 403);
	assert_int_equal(status_of(f, "GET", "/api/lab",
				   "Host: localhost:1\r\n"), 403);
	assert_int_equal(status_of(f, "GET", "/api/lab", "Host: localhost\r\n"),
			 200);
}

static void write_actions_need_the_token(void **state)
{
	struct fx *f = *state;
	struct pl_lease_row *l;
	size_t n;

	assert_int_equal(status_of(f, "POST", "/api/boards/vb0/release-lease",
				   NULL), 401);
	assert_int_equal(status_of(f, "POST", "/api/boards/vb0/release-lease",
				   "Authorization: Bearer wrong\r\n"), 401);
	assert_int_equal(status_of(f, "POST", "/api/boards/vb0/release-lease",
				   "Authorization: Bearer s3cret-token-\r\n"),
			 401);
	assert_int_equal(pl_store_list_leases(f->st, &l, &n), 0);
	assert_int_equal(n, 1); /* still held */
	pl_store_leases_free(l, n);
	/* a quarantine kept in the store: shown, released by a person */
	assert_int_equal(pl_store_quarantine(f->st, "vb1", PL_QUARANTINE_DEVICE,
					     "bricked and no recovery",
					     f->bricked_run), 0);
	{
		json_t *j = get_json(f, "/api/lab"), *q;

		q = json_object_get(json_array_get(json_object_get(j, "boards"),
						   1), "quarantine");
		assert_string_equal(sget(q, "kind"), "device");
		assert_string_equal(sget(q, "reason"),
				    "bricked and no recovery");
		assert_int_equal(json_integer_value(json_object_get(q,
								    "run_id")),
				 f->bricked_run);
		json_decref(j);
	}
	assert_int_equal(status_of(f, "POST",
				   "/api/boards/vb1/release-quarantine", NULL),
			 401);
	assert_int_equal(status_of(f, "POST",
				   "/api/boards/vb1/release-quarantine",
				   "Authorization: Bearer s3cret-token\r\n"),
			 200);
	{
		struct pl_quarantine_row *q;

		assert_int_equal(pl_store_list_quarantine(f->st, &q, &n), 0);
		assert_int_equal(n, 0);
		pl_store_quarantine_free(q, n);
	}
	assert_int_equal(status_of(f, "POST",
				   "/api/boards/vb1/release-quarantine",
				   "Authorization: Bearer s3cret-token\r\n"),
			 404);
	assert_int_equal(status_of(f, "POST", "/api/boards/vb0/release-lease",
				   "Authorization: Bearer s3cret-token\r\n"),
			 200);
	assert_int_equal(pl_store_list_leases(f->st, &l, &n), 0);
	assert_int_equal(n, 0);
	pl_store_leases_free(l, n);
	assert_int_equal(status_of(f, "POST", "/api/boards/vb0/release-lease",
				   "Authorization: Bearer s3cret-token\r\n"),
			 404);
}

/* POST path with the token: the status and the body's JSON. */
static json_t *post_json(struct fx *f, const char *path, int *status)
{
	char *body;
	json_t *j;

	assert_int_equal(http_req(&f->srv, "POST", path,
				  "Authorization: Bearer s3cret-token\r\n",
				  status, &body), 0);
	j = json_loads(body, 0, NULL);
	if (!j)
		fprintf(stderr, "POST %s: %d %s\n", path, *status, body);
	assert_non_null(j);
	free(body);
	return j;
}

/* The states of suite's jobs: *queued, *claimed, *cancelled. */
static void job_states(struct fx *f, int64_t suite, size_t *queued,
		       size_t *claimed, size_t *cancelled)
{
	struct pl_job_row *j;
	size_t n;

	*queued = *claimed = *cancelled = 0;
	assert_int_equal(pl_store_list_jobs(f->st, suite, &j, &n), 0);
	for (size_t i = 0; i < n; i++) {
		*queued += j[i].state == PL_JOB_QUEUED;
		*claimed += j[i].state == PL_JOB_CLAIMED;
		*cancelled += j[i].state == PL_JOB_CANCELLED;
	}
	pl_store_jobs_free(j, n);
}

static void cancel_a_suite(void **state)
{
	struct fx *f = *state;
	struct pl_suite_info si = { .name = "by patchlab run", .seed = 2 };
	struct pl_run_info ri = {
		.board_id = "vb1", .board_type = "virtual-mcu",
		.scenario = "cut_swap",
	};
	struct pl_run_filter open = { .open_only = true };
	struct pl_run_row *runs;
	int64_t local, run;
	json_t *j, *ctl;
	char path[64];
	size_t n;
	int status;

	assert_int_equal(status_of(f, "POST", "/api/suites/1/cancel", NULL),
			 401);
	assert_int_equal(status_of(f, "POST", "/api/suites/999/cancel",
				   "Authorization: Bearer s3cret-token\r\n"),
			 404);
	assert_int_equal(status_of(f, "POST", "/api/suites/x/cancel",
				   "Authorization: Bearer s3cret-token\r\n"),
			 404);
	assert_int_equal(status_of(f, "POST", "/api/suites//cancel",
				   "Authorization: Bearer s3cret-token\r\n"),
			 404);

	/* a suite a controller runs itself (`patchlab run`), one run open:
	 * 409, naming the controller to stop; its run stays open */
	assert_int_equal(pl_store_suite_begin(f->st, &si, &local), 0);
	ri.suite_id = local;
	assert_int_equal(pl_store_run_begin(f->st, &ri, &run), 0);
	snprintf(path, sizeof(path), "/api/suites/%lld/cancel",
		 (long long)local);
	j = post_json(f, path, &status);
	assert_int_equal(status, 409);
	assert_non_null(strstr(sget(j, "error"), "SIGTERM"));
	ctl = json_object_get(j, "controllers");
	assert_int_equal(json_array_size(ctl), 1);
	assert_int_equal(json_integer_value(json_object_get(
		json_array_get(ctl, 0), "pid")), getpid());
	json_decref(j);
	open.suite_id = local;
	assert_int_equal(pl_store_list_runs(f->st, &open, &runs, &n), 0);
	assert_int_equal(n, 1);
	pl_store_runs_free(runs, n);
	/* ended: nothing to cancel */
	assert_int_equal(pl_store_run_end(f->st, run, PL_VERDICT_PASS, NULL),
			 0);
	assert_int_equal(pl_store_suite_end(f->st, local, "pass"), 0);
	j = post_json(f, path, &status);
	assert_int_equal(status, 409);
	assert_non_null(strstr(sget(j, "error"), "has ended"));
	json_decref(j);

	if (pl_test_store_is_pg()) {
		/* queued in the lab service: three runs, one already claimed
		 * by a worker; the two waiting are cancelled, the claimed one
		 * runs on */
		struct pl_worker_board wb[] = { { "vb0", "virtual-mcu",
						  NULL } };
		struct pl_job_info jobs[3];
		struct pl_submit_info sub = {
			.suite = { .name = "queued", .file = "/s.yaml" },
		};
		struct pl_job_row *claimed;
		size_t q, c, x;
		int64_t queued;

		for (size_t i = 0; i < 3; i++)
			jobs[i] = (struct pl_job_info){
				.board_id = "vb0", .board_type = "virtual-mcu",
				.scenario = "scenarios/cut.lua", .seed = i };
		assert_int_equal(pl_store_worker_register(f->st, "w1", "lab",
							  wb, 1, 2), 0);
		assert_int_equal(pl_store_submit(f->st, &sub, jobs, 3,
						 &queued), 0);
		assert_int_equal(pl_store_claim(f->st, "w1",
						(const char *[]){ "vb0" }, 1,
						600000, &claimed), 0);
		pl_store_jobs_free(claimed, 1);
		snprintf(path, sizeof(path), "/api/suites/%lld/cancel",
			 (long long)queued);
		j = post_json(f, path, &status);
		assert_int_equal(status, 200);
		assert_int_equal(json_integer_value(json_object_get(
			j, "cancelled")), 2);
		assert_int_equal(json_integer_value(json_object_get(
			j, "running")), 1);
		json_decref(j);
		job_states(f, queued, &q, &c, &x);
		assert_int_equal(q, 0);
		assert_int_equal(c, 1);
		assert_int_equal(x, 2);
		/* again: nothing left waiting */
		j = post_json(f, path, &status);
		assert_int_equal(status, 200);
		assert_int_equal(json_integer_value(json_object_get(
			j, "cancelled")), 0);
		json_decref(j);
		job_states(f, queued, &q, &c, &x);
		assert_int_equal(c, 1);
		assert_int_equal(x, 2);
	}
}

/* Queue a suite of n jobs (boards[i], scenario scen) for who at priority
 * p in the lab service; its id. */
static int64_t queue_suite(struct fx *f, const char *name, const char *who,
			   int p, const char *const *boards, size_t n,
			   const char *scen)
{
	struct pl_submit_info sub = {
		.suite = { .name = name, .file = "/s.yaml" },
		.submitter = who, .priority = p,
	};
	struct pl_job_info jobs[4];
	int64_t id;

	assert_true(n <= 4);
	for (size_t i = 0; i < n; i++)
		jobs[i] = (struct pl_job_info){
			.board_id = boards[i], .board_type = "virtual-mcu",
			.scenario = scen, .seed = i };
	assert_int_equal(pl_store_submit(f->st, &sub, jobs, n, &id), 0);
	return id;
}

/* The jobs of /api/queue that belong to suite, in the answer's order. */
static size_t jobs_of(json_t *q, int64_t suite, json_t **out, size_t max)
{
	size_t i, n = 0;
	json_t *j;

	json_array_foreach(json_object_get(q, "jobs"), i, j)
		if (json_integer_value(json_object_get(j, "suite_id")) ==
		    suite) {
			assert_true(n < max);
			out[n++] = j;
		}
	return n;
}

/* Read events until one of kind about suite comes (deadline); its seq. */
static int64_t await_change(struct sse_conn *c, const char *kind,
			    int64_t suite)
{
	int64_t end = serve_now_ms() + DEADLINE_MS;

	for (;;) {
		int64_t id;
		char *data;
		json_t *j;
		bool hit;

		assert_int_equal(sse_next(c, end, &id, &data), 0);
		j = json_loads(data, 0, NULL);
		assert_non_null(j);
		hit = strcmp(sget(j, "kind"), kind) == 0 &&
		      json_integer_value(json_object_get(j, "suite_id")) ==
		      suite;
		json_decref(j);
		free(data);
		if (hit)
			return id;
	}
}

static void queue_shows_the_jobs_live(void **state)
{
	struct fx *f = *state;
	const char *vb1[] = { "vb1" }, *two[] = { "vb1", NASTY_BOARD };
	struct pl_worker_board wb[] = { { "vb1", "virtual-mcu", NULL } };
	struct pl_job_row *claimed;
	int64_t seq, low, mid, high, submitted, cancelled;
	json_t *q, *j[4], *o;
	struct sse_conn c;
	char path[64];
	int status;

	q = get_json(f, "/api/queue");
	assert_non_null(json_object_get(q, "open_runs"));
	seq = json_integer_value(json_object_get(q, "seq"));
	if (!pl_test_store_is_pg()) {
		/* one host: no queue, and the page says so */
		assert_true(json_is_false(json_object_get(q, "queue")));
		assert_int_equal(json_array_size(json_object_get(q, "jobs")),
				 0);
		assert_non_null(strstr(sget(q, "note"), "no queue"));
		json_decref(q);
		return;
	}
	assert_true(json_is_true(json_object_get(q, "queue")));
	assert_true(json_is_null(json_object_get(q, "note")));
	json_decref(q);

	snprintf(path, sizeof(path), "/events?since=%lld", (long long)seq);
	assert_int_equal(sse_open(&c, &f->srv, path, NULL), 0);
	low = queue_suite(f, "low", "alice", 1, vb1, 1, "scenarios/a.lua");
	mid = queue_suite(f, "mid <b>", "bob", 5, two, 2, NASTY_SCEN);
	high = queue_suite(f, "high", "carol", 9, vb1, 1, "scenarios/c.lua");
	/* a submit is an event */
	submitted = await_change(&c, "job", mid);
	assert_true(submitted > seq);

	/* queued in claim order, with priority, submitter, board, scenario;
	 * hostile strings as valid UTF-8 text */
	q = get_json(f, "/api/queue");
	assert_int_equal(jobs_of(q, high, j, 4), 1);
	assert_int_equal(json_integer_value(json_object_get(j[0], "position")),
			 1);
	assert_int_equal(json_integer_value(json_object_get(j[0], "priority")),
			 9);
	assert_int_equal(jobs_of(q, mid, j, 4), 2);
	assert_string_equal(sget(j[0], "state"), "queued");
	assert_string_equal(sget(j[0], "suite_name"), "mid <b>");
	assert_string_equal(sget(j[0], "submitter"), "bob");
	assert_int_equal(json_integer_value(json_object_get(j[0], "priority")),
			 5);
	assert_int_equal(json_integer_value(json_object_get(j[0], "position")),
			 2);
	assert_int_equal(json_integer_value(json_object_get(j[1], "position")),
			 3);
	assert_string_equal(sget(j[0], "board_id"), "vb1");
	assert_string_equal(sget(j[1], "board_id"),
			    "vb<script>window.__xss=1</script>\"'\xef\xbf\xbd");
	assert_string_equal(sget(j[1], "scenario"), "cut_\"q'\xef\xbf\xbd");
	assert_true(json_is_null(json_object_get(j[0], "worker")));
	assert_true(json_is_null(json_object_get(j[0], "claimed_ns")));
	assert_true(json_integer_value(json_object_get(j[0], "queued_ns")) > 0);
	assert_int_equal(jobs_of(q, low, j, 4), 1);
	assert_int_equal(json_integer_value(json_object_get(j[0], "position")),
			 4);
	json_decref(q);

	/* a claim: the job shows its worker and its lease */
	assert_int_equal(pl_store_worker_register(f->st, "w2", "lab", wb, 1, 2),
			 0);
	assert_int_equal(pl_store_claim(f->st, "w2", vb1, 1, 600000, &claimed),
			 0);
	assert_int_equal(claimed->suite_id, high);
	pl_store_jobs_free(claimed, 1);
	assert_true(await_change(&c, "job", high) > submitted);
	q = get_json(f, "/api/queue");
	assert_int_equal(jobs_of(q, high, j, 4), 1);
	assert_string_equal(sget(j[0], "state"), "claimed");
	assert_string_equal(sget(j[0], "worker"), "w2");
	assert_int_equal(json_integer_value(json_object_get(j[0], "attempt")),
			 1);
	assert_true(json_is_null(json_object_get(j[0], "position")));
	assert_true(json_integer_value(json_object_get(j[0], "expires_ns")) >
		    json_integer_value(json_object_get(j[0], "claimed_ns")));
	assert_true(json_is_false(json_object_get(j[0], "expired")));
	json_decref(q);

	/* a cancel through the API: a change after the submit's, and the
	 * jobs leave the queued list for the ended one */
	snprintf(path, sizeof(path), "/api/suites/%lld/cancel", (long long)mid);
	o = post_json(f, path, &status);
	assert_int_equal(status, 200);
	assert_int_equal(json_integer_value(json_object_get(o, "cancelled")),
			 2);
	json_decref(o);
	cancelled = await_change(&c, "job", mid);
	assert_true(cancelled > submitted);
	sse_close(&c);
	q = get_json(f, "/api/queue");
	assert_int_equal(jobs_of(q, mid, j, 4), 2);
	for (size_t i = 0; i < 2; i++) {
		assert_string_equal(sget(j[i], "state"), "cancelled");
		assert_true(json_is_null(json_object_get(j[i], "position")));
		assert_true(json_integer_value(json_object_get(j[i],
							       "ended_ns")) > 0);
	}
	assert_int_equal(jobs_of(q, low, j, 4), 1);
	assert_int_equal(json_integer_value(json_object_get(j[0], "position")),
			 1);
	json_decref(q);
	/* the suite's document counts its jobs */
	snprintf(path, sizeof(path), "/api/suites/%lld", (long long)mid);
	q = get_json(f, path);
	o = json_object_get(json_object_get(q, "suite"), "jobs");
	assert_int_equal(json_integer_value(json_object_get(o, "cancelled")),
			 2);
	assert_int_equal(json_integer_value(json_object_get(o, "queued")), 0);
	json_decref(q);
	assert_int_equal(pl_store_cancel(f->st, low, NULL), 0);

	/* a long queue: all counted, the next 1000 listed */
	{
		struct pl_submit_info sub = { .suite = { .name = "big" } };
		struct pl_job_info *jobs = calloc(1001, sizeof(*jobs));
		size_t i, listed = 0;
		int64_t big;

		assert_non_null(jobs);
		for (i = 0; i < 1001; i++)
			jobs[i] = (struct pl_job_info){
				.board_id = "vb1", .board_type = "virtual-mcu",
				.scenario = "scenarios/a.lua", .seed = i };
		assert_int_equal(pl_store_submit(f->st, &sub, jobs, 1001, &big),
				 0);
		free(jobs);
		q = get_json(f, "/api/queue");
		assert_int_equal(json_integer_value(json_object_get(q,
								    "queued")),
				 1001);
		assert_int_equal(json_integer_value(json_object_get(
			q, "queued_max")), 1000);
		assert_true(json_integer_value(json_object_get(q, "claimed"))
			    >= 1);
		json_array_foreach(json_object_get(q, "jobs"), i, o)
			listed += strcmp(sget(o, "state"), "queued") == 0;
		assert_int_equal(listed, 1000);
		json_decref(q);
		assert_int_equal(pl_store_cancel(f->st, big, NULL), 0);
	}
}

/* The store's change sequence numbers after since, in order. */
static size_t store_changes(struct fx *f, int64_t since, int64_t *out,
			    size_t max)
{
	struct pl_change_row *rows;
	size_t n;

	assert_int_equal(pl_store_changes(f->st, since, 0, &rows, &n), 0);
	assert_true(n <= max);
	for (size_t i = 0; i < n; i++)
		out[i] = rows[i].seq;
	pl_store_changes_free(rows, n);
	return n;
}

/* Read events until the stream has given every seq in want[0..n). */
static void expect_events(struct sse_conn *c, const int64_t *want, size_t n)
{
	int64_t end = serve_now_ms() + DEADLINE_MS;

	for (size_t i = 0; i < n; i++) {
		int64_t id;
		char *data;
		json_t *j;

		assert_int_equal(sse_next(c, end, &id, &data), 0);
		assert_int_equal(id, want[i]);
		j = json_loads(data, 0, NULL);
		assert_non_null(j);
		assert_int_equal(json_integer_value(json_object_get(j, "seq")),
				 id);
		json_decref(j);
		free(data);
	}
}

static void events_resume_and_survive_a_restart(void **state)
{
	struct fx *f = *state;
	const char *extra[] = { "--lab", f->lab, NULL };
	/* the queue case before cancelled 1,001 jobs: as many not-run runs */
	static int64_t want[4096];
	int64_t id, mark;
	struct sse_conn c;
	char last[32];
	size_t n;

	/* Last-Event-ID 2: everything after change 2, in order */
	assert_int_equal(sse_open(&c, &f->srv, "/events", "2"), 0);
	n = store_changes(f, 2, want, 4096);
	assert_true(n >= 6);
	expect_events(&c, want, n);
	mark = want[n - 1];
	/* a run stored now arrives as it is stored */
	assert_int_equal(serve_write_run(f->st, f->suite, "vb1", "cut_swap", 6,
					 PL_VERDICT_PASS, NULL, NULL, &id), 0);
	n = store_changes(f, mark, want, 4096);
	assert_true(n >= 1);
	expect_events(&c, want, n);
	mark = want[n - 1];
	sse_close(&c);

	/* ?since= does the same for a page's first connection */
	assert_int_equal(sse_open(&c, &f->srv, "/events?since=1", NULL), 0);
	n = store_changes(f, 1, want, 4096);
	expect_events(&c, want, n);
	sse_close(&c);

	/* killed: runs stored while it is down come after a restart, from
	 * the Last-Event-ID the client had, with nothing missing */
	assert_int_equal(serve_stop(&f->srv, true), 128 + 9);
	for (int i = 0; i < 3; i++)
		assert_int_equal(serve_write_run(f->st, f->suite, "vb0",
						 "cut_swap", 7 + i,
						 PL_VERDICT_ROLLED_BACK, NULL,
						 NULL, &id), 0);
	{
		char port[8];

		snprintf(port, sizeof(port), "%s", f->srv.port);
		assert_int_equal(serve_start(&f->srv, f->db, port, extra), 0);
	}
	snprintf(last, sizeof(last), "%lld", (long long)mark);
	assert_int_equal(sse_open(&c, &f->srv, "/events", last), 0);
	n = store_changes(f, mark, want, 4096);
	assert_true(n >= 3);
	expect_events(&c, want, n);
	sse_close(&c);
	assert_int_equal(status_of(f, "GET", "/api/changes?since=0", NULL),
			 200);
}

static void changes_poll_from_since(void **state)
{
	struct fx *f = *state;
	json_t *j = get_json(f, "/api/changes?since=1"), *list;
	int64_t want[64];
	size_t n = store_changes(f, 1, want, 64);

	list = json_object_get(j, "changes");
	assert_int_equal(json_array_size(list), n);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(json_integer_value(json_object_get(
			json_array_get(list, i), "seq")), want[i]);
	assert_int_equal(json_integer_value(json_object_get(j, "seq")),
			 want[n - 1]);
	assert_true(json_is_false(json_object_get(j, "more")));
	json_decref(j);
}

static void append_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "a");

	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

static void console_tail_follows_an_open_run(void **state)
{
	struct fx *f = *state;
	struct pl_run_info ri = {
		.suite_id = f->suite, .board_id = "vb1",
		.board_type = "virtual-mcu", .scenario = "cut_swap",
		.console_log = NULL,
	};
	char *log = pl_test_path(f->dir, "live.console"), path[96];
	json_t *j, *c;
	int64_t id, off;

	write_file(log, "U-Boot 2023\n");
	ri.console_log = log;
	assert_int_equal(pl_store_run_begin(f->st, &ri, &id), 0);
	snprintf(path, sizeof(path), "/api/runs/%lld/console?from=0",
		 (long long)id);
	j = get_json(f, path);
	c = json_object_get(j, "console");
	assert_true(json_is_true(json_object_get(c, "open")));
	assert_string_equal(sget(c, "text"), "U-Boot 2023\n");
	off = json_integer_value(json_object_get(c, "offset"));
	assert_int_equal(off, 12);
	json_decref(j);
	/* only what came since; half a character waits for its end */
	append_file(log, "swap \xe2\x82");
	snprintf(path, sizeof(path), "/api/runs/%lld/console?from=%lld",
		 (long long)id, (long long)off);
	j = get_json(f, path);
	c = json_object_get(j, "console");
	assert_string_equal(sget(c, "text"), "swap ");
	off = json_integer_value(json_object_get(c, "offset"));
	assert_int_equal(off, 17);
	json_decref(j);
	append_file(log, "\xac done\n");
	snprintf(path, sizeof(path), "/api/runs/%lld/console?from=%lld",
		 (long long)id, (long long)off);
	j = get_json(f, path);
	assert_string_equal(sget(json_object_get(j, "console"), "text"),
			    "\xe2\x82\xac done\n");
	json_decref(j);
	assert_int_equal(pl_store_run_end(f->st, id, PL_VERDICT_PASS, NULL), 0);
	j = get_json(f, path);
	assert_true(json_is_false(json_object_get(json_object_get(j, "console"),
						  "open")));
	json_decref(j);
	snprintf(path, sizeof(path), "/api/runs/%lld/console?from=x",
		 (long long)id);
	assert_int_equal(status_of(f, "GET", path, NULL), 400);
	assert_int_equal(status_of(f, "GET", "/api/runs/999/console", NULL),
			 404);
	free(log);
}

/* The scheduling policy (/proc/PID/task/TID/stat field 41) of every
 * thread of pid, or -1 when they differ or cannot be read. */
static int policy_of_all_threads(int pid)
{
	char path[64], line[1024];
	int policy = -2;
	glob_t g;

	snprintf(path, sizeof(path), "/proc/%d/task/*/stat", pid);
	if (glob(path, 0, NULL, &g) != 0)
		return -1;
	for (size_t i = 0; i < g.gl_pathc && policy != -1; i++) {
		FILE *fp = fopen(g.gl_pathv[i], "r");
		const char *p = NULL;
		int field = 2, v = -1;

		if (fp && fgets(line, sizeof(line), fp))
			p = strrchr(line, ')'); /* after the command name */
		if (fp)
			fclose(fp);
		for (; p && *p && field < 41; p++)
			if (*p == ' ')
				field++;
		if (p && sscanf(p, "%d", &v) == 1 && (policy == -2 ||
						       policy == v))
			policy = v;
		else
			policy = -1;
	}
	globfree(&g);
	return policy;
}

/* --nice idle: every thread of the server in SCHED_IDLE (it takes only
 * CPU that no controller wants), and it still answers. */
static void nice_idle_puts_every_thread_in_the_idle_class(void **state)
{
	struct fx *f = *state;
	const char *extra[] = { "--nice", "idle", NULL };
	struct serve_proc p;
	char *body = NULL;
	int status = 0;

	assert_int_equal(serve_start(&p, f->db, "0", extra), 0);
	assert_int_equal(http_req(&p, "GET", "/api/suites", NULL, &status,
				  &body), 0);
	assert_int_equal(status, 200);
	free(body);
	assert_int_equal(policy_of_all_threads(p.pid), SCHED_IDLE);
	/* the default is a niceness, not the idle class */
	assert_int_equal(policy_of_all_threads(f->srv.pid), SCHED_OTHER);
	assert_int_equal(serve_stop(&p, false), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(lab_lists_boards_with_lease_and_last_verdict),
		cmocka_unit_test(
			suite_has_runs_counts_and_the_reports_rendering),
		cmocka_unit_test(run_has_timeline_and_console_as_text),
		cmocka_unit_test(pages_and_unknown_paths),
		cmocka_unit_test(changes_poll_from_since),
		cmocka_unit_test(console_tail_follows_an_open_run),
		cmocka_unit_test(write_actions_need_the_token),
		cmocka_unit_test(cancel_a_suite),
		cmocka_unit_test(queue_shows_the_jobs_live),
		cmocka_unit_test(events_resume_and_survive_a_restart),
		cmocka_unit_test(nice_idle_puts_every_thread_in_the_idle_class),
	};

	pl_test_store_init();
	return cmocka_run_group_tests_name("/pl/serve/api", tests, setup,
					   teardown);
}
