/* SPDX-License-Identifier: MIT */
/*
 * The value tree's readers (patchlab/config.h): what a YAML value is, and
 * its scalar as null, number or boolean. Both the YAML reader and the
 * schema use them; they use nothing of either.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config_internal.h"

bool pl_cfg_hex_prefix(const char *s)
{
	if (*s == '+' || *s == '-')
		s++;
	return s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
}

const char *pl_value_kind_name(const struct pl_value *v)
{
	if (!v)
		return "nothing";
	switch (v->kind) {
	case PL_VALUE_MAP:
		return "a mapping";
	case PL_VALUE_LIST:
		return "a list";
	default:
		return pl_value_is_null(v) ? "nothing" : "a scalar";
	}
}

const struct pl_value *pl_value_get(const struct pl_value *v, const char *key)
{
	if (!v || v->kind != PL_VALUE_MAP)
		return NULL;
	for (size_t i = 0; i < v->n; i++)
		if (strcmp(v->keys[i], key) == 0)
			return v->items[i];
	return NULL;
}

bool pl_value_is_null(const struct pl_value *v)
{
	return v && v->kind == PL_VALUE_SCALAR && v->plain &&
	       (!*v->str || strcmp(v->str, "~") == 0 ||
		strcasecmp(v->str, "null") == 0);
}

int pl_value_number(const struct pl_value *v, double *out, bool *is_integer)
{
	long long ll;
	char *end;
	double dv;

	if (!v || v->kind != PL_VALUE_SCALAR || !v->plain || !*v->str ||
	    isspace((unsigned char)v->str[0]))
		return -EINVAL;
	errno = 0;
	/* YAML 1.2: decimal, or 0x hex; "010" is ten, not eight */
	ll = strtoll(v->str, &end, pl_cfg_hex_prefix(v->str) ? 16 : 10);
	if (!*end && errno == 0) {
		*out = (double)ll;
		if (is_integer)
			*is_integer = true;
		return 0;
	}
	errno = 0;
	dv = strtod(v->str, &end);
	if (*end || errno || !isfinite(dv))
		return -EINVAL;
	*out = dv;
	if (is_integer)
		*is_integer = false;
	return 0;
}

int pl_value_bool(const struct pl_value *v, bool *out)
{
	if (!v || v->kind != PL_VALUE_SCALAR || !v->plain ||
	    strcmp(v->str, "0") == 0 || strcmp(v->str, "1") == 0)
		return -EINVAL;
	return pl_parse_bool(v->str, out);
}

