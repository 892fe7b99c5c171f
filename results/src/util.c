/* SPDX-License-Identifier: MIT */
/* Small helpers of pl_results: cut-point JSON, file tails, XML escaping. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "patchlab/text.h"
#include "results_internal.h"

json_t *pl_cut_to_json(const struct pl_cut_point *c)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	json_object_set_new(o, "phase",
			    json_string(pl_cut_phase_name(c->phase)));
	json_object_set_new(o, "op_index", json_integer(c->op_index));
	json_object_set_new(o, "phi", json_real(c->phi));
	if (c->kind)
		json_object_set_new(o, "kind", json_string(c->kind));
	if (c->aimed_by)
		json_object_set_new(o, "aimed_by", json_string(c->aimed_by));
	return o;
}

static int dup_field(json_t *o, const char *key, const char **dst)
{
	const char *s = json_string_value(json_object_get(o, key));

	*dst = NULL;
	if (!s)
		return 0;
	*dst = strdup(s);
	return *dst ? 0 : -ENOMEM;
}

int pl_cut_from_text(const char *text, struct pl_cut_point *c)
{
	json_t *o, *v;
	int rc = 0;

	memset(c, 0, sizeof(*c));
	c->op_index = -1;
	if (!text)
		return 0;
	o = json_loads(text, 0, NULL);
	if (!json_is_object(o))
		goto out_decref;
	pl_cut_phase_parse(json_string_value(json_object_get(o, "phase")),
			   &c->phase);
	v = json_object_get(o, "op_index");
	if (json_is_integer(v))
		c->op_index = (long)json_integer_value(v);
	v = json_object_get(o, "phi");
	if (json_is_number(v))
		c->phi = json_number_value(v);
	rc = dup_field(o, "kind", &c->kind);
	if (rc == 0)
		rc = dup_field(o, "aimed_by", &c->aimed_by);
out_decref:
	json_decref(o);
	return rc;
}

void pl_cut_clear(struct pl_cut_point *c)
{
	free((char *)c->kind);
	free((char *)c->aimed_by);
	c->kind = c->aimed_by = NULL;
}

int pl_cut_describe(const struct pl_cut_point *c, struct pl_strbuf *out)
{
	int rc;

	if (c->phase == PL_CUT_NONE)
		return pl_strbuf_puts(out, "no cut");
	/* aimed by the console, a transfer, time...: no operation index */
	if (c->op_index < 0)
		rc = pl_strbuf_printf(out, "%s the update",
				      pl_cut_phase_name(c->phase));
	else
		rc = pl_strbuf_printf(out, "%s op %ld",
				      pl_cut_phase_name(c->phase), c->op_index);
	if (rc == 0 && c->kind && c->op_index >= 0)
		rc = pl_strbuf_printf(out, " (%s)", c->kind);
	if (rc == 0 && c->phase == PL_CUT_DURING && c->op_index >= 0)
		rc = pl_strbuf_printf(out, " phi=%.2f", c->phi);
	if (rc == 0 && c->aimed_by)
		rc = pl_strbuf_printf(out, ", aimed by %s", c->aimed_by);
	return rc;
}

int pl_file_tail(const char *path, size_t max, char **out, size_t *len)
{
	struct stat sb;
	size_t n, skip = 0;
	off_t from;
	char *buf;
	ssize_t r;
	int fd, rc = 0;

	*out = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &sb) < 0) {
		rc = -errno;
		goto out_close;
	}
	n = (size_t)sb.st_size < max ? (size_t)sb.st_size : max;
	from = sb.st_size - (off_t)n;
	buf = malloc(n + 1);
	if (!buf) {
		rc = -ENOMEM;
		goto out_close;
	}
	r = pread(fd, buf, n, from);
	if (r < 0) {
		rc = -errno;
		free(buf);
		goto out_close;
	}
	n = (size_t)r;
	/* A tail that starts mid-character would show as escaped junk. */
	if (from > 0)
		while (skip < n && skip < 3 &&
		       ((unsigned char)buf[skip] & 0xC0) == 0x80)
			skip++;
	/* and mid-line reads badly: start at the next line when it is near */
	if (from > 0) {
		char *nl = memchr(buf + skip, '\n', n - skip < 256 ? n - skip : 256);

		if (nl && (size_t)(nl + 1 - buf) < n)
			skip = (size_t)(nl + 1 - buf);
	}
	memmove(buf, buf + skip, n - skip);
	n -= skip;
	buf[n] = '\0';
	*out = buf;
	*len = n;
out_close:
	close(fd);
	return rc;
}

/* Length of the valid UTF-8 sequence at s (1..4) that XML allows, or 0:
 * valid UTF-8 (patchlab/text.h) but the two non-characters XML refuses. */
static size_t utf8_valid(const unsigned char *s, size_t left)
{
	uint32_t cp;
	size_t n = pl_utf8_seq((const char *)s, left, &cp);

	return n && cp != 0xFFFE && cp != 0xFFFF ? n : 0;
}

int pl_xml_escape(struct pl_strbuf *out, const char *text, size_t len)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t i = 0, n;
	int rc = 0;

	while (i < len && rc == 0) {
		unsigned char ch = s[i];

		switch (ch) {
		case '&': rc = pl_strbuf_puts(out, "&amp;"); n = 1; break;
		case '<': rc = pl_strbuf_puts(out, "&lt;"); n = 1; break;
		case '>': rc = pl_strbuf_puts(out, "&gt;"); n = 1; break;
		case '"': rc = pl_strbuf_puts(out, "&quot;"); n = 1; break;
		case '\'': rc = pl_strbuf_puts(out, "&#39;"); n = 1; break;
		default:
			if ((ch < 0x20 && ch != '\t' && ch != '\n' &&
			     ch != '\r') || ch == 0x7F) {
				rc = pl_strbuf_printf(out, "\\x%02X", ch);
				n = 1;
				break;
			}
			n = utf8_valid(s + i, len - i);
			if (n == 0) {
				rc = pl_strbuf_printf(out, "\\x%02X", ch);
				n = 1;
			} else {
				rc = pl_strbuf_append(out, s + i, n);
			}
		}
		i += n;
	}
	return rc;
}

int pl_xml_escape_str(struct pl_strbuf *out, const char *text)
{
	if (!text)
		return 0;
	return pl_xml_escape(out, text, strlen(text));
}

void pl_iso8601(uint64_t wall_ns, char buf[32])
{
	time_t t = (time_t)(wall_ns / 1000000000u);
	struct tm tm;

	if (!gmtime_r(&t, &tm) ||
	    strftime(buf, 32, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		snprintf(buf, 32, "1970-01-01T00:00:00");
}
