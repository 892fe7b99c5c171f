/* SPDX-License-Identifier: MIT */
/*
 * patchlab serve: the HTTP server (libmicrohttpd, one thread per
 * connection), its routes, the event streams and the store poller.
 * Contracts: patchlab/serve.h; the API: docs/serve.md.
 *
 *   poller thread ── every poll_ms: pl_store_seq() ──> s->seq, broadcast
 *   connection threads (MHD) ── GET /api/... : JSON from their own store
 *                            ── GET /events  : block on the condition until
 *                               s->seq passes what the stream sent, then
 *                               read the changes after it from the store
 *
 * A store handle belongs to one thread: each connection thread opens its
 * own on first use (a pthread key closes it when the thread ends), the
 * poller has its own. An idle stream costs a sleeping thread and a comment
 * line every keepalive_ms; an idle server, one indexed read per poll.
 */
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>
#include <openssl/crypto.h>

#include "patchlab/error.h"
#include "patchlab/serve.h"
#include "serve_internal.h"

#define DEFAULT_POLL_MS 250u
#define DEFAULT_KEEPALIVE_MS 15000u
/* How long a browser waits before it reconnects a dropped stream. */
#define SSE_RETRY_MS 1000u
/* Polls whose changes are kept formatted for the streams. */
#define SSE_BATCHES 32u

struct pl_serve {
	struct MHD_Daemon *d;
	char url[128];
	char host_ok[3][80]; /* Host headers accepted on a loopback bind */
	char port[8];        /* ":PORT" */
	bool check_host;
	char *db;
	const struct pl_lab *lab;
	char *token;
	unsigned poll_ms, keepalive_ms;
	struct pl_log log;
	pthread_key_t store_key; /* this thread's store handle */
	struct pl_store *pstore; /* the poller's */
	pthread_t poller;
	bool poller_started;
	pthread_mutex_t mu;
	pthread_cond_t changed; /* s->seq grew, or stopping */
	int64_t seq;            /* newest change the poller saw */
	bool stopping;
	/* The changes of each of the last polls as event-stream text, read
	 * and formatted once by the poller: every stream that has sent up to
	 * a batch's `from` copies it, rather than each reading the store
	 * (50 pages following a suite were 50 queries and 50 JSON encodings
	 * of every change). A stream further behind reads the store. */
	struct sse_batch {
		int64_t from, to;
		char *text;
		size_t len;
	} batches[SSE_BATCHES];
	unsigned nbatch; /* batches made, the newest at (nbatch-1) % N */
	/* The last suite document, for the next page that asks at the same
	 * sequence (a run's end makes every open suite page ask at once). */
	struct {
		int64_t id, seq;
		char *body;
	} suite_cache;
};

/* ------------------------------------------------------------- store */

static void close_thread_store(void *p)
{
	pl_store_close(p);
}

/* This thread's store handle, opened on first use; NULL on failure. */
static struct pl_store *thread_store(struct pl_serve *s)
{
	struct pl_store_opts o = { .log = &s->log };
	struct pl_store *st = pthread_getspecific(s->store_key);

	if (st)
		return st;
	if (pl_store_open(&st, s->db, &o))
		return NULL;
	if (pthread_setspecific(s->store_key, st)) {
		pl_store_close(st);
		return NULL;
	}
	return st;
}

