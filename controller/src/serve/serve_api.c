/* SPDX-License-Identifier: MIT */
/*
 * The JSON documents of patchlab serve's API, built from the result store
 * (docs/serve.md). Every string from the store passes through
 * pl_serve_jstr(): board ids, scenario names, reasons and console lines are
 * whatever a board or a scenario wrote, valid UTF-8 or not.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "patchlab/gate.h"
#include "patchlab/report.h"
#include "patchlab/text.h"
#include "serve_internal.h"

/* ------------------------------------------------------------- UTF-8 */

json_t *pl_serve_jstrn(const char *s, size_t len)
{
	struct pl_strbuf b = { 0 };
	json_t *j;

	if (!s)
		return json_null();
	if (pl_utf8_valid(s, len))
		return json_stringn(s, len);
	/* each byte of an invalid sequence becomes U+FFFD */
	if (pl_utf8_sanitize(&b, s, len)) {
		pl_strbuf_free(&b);
		return NULL;
	}
	j = json_stringn(b.s ? b.s : "", b.len);
	pl_strbuf_free(&b);
	return j;
}

json_t *pl_serve_jstr(const char *s)
{
	return s ? pl_serve_jstrn(s, strlen(s)) : json_null();
}

/* ----------------------------------------------------------- helpers */

/* json_object_set_new that remembers a failure in *oom. */
/* Does the store have the lab service's queue (PostgreSQL)? */
static bool has_queue(struct pl_store *st)
{
	return strcmp(pl_store_backend(st), "postgresql") == 0;
}

static void put(json_t *o, const char *k, json_t *v, bool *oom)
{
	if (!v || json_object_set_new(o, k, v))
		*oom = true;
}

static void put_str(json_t *o, const char *k, const char *v, bool *oom)
{
	put(o, k, pl_serve_jstr(v), oom);
}

static void put_int(json_t *o, const char *k, int64_t v, bool *oom)
{
	put(o, k, json_integer(v), oom);
}

