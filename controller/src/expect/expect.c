/* SPDX-License-Identifier: MIT */
/*
 * The expect engine: stream matching of console output (contract and
 * semantics in patchlab/expect.h).
 *
 * Layout of the buffered input, in absolute stream offsets:
 *
 *   base                                   base + len
 *    |<------------ buf[0 .. len) ------------->|     <= window bytes
 *    |   consumed input is gone from the left   |
 *         ^ pattern i resumes searching at pats[i].scan (>= base)
 *
 * stamps[] maps offsets to chunk times: entry k covers the bytes from
 * stamps[k].off up to stamps[k + 1].off.
 *
 * Each pattern keeps its own scan position: everything before it is known
 * not to hold its next match, so a long stream is searched about once per
 * pattern (a regex re-searches only the current partial line).
 */
#include <assert.h>
#include <errno.h>
#include <regex.h> /* REG_STARTEND: glibc, BSDs */
#include <stdlib.h>
#include <string.h>

#include "patchlab/expect.h"

struct stamp {
	uint64_t off;
	uint64_t t;
};

struct pat {
	enum pl_expect_kind kind;
	unsigned flags;
	unsigned nth, count;
	char *lit; /* literal bytes */
	size_t len;
	regex_t re;
	size_t nsub;
	uint64_t scan;
};

struct pl_expect {
	size_t window;
	char *buf;
	size_t len;
	uint64_t base;
	bool base_bol; /* buf[0] starts a line */
	uint64_t total, dropped;

	struct stamp *stamps;
	size_t nstamps, stamps_cap;

	struct pat *pats;
	size_t npats, pats_cap;

	regmatch_t pm[1 + PL_EXPECT_MAX_CAPTURES];
	regmatch_t best_pm[1 + PL_EXPECT_MAX_CAPTURES];
	struct pl_expect_match m;
	struct pl_strbuf mbuf;
};

/* -------------------------------------------------------------- lifetime */

int pl_expect_open(struct pl_expect **out, const struct pl_expect_config *cfg)
{
	struct pl_expect *e;
	size_t window = cfg && cfg->window ? cfg->window
					   : PL_EXPECT_WINDOW_DEFAULT;

	*out = NULL;
	if (window < 64)
		return -EINVAL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->window = window;
	e->base_bol = true;
	/* +1: buf[len] is always NUL. glibc's regexec honours REG_STARTEND,
	 * but sanitizers' regexec interceptors strlen() the string. */
	e->buf = calloc(1, window + 1);
	if (!e->buf) {
		free(e);
		return -ENOMEM;
	}
	*out = e;
	return 0;
}

static void pat_release(struct pat *p)
{
	if (p->kind == PL_EXPECT_REGEX)
		regfree(&p->re);
	free(p->lit);
}

void pl_expect_clear(struct pl_expect *e)
{
	for (size_t i = 0; i < e->npats; i++)
		pat_release(&e->pats[i]);
	e->npats = 0;
}

void pl_expect_free(struct pl_expect *e)
{
	if (!e)
		return;
	pl_expect_clear(e);
	free(e->pats);
	free(e->stamps);
	free(e->buf);
	pl_strbuf_free(&e->mbuf);
	free(e);
}

/* -------------------------------------------------------------- patterns */

/*
 * glibc's regcomp expands repetitions and stacked quantifiers into
 * automaton states: "a++++...+" (100 of them) or "((a{255}){255}){255}"
 * take gigabytes before it gives up. Console patterns need neither, so
 * refuse them up front: no quantifier directly on a quantifier, and the
 * product of all {m,n} bounds at most PL_EXPECT_MAX_REPEAT.
 */
#define REGEX_MAX_LEN 512
#define PL_EXPECT_MAX_REPEAT 4096