static void deadline_in(struct timespec *ts, unsigned ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* The event-stream text of the changes in (from, to]; NULL when they are
 * more than one read gives (the streams then read the store) or on an
 * error. */
static char *format_changes(struct pl_store *st, int64_t from, int64_t to,
			    size_t *len)
{
	struct pl_change_row *rows = NULL;
	struct pl_strbuf b = { 0 };
	size_t n = 0;
	int rc = pl_store_changes(st, from, PL_SERVE_CHANGES_MAX, &rows, &n);

	if (rc == 0 && n == PL_SERVE_CHANGES_MAX && rows[n - 1].seq < to)
		rc = -E2BIG;
	for (size_t i = 0; rc == 0 && i < n && rows[i].seq <= to; i++) {
		json_t *j = pl_serve_change_json(&rows[i]);
		char *data = j ? json_dumps(j, JSON_COMPACT) : NULL;

		json_decref(j);
		rc = data ? pl_strbuf_printf(&b, "id: %" PRId64 "\ndata: %s\n\n",
					     rows[i].seq, data) : -ENOMEM;
		free(data);
	}
	pl_store_changes_free(rows, n);
	if (rc || !b.s) {
		pl_strbuf_free(&b);
		if (rc == 0)
			*len = 0; /* nothing committed after all: "" */
		return rc == 0 ? strdup("") : NULL;
	}
	*len = b.len;
	return pl_strbuf_steal(&b);
}

/* Keep the batch (from, to] (under s->mu). */
static void keep_batch(struct pl_serve *s, int64_t from, int64_t to,
		       char *text, size_t len)
{
	struct sse_batch *b = &s->batches[s->nbatch % SSE_BATCHES];

	free(b->text);
	*b = (struct sse_batch){ .from = from, .to = to, .text = text,
				 .len = len };
	s->nbatch++;
}

static void *poller_main(void *arg)
{
	struct pl_serve *s = arg;
	bool failing = false;
	struct timespec ts;

	pthread_mutex_lock(&s->mu);
	while (!s->stopping) {
		int64_t seq = 0, was = s->seq;
		char *text = NULL;
		size_t len = 0;
		int rc;

		pthread_mutex_unlock(&s->mu);
		rc = pl_store_seq(s->pstore, &seq);
		if (rc && !failing)
			pl_log(&s->log, PL_LOG_WARN, "cannot read the store's "
			       "change sequence (%d); retrying", rc);
		failing = rc != 0;
		/* read and format once what every stream will send */
		if (rc == 0 && seq > was)
			text = format_changes(s->pstore, was, seq, &len);
		pthread_mutex_lock(&s->mu);
		if (rc == 0 && seq != s->seq) {
			if (text && seq > was)
				keep_batch(s, was, seq, text, len);
			else
				free(text);
			text = NULL;
			s->seq = seq;
			pthread_cond_broadcast(&s->changed);
		}
		free(text);
		deadline_in(&ts, s->poll_ms);
		while (!s->stopping &&
		       pthread_cond_timedwait(&s->changed, &s->mu, &ts) == 0)
			;
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* ---------------------------------------------------------- responses */

static void common_headers(struct MHD_Response *r, const char *type)
{
	MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
}

static enum MHD_Result send_buf(struct MHD_Connection *c, unsigned status,
				const char *type, char *body, size_t len,
				const char *csp)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	common_headers(r, type);
	if (csp)
		MHD_add_response_header(r, "Content-Security-Policy", csp);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* Steals j. */
static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status,
				 json_t *j)
{
	char *body = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	if (!body)
		return MHD_NO;
	return send_buf(c, status, "application/json; charset=utf-8", body,
			strlen(body), NULL);
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status,
				  const char *msg)
{
	return send_json(c, status, json_pack("{s:s}", "error", msg));
}

/* An API answer: 0 -> 200, else the error's status. */
static enum MHD_Result send_api(struct MHD_Connection *c, int rc, json_t *j)
{
	switch (rc) {
	case 0:
		return send_json(c, MHD_HTTP_OK, j);
	case -ENOENT:
		return send_error(c, MHD_HTTP_NOT_FOUND, "no such item");
	case -ENOMEM:
		return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
				  "out of memory");
	default:
		return send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
				  "the result store cannot be read");
	}
}

static enum MHD_Result send_page(struct MHD_Connection *c, const char *page)
{
	struct pl_strbuf b = { 0 };
	unsigned char r[18];
	char nonce[40], csp[256];

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return MHD_NO;
	for (size_t i = 0; i < sizeof(r); i++)
		snprintf(nonce + 2 * i, 3, "%02x", r[i]);
	snprintf(csp, sizeof(csp), "default-src 'none'; script-src "
		 "'nonce-%s'; style-src 'unsafe-inline'; connect-src 'self'; "
		 "img-src 'self' data:; base-uri 'none'; form-action 'none'; "
		 "frame-ancestors 'none'", nonce);
	if (pl_serve_page(page, nonce, &b)) {
		pl_strbuf_free(&b);
		return MHD_NO;
	}
	return send_buf(c, MHD_HTTP_OK, "text/html; charset=utf-8",
			pl_strbuf_steal(&b), b.len, csp);
}

/* ------------------------------------------------------------ events */

struct sse {
	struct pl_serve *s;
	int64_t last; /* the last sequence number sent */
	struct pl_strbuf buf;
	size_t off;
	bool started;
};

/* Append the changes after x->last, up to latest (what the poller has
 * published: see send_suite), to x->buf. */
