/* SPDX-License-Identifier: MIT */
/*
 * A second (and third) controller for the lease tests: one process, one
 * store, one struct pl_leases on a libuv loop, driven line by line on stdin
 * and answering line by line on stdout.
 *
 *   lease_helper DB TTL_MS NOW_NS RETRY_MS [LAB]
 *
 * With LAB, takes also hold the board's hardware lock for that lab
 * (pl_leases_set_lab(); $PATCHLAB_LOCK_DIR says where).
 *
 *   take B      wait for B:  "waiting B" now if it is held, later "taken B"
 *   try B       no wait:     "taken B", or "busy B HOLDER" at once
 *   release B   "released B RC"
 *   clock NS    set the store clock: "clock NS"
 *   (callbacks) "lost B STATUS HOLDER|-", "failed B STATUS"
 *
 * It prints "ready HOLDER" first, and exits 0 at EOF on stdin after closing
 * the module (which releases everything it holds).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "patchlab/error.h"
#include "patchlab/leases.h"
#include "patchlab/store.h"
#include "patchlab/strbuf.h"

struct helper {
	uv_loop_t loop;
	uv_pipe_t in;
	struct pl_store *st;
	struct pl_leases *l;
	uint64_t now;
	struct pl_strbuf line;
	char buf[1024];
};

static uint64_t clock_of(void *ud)
{
	return *(uint64_t *)ud;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static void on_taken(struct pl_leases *l, const char *board, int status,
		     void *ud)
{
	(void)l;
	(void)ud;
	if (status == 0)
		say("taken %s", board);
	else
		say("failed %s %d", board, status);
}

static void on_lost(struct pl_leases *l, const char *board, int status,
		    const char *holder, void *ud)
{
	(void)l;
	(void)ud;
	say("lost %s %d %s", board, status, holder ? holder : "-");
}

static void command(struct helper *h, char *cmd)
{
	char *arg = strchr(cmd, ' ');
	int err;

	if (arg)
		*arg++ = '\0';
	if (!arg)
		arg = "";
	if (strcmp(cmd, "take") == 0 || strcmp(cmd, "try") == 0) {
		bool wait = cmd[1] == 'a';

		err = pl_leases_take(h->l, arg, wait, on_taken, h);
		if (err == -PL_ELEASED) {
			char *holder = NULL;

			pl_leases_holder(h->l, arg, &holder, NULL);
			say("busy %s %s", arg, holder ? holder : "-");
			free(holder);
		} else if (err) {
			say("failed %s %d", arg, err);
		} else if (!pl_leases_held(h->l, arg)) {
			say("waiting %s", arg);
		}
	} else if (strcmp(cmd, "release") == 0) {
		say("released %s %d", arg, pl_leases_release(h->l, arg));
	} else if (strcmp(cmd, "clock") == 0) {
		h->now = strtoull(arg, NULL, 10);
		say("clock %llu", (unsigned long long)h->now);
	} else {
		say("unknown %s", cmd);
	}
}

static void on_alloc(uv_handle_t *hd, size_t want, uv_buf_t *b)
{
	struct helper *h = hd->data;

	(void)want;
	*b = uv_buf_init(h->buf, sizeof(h->buf));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct helper *h = s->data;

	if (n < 0) {
		uv_close((uv_handle_t *)&h->in, NULL);
		pl_leases_close(h->l);
		h->l = NULL;
		return;
	}
	for (ssize_t i = 0; i < n; i++) {
		if (b->base[i] != '\n') {
			pl_strbuf_append(&h->line, &b->base[i], 1);
			continue;
		}
		if (h->line.s && h->l)
			command(h, h->line.s);
		pl_strbuf_reset(&h->line);
	}
}

int main(int argc, char **argv)
{
	struct helper h = { 0 };
	struct pl_store_opts o = { .clock = clock_of, .clock_data = &h.now };
	int err;

	if (argc != 5 && argc != 6) {
		fprintf(stderr, "usage: lease_helper DB TTL_MS NOW_NS RETRY_MS "
			"[LAB]\n");
		return 64;
	}
	h.now = strtoull(argv[3], NULL, 10);
	err = pl_store_open(&h.st, argv[1], &o);
	if (err) {
		fprintf(stderr, "lease_helper: %s: %s\n", argv[1],
			pl_strerror(err));
		return 1;
	}
	uv_loop_init(&h.loop);
	err = pl_leases_open(&h.l, &h.loop, h.st, strtoull(argv[2], NULL, 10));
	if (err)
		return 1;
	pl_leases_set_retry_ms(h.l, (unsigned)atoi(argv[4]));
	if (argc == 6 && pl_leases_set_lab(h.l, argv[5])) {
		fprintf(stderr, "lease_helper: cannot lock for %s\n", argv[5]);
		return 1;
	}
	pl_leases_set_lost_cb(h.l, on_lost, &h);
	uv_pipe_init(&h.loop, &h.in, 0);
	uv_pipe_open(&h.in, 0);
	h.in.data = &h;
	uv_read_start((uv_stream_t *)&h.in, on_alloc, on_read);
	say("ready %s", pl_store_holder(h.st));
	uv_run(&h.loop, UV_RUN_DEFAULT);
	uv_loop_close(&h.loop);
	pl_store_close(h.st);
	pl_strbuf_free(&h.line);
	return 0;
}