static const char *regex_lint(const char *re)
{
	unsigned long product = 1;
	bool prev_quant = false;
	const char *p = re;

	if (strlen(re) > REGEX_MAX_LEN)
		return "longer than 512 bytes";
	while (*p) {
		if (*p == '\\') {
			p += p[1] ? 2 : 1;
			prev_quant = false;
		} else if (*p == '[') {
			/* a bracket list: ']' first is literal, [:x:] nests */
			p++;
			if (*p == '^')
				p++;
			if (*p == ']')
				p++;
			while (*p && *p != ']') {
				if (*p == '[' && (p[1] == ':' || p[1] == '.' ||
						  p[1] == '=')) {
					const char *end = strchr(p + 2, p[1]);

					p = end && end[1] == ']' ? end + 2 : p + 1;
				} else {
					p++;
				}
			}
			if (*p)
				p++;
			prev_quant = false;
		} else if (*p == '*' || *p == '+' || *p == '?' || *p == '{') {
			if (prev_quant)
				return "a quantifier on a quantifier";
			if (*p == '{') {
				char *end;
				unsigned long m = strtoul(p + 1, &end, 10);

				if (*end == ',' && end[1] != '}')
					m = strtoul(end + 1, &end, 10);
				product *= m ? m : 1;
				if (m > 255 || product > PL_EXPECT_MAX_REPEAT)
					return "repetition counts too large";
				end = strchr(p, '}');
				p = end ? end + 1 : p + strlen(p);
			} else {
				p++;
			}
			prev_quant = true;
		} else {
			p++;
			prev_quant = false;
		}
	}
	return NULL;
}

int pl_expect_add(struct pl_expect *e, const struct pl_expect_pattern *p,
		  size_t *index, struct pl_strbuf *err)
{
	struct pat *np;
	char msg[160];
	int rc;

	if (e->npats == e->pats_cap) {
		size_t cap = e->pats_cap ? e->pats_cap * 2 : 4;

		np = realloc(e->pats, cap * sizeof(*np));
		if (!np)
			return -ENOMEM;
		e->pats = np;
		e->pats_cap = cap;
	}
	np = &e->pats[e->npats];
	memset(np, 0, sizeof(*np));
	np->kind = p->kind;
	np->flags = p->flags;
	np->nth = p->nth ? p->nth : 1;
	np->scan = e->base;
	if (p->kind == PL_EXPECT_LITERAL) {
		np->len = p->len ? p->len : strlen(p->text);
		if (!np->len) {
			if (err)
				pl_strbuf_puts(err, "empty literal");
			return -EINVAL;
		}
		np->lit = malloc(np->len);
		if (!np->lit)
			return -ENOMEM;
		memcpy(np->lit, p->text, np->len);
	} else {
		const char *why = regex_lint(p->text);

		if (why) {
			if (err)
				pl_strbuf_printf(err, "regex '%s': %s",
						 p->text, why);
			return -EINVAL;
		}
		if (strchr(p->text, '\n')) {
			if (err)
				pl_strbuf_printf(err, "regex '%s': a regex "
						 "cannot span lines (use a "
						 "literal)", p->text);
			return -EINVAL;
		}
		rc = regcomp(&np->re, p->text,
			     REG_EXTENDED | REG_NEWLINE |
				     (p->flags & PL_EXPECT_ICASE ? REG_ICASE
								 : 0));
		if (rc) {
			regerror(rc, &np->re, msg, sizeof(msg));
			if (err)
				pl_strbuf_printf(err, "regex '%s': %s",
						 p->text, msg);
			return rc == REG_ESPACE ? -ENOMEM : -EINVAL;
		}
		if (regexec(&np->re, "", 0, NULL, 0) == 0) {
			regfree(&np->re);
			if (err)
				pl_strbuf_printf(err, "regex '%s' matches the "
						 "empty string", p->text);
			return -EINVAL;
		}
		np->nsub = np->re.re_nsub;
		if (np->nsub > PL_EXPECT_MAX_CAPTURES)
			np->nsub = PL_EXPECT_MAX_CAPTURES;
	}
	if (index)
		*index = e->npats;
	e->npats++;
	return 0;
}

bool pl_expect_armed(const struct pl_expect *e)
{
	return e->npats > 0;
}

/* ---------------------------------------------------------------- buffer */

/* Forget the first n buffered bytes. */
static void drop(struct pl_expect *e, size_t n, bool unmatched)
{
	size_t k;

	if (!n)
		return;
	assert(n <= e->len);
	e->base_bol = e->buf[n - 1] == '\n';
	memmove(e->buf, e->buf + n, e->len - n);
	e->len -= n;
	e->buf[e->len] = '\0';
	e->base += n;
	if (unmatched)
		e->dropped += n;
	/* keep the last stamp at or before base, and the ones after it */
	for (k = 0; k + 1 < e->nstamps && e->stamps[k + 1].off <= e->base; k++)
		;
	if (k) {
		memmove(e->stamps, e->stamps + k,
			(e->nstamps - k) * sizeof(*e->stamps));
		e->nstamps -= k;
	}
}

