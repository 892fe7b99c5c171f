/* SPDX-License-Identifier: MIT */
/* Shared by the files of controller/src/serve/; never installed. */
#ifndef PL_SERVE_INTERNAL_H
#define PL_SERVE_INTERNAL_H

#include <stdint.h>

#include <jansson.h>

#include "patchlab/config.h"
#include "patchlab/store.h"
#include "patchlab/strbuf.h"

/* How much of a run's console log the run page shows: its last bytes. */
#define PL_SERVE_CONSOLE_TAIL (64 * 1024)
/* At most this many changes in one answer of /api/changes or one burst of
 * /events (the rest follows). */
#define PL_SERVE_CHANGES_MAX 500
/* The queue page lists at most this many queued jobs (the next claimed;
 * it counts them all) and this many jobs that ended, the latest. */
#define PL_SERVE_QUEUE_QUEUED 1000
#define PL_SERVE_QUEUE_ENDED 20

/*
 * A JSON string of s, which may hold any bytes: jansson takes only valid
 * UTF-8, so each byte of an invalid sequence becomes U+FFFD. NULL: JSON
 * null. NULL on -ENOMEM.
 */
json_t *pl_serve_jstr(const char *s);
json_t *pl_serve_jstrn(const char *s, size_t len);

/*
 * The API's JSON documents (docs/serve.md), each a new reference in *out.
 * 0, -ENOENT for an unknown id, -ENOMEM, -EIO.
 */
int pl_serve_api_lab(struct pl_store *st, const struct pl_lab *lab,
		     json_t **out);
int pl_serve_api_suites(struct pl_store *st, json_t **out);
int pl_serve_api_suite(struct pl_store *st, int64_t id, json_t **out);
int pl_serve_api_run(struct pl_store *st, int64_t id, json_t **out);
int pl_serve_api_board(struct pl_store *st, const struct pl_lab *lab,
		       const char *board, json_t **out);
int pl_serve_api_queue(struct pl_store *st, json_t **out);
/* The run's console log from byte from on (at most the last
 * PL_SERVE_CONSOLE_TAIL bytes; a partial UTF-8 sequence at the end waits
 * for the next call): the live tail while the run holds its board. */
int pl_serve_api_console(struct pl_store *st, int64_t id, int64_t from,
			 json_t **out);
/* The changes after since and up to until (the poller's sequence). */
int pl_serve_api_changes(struct pl_store *st, int64_t since, int64_t until,
			 json_t **out);

/* One change as the object /events and /api/changes carry. */
json_t *pl_serve_change_json(const struct pl_change_row *c);

/* The pages: "lab", "suite", "run", "board", "queue". The page's script
 * reads its id from the URL. nonce: the Content-Security-Policy nonce of
 * its inline script. 0 or -ENOMEM. */
int pl_serve_page(const char *page, const char *nonce, struct pl_strbuf *out);

#endif
