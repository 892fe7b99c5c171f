/* SPDX-License-Identifier: MIT */
/*
 * /pl/power/{gpiod,ftdi,usbrelay}: the hardware relay drivers' logic
 * (value mapping, pin masks, HID reports, option validation) without
 * hardware, plus device tests that skip with a reason on a machine with no
 * GPIO chip or USB relay.
 */
#include <errno.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pl_test.h"
#include "patchlab/error.h"
#include "patchlab/power.h"

#include "ftdi_relay.h"
#include "gpiod_relay.h"
#include "usbrelay_proto.h"

#define OPT(k, v) { .key = (k), .value = (v) }

struct fx {
	uv_loop_t loop;
	struct pl_test_logcap cap;
	struct pl_fixture_ctx ctx;
};

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f || uv_loop_init(&f->loop))
		return -1;
	pl_test_logcap_init(&f->cap, "hw");
	f->ctx.loop = &f->loop;
	f->ctx.log = f->cap.log;
	f->ctx.board_id = "hw";
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	pl_test_loop_drain(&f->loop);
	free(f);
	return 0;
}

/* ------------------------------------------------------------- gpiod */

static void gpiod_value_follows_active_low(void **state)
{
	(void)state;
	assert_int_equal(pl_gpiod_relay_value(true, false), 1);
	assert_int_equal(pl_gpiod_relay_value(false, false), 0);
	assert_int_equal(pl_gpiod_relay_value(true, true), 0);
	assert_int_equal(pl_gpiod_relay_value(false, true), 1);
	for (int al = 0; al < 2; al++)
		for (int on = 0; on < 2; on++)
			assert_int_equal(pl_gpiod_relay_state(
				pl_gpiod_relay_value(on, al), al), on);
}

static void gpiod_options_need_chip_and_exactly_one_line(void **state)
{
	const struct pl_opt ok_off[] = { OPT("chip", "gpiochip0"), OPT("line", "17"),
					 OPT("active_low", "yes") };
	const struct pl_opt ok_name[] = { OPT("chip", "/dev/gpiochip1"),
					  OPT("line_name", "RELAY3") };
	const struct pl_opt no_chip[] = { OPT("line", "3") };
	const struct pl_opt both[] = { OPT("chip", "c"), OPT("line", "3"),
				       OPT("line_name", "X") };
	const struct pl_opt neither[] = { OPT("chip", "c") };
	const struct pl_opt neg[] = { OPT("chip", "c"), OPT("line", "-1") };
	const struct pl_opt junk[] = { OPT("chip", "c"), OPT("line", "two") };
	struct pl_gpiod_relay_cfg cfg;
	const char *why;

	(void)state;
	assert_int_equal(pl_gpiod_relay_parse(&(struct pl_opts){ ok_off, 3 }, &cfg, &why), 0);
	assert_string_equal(cfg.chip, "gpiochip0");
	assert_int_equal(cfg.line, 17);
	assert_null(cfg.line_name);
	assert_true(cfg.active_low);
	assert_int_equal(pl_gpiod_relay_parse(&(struct pl_opts){ ok_name, 2 }, &cfg, &why), 0);
	assert_int_equal(cfg.line, -1);
	assert_string_equal(cfg.line_name, "RELAY3");
	assert_false(cfg.active_low);

	assert_int_equal(pl_gpiod_relay_parse(&(struct pl_opts){ no_chip, 1 }, &cfg, &why), -EINVAL);
	assert_string_equal(why, "chip is required");
	assert_int_equal(pl_gpiod_relay_parse(&(struct pl_opts){ both, 3 }, &cfg, &why), -EINVAL);
	assert_string_equal(why, "give exactly one of line and line_name");
	assert_int_equal(pl_gpiod_relay_parse(&(struct pl_opts){ neither, 1 }, &cfg, &why), -EINVAL);
	assert_int_equal(pl_gpiod_relay_parse(&(struct pl_opts){ neg, 2 }, &cfg, &why), -EINVAL);
	assert_int_equal(pl_gpiod_relay_parse(&(struct pl_opts){ junk, 2 }, &cfg, &why), -EINVAL);
}

static void gpiod_driver_rejects_bad_options_before_touching_a_chip(void **state)
{
	struct fx *f = *state;
	const struct pl_opt both[] = { OPT("chip", "gpiochip0"), OPT("line", "1"),
				       OPT("line_name", "X") };
	struct pl_power *p = (struct pl_power *)1;

	assert_int_equal(pl_power_open(&p, &f->ctx, "gpiod",
				       &(struct pl_opts){ both, 3 }), -PL_ECONFIG);
	assert_null(p);
	assert_int_equal(f->cap.errors, 1);
	assert_non_null(strstr(f->cap.last, "exactly one of line and line_name"));
}