static int sse_changes(struct sse *x, int64_t latest)
{
	struct pl_store *st = thread_store(x->s);
	struct pl_change_row *rows = NULL;
	size_t n = 0;
	int rc;

	if (!st)
		return -EIO;
	rc = pl_store_changes(st, x->last, PL_SERVE_CHANGES_MAX, &rows, &n);
	while (n && rows[n - 1].seq > latest)
		free(rows[--n].board_id);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		json_t *j = pl_serve_change_json(&rows[i]);
		char *data = j ? json_dumps(j, JSON_COMPACT) : NULL;

		json_decref(j);
		if (!data) {
			rc = -ENOMEM;
			break;
		}
		rc = pl_strbuf_printf(&x->buf, "id: %" PRId64 "\ndata: %s\n\n",
				      rows[i].seq, data);
		free(data);
		x->last = rows[i].seq;
	}
	if (rc == 0 && n == 0 && latest > x->last)
		x->last = latest; /* nothing committed after all */
	pl_store_changes_free(rows, n);
	return rc;
}

/* Append the poller's batches that follow x->last, up to latest. */
static int sse_from_batches(struct sse *x, int64_t latest)
{
	struct pl_serve *s = x->s;
	int rc = 0;

	pthread_mutex_lock(&s->mu);
	for (bool found = true; rc == 0 && found && x->last < latest;) {
		unsigned n = s->nbatch < SSE_BATCHES ? s->nbatch : SSE_BATCHES;

		found = false;
		for (unsigned i = 0; i < n; i++) {
			const struct sse_batch *b =
				&s->batches[(s->nbatch - 1 - i) % SSE_BATCHES];

			if (b->from != x->last || b->to > latest)
				continue;
			rc = pl_strbuf_append(&x->buf, b->text, b->len);
			x->last = b->to;
			found = true;
			break;
		}
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static ssize_t sse_read(void *cls, uint64_t pos, char *out, size_t max)
{
	struct sse *x = cls;
	struct pl_serve *s = x->s;
	struct timespec ts;
	int64_t latest;
	bool stopping, timed_out = false;

	for (;;) {
		if (x->off < x->buf.len) {
			size_t n = x->buf.len - x->off;

			if (n > max)
				n = max;
			memcpy(out, x->buf.s + x->off, n);
			x->off += n;
			return (ssize_t)n;
		}
		pl_strbuf_reset(&x->buf);
		x->off = 0;
		if (!x->started) {
			x->started = true;
			if (pl_strbuf_printf(&x->buf, "retry: %u\n\n",
					     SSE_RETRY_MS))
				return MHD_CONTENT_READER_END_WITH_ERROR;
			continue;
		}
		if (timed_out) {
			if (pl_strbuf_puts(&x->buf, ": keepalive\n\n"))
				return MHD_CONTENT_READER_END_WITH_ERROR;
			timed_out = false;
			continue;
		}
		deadline_in(&ts, s->keepalive_ms);
		pthread_mutex_lock(&s->mu);
		while (!s->stopping && s->seq <= x->last && !timed_out)
			timed_out = pthread_cond_timedwait(&s->changed, &s->mu,
							   &ts) == ETIMEDOUT;
		stopping = s->stopping;
		latest = s->seq;
		pthread_mutex_unlock(&s->mu);
		if (stopping)
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (latest > x->last) {
			timed_out = false;
			if (sse_from_batches(x, latest))
				return MHD_CONTENT_READER_END_WITH_ERROR;
			if (x->last < latest && sse_changes(x, latest))
				return MHD_CONTENT_READER_END_WITH_ERROR;
		}
	}
}

static void sse_free(void *cls)
{
	struct sse *x = cls;

	pl_strbuf_free(&x->buf);
	free(x);
}

static bool parse_seq(const char *v, int64_t *out)
{
	char *end;
	long long n;

	if (!v || !*v)
		return false;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno || *end || n < 0)
		return false;
	*out = n;
	return true;
}

static enum MHD_Result send_events(struct pl_serve *s,
				   struct MHD_Connection *c)
{
	const char *hdr = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						      "Last-Event-ID");
	const char *q = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND,
						    "since");
	struct MHD_Response *r;
	enum MHD_Result ret;
	struct sse *x = calloc(1, sizeof(*x));

	if (!x)
		return MHD_NO;
	x->s = s;
	/* a reconnecting browser's Last-Event-ID wins over the page's since;
	 * neither: from now on */
	if (!parse_seq(hdr, &x->last) && !parse_seq(q, &x->last)) {
		if ((hdr && *hdr) || (q && *q)) {
			free(x);
			return send_error(c, MHD_HTTP_BAD_REQUEST,
					  "bad Last-Event-ID or since");
		}
		pthread_mutex_lock(&s->mu);
		x->last = s->seq;
		pthread_mutex_unlock(&s->mu);
	}
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, sse_read,
					      x, sse_free);
	if (!r) {
		sse_free(x);
		return MHD_NO;
	}
	common_headers(r, "text/event-stream; charset=utf-8");
	ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