void pl_expect_discard(struct pl_expect *e)
{
	drop(e, e->len, false);
	for (size_t i = 0; i < e->npats; i++)
		e->pats[i].scan = e->base;
}

/* Make room for n more bytes: drop whole old lines first. */
static void make_room(struct pl_expect *e, size_t n)
{
	size_t need, cut;
	const char *nl;

	if (e->len + n <= e->window)
		return;
	need = e->len + n - e->window;
	if (need >= e->len) {
		drop(e, e->len, true);
		return;
	}
	nl = memchr(e->buf + need - 1, '\n', e->len - (need - 1));
	cut = nl ? (size_t)(nl - e->buf) + 1 : need;
	drop(e, cut, true);
}

static int append(struct pl_expect *e, const char *data, size_t n,
		  uint64_t t)
{
	assert(n <= e->window);
	make_room(e, n);
	if (!e->nstamps || e->stamps[e->nstamps - 1].t != t) {
		if (e->nstamps == e->stamps_cap) {
			size_t cap = e->stamps_cap ? e->stamps_cap * 2 : 16;
			struct stamp *s = realloc(e->stamps, cap * sizeof(*s));

			if (!s)
				return -ENOMEM;
			e->stamps = s;
			e->stamps_cap = cap;
		}
		e->stamps[e->nstamps++] = (struct stamp){
			.off = e->base + e->len, .t = t };
	}
	memcpy(e->buf + e->len, data, n);
	e->len += n;
	e->buf[e->len] = '\0';
	return 0;
}

/* Time of the chunk holding the byte at absolute offset off. */
static uint64_t time_at(const struct pl_expect *e, uint64_t off)
{
	size_t lo = 0, hi = e->nstamps;

	assert(e->nstamps);
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (e->stamps[mid].off <= off)
			lo = mid;
		else
			hi = mid;
	}
	return e->stamps[lo].t;
}

/* ------------------------------------------------------------- matching */

/*
 * The next match of p at or after p->scan: true with [*so, *eo) in
 * absolute offsets (and e->pm for a regex); *settled says whether it can
 * be reported yet.
 */
static bool find(struct pl_expect *e, struct pat *p, uint64_t *so,
		 uint64_t *eo, bool *settled)
{
	size_t start;
	const char *hit;
	int eflags;

	if (p->scan < e->base)
		p->scan = e->base;
	if (p->scan > e->base + e->len) /* past an empty match at the end */
		return false;
	start = (size_t)(p->scan - e->base);
	if (p->kind == PL_EXPECT_LITERAL) {
		hit = memmem(e->buf + start, e->len - start, p->lit, p->len);
		if (!hit)
			return false;
		*so = e->base + (uint64_t)(hit - e->buf);
		*eo = *so + p->len;
		*settled = true;
		return true;
	}
	e->pm[0].rm_so = (regoff_t)start;
	e->pm[0].rm_eo = (regoff_t)e->len;
	eflags = REG_STARTEND | (e->base_bol ? 0 : REG_NOTBOL) |
		 (p->flags & PL_EXPECT_EAGER ? 0 : REG_NOTEOL);
	if (regexec(&p->re, e->buf, 1 + p->nsub, e->pm, eflags))
		return false;
	*so = e->base + (uint64_t)e->pm[0].rm_so;
	*eo = e->base + (uint64_t)e->pm[0].rm_eo;
	*settled = (p->flags & PL_EXPECT_EAGER) ||
		   (size_t)e->pm[0].rm_eo < e->len;
	return true;
}

/* No match of p in what is buffered: skip what can never hold one. */
static void advance(struct pl_expect *e, struct pat *p)
{
	uint64_t end = e->base + e->len, to;
	const char *nl;
	size_t start;

	if (p->scan >= end)
		return;
	if (p->kind == PL_EXPECT_LITERAL) {
		/* a literal may still start in its last len - 1 bytes */
		to = end >= p->len - 1 ? end - (p->len - 1) : 0;
	} else {
		/* a regex never spans lines: resume at the partial line */
		start = (size_t)(p->scan - e->base);
		nl = memrchr(e->buf + start, '\n', e->len - start);
		to = nl ? e->base + (uint64_t)(nl - e->buf) + 1 : p->scan;
	}
	if (to > p->scan)
		p->scan = to;
}

