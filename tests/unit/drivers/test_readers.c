/* SPDX-License-Identifier: MIT */
/*
 * /pl/drivers/readers: the reply readers taken out of the drivers
 * (fixtures/core/ocd_reply.c, qmp_reader.c, pdu_reply.c), on replies
 * captured from OpenOCD 0.12, QEMU 7.2 and pdudaemon's documented answers.
 * Their fuzz targets are tests/fuzz/openocd_reply, qmp and pdu_reply.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ocd_reply.h"
#include "patchlab/error.h"
#include "pdu_reply.h"
#include "pl_test.h"
#include "qmp_reader.h"

static void openocd_replies_split_at_eom_and_parse(void **state)
{
	static const char wire[] = "0:Open On-Chip Debugger 0.12.0\x1a"
				   "1:invalid command name \"bp\"\x1a"
				   "2:boom\x1a" "3:\x1a" "0:0x12 0x34";
	struct pl_strbuf in = { 0 };
	const char *msg;
	char *t;

	(void)state;
	assert_int_equal(pl_strbuf_append(&in, wire, sizeof(wire) - 1), 0);
	assert_int_equal(pl_ocd_reply_next(&in, &t), 1);
	assert_int_equal(pl_ocd_reply_parse(t, &msg), 0);
	assert_string_equal(msg, "Open On-Chip Debugger 0.12.0");
	free(t);
	assert_int_equal(pl_ocd_reply_next(&in, &t), 1);
	assert_int_equal(pl_ocd_reply_parse(t, &msg), -PL_EREFUSED);
	assert_string_equal(msg, "invalid command name \"bp\"");
	free(t);
	assert_int_equal(pl_ocd_reply_next(&in, &t), 1);
	assert_int_equal(pl_ocd_reply_parse(t, &msg), 0); /* return: ok */
	assert_string_equal(msg, "boom");
	free(t);
	assert_int_equal(pl_ocd_reply_next(&in, &t), 1);
	assert_int_equal(pl_ocd_reply_parse(t, &msg), -PL_EREFUSED);
	free(t);
	/* no 0x1a yet: nothing taken, the bytes stay */
	assert_int_equal(pl_ocd_reply_next(&in, &t), 0);
	assert_null(t);
	assert_string_equal(in.s, "0:0x12 0x34");
	assert_int_equal(pl_ocd_reply_parse("0", &msg), -PL_EPROTO);
	assert_int_equal(pl_ocd_reply_parse("x:1", &msg), -PL_EPROTO);
	assert_string_equal(msg, "x:1");
	pl_strbuf_free(&in);
}

static void openocd_bytes_parse_exactly(void **state)
{
	uint8_t b[3];

	(void)state;
	assert_int_equal(pl_ocd_parse_bytes("0x12 0x34 0xff", b, 3), 0);
	assert_int_equal(b[0], 0x12);
	assert_int_equal(b[2], 0xff);
	assert_int_equal(pl_ocd_parse_bytes("0x12 0x34", b, 3), -PL_EPROTO);
	assert_int_equal(pl_ocd_parse_bytes("0x100", b, 1), -PL_EPROTO);
	assert_int_equal(pl_ocd_parse_bytes("", b, 0), 0);
}

static void qmp_lines_and_classes(void **state)
{
	static const char wire[] =
		"{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 22, \"minor\": 2, "
		"\"major\": 7}}, \"capabilities\": [\"oob\"]}}\r\n"
		"{\"return\": {}}\r\n"
		"{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"The "
		"command nosuch has not been found\"}}\r\n"
		"{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, "
		"\"event\": \"STOP\"}\r\n"
		"  {\"return\": {}}\n"
		"\r\n"
		"{\"retu";
	static const enum pl_qmp_msg want[] = {
		PL_QMP_GREETING, PL_QMP_RETURN, PL_QMP_ERROR, PL_QMP_EVENT,
		PL_QMP_RETURN, PL_QMP_EMPTY,
	};
	struct pl_strbuf in = { 0 };
	const char *line, *rest;
	size_t used, n = 0;

	(void)state;
	assert_int_equal(pl_strbuf_append(&in, wire, sizeof(wire) - 1), 0);
	while ((line = pl_qmp_line_next(&in, &used))) {
		assert_true(n < sizeof(want) / sizeof(want[0]));
		assert_null(strchr(line, '\r'));
		assert_int_equal(pl_qmp_classify(line, &rest), want[n]);
		if (want[n] == PL_QMP_RETURN)
			assert_string_equal(rest, "{\"return\": {}}");
		pl_qmp_line_drop(&in, used);
		n++;
	}
	assert_int_equal(n, sizeof(want) / sizeof(want[0]));
	assert_string_equal(in.s, "{\"retu"); /* the partial line waits */
	pl_strbuf_free(&in);
}

/* A QMP line is read as JSON, not by its first bytes: a reply whose keys
 * come in another order is still a reply, and text that only starts like
 * one is not. */
static void qmp_lines_are_read_as_json(void **state)
{
	(void)state;
	assert_int_equal(pl_qmp_classify("{\"id\": 7, \"return\": {}}", NULL),
			 PL_QMP_RETURN);
	assert_int_equal(pl_qmp_classify("{\"id\": 7, \"error\": {\"class\": "
					 "\"GenericError\"}}", NULL),
			 PL_QMP_ERROR);
	assert_int_equal(pl_qmp_classify("{\"return\" garbage", NULL),
			 PL_QMP_EVENT);
	assert_int_equal(pl_qmp_classify("[\"return\"]", NULL), PL_QMP_EVENT);
	assert_int_equal(pl_qmp_classify("  ", NULL), PL_QMP_EMPTY);
}

static void pdu_answers_are_judged_and_bounded(void **state)
{
	struct pl_strbuf body = { 0 };
	char big[PL_PDU_BODY_MAX + 1];

	(void)state;
	assert_int_equal(pl_pdu_body_add(&body, "OK - accepted request\n", 22), 22);
	assert_int_equal(pl_pdu_reply_judge(200, &body), 0);
	assert_int_not_equal(pl_pdu_reply_judge(500, &body), 0);
	pl_strbuf_reset(&body);
	assert_int_equal(pl_pdu_body_add(&body, "Invalid request\r\n", 17), 17);
	assert_int_equal(pl_pdu_reply_judge(500, &body), -PL_EFIXTURE);
	assert_string_equal(body.s, "Invalid request"); /* cut for the log */
	pl_strbuf_reset(&body);
	assert_int_equal(pl_pdu_reply_judge(200, &body), -PL_EFIXTURE);
	memset(big, 'x', sizeof(big));
	assert_int_equal(pl_pdu_body_add(&body, big, sizeof(big)), 0);
	assert_int_equal(body.len, 0);
	pl_strbuf_free(&body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(openocd_replies_split_at_eom_and_parse),
		cmocka_unit_test(openocd_bytes_parse_exactly),
		cmocka_unit_test(qmp_lines_and_classes),
		cmocka_unit_test(qmp_lines_are_read_as_json),
		cmocka_unit_test(pdu_answers_are_judged_and_bounded),
	};

	return cmocka_run_group_tests_name("/pl/drivers/readers", tests, NULL,
					   NULL);
}
