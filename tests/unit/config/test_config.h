/* SPDX-License-Identifier: MIT */
/* Shared by the /pl/config test files. */
#ifndef PL_TEST_CONFIG_H
#define PL_TEST_CONFIG_H

#include <cmocka.h>

extern const struct CMUnitTest pl_config_model_tests[];
extern const size_t pl_config_model_ntests;
extern const struct CMUnitTest pl_config_corpus_tests[];
extern const size_t pl_config_corpus_ntests;

#endif
