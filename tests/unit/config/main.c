/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include "pl_test.h"
#include "test_config.h"

int main(void)
{
	int failed = 0;

	failed += _cmocka_run_group_tests("/pl/config/model", pl_config_model_tests,
					  pl_config_model_ntests, NULL, NULL);
	failed += _cmocka_run_group_tests("/pl/config/corpus", pl_config_corpus_tests,
					  pl_config_corpus_ntests, NULL, NULL);
	return failed ? 1 : 0;
}