/* ------------------------------------------------------------ routes */

/*
 * /api/suites/ID: the same document for every page that asks before the
 * poller sees the store change again, so it is built (gate, report
 * rendering) at most once per poll however many pages ask. The key is the
 * poller's sequence P; the document's own seq, read before its data, is
 * P or later. That is enough because the event streams and /api/changes
 * publish no change after P: a page never learns of a change that the
 * cached document does not hold yet.
 */
static enum MHD_Result send_suite(struct pl_serve *s, struct MHD_Connection *c,
				  struct pl_store *st, int64_t id)
{
	char *body = NULL;
	int64_t seq;
	json_t *j;
	int rc;

	pthread_mutex_lock(&s->mu);
	seq = s->seq;
	if (s->suite_cache.body && s->suite_cache.id == id &&
	    s->suite_cache.seq == seq)
		body = strdup(s->suite_cache.body);
	pthread_mutex_unlock(&s->mu);
	if (!body) {
		rc = pl_serve_api_suite(st, id, &j);
		if (rc)
			return send_api(c, rc, NULL);
		body = json_dumps(j, JSON_COMPACT);
		json_decref(j);
		if (!body)
			return send_api(c, -ENOMEM, NULL);
		pthread_mutex_lock(&s->mu);
		free(s->suite_cache.body);
		s->suite_cache.body = strdup(body);
		s->suite_cache.id = id;
		s->suite_cache.seq = seq;
		pthread_mutex_unlock(&s->mu);
	}
	return send_buf(c, MHD_HTTP_OK, "application/json; charset=utf-8",
			body, strlen(body), NULL);
}

/* "/prefix/REST" -> REST (non-empty, no further '/'), else NULL. */
static const char *tail_of(const char *url, const char *prefix)
{
	size_t n = strlen(prefix);

	if (strncmp(url, prefix, n) != 0 || !url[n] || strchr(url + n, '/'))
		return NULL;
	return url + n;
}

static bool parse_id(const char *v, int64_t *out)
{
	return v && v[0] >= '1' && v[0] <= '9' && parse_seq(v, out);
}

static enum MHD_Result route_get(struct pl_serve *s, struct MHD_Connection *c,
				 const char *url)
{
	struct pl_store *st;
	const char *t;
	json_t *j = NULL;
	int64_t id;
	int rc;

	if (strcmp(url, "/") == 0)
		return send_page(c, "lab");
	if (strcmp(url, "/queue") == 0)
		return send_page(c, "queue");
	if ((t = tail_of(url, "/suites/")) && parse_id(t, &id))
		return send_page(c, "suite");
	if ((t = tail_of(url, "/runs/")) && parse_id(t, &id))
		return send_page(c, "run");
	if (tail_of(url, "/boards/"))
		return send_page(c, "board");
	if (strcmp(url, "/events") == 0)
		return send_events(s, c);
	if (strncmp(url, "/api/", 5) != 0)
		return send_error(c, MHD_HTTP_NOT_FOUND, "no such page");
	st = thread_store(s);
	if (!st)
		return send_api(c, -EIO, NULL);
	if (strcmp(url, "/api/lab") == 0) {
		rc = pl_serve_api_lab(st, s->lab, &j);
	} else if (strcmp(url, "/api/suites") == 0) {
		rc = pl_serve_api_suites(st, &j);
	} else if ((t = tail_of(url, "/api/suites/"))) {
		if (!parse_id(t, &id))
			return send_api(c, -ENOENT, NULL);
		return send_suite(s, c, st, id);
	} else if (strncmp(url, "/api/runs/", 10) == 0 &&
		   (t = strchr(url + 10, '/')) && strcmp(t, "/console") == 0) {
		const char *q = MHD_lookup_connection_value(
			c, MHD_GET_ARGUMENT_KIND, "from");
		char idtext[24];
		int64_t from = 0;

		snprintf(idtext, sizeof(idtext), "%.*s", (int)(t - url - 10),
			 url + 10);
		if (q && !parse_seq(q, &from))
			return send_error(c, MHD_HTTP_BAD_REQUEST, "bad from");
		rc = parse_id(idtext, &id) ?
		     pl_serve_api_console(st, id, from, &j) : -ENOENT;
	} else if ((t = tail_of(url, "/api/runs/"))) {
		rc = parse_id(t, &id) ? pl_serve_api_run(st, id, &j) : -ENOENT;
	} else if ((t = tail_of(url, "/api/boards/"))) {
		rc = pl_serve_api_board(st, s->lab, t, &j);
	} else if (strcmp(url, "/api/queue") == 0) {
		rc = pl_serve_api_queue(st, &j);
	} else if (strcmp(url, "/api/changes") == 0) {
		const char *q = MHD_lookup_connection_value(
			c, MHD_GET_ARGUMENT_KIND, "since");
		int64_t until;

		id = 0;
		if (q && !parse_seq(q, &id))
			return send_error(c, MHD_HTTP_BAD_REQUEST, "bad since");
		pthread_mutex_lock(&s->mu);
		until = s->seq;
		pthread_mutex_unlock(&s->mu);
		rc = pl_serve_api_changes(st, id, until, &j);
	} else {
		return send_error(c, MHD_HTTP_NOT_FOUND, "no such API");
	}
	return send_api(c, rc, j);
}

