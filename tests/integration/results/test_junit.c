/* SPDX-License-Identifier: MIT */
/* /pl/results/junit: the JUnit report validates against our XSD of the
 * dialect CI servers read, checked by the real xmllint. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "child.h"
#include "pl_test.h"
#include "pl_test_store.h"
#include "patchlab/report.h"
#include "results_fixture.h"

/* Run xmllint --schema on path; returns its exit status. */
static int64_t xmllint(const char *path)
{
	char *xsd = pl_test_source_path("tests/data/junit/junit.xsd");
	char *argv[] = { "xmllint", "--noout", "--schema", xsd, (char *)path,
			 NULL };
	struct child c;
	uv_loop_t loop;

	uv_loop_init(&loop);
	assert_int_equal(child_start(&loop, &c, argv), 0);
	assert_int_equal(child_wait(&loop, &c, 60000), 0);
	pl_strbuf_free(&c.buf);
	pl_test_loop_drain(&loop);
	free(xsd);
	return c.status;
}

static void junit_report_is_valid_against_the_schema(void **state)
{
	char *dir = pl_test_tmpdir("junit"), *db, *xml, *empty;
	struct pl_suite_info si = { .name = "empty" };
	struct results_fixture fx;
	struct pl_store *st;
	int64_t empty_id;

	(void)state;
	PL_TEST_SKIP_IF(!pl_test_have_program("xmllint"),
			"xmllint not installed (Debian package libxml2-utils)");
	db = pl_test_store_target(dir, "p.db");
	assert_non_null(db);
	assert_true(asprintf(&xml, "%s/junit.xml", dir) > 0);
	assert_true(asprintf(&empty, "%s/empty.xml", dir) > 0);
	assert_int_equal(pl_store_open(&st, db, NULL), 0);
	assert_int_equal(results_fixture_populate(st, dir, &fx), 0);
	assert_int_equal(pl_report_write(st, fx.suite_id, NULL,
					 PL_REPORT_JUNIT, xml), 0);
	assert_int_equal(xmllint(xml), 0);
	/* a suite without runs is a valid, empty report */
	assert_int_equal(pl_store_suite_begin(st, &si, &empty_id), 0);
	assert_int_equal(pl_report_write(st, empty_id, NULL, PL_REPORT_JUNIT,
					 empty), 0);
	assert_int_equal(xmllint(empty), 0);
	pl_store_close(st);
	pl_test_rmrf(dir);
	free(dir);
	free(db);
	free(xml);
	free(empty);
}

static void schema_rejects_a_testcase_without_a_name(void **state)
{
	char *dir = pl_test_tmpdir("junit-bad"), *xml;
	FILE *f;

	(void)state;
	PL_TEST_SKIP_IF(!pl_test_have_program("xmllint"),
			"xmllint not installed (Debian package libxml2-utils)");
	assert_true(asprintf(&xml, "%s/bad.xml", dir) > 0);
	f = fopen(xml, "w");
	fputs("<testsuites><testsuite name=\"s\" tests=\"1\"><testcase "
	      "classname=\"c\" time=\"-1\"/></testsuite></testsuites>\n", f);
	fclose(f);
	assert_int_not_equal(xmllint(xml), 0);
	pl_test_rmrf(dir);
	free(dir);
	free(xml);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(junit_report_is_valid_against_the_schema),
		cmocka_unit_test(schema_rejects_a_testcase_without_a_name),
	};
	pl_test_store_init();
	return cmocka_run_group_tests_name("/pl/results/junit", tests, NULL,
					   NULL);
}