/* The way libgpiod's own tests decide: no gpio bus in sysfs, no chips. */
static const char *no_gpio_reason(void)
{
	glob_t g;
	int rc;

	if (access("/sys/bus/gpio", F_OK) != 0)
		return "no /sys/bus/gpio: kernel has no GPIOLIB";
	rc = glob("/dev/gpiochip*", 0, NULL, &g);
	globfree(&g);
	if (rc != 0)
		return "no /dev/gpiochip*: no GPIO chip on this machine";
	return NULL;
}

static void gpiod_device_line_switches_and_reads_back(void **state)
{
	struct fx *f = *state;
	const char *why = no_gpio_reason();
	const char *chip = getenv("PL_TEST_GPIOCHIP");
	const char *line = getenv("PL_TEST_GPIOLINE");
	struct pl_power *p;

	PL_TEST_SKIP_IF(why, "%s", why);
	PL_TEST_SKIP_IF(!chip || !line,
			"set PL_TEST_GPIOCHIP and PL_TEST_GPIOLINE to a free line to test gpiod on hardware");
	const struct pl_opt o[] = { OPT("chip", chip), OPT("line", line) };
	assert_int_equal(pl_power_open(&p, &f->ctx, "gpiod", &(struct pl_opts){ o, 2 }), 0);
	assert_int_equal(pl_power_set(p, true, NULL, NULL), 0);
	assert_true(pl_power_is_on(p));
	pl_power_close(p);
}

/* -------------------------------------------------------------- ftdi */

static void ftdi_masks_map_channel_n_to_pin_n_minus_1(void **state)
{
	(void)state;
	assert_int_equal(pl_ftdi_relay_outputs(4), 0x0f);
	assert_int_equal(pl_ftdi_relay_outputs(8), 0xff);
	assert_int_equal(pl_ftdi_relay_outputs(6), 0);
	assert_int_equal(pl_ftdi_relay_mask(8, 1), 0x01);
	assert_int_equal(pl_ftdi_relay_mask(8, 8), 0x80);
	assert_int_equal(pl_ftdi_relay_mask(4, 4), 0x08);
	assert_int_equal(pl_ftdi_relay_mask(4, 5), 0);
	assert_int_equal(pl_ftdi_relay_mask(8, 0), 0);
	assert_int_equal(pl_ftdi_relay_mask(8, 9), 0);
	assert_int_equal(pl_ftdi_relay_mask(5, 1), 0);
}

static void ftdi_read_modify_write_keeps_other_relays(void **state)
{
	uint8_t m3 = pl_ftdi_relay_mask(8, 3);

	(void)state;
	assert_int_equal(pl_ftdi_relay_apply(0xa1, m3, true, false), 0xa5);
	assert_int_equal(pl_ftdi_relay_apply(0xa5, m3, false, false), 0xa1);
	/* active low: on clears the pin */
	assert_int_equal(pl_ftdi_relay_apply(0xff, m3, true, true), 0xfb);
	assert_int_equal(pl_ftdi_relay_apply(0xfb, m3, false, true), 0xff);
	assert_true(pl_ftdi_relay_is_on(0xfb, m3, true));
	assert_false(pl_ftdi_relay_is_on(0xfb, m3, false));
	assert_true(pl_ftdi_relay_is_on(0x04, m3, false));
}

static void ftdi_driver_rejects_bad_channel_counts(void **state)
{
	struct fx *f = *state;
	const struct pl_opt six[] = { OPT("channel", "1"), OPT("channels", "6") };
	const struct pl_opt five_of_four[] = { OPT("channel", "5"), OPT("channels", "4") };
	struct pl_power *p;

	assert_int_equal(pl_power_open(&p, &f->ctx, "ftdi", &(struct pl_opts){ six, 2 }),
			 -PL_ECONFIG);
	assert_non_null(strstr(f->cap.last, "channels must be 4 or 8"));
	assert_int_equal(pl_power_open(&p, &f->ctx, "ftdi",
				       &(struct pl_opts){ five_of_four, 2 }), -PL_ECONFIG);
	assert_non_null(strstr(f->cap.last, "channel 5 is not in 1..4"));
	assert_int_equal(f->cap.errors, 2);
}

static void ftdi_device_board_switches(void **state)
{
	struct fx *f = *state;
	const struct pl_opt o[] = { OPT("channel", "1") };
	struct pl_power *p;
	int err;

	err = pl_power_open(&p, &f->ctx, "ftdi", &(struct pl_opts){ o, 1 });
	PL_TEST_SKIP_IF(err == -ENODEV || err == -PL_EFIXTURE,
			"no FTDI bit-bang relay board (0403:6001) usable on USB: %s",
			pl_strerror(err));
	assert_int_equal(err, 0);
	assert_int_equal(pl_power_set(p, false, NULL, NULL), 0);
	pl_power_close(p);
}

/* ---------------------------------------------------------- usbrelay */