/* The write actions' token: "Authorization: Bearer TOKEN". */
static bool token_ok(struct pl_serve *s, struct MHD_Connection *c)
{
	const char *a = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						    "Authorization");
	size_t n;

	if (!s->token || !a || strncmp(a, "Bearer ", 7) != 0)
		return false;
	a += 7;
	n = strlen(s->token);
	return strlen(a) == n && CRYPTO_memcmp(a, s->token, n) == 0;
}

static enum MHD_Result release_lease(struct pl_serve *s,
				     struct MHD_Connection *c,
				     const char *board)
{
	struct pl_store *st = thread_store(s);
	struct pl_lease_row *l = NULL;
	size_t n = 0;
	json_t *j = NULL;
	int rc;

	if (!st)
		return send_api(c, -EIO, NULL);
	rc = pl_store_list_leases(st, &l, &n);
	if (rc)
		return send_api(c, rc, NULL);
	rc = -ENOENT;
	for (size_t i = 0; i < n; i++)
		if (strcmp(l[i].board_id, board) == 0) {
			rc = pl_store_lease_release(st, board, l[i].holder);
			if (rc == 0) {
				pl_log(&s->log, PL_LOG_WARN, "lease of %s "
				       "released (held by %s) through the web "
				       "API", board, l[i].holder);
				j = json_object();
				if (!j || json_object_set_new(j, "released",
						pl_serve_jstr(board)) ||
				    json_object_set_new(j, "holder",
						pl_serve_jstr(l[i].holder)))
					rc = -ENOMEM;
			}
			break;
		}
	pl_store_leases_free(l, n);
	if (rc == -PL_ELEASED)
		rc = -ENOENT; /* gone or handed over meanwhile */
	if (rc)
		json_decref(j);
	return send_api(c, rc, rc ? NULL : j);
}

/* A person restored board: its quarantine (kept in the store) ends, as
 * `patchlab boards --release` ends it. 404 when it had none. */
static enum MHD_Result release_quarantine(struct pl_serve *s,
					  struct MHD_Connection *c,
					  const char *board)
{
	struct pl_store *st = thread_store(s);
	json_t *j = NULL;
	int rc;

	if (!st)
		return send_api(c, -EIO, NULL);
	rc = pl_store_quarantine_release(st, board);
	if (rc == 0) {
		pl_log(&s->log, PL_LOG_WARN, "quarantine of %s released "
		       "through the web API", board);
		j = json_object();
		if (!j || json_object_set_new(j, "released",
					      pl_serve_jstr(board))) {
			json_decref(j);
			rc = -ENOMEM;
		}
	}
	return send_api(c, rc, rc ? NULL : j);
}

/*
 * Cancel suite id's waiting runs. A suite queued in the lab service
 * (PostgreSQL store) is cancelled with the store's own cancel, the one
 * `patchlab cancel` calls: queued runs end cancelled, claimed ones finish.
 * Any other suite belongs to the `patchlab run` that runs it, which only
 * its own process can stop: 409, naming the controllers of its open runs.
 */
