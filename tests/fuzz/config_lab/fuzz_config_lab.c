/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the lab.yaml: the fixtures, boards and defaults of a lab
 * (controller/src/config). The input is the whole YAML file; invariants in
 * ../fuzz_config.c.
 */
#include "fuzz_config.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return pl_fuzz_config(data, size, PL_CONFIG_LAB, "tests/data/good-config/fuzz-lab.yaml");
}