static void usbrelay_reports_switch_one_or_all_channels(void **state)
{
	uint8_t r[PL_USBRELAY_REPORT_LEN];
	static const uint8_t on2[9] = { 0, 0xff, 2, 0, 0, 0, 0, 0, 0 };
	static const uint8_t off8[9] = { 0, 0xfd, 8, 0, 0, 0, 0, 0, 0 };
	static const uint8_t allon[9] = { 0, 0xfe, 0, 0, 0, 0, 0, 0, 0 };
	static const uint8_t alloff[9] = { 0, 0xfc, 0, 0, 0, 0, 0, 0, 0 };

	(void)state;
	assert_int_equal(pl_usbrelay_build_set(r, 2, true), 0);
	assert_memory_equal(r, on2, 9);
	assert_int_equal(pl_usbrelay_build_set(r, 8, false), 0);
	assert_memory_equal(r, off8, 9);
	assert_int_equal(pl_usbrelay_build_set(r, 0, true), 0);
	assert_memory_equal(r, allon, 9);
	assert_int_equal(pl_usbrelay_build_set(r, 0, false), 0);
	assert_memory_equal(r, alloff, 9);
	assert_int_equal(pl_usbrelay_build_set(r, 9, true), -EINVAL);
}

static void usbrelay_state_report_gives_serial_and_mask(void **state)
{
	static const uint8_t rep[9] = { 0, 'Q', 'A', 'A', 'M', 'Z', 0, 0, 0x05 };
	char serial[PL_USBRELAY_SERIAL_LEN + 1];
	uint8_t mask = 0;

	(void)state;
	assert_int_equal(pl_usbrelay_parse_state(rep, 9, serial, &mask), 0);
	assert_string_equal(serial, "QAAMZ");
	assert_int_equal(mask, 0x05);
	assert_true(pl_usbrelay_is_on(mask, 1));
	assert_false(pl_usbrelay_is_on(mask, 2));
	assert_true(pl_usbrelay_is_on(mask, 3));
	assert_false(pl_usbrelay_is_on(mask, 0));
	assert_false(pl_usbrelay_is_on(0xff, 9));
	assert_int_equal(pl_usbrelay_parse_state(rep, 8, serial, &mask), -EPROTO);
}

static void usbrelay_channel_count_comes_from_product_string(void **state)
{
	(void)state;
	assert_int_equal(pl_usbrelay_channels("USBRelay2"), 2);
	assert_int_equal(pl_usbrelay_channels("USBRelay8"), 8);
	assert_int_equal(pl_usbrelay_channels("USBRelay9"), 0);
	assert_int_equal(pl_usbrelay_channels("USBRelay"), 0);
	assert_int_equal(pl_usbrelay_channels("USBRelay22"), 0);
	assert_int_equal(pl_usbrelay_channels("HIDRelay2"), 0);
	assert_int_equal(pl_usbrelay_channels(NULL), 0);
}

static void usbrelay_driver_rejects_bad_serial_and_channel(void **state)
{
	struct fx *f = *state;
	const struct pl_opt badser[] = { OPT("serial", "TOOLONG") };
	const struct pl_opt badch[] = { OPT("channel", "9") };
	struct pl_power *p;

	assert_int_equal(pl_power_open(&p, &f->ctx, "usbrelay",
				       &(struct pl_opts){ badser, 1 }), -PL_ECONFIG);
	assert_non_null(strstr(f->cap.last, "not 5 characters"));
	assert_int_equal(pl_power_open(&p, &f->ctx, "usbrelay",
				       &(struct pl_opts){ badch, 1 }), -PL_ECONFIG);
	assert_int_equal(f->cap.errors, 2);
}

static void usbrelay_device_module_switches(void **state)
{
	struct fx *f = *state;
	struct pl_power *p;
	int err;

	err = pl_power_open(&p, &f->ctx, "usbrelay", &(struct pl_opts){ NULL, 0 });
	PL_TEST_SKIP_IF(err == -ENODEV, "no USB HID relay module (16c0:05df) on USB");
	assert_int_equal(err, 0);
	assert_int_equal(pl_power_set(p, false, NULL, NULL), 0);
	pl_power_close(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(gpiod_value_follows_active_low),
		cmocka_unit_test(gpiod_options_need_chip_and_exactly_one_line),
		cmocka_unit_test_setup_teardown(gpiod_driver_rejects_bad_options_before_touching_a_chip, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(gpiod_device_line_switches_and_reads_back, fx_setup, fx_teardown),
		cmocka_unit_test(ftdi_masks_map_channel_n_to_pin_n_minus_1),
		cmocka_unit_test(ftdi_read_modify_write_keeps_other_relays),
		cmocka_unit_test_setup_teardown(ftdi_driver_rejects_bad_channel_counts, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(ftdi_device_board_switches, fx_setup, fx_teardown),
		cmocka_unit_test(usbrelay_reports_switch_one_or_all_channels),
		cmocka_unit_test(usbrelay_state_report_gives_serial_and_mask),
		cmocka_unit_test(usbrelay_channel_count_comes_from_product_string),
		cmocka_unit_test_setup_teardown(usbrelay_driver_rejects_bad_serial_and_channel, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(usbrelay_device_module_switches, fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests_name("/pl/power/hw", tests, NULL, NULL);
}