static enum MHD_Result cancel_suite(struct pl_serve *s,
				    struct MHD_Connection *c, int64_t id)
{
	struct pl_store *st = thread_store(s);
	struct pl_run_filter f = { .suite_id = id, .open_only = true };
	struct pl_suite_row *suite = NULL;
	struct pl_job_row *jobs = NULL;
	struct pl_run_row *runs = NULL;
	size_t n = 0, njobs = 0, nruns = 0, running = 0;
	json_t *j = NULL, *ctl = NULL;
	bool ended;
	char msg[384];
	int rc;

	if (!st)
		return send_api(c, -EIO, NULL);
	rc = pl_store_get_suite(st, id, &suite);
	if (rc)
		return send_api(c, rc, NULL);
	ended = suite->gate != NULL;
	pl_store_suites_free(suite, 1);
	rc = -ENOENT;
	if (strcmp(pl_store_backend(st), "postgresql") == 0)
		rc = pl_store_cancel(st, id, &n);
	if (rc == 0) {
		pl_log(&s->log, PL_LOG_WARN, "suite %" PRId64 ": %zu waiting "
		       "runs cancelled through the web API", id, n);
		rc = pl_store_list_jobs(st, id, &jobs, &njobs);
		for (size_t i = 0; rc == 0 && i < njobs; i++)
			running += jobs[i].state == PL_JOB_CLAIMED;
		pl_store_jobs_free(jobs, njobs);
		j = rc ? NULL : json_pack("{s:I,s:I,s:I}", "suite_id",
					  (json_int_t)id, "cancelled",
					  (json_int_t)n, "running",
					  (json_int_t)running);
		return send_api(c, rc ? rc : j ? 0 : -ENOMEM, j);
	}
	if (rc != -ENOENT)
		return send_api(c, rc, NULL);
	if (ended) {
		snprintf(msg, sizeof(msg), "suite %" PRId64 " has ended: "
			 "nothing to cancel", id);
		return send_error(c, MHD_HTTP_CONFLICT, msg);
	}
	rc = pl_store_list_runs(st, &f, &runs, &nruns);
	if (rc)
		return send_api(c, rc, NULL);
	ctl = json_array();
	for (size_t i = 0; ctl && i < nruns; i++) {
		json_t *e = json_pack("{s:i,s:o}", "pid",
				      runs[i].controller_pid, "host",
				      pl_serve_jstr(runs[i].controller_host));
		bool dup = false;
		size_t k;
		json_t *o;

		json_array_foreach(ctl, k, o)
			dup = dup || json_equal(o, e);
		if (!e || (!dup && json_array_append(ctl, e)))
			rc = -ENOMEM;
		json_decref(e);
	}
	pl_store_runs_free(runs, nruns);
	snprintf(msg, sizeof(msg), "suite %" PRId64 " is not in the lab "
		 "service's queue: it is run by `patchlab run`, which stops "
		 "on SIGTERM to its controller on its host (its running "
		 "scenarios end lab-error, the runs not begun are recorded "
		 "not-run)", id);
	j = ctl ? json_pack("{s:s,s:I,s:O}", "error", msg, "suite_id",
			    (json_int_t)id, "controllers", ctl) : NULL;
	json_decref(ctl);
	if (rc || !j) {
		json_decref(j);
		return send_api(c, -ENOMEM, NULL);
	}
	return send_json(c, MHD_HTTP_CONFLICT, j);
}

static enum MHD_Result route_post(struct pl_serve *s,
				  struct MHD_Connection *c, const char *url)
{
	const char *t;
	char *board = NULL;
	enum MHD_Result ret;
	size_t n;

