/* SPDX-License-Identifier: MIT */
/*
 * A configuration value (struct pl_value of patchlab/config.h) as JSON:
 * how a suite's run params are recorded in the result store, and how
 * calibrate reads them back, so both must use this one conversion. Plain
 * scalars become numbers, booleans or null when they read as such; quoted
 * ones stay strings.
 */
#ifndef PATCHLAB_VALUE_JSON_H
#define PATCHLAB_VALUE_JSON_H

#include <jansson.h>

#include "patchlab/config.h"

/* A new reference (json_decref() it); json null for NULL or past 32 levels. */
json_t *pl_value_to_json(const struct pl_value *v);

#endif
