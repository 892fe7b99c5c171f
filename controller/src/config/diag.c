/* SPDX-License-Identifier: MIT */
/* The diagnostics list: every configuration error with its position. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"

/* Past this many errors the rest are counted only: a file of garbage
 * should not produce megabytes of messages. */
#define PL_DIAGS_KEEP 500

struct pl_diags {
	struct pl_arena arena;
	struct pl_diag *v;
	size_t n, cap;
	size_t total;
	bool incomplete; /* memory ran out while adding */
};

int pl_diags_new(struct pl_diags **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

void pl_diags_free(struct pl_diags *d)
{
	if (!d)
		return;
	pl_arena_release(&d->arena);
	free(d->v);
	free(d);
}

void pl_diags_add(struct pl_diags *d, const struct pl_srcpos *pos,
		  const char *fmt, ...)
{
	struct pl_diag *e;
	va_list ap;
	char *msg;
	int n;

	d->total++;
	if (d->n >= PL_DIAGS_KEEP)
		return;
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 16;
		struct pl_diag *v = realloc(d->v, cap * sizeof(*v));

		if (!v) {
			d->incomplete = true;
			return;
		}
		d->v = v;
		d->cap = cap;
	}
	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0) {
		d->incomplete = true;
		return;
	}
	e = &d->v[d->n];
	e->msg = pl_arena_strndup(&d->arena, msg, (size_t)n);
	free(msg);
	e->file = pos && pos->file ? pl_arena_strdup(&d->arena, pos->file)
				   : NULL;
	e->line = pos ? pos->line : 0;
	e->col = pos ? pos->col : 0;
	if (!e->msg || (pos && pos->file && !e->file)) {
		d->incomplete = true;
		return;
	}
	d->n++;
}

size_t pl_diags_count(const struct pl_diags *d)
{
	return d ? d->n : 0;
}

size_t pl_diags_total(const struct pl_diags *d)
{
	return d ? d->total + (d->incomplete ? 1 : 0) : 0;
}

const struct pl_diag *pl_diags_at(const struct pl_diags *d, size_t i)
{
	return d && i < d->n ? &d->v[i] : NULL;
}

void pl_diags_print(const struct pl_diags *d, FILE *f)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n; i++) {
		const struct pl_diag *e = &d->v[i];
		const char *file = e->file ? e->file : "patchlab";

		if (e->line && e->col)
			fprintf(f, "%s:%u:%u: error: %s\n", file, e->line,
				e->col, e->msg);
		else if (e->line)
			fprintf(f, "%s:%u: error: %s\n", file, e->line, e->msg);
		else
			fprintf(f, "%s: error: %s\n", file, e->msg);
	}
	if (d->total > d->n)
		fprintf(f, "patchlab: error: %zu more errors not shown\n",
			d->total - d->n);
	if (d->incomplete)
		fprintf(f, "patchlab: error: out of memory: some errors were lost\n");
}