	if (!s->token)
		return send_error(c, MHD_HTTP_FORBIDDEN, "write actions are "
				  "off: start patchlab serve with "
				  "--token-file");
	if (!token_ok(s, c))
		return send_error(c, MHD_HTTP_UNAUTHORIZED, "a write action "
				  "needs 'Authorization: Bearer TOKEN'");
	if ((t = strrchr(url, '/')) && strncmp(url, "/api/suites/", 12) == 0 &&
	    strcmp(t, "/cancel") == 0) {
		char idtext[24];
		int64_t id;

		if (t <= url + 12 || t - (url + 12) >= (ptrdiff_t)sizeof(idtext))
			return send_error(c, MHD_HTTP_NOT_FOUND, "no such suite");
		snprintf(idtext, sizeof(idtext), "%.*s", (int)(t - url - 12),
			 url + 12);
		if (!parse_id(idtext, &id))
			return send_error(c, MHD_HTTP_NOT_FOUND, "no such suite");
		return cancel_suite(s, c, id);
	}
	if (strncmp(url, "/api/boards/", 12) != 0 || !t || t <= url + 12)
		return send_error(c, MHD_HTTP_NOT_FOUND, "no such action");
	n = (size_t)(t - (url + 12));
	board = strndup(url + 12, n);
	if (!board)
		return MHD_NO;
	if (strchr(board, '/'))
		ret = send_error(c, MHD_HTTP_NOT_FOUND, "no such action");
	else if (strcmp(t, "/release-lease") == 0)
		ret = release_lease(s, c, board);
	else if (strcmp(t, "/release-quarantine") == 0)
		ret = release_quarantine(s, c, board);
	else
		ret = send_error(c, MHD_HTTP_NOT_FOUND, "no such action");
	free(board);
	return ret;
}

/* On a loopback bind, only a Host header naming loopback: a page of another
 * site that resolves its own name to 127.0.0.1 (DNS rebinding) reads
 * nothing. */
static bool host_ok(struct pl_serve *s, struct MHD_Connection *c)
{
	const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						    "Host");

	if (!s->check_host)
		return true;
	if (!h)
		return false;
	for (size_t i = 0; i < 3; i++) {
		size_t n = strlen(s->host_ok[i]);

		/* "localhost:PORT" or "localhost" */
		if (strncmp(h, s->host_ok[i], n) == 0 &&
		    (h[n] == '\0' || strcmp(h + n, s->port) == 0))
			return true;
	}
	return false;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
				  const char *url, const char *method,
				  const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	static int started;
	struct pl_serve *s = cls;
	bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;

	if (!get && strcmp(method, "POST") != 0)
		return send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED,
				  "GET, HEAD or POST only");
	if (!get) {
		/* a POST's body is read (and ignored) before it is answered */
		if (!*con_cls) {
			*con_cls = &started;
			return MHD_YES;
		}
		if (*upload_size) {
			*upload_size = 0;
			return MHD_YES;
		}
	}
	if (!host_ok(s, c))
		return send_error(c, MHD_HTTP_FORBIDDEN, "unexpected Host");
	return get ? route_get(s, c, url) : route_post(s, c, url);
}

__attribute__((format(printf, 2, 0)))
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct pl_serve *s = cls;
	char msg[512];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	pl_log(&s->log, PL_LOG_INFO, "http: %s", msg);
}

/* ------------------------------------------------------------- start */

static int listen_on(struct pl_serve *s, const char *host, const char *port,
		     int *fd_out)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC,
				  .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *ai, *p;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char addr[INET6_ADDRSTRLEN];
	int fd = -1, one = 1, rc, gai;
	unsigned bound;

	gai = getaddrinfo(host, port, &hints, &ai);
	if (gai) {
		pl_log(&s->log, PL_LOG_ERROR, "listen %s:%s: %s", host, port,
		       gai_strerror(gai));
		return -EINVAL;
	}
	rc = -EADDRNOTAVAIL;
	for (p = ai; p; p = p->ai_next) {
		fd = socket(p->ai_family, p->ai_socktype | SOCK_CLOEXEC,
			    p->ai_protocol);
		if (fd < 0) {
			rc = -errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, p->ai_addr, p->ai_addrlen) == 0 &&
		    listen(fd, 128) == 0)
			break;
		rc = -errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	if (fd < 0) {
		pl_log(&s->log, PL_LOG_ERROR, "listen %s:%s: %s", host, port,
		       strerror(-rc));
		return rc;
	}
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &a->sin6_addr, addr, sizeof(addr));
		bound = ntohs(a->sin6_port);
		snprintf(s->url, sizeof(s->url), "http://[%s]:%u/", addr,
			 bound);
		s->check_host = IN6_IS_ADDR_LOOPBACK(&a->sin6_addr);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &a->sin_addr, addr, sizeof(addr));
		bound = ntohs(a->sin_port);
		snprintf(s->url, sizeof(s->url), "http://%s:%u/", addr, bound);
		s->check_host = (ntohl(a->sin_addr.s_addr) >> 24) == 127;
	}
	snprintf(s->port, sizeof(s->port), ":%u", bound);
	/* the Host headers a loopback page sends: compared up to the port */
	snprintf(s->host_ok[0], sizeof(s->host_ok[0]), "localhost");
	snprintf(s->host_ok[1], sizeof(s->host_ok[1]), "%s",
		 ss.ss_family == AF_INET6 ? "[::1]" : addr);
	snprintf(s->host_ok[2], sizeof(s->host_ok[2]), "%s",
		 ss.ss_family == AF_INET6 ? "[::1]" : "127.0.0.1");
	*fd_out = fd;
	return 0;
}

