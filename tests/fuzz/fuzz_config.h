/* SPDX-License-Identifier: MIT */
/* Shared by the config_* fuzz targets: see fuzz_config.c. */
#ifndef PL_FUZZ_CONFIG_H
#define PL_FUZZ_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "patchlab/config.h"

/* Check data as a file of kind at PL_SOURCE_DIR/rel_name; aborts when an
 * invariant breaks. Returns 0. */
int pl_fuzz_config(const uint8_t *data, size_t size, enum pl_config_kind kind,
		   const char *rel_name);

#endif