static json_t *suite_json(const struct pl_suite_row *s)
{
	json_t *o = json_object();
	bool oom = !o;

	if (oom)
		return NULL;
	put_int(o, "id", s->id, &oom);
	put_str(o, "name", s->name, &oom);
	put_str(o, "file", s->file, &oom);
	put_str(o, "cmdline", s->cmdline, &oom);
	put_str(o, "gate", s->gate, &oom);
	put_int(o, "seed", (int64_t)s->seed, &oom);
	put_int(o, "started_ns", (int64_t)s->started_ns, &oom);
	put(o, "finished_ns", s->finished_ns ?
	    json_integer((json_int_t)s->finished_ns) : json_null(), &oom);
	if (oom) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *cut_json(const struct pl_cut_point *c)
{
	struct pl_strbuf text = { 0 };
	json_t *o = json_object();
	bool oom = !o;

	if (oom)
		return NULL;
	put_str(o, "phase", pl_cut_phase_name(c->phase), &oom);
	put_int(o, "op_index", c->op_index, &oom);
	put(o, "phi", json_real(c->phi), &oom);
	put_str(o, "kind", c->kind, &oom);
	put_str(o, "aimed_by", c->aimed_by, &oom);
	if (pl_cut_describe(c, &text))
		oom = true;
	put_str(o, "text", text.s ? text.s : "", &oom);
	pl_strbuf_free(&text);
	if (oom) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* A run row as JSON; full adds what only the run page needs. */
static json_t *run_json(const struct pl_run_row *r, bool full)
{
	json_t *o = json_object();
	bool oom = !o;

	if (oom)
		return NULL;
	put_int(o, "id", r->id, &oom);
	put(o, "suite_id", r->suite_id ? json_integer(r->suite_id) :
	    json_null(), &oom);
	put_str(o, "board_id", r->board_id, &oom);
	put_str(o, "board_type", r->board_type, &oom);
	put_str(o, "scenario", r->scenario, &oom);
	put_str(o, "state", r->open ? "open" : "closed", &oom);
	put_str(o, "verdict", r->open ? NULL : pl_verdict_name(r->verdict),
		&oom);
	put_str(o, "reason", r->reason, &oom);
	put(o, "cut", cut_json(&r->cut), &oom);
	put_int(o, "started_ns", (int64_t)r->started_ns, &oom);
	put(o, "finished_ns", r->finished_ns ?
	    json_integer((json_int_t)r->finished_ns) : json_null(), &oom);
	put_int(o, "duration_ns", (int64_t)r->duration_ns, &oom);
	if (full) {
		json_t *p = json_loads(r->params_json ? r->params_json : "{}",
				       0, NULL);

		put_str(o, "image", r->image, &oom);
		put(o, "params", p ? p : pl_serve_jstr(r->params_json), &oom);
		put_int(o, "seed", (int64_t)r->seed, &oom);
		put_str(o, "console_log", r->console_log, &oom);
		put_str(o, "replay", r->replay, &oom);
		put_str(o, "controller", r->controller, &oom);
	}
	if (oom) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *lease_json(const struct pl_lease_row *l, uint64_t now)
{
	json_t *o = json_object();
	bool oom = !o;

	if (oom)
		return NULL;
	put_str(o, "holder", l->holder, &oom);
	put_int(o, "taken_ns", (int64_t)l->taken_ns, &oom);
	put_int(o, "renewed_ns", (int64_t)l->renewed_ns, &oom);
	put_int(o, "expires_ns", (int64_t)l->expires_ns, &oom);
	put(o, "expired", json_boolean(l->expires_ns <= now), &oom);
	if (oom) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/*
 * A document {"seq": N, key: value}; steals value. seq is read BEFORE the
 * data: a change made meanwhile comes again after seq (a page may see it
 * twice, never miss it).
 */
static int doc(int64_t seq, const char *key, json_t *value, json_t **out)
{
	json_t *o = json_object();
	bool oom = !o || !value;

	*out = NULL;
	if (oom) {
		json_decref(o);
		json_decref(value);
		return -ENOMEM;
	}
	put(o, key, value, &oom);
	put_int(o, "seq", seq, &oom);
	if (oom) {
		json_decref(o);
		return -ENOMEM;
	}
	*out = o;
	return 0;
}

/* --------------------------------------------------------------- lab */

/* {"kind", "reason", "holder", "run_id", "since_ns"} of a quarantine */
static json_t *quarantine_json(const struct pl_quarantine_row *q)
{
	json_t *o = json_object();
	bool oom = !o;

	put_str(o, "kind", pl_quarantine_kind_name(q->kind), &oom);
	put_str(o, "reason", q->reason, &oom);
	put_str(o, "holder", q->holder, &oom);
	put(o, "run_id", q->run_id ? json_integer(q->run_id) : json_null(),
	    &oom);
	put_int(o, "since_ns", (int64_t)q->since_ns, &oom);
	if (oom) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *board_json(struct pl_store *st, const char *id,
			  const struct pl_board_cfg *b,
			  const struct pl_lease_row *lease,
			  const struct pl_quarantine_row *q, uint64_t now,
			  int *rc)
{
	struct pl_run_row *last = NULL;
	json_t *o = json_object(), *tags = json_array();
	bool oom = !o || !tags;
	int err;

	if (oom) {
		json_decref(o);
		json_decref(tags);
		*rc = -ENOMEM;
		return NULL;
	}
	put_str(o, "id", id, &oom);
	put_str(o, "type", b && b->type ? b->type->name : NULL, &oom);
	for (size_t k = 0; b && k < b->ntags; k++)
		if (json_array_append_new(tags, pl_serve_jstr(b->tags[k])))
			oom = true;
	put(o, "tags", tags, &oom);
	put(o, "in_lab", json_boolean(b != NULL), &oom);
	/* The store keeps no power state: null says "unknown", not "off".
	 * Quarantine: null when the board is not quarantined. */
	put(o, "power", json_null(), &oom);
	put(o, "quarantine", q ? quarantine_json(q) : json_null(), &oom);
	put(o, "lease", lease ? lease_json(lease, now) : json_null(), &oom);
	err = pl_store_board_last_run(st, id, &last);
	if (err == 0)
		put(o, "last_run", run_json(last, false), &oom);
	else if (err == -ENOENT)
		put(o, "last_run", json_null(), &oom);
	else
		*rc = err;
	pl_store_runs_free(last, last ? 1 : 0);
	if (oom || *rc) {
		json_decref(o);
		if (!*rc)
			*rc = -ENOMEM;
		return NULL;
	}
	return o;
}

int pl_serve_api_lab(struct pl_store *st, const struct pl_lab *lab,
		     json_t **out)
{
	struct pl_lease_row *leases = NULL;
	struct pl_quarantine_row *quar = NULL;
	size_t nleases = 0, nquar = 0;
	json_t *boards = json_array(), *o;
	uint64_t now = pl_store_now(st);
	bool oom = !boards;
	int64_t seq = 0;
	int rc;

	*out = NULL;
	rc = pl_store_seq(st, &seq);
	if (rc)
		goto out_free;
	rc = pl_store_list_leases(st, &leases, &nleases);
	if (rc == 0)
		rc = pl_store_list_quarantine(st, &quar, &nquar);
	if (rc)
		goto out_free;
	for (size_t i = 0; lab && i < lab->nboards && !oom && rc == 0; i++) {
		const struct pl_board_cfg *b = &lab->boards[i];
		json_t *j = board_json(st, b->id, b,
				       pl_lease_rows_find(leases, nleases, b->id),
				       pl_quarantine_rows_find(quar, nquar,
							       b->id),
				       now, &rc);

		if (j && json_array_append_new(boards, j))
			oom = true;
	}
	/* boards leased but not in the lab (another lab on this store) */
	for (size_t i = 0; i < nleases && !oom && rc == 0; i++) {
		bool known = false;
		json_t *j;

		for (size_t k = 0; lab && k < lab->nboards; k++)
			known |= strcmp(lab->boards[k].id,
					leases[i].board_id) == 0;
		if (known)
			continue;
		j = board_json(st, leases[i].board_id, NULL, &leases[i],
			       pl_quarantine_rows_find(quar, nquar,
						       leases[i].board_id),
			       now, &rc);
		if (j && json_array_append_new(boards, j))
			oom = true;
	}
	if (rc || oom)
		goto out_free;
	rc = doc(seq, "boards", boards, &o);
	boards = NULL;
	if (rc)
		goto out_free;
	put_str(o, "lab", lab ? lab->name : NULL, &oom);
	put_int(o, "now_ns", (int64_t)now, &oom);
	if (oom) {
		json_decref(o);
		rc = -ENOMEM;
		goto out_free;
	}
	*out = o;
out_free:
	json_decref(boards);
	pl_store_leases_free(leases, nleases);
	pl_store_quarantine_free(quar, nquar);
	return rc ? rc : oom ? -ENOMEM : 0;
}

int pl_serve_api_board(struct pl_store *st, const struct pl_lab *lab,
		       const char *board, json_t **out)
{
	struct pl_run_filter f = { .board_id = board };
	const struct pl_board_cfg *b = NULL;
	struct pl_lease_row *leases = NULL;
	struct pl_quarantine_row *quar = NULL;
	struct pl_run_row *runs = NULL;
	size_t nleases = 0, nruns = 0, nquar = 0;
	json_t *o = NULL, *list = NULL;
	bool oom = false;
	int64_t seq = 0;
	int rc;

	*out = NULL;
	rc = pl_store_seq(st, &seq);
	if (rc)
		return rc;
	for (size_t i = 0; lab && i < lab->nboards; i++)
		if (strcmp(lab->boards[i].id, board) == 0)
			b = &lab->boards[i];
	rc = pl_store_list_leases(st, &leases, &nleases);
	rc = rc ? rc : pl_store_list_quarantine(st, &quar, &nquar);
	rc = rc ? rc : pl_store_list_runs(st, &f, &runs, &nruns);
	if (rc)
		goto out_free;
	if (!b && nruns == 0 && !pl_lease_rows_find(leases, nleases, board) &&
	    !pl_quarantine_rows_find(quar, nquar, board)) {
		rc = -ENOENT;
		goto out_free;
	}
	o = board_json(st, board, b, pl_lease_rows_find(leases, nleases, board),
		       pl_quarantine_rows_find(quar, nquar, board),
		       pl_store_now(st), &rc);
	if (!o)
		goto out_free;
	list = json_array();
	oom = !list;
	/* the newest 100 runs, newest first */
	for (size_t i = nruns; i > 0 && i + 100 > nruns && !oom; i--)
		if (json_array_append_new(list, run_json(&runs[i - 1], false)))
			oom = true;
	put(o, "runs", list, &oom);
	list = NULL;
	put_int(o, "nruns", (int64_t)nruns, &oom);
	if (oom) {
		rc = -ENOMEM;
		goto out_free;
	}
	rc = doc(seq, "board", o, out);
	o = NULL;
out_free:
	json_decref(o);
	json_decref(list);
	pl_store_runs_free(runs, nruns);
	pl_store_leases_free(leases, nleases);
	pl_store_quarantine_free(quar, nquar);
	return rc;
}

/* ------------------------------------------------------------ suites */

int pl_serve_api_suites(struct pl_store *st, json_t **out)
{
	struct pl_suite_row *rows = NULL;
	json_t *list = json_array();
	bool oom = !list;
	size_t n = 0;
	int64_t seq = 0;
	int rc;

	*out = NULL;
	rc = pl_store_seq(st, &seq);
	rc = rc ? rc : pl_store_list_suites(st, &rows, &n);
	for (size_t i = 0; rc == 0 && i < n && !oom; i++)
		if (json_array_append_new(list, suite_json(&rows[i])))
			oom = true;
	pl_store_suites_free(rows, n);
	if (rc || oom) {
		json_decref(list);
		return rc ? rc : -ENOMEM;
	}
	return doc(seq, "suites", list, out);
}

/* The states of suite id's jobs in the lab service's queue, {"queued": n,
 * "claimed": n, "done": n, "cancelled": n, "timed-out": n}, into *out; JSON
 * null for a suite that was never queued (run by `patchlab run`, or on a
 * SQLite store, which has no queue). */
static int suite_jobs_json(struct pl_store *st, int64_t id, json_t **out)
{
	unsigned long counts[PL_JOB_STATE_COUNT] = { 0 };
	struct pl_job_row *jobs = NULL;
	size_t n = 0;
	bool oom = false;
	int rc;

	*out = NULL;
	/* SQLite, one host: no queue (and no error logged each time) */
	rc = has_queue(st) ? pl_store_list_jobs(st, id, &jobs, &n) : -ENOTSUP;
	if (rc == -ENOTSUP || (rc == 0 && n == 0)) {
		pl_store_jobs_free(jobs, n);
		*out = json_null();
		return 0;
	}
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++)
		if ((unsigned)jobs[i].state < PL_JOB_STATE_COUNT)
			counts[jobs[i].state]++;
	pl_store_jobs_free(jobs, n);
	*out = json_object();
	oom = !*out;
	for (int k = 0; k < PL_JOB_STATE_COUNT && !oom; k++)
		put_int(*out, pl_job_state_name((enum pl_job_state)k),
			(int64_t)counts[k], &oom);
	if (oom) {
		json_decref(*out);
		*out = NULL;
		return -ENOMEM;
	}
	return 0;
}

int pl_serve_api_suite(struct pl_store *st, int64_t id, json_t **out)
{
	struct pl_strbuf html = { 0 };
	const struct pl_run_row *runs;
	unsigned long counts[PL_VERDICT_COUNT] = { 0 }, open = 0;
	struct pl_gate *g = NULL;
	json_t *o = NULL, *list = NULL, *c = NULL;
	bool oom = false;
	size_t n;
	int64_t seq = 0;
	int rc;

	*out = NULL;
	rc = pl_store_seq(st, &seq);
	if (rc)
		return rc;
	rc = pl_gate_compute(st, id, NULL, &g);
	if (rc)
		return rc;
	runs = pl_gate_runs(g, &n);
	o = suite_json(pl_gate_suite(g));
	list = json_array();
	c = json_object();
	oom = !o || !list || !c;
	for (size_t i = 0; i < n && !oom; i++) {
		if (runs[i].open)
			open++;
		else
			counts[runs[i].verdict]++;
		if (json_array_append_new(list, run_json(&runs[i], false)))
			oom = true;
	}
	for (int v = 0; v < PL_VERDICT_COUNT && !oom; v++)
		put_int(c, pl_verdict_name((enum pl_verdict)v),
			(int64_t)counts[v], &oom);
	put_int(c, "open", (int64_t)open, &oom);
	put_str(o, "result", pl_gate_result_name(pl_gate_result(g)), &oom);
	put_str(o, "why", pl_gate_why(g), &oom);
	put(o, "counts", c, &oom);
	c = NULL;
	put(o, "runs", list, &oom);
	list = NULL;
	if (!oom) {
		json_t *jobs = NULL;

		rc = suite_jobs_json(st, id, &jobs);
		if (rc == 0)
			put(o, "jobs", jobs, &oom);
	}
	/* The gate, verdict matrix and cut map exactly as the HTML report
	 * draws them (escaped there; the page inserts it as markup). */
	rc = rc ? rc : pl_report_html_gate(g, &html);
	rc = rc ? rc : pl_report_html_suite(g, &html);
	if (rc == 0)
		put(o, "html", pl_serve_jstrn(html.s ? html.s : "", html.len),
		    &oom);
	if (rc == 0 && oom)
		rc = -ENOMEM;
	if (rc == 0) {
		rc = doc(seq, "suite", o, out);
		o = NULL;
	}
	json_decref(o);
	json_decref(list);
	json_decref(c);
	pl_strbuf_free(&html);
	pl_gate_free(g);
	return rc;
}

/* -------------------------------------------------------------- runs */

/* The last max bytes of the file at path, or NULL (unreadable). */
static json_t *console_tail(const char *path, size_t max)
{
	struct stat sb;
	char *buf;
	ssize_t got;
	off_t from;
	json_t *j;
	int fd;

	if (!path)
		return json_null();
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return json_null();
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return json_null();
	}
	from = sb.st_size > (off_t)max ? sb.st_size - (off_t)max : 0;
	buf = malloc(max);
	if (!buf) {
		close(fd);
		return NULL;
	}
	got = pread(fd, buf, max, from);
	close(fd);
	if (got < 0) {
		free(buf);
		return json_null();
	}
	/* start on a character boundary: skip continuation bytes */
	{
		ssize_t skip = 0;

		while (from > 0 && skip < got && skip < 3 &&
		       ((unsigned char)buf[skip] & 0xc0) == 0x80)
			skip++;
		j = pl_serve_jstrn(buf + skip, (size_t)(got - skip));
	}
	free(buf);
	return j;
}

int pl_serve_api_run(struct pl_store *st, int64_t id, json_t **out)
{
	struct pl_event_row *ev = NULL;
	struct pl_run_row *run = NULL;
	size_t nev = 0;
	json_t *o = NULL, *list = NULL;
	bool oom = false;
	int64_t seq = 0;
	int rc;

	*out = NULL;
	rc = pl_store_seq(st, &seq);
	if (rc)
		return rc;
	rc = pl_store_get_run(st, id, &run, &ev, &nev);
	if (rc)
		return rc;
	o = run_json(run, true);
	list = json_array();
	oom = !o || !list;
	for (size_t i = 0; i < nev && !oom; i++) {
		json_t *e = json_object(), *p;

		if (!e || json_array_append_new(list, e)) {
			oom = true;
			break;
		}
		p = json_loads(ev[i].payload_json ? ev[i].payload_json : "{}",
			       0, NULL);
		put_int(e, "t_ns", (int64_t)ev[i].t_ns, &oom);
		put_str(e, "kind", pl_event_kind_name(ev[i].kind), &oom);
		put(e, "payload", p ? p : pl_serve_jstr(ev[i].payload_json),
		    &oom);
	}
	put(o, "events", list, &oom);
	list = NULL;
	put(o, "console", console_tail(run->console_log,
				       PL_SERVE_CONSOLE_TAIL), &oom);
	if (oom) {
		rc = -ENOMEM;
	} else {
		rc = doc(seq, "run", o, out);
		o = NULL;
	}
	json_decref(o);
	json_decref(list);
	pl_store_run_free(run, ev, nev);
	return rc;
}

/* How many bytes at the end of buf[0..n) begin a UTF-8 sequence that the
 * file has not finished yet (0..3): they wait for the next read. */
static size_t partial_tail(const unsigned char *b, size_t n)
{
	for (size_t k = 1; k <= 3 && k <= n; k++) {
		unsigned char c = b[n - k];
		size_t need;

		if ((c & 0xc0) == 0x80)
			continue; /* a continuation byte: look further back */
		need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
		return need > k ? k : 0;
	}
	return 0;
}

int pl_serve_api_console(struct pl_store *st, int64_t id, int64_t from,
			 json_t **out)
{
	struct pl_run_row *run = NULL;
	unsigned char *buf = NULL;
	struct stat sb;
	size_t got = 0;
	json_t *o;
	int64_t seq = 0;
	bool oom = false;
	int rc, fd = -1;

	*out = NULL;
	rc = pl_store_seq(st, &seq);
	rc = rc ? rc : pl_store_get_run(st, id, &run, NULL, NULL);
	if (rc)
		return rc;
	if (run->console_log)
		fd = open(run->console_log, O_RDONLY | O_CLOEXEC | O_NOCTTY |
			  O_NONBLOCK);
	if (fd >= 0 && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode)) {
		/* a file that shrank (rewritten): from its start again */
		if (from < 0 || from > (int64_t)sb.st_size)
			from = 0;
		/* at most the last PL_SERVE_CONSOLE_TAIL bytes */
		if ((int64_t)sb.st_size - from > PL_SERVE_CONSOLE_TAIL)
			from = (int64_t)sb.st_size - PL_SERVE_CONSOLE_TAIL;
		buf = malloc(PL_SERVE_CONSOLE_TAIL);
		if (!buf) {
			rc = -ENOMEM;
			goto out_close;
		}
		{
			ssize_t r = pread(fd, buf, PL_SERVE_CONSOLE_TAIL,
					  (off_t)from);

			got = r > 0 ? (size_t)r : 0;
		}
		got -= partial_tail(buf, got);
	} else {
		from = 0;
	}
	o = json_object();
	oom = !o;
	if (o) {
		json_object_set_new(o, "run_id", json_integer(id));
		if (json_object_set_new(o, "open", json_boolean(run->open)) ||
		    json_object_set_new(o, "from", json_integer(from)) ||
		    json_object_set_new(o, "offset",
					json_integer(from + (int64_t)got)) ||
		    json_object_set_new(o, "text", fd >= 0 ?
					pl_serve_jstrn((char *)buf ? (char *)buf :
						       "", got) :
					json_null()))
			oom = true;
	}
	if (oom) {
		json_decref(o);
		rc = -ENOMEM;
	} else {
		rc = doc(seq, "console", o, out);
	}
out_close:
	if (fd >= 0)
		close(fd);
	free(buf);
	pl_store_runs_free(run, 1);
	return rc;
}

/* A time of the store, or null when not yet (0). */
static json_t *ns_or_null(uint64_t ns)
{
	return ns ? json_integer((json_int_t)ns) : json_null();
}

/* A job of the lab service's queue; position: its place among the queued
 * (1 the next claimed), 0 when it is not queued. */
static json_t *job_json(const struct pl_job_row *j, size_t position,
			uint64_t now)
{
	json_t *o = json_object();
	bool oom = !o;

	if (oom)
		return NULL;
	put_int(o, "id", j->id, &oom);
	put_int(o, "suite_id", j->suite_id, &oom);
	put_str(o, "suite_name", j->suite_name, &oom);
	put_int(o, "index", j->index, &oom);
	put_str(o, "state", pl_job_state_name(j->state), &oom);
	put(o, "position", position ? json_integer((json_int_t)position) :
	    json_null(), &oom);
	put_str(o, "board_id", j->board_id, &oom);
	put_str(o, "board_type", j->board_type, &oom);
	put_str(o, "scenario", j->scenario, &oom);
	put_int(o, "priority", j->priority, &oom);
	put_str(o, "submitter", j->submitter, &oom);
	put_int(o, "attempt", j->attempt, &oom);
	put_str(o, "worker", j->worker, &oom);
	put_str(o, "reason", j->reason, &oom);
	put(o, "run_id", j->run_id ? json_integer(j->run_id) : json_null(),
	    &oom);
	put_int(o, "queued_ns", (int64_t)j->queued_ns, &oom);
	put(o, "claimed_ns", ns_or_null(j->claimed_ns), &oom);
	put(o, "expires_ns", j->state == PL_JOB_CLAIMED ?
	    ns_or_null(j->expires_ns) : json_null(), &oom);
	put(o, "expired", json_boolean(j->state == PL_JOB_CLAIMED &&
				       j->expires_ns <= now), &oom);
	put(o, "ended_ns", ns_or_null(j->ended_ns), &oom);
	if (oom) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int pl_serve_api_queue(struct pl_store *st, json_t **out)
{
	struct pl_run_filter f = { .open_only = true };
	struct pl_run_row *rows = NULL;
	struct pl_job_row *jobs = NULL;
	json_t *list = json_array(), *jlist = json_array();
	uint64_t now = pl_store_now(st);
	bool oom = !list || !jlist, queue = true;
	size_t n = 0, nj = 0, queued = 0, claimed = 0;
	int64_t seq = 0;
	int rc;

	*out = NULL;
	rc = pl_store_seq(st, &seq);
	rc = rc ? rc : pl_store_list_runs(st, &f, &rows, &n);
	for (size_t i = 0; rc == 0 && i < n && !oom; i++)
		if (json_array_append_new(list, run_json(&rows[i], false)))
			oom = true;
	pl_store_runs_free(rows, n);
	if (rc == 0) {
		rc = has_queue(st) ? pl_store_list_queue(st,
				PL_SERVE_QUEUE_ENDED, &jobs, &nj) : -ENOTSUP;
		if (rc == -ENOTSUP) {
			queue = false; /* SQLite: one host, no queue */
			rc = 0;
		}
	}
	for (size_t i = 0; rc == 0 && i < nj && !oom; i++) {
		size_t pos = jobs[i].state == PL_JOB_QUEUED ? ++queued : 0;

		claimed += jobs[i].state == PL_JOB_CLAIMED;
		if (pos > PL_SERVE_QUEUE_QUEUED)
			continue; /* counted, not listed */
		if (json_array_append_new(jlist, job_json(&jobs[i], pos, now)))
			oom = true;
	}
	pl_store_jobs_free(jobs, nj);
	if (rc || oom) {
		json_decref(list);
		json_decref(jlist);
		return rc ? rc : -ENOMEM;
	}
	rc = doc(seq, "open_runs", list, out);
	if (rc) {
		json_decref(jlist);
		return rc;
	}
	put(*out, "queue", json_boolean(queue), &oom);
	put_str(*out, "note", queue ? NULL : "There is no queue on a "
		"one-host store: this SQLite store records the runs that "
		"`patchlab run` starts itself. The lab service's queue "
		"(`patchlab submit`, `patchlab worker`) needs a PostgreSQL "
		"store: docs/lab-service.md.", &oom);
	put(*out, "jobs", jlist, &oom);
	put_int(*out, "queued", (int64_t)queued, &oom);
	put_int(*out, "claimed", (int64_t)claimed, &oom);
	put_int(*out, "queued_max", PL_SERVE_QUEUE_QUEUED, &oom);
	put_int(*out, "ended_max", PL_SERVE_QUEUE_ENDED, &oom);
	put_int(*out, "now_ns", (int64_t)now, &oom);
	if (oom) {
		json_decref(*out);
		*out = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* ----------------------------------------------------------- changes */

json_t *pl_serve_change_json(const struct pl_change_row *c)
{
	json_t *o = json_object();
	bool oom = !o;

	if (oom)
		return NULL;
	put_int(o, "seq", c->seq, &oom);
	put_str(o, "kind", pl_change_kind_name(c->kind), &oom);
	put(o, "suite_id", c->suite_id ? json_integer(c->suite_id) :
	    json_null(), &oom);
	put(o, "run_id", c->run_id ? json_integer(c->run_id) : json_null(),
	    &oom);
	put_str(o, "board_id", c->board_id, &oom);
	if (oom) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int pl_serve_api_changes(struct pl_store *st, int64_t since, int64_t until,
			 json_t **out)
{
	struct pl_change_row *rows = NULL;
	json_t *list = json_array();
	bool oom = !list;
	size_t n = 0;
	int64_t seq = 0;
	bool more;
	int rc;

	*out = NULL;
	rc = pl_store_changes(st, since, PL_SERVE_CHANGES_MAX, &rows, &n);
	more = rc == 0 && n == PL_SERVE_CHANGES_MAX;
	/* nothing the server has not published yet (see send_suite) */
	while (n && rows[n - 1].seq > until) {
		free(rows[n - 1].board_id);
		n--;
		more = false;
	}
	for (size_t i = 0; rc == 0 && i < n && !oom; i++)
		if (json_array_append_new(list, pl_serve_change_json(&rows[i])))
			oom = true;
	/* where the next poll starts: after the last change given when the
	 * page was full, else after everything published */
	seq = more ? rows[n - 1].seq : until;
	if (seq < since)
		seq = since;
	pl_store_changes_free(rows, n);
	if (rc || oom) {
		json_decref(list);
		return rc ? rc : -ENOMEM;
	}
	rc = doc(seq, "changes", list, out);
	/* more to read when the page is full */
	if (rc == 0 && json_object_set_new(*out, "more", json_boolean(more))) {
		json_decref(*out);
		*out = NULL;
		rc = -ENOMEM;
	}
	return rc;
}