int pl_serve_start(struct pl_serve **out, const struct pl_serve_opts *o)
{
	struct pl_store_opts so = { 0 };
	pthread_condattr_t ca;
	struct pl_serve *s;
	int fd = -1, rc;

	*out = NULL;
	if (!o || !o->db)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->log.max = PL_LOG_WARN;
	if (o->log)
		s->log = *o->log;
	s->log.ctx = "serve";
	s->lab = o->lab;
	s->poll_ms = o->poll_ms ? o->poll_ms : DEFAULT_POLL_MS;
	s->keepalive_ms = o->keepalive_ms ? o->keepalive_ms :
			  DEFAULT_KEEPALIVE_MS;
	s->db = strdup(o->db);
	s->token = o->token ? strdup(o->token) : NULL;
	if (!s->db || (o->token && !s->token)) {
		rc = -ENOMEM;
		goto err_free;
	}
	so.log = &s->log;
	rc = pl_store_open(&s->pstore, s->db, &so);
	rc = rc ? rc : pl_store_seq(s->pstore, &s->seq);
	if (rc)
		goto err_close_store;
	rc = -pthread_key_create(&s->store_key, close_thread_store);
	if (rc)
		goto err_close_store;
	pthread_mutex_init(&s->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->changed, &ca);
	pthread_condattr_destroy(&ca);
	rc = listen_on(s, o->host ? o->host : "127.0.0.1",
		       o->port ? o->port : "0", &fd);
	if (rc)
		goto err_destroy_sync;
	rc = -pthread_create(&s->poller, NULL, poller_main, s);
	if (rc) {
		close(fd);
		goto err_destroy_sync;
	}
	s->poller_started = true;
	s->d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION |
				MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
				MHD_USE_ERROR_LOG,
				0, NULL, NULL, on_request, s,
				MHD_OPTION_LISTEN_SOCKET, fd,
				MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
				MHD_OPTION_CONNECTION_LIMIT, 512u,
				MHD_OPTION_CONNECTION_TIMEOUT, 120u,
				MHD_OPTION_THREAD_STACK_SIZE,
				(size_t)256 * 1024,
				MHD_OPTION_END);
	if (!s->d) {
		close(fd);
		pl_log(&s->log, PL_LOG_ERROR, "cannot start the HTTP server");
		rc = -EIO;
		goto err_stop_poller;
	}
	*out = s;
	return 0;

err_stop_poller:
	pthread_mutex_lock(&s->mu);
	s->stopping = true;
	pthread_cond_broadcast(&s->changed);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->poller, NULL);
	for (unsigned i = 0; i < SSE_BATCHES; i++)
		free(s->batches[i].text);
err_destroy_sync:
	pthread_cond_destroy(&s->changed);
	pthread_mutex_destroy(&s->mu);
	pthread_key_delete(s->store_key);
err_close_store:
	pl_store_close(s->pstore);
err_free:
	free(s->token);
	free(s->db);
	free(s);
	return rc;
}

const char *pl_serve_url(const struct pl_serve *s)
{
	return s->url;
}

void pl_serve_stop(struct pl_serve *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->stopping = true;
	pthread_cond_broadcast(&s->changed);
	pthread_mutex_unlock(&s->mu);
	/* joins every connection thread: their streams see stopping */
	MHD_stop_daemon(s->d);
	if (s->poller_started)
		pthread_join(s->poller, NULL);
	pthread_cond_destroy(&s->changed);
	pthread_mutex_destroy(&s->mu);
	pthread_key_delete(s->store_key);
	pl_store_close(s->pstore);
	for (unsigned i = 0; i < SSE_BATCHES; i++)
		free(s->batches[i].text);
	free(s->suite_cache.body);
	if (s->token)
		OPENSSL_cleanse(s->token, strlen(s->token));
	free(s->token);
	free(s->db);
	free(s);
}
