/* SPDX-License-Identifier: MIT */
#include "patchlab/value_json.h"

static json_t *convert(const struct pl_value *v, int depth)
{
	json_t *j;
	double num;
	bool isint, b;

	if (!v || depth > 32)
		return json_null();
	switch (v->kind) {
	case PL_VALUE_SCALAR:
		if (v->plain && pl_value_is_null(v))
			return json_null();
		if (v->plain && pl_value_bool(v, &b) == 0)
			return json_boolean(b);
		if (v->plain && pl_value_number(v, &num, &isint) == 0)
			return isint ? json_integer((json_int_t)num) : json_real(num);
		return json_string(v->str);
	case PL_VALUE_LIST:
		j = json_array();
		for (size_t i = 0; j && i < v->n; i++)
			json_array_append_new(j, convert(v->items[i], depth + 1));
		return j;
	case PL_VALUE_MAP:
		j = json_object();
		for (size_t i = 0; j && i < v->n; i++)
			json_object_set_new(j, v->keys[i],
					    convert(v->items[i], depth + 1));
		return j;
	}
	return json_null();
}

json_t *pl_value_to_json(const struct pl_value *v)
{
	return convert(v, 0);
}
