/* SPDX-License-Identifier: MIT */
/*
 * patchlab serve: the lab's web console. An HTTP server (libmicrohttpd) that
 * shows the result store live: the lab's boards, the suites (gate, verdict
 * matrix, cut map: the HTML report's own rendering), the runs (timeline,
 * console log) and the open runs. Pages are HTML with inline script that
 * fetch the JSON API under /api/; /events streams the store's changes as
 * server-sent events whose id is the store's change sequence, so a browser
 * that reconnects resumes where it stopped. API and events: docs/serve.md.
 *
 * Safe by default: it listens where told (the CLI defaults to loopback),
 * reads the store and never writes it except for the write actions, which
 * need the token given here; with no token they are refused.
 *
 * Threads: libmicrohttpd runs one thread per connection, each with its own
 * store handle (a handle belongs to one thread); one more thread polls the
 * store's change sequence every poll_ms and wakes the event streams. The
 * caller's thread only starts and stops the server.
 */
#ifndef PATCHLAB_SERVE_H
#define PATCHLAB_SERVE_H

#include "patchlab/config.h"
#include "patchlab/log.h"

struct pl_serve;

struct pl_serve_opts {
	const char *db;      /* the store's path (required) */
	/* the lab whose boards "/" lists; borrowed until pl_serve_stop();
	 * NULL: the boards the store knows a lease of */
	const struct pl_lab *lab;
	const char *host;    /* address to bind; NULL: "127.0.0.1" */
	const char *port;    /* port or service; NULL or "0": a free port */
	/* the write actions' token (borrowed, copied); NULL: refuse them */
	const char *token;
	unsigned poll_ms;    /* how often the store is polled; 0: 250 */
	unsigned keepalive_ms; /* comment line on an idle stream; 0: 15000 */
	const struct pl_log *log; /* NULL: the default sink */
};

/*
 * Bind, listen and start serving. *out receives the server; stop it with
 * pl_serve_stop(). Returns 0, -EINVAL for bad options, -errno when the
 * address cannot be bound, -EIO when the store cannot be read.
 */
int pl_serve_start(struct pl_serve **out, const struct pl_serve_opts *o);

/* "http://127.0.0.1:8080/": where it listens (the port actually bound).
 * Borrowed, valid until pl_serve_stop(). */
const char *pl_serve_url(const struct pl_serve *s);

/* Close the event streams, stop every thread, free. NULL ok. */
void pl_serve_stop(struct pl_serve *s);

#endif