static int report(struct pl_expect *e, size_t i, uint64_t so, uint64_t eo)
{
	struct pat *p = &e->pats[i];
	struct pl_expect_match *m = &e->m;
	size_t s = (size_t)(so - e->base), n = (size_t)(eo - so);
	size_t off_text, off_before, off_cap[PL_EXPECT_MAX_CAPTURES];
	bool eager = p->kind == PL_EXPECT_LITERAL ||
		     (p->flags & PL_EXPECT_EAGER);
	int rc = 0;

	memset(m, 0, sizeof(*m));
	m->index = i;
	m->nth = p->count;
	m->offset = so;
	m->len = n;
	m->before_len = s;
	m->t_ns = time_at(e, eo > so ? eo - 1 : so);
	m->settled_ns = eager ? m->t_ns : time_at(e, eo);
	m->ncaptures = p->kind == PL_EXPECT_REGEX ? (unsigned)p->nsub : 0;

	/* copies: the buffer moves on */
	pl_strbuf_reset(&e->mbuf);
	off_text = 0;
	rc |= pl_strbuf_append(&e->mbuf, e->buf + s, n);
	rc |= pl_strbuf_append(&e->mbuf, "", 1);
	off_before = e->mbuf.len;
	rc |= pl_strbuf_append(&e->mbuf, e->buf, s);
	rc |= pl_strbuf_append(&e->mbuf, "", 1);
	for (unsigned k = 0; k < m->ncaptures; k++) {
		const regmatch_t *c = &e->best_pm[k + 1];

		off_cap[k] = e->mbuf.len;
		if (c->rm_so < 0)
			continue;
		rc |= pl_strbuf_append(&e->mbuf, e->buf + c->rm_so,
				       (size_t)(c->rm_eo - c->rm_so));
		rc |= pl_strbuf_append(&e->mbuf, "", 1);
	}
	if (rc)
		return -ENOMEM;
	m->text = e->mbuf.s + off_text;
	m->before = e->mbuf.s + off_before;
	for (unsigned k = 0; k < m->ncaptures; k++) {
		const regmatch_t *c = &e->best_pm[k + 1];

		if (c->rm_so >= 0) {
			m->cap[k].p = e->mbuf.s + off_cap[k];
			m->cap[k].len = (size_t)(c->rm_eo - c->rm_so);
		}
	}
	drop(e, (size_t)(eo - e->base), false);
	pl_expect_clear(e); /* one-shot */
	return 0;
}

int pl_expect_poll(struct pl_expect *e, const struct pl_expect_match **m)
{
	uint64_t so, eo, best_so = 0, best_eo = 0;
	size_t best;
	bool settled;

	*m = NULL;
	while (e->npats) {
		best = SIZE_MAX;
		for (size_t i = 0; i < e->npats; i++) {
			struct pat *p = &e->pats[i];

			if (!find(e, p, &so, &eo, &settled)) {
				advance(e, p);
				continue;
			}
			if (!settled || (best != SIZE_MAX && eo >= best_eo))
				continue;
			best = i;
			best_so = so;
			best_eo = eo;
			if (p->kind == PL_EXPECT_REGEX)
				memcpy(e->best_pm, e->pm,
				       (1 + p->nsub) * sizeof(e->pm[0]));
		}
		if (best == SIZE_MAX)
			return 0;
		e->pats[best].count++;
		if (e->pats[best].count >= e->pats[best].nth) {
			int rc = report(e, best, best_so, best_eo);

			if (rc)
				return rc;
			*m = &e->m;
			return 0;
		}
		/* counted: look past it (an empty match, "\<" say, one
		 * byte further so the search moves on) */
		e->pats[best].scan = best_eo + (best_eo == best_so);
	}
	return 0;
}

int pl_expect_feed(struct pl_expect *e, const void *buf, size_t len,
		   uint64_t t_ns, const struct pl_expect_match **m)
{
	const char *p = buf;
	size_t slice = e->window / 2;
	int rc;

	*m = NULL;
	e->total += len;
	if (!len)
		return pl_expect_poll(e, m);
	while (len) {
		size_t n = len < slice ? len : slice;

		rc = append(e, p, n, t_ns);
		if (rc) {
			e->dropped += len;
			return rc;
		}
		p += n;
		len -= n;
		if (!*m && e->npats) {
			rc = pl_expect_poll(e, m);
			if (rc)
				return rc;
		}
	}
	return 0;
}

size_t pl_expect_buffered(const struct pl_expect *e)
{
	return e->len;
}

uint64_t pl_expect_total(const struct pl_expect *e)
{
	return e->total;
}

uint64_t pl_expect_dropped(const struct pl_expect *e)
{
	return e->dropped;
}
