/* SPDX-License-Identifier: MIT */
/* /pl/config/model: good configurations load into the structs, field by
 * field; units, value trees, overrides and lab cross-checks. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pl_test.h"
#include "patchlab/config.h"
#include "patchlab/error.h"
#include "test_config.h"

struct env {
	const char *rack;
	const char *images;
};

static const char *test_env(void *ud, const char *name)
{
	struct env *e = ud;

	if (strcmp(name, "PL_TEST_RACK") == 0)
		return e->rack;
	if (strcmp(name, "PL_TEST_IMAGES") == 0)
		return e->images;
	if (strcmp(name, "PL_BOARDS_PATH") == 0)
		return NULL;
	return getenv(name);
}

/* Fail with every diagnostic printed when a load did not succeed. */
static void assert_loaded(int rc, struct pl_diags *d)
{
	if (rc != 0)
		pl_diags_print(d, stderr);
	assert_int_equal(rc, 0);
	assert_int_equal(pl_diags_count(d), 0);
}

static const char *opt(const struct pl_fixture_cfg *f, const char *key)
{
	return pl_opts_str(&f->opts, key, NULL);
}

static void good_lab_loads_field_by_field(void **state)
{
	char *path = pl_test_source_path("tests/data/good-config/lab.yaml");
	char *relay = pl_test_source_path("tests/data/good-config/relay0.tty");
	struct env e = { "/tmp/rack", NULL };
	struct pl_config_opts o = { .getenv = test_env, .env_user_data = &e };
	const struct pl_board_cfg *b;
	const struct pl_fixture_cfg *f;
	struct pl_diags *d;
	struct pl_lab *lab;
	long lv;
	bool bv;

	(void)state;
	assert_int_equal(pl_diags_new(&d), 0);
	assert_loaded(pl_lab_load(&lab, path, &o, d), d);
	assert_string_equal(lab->name, "good-rack");
	assert_string_equal(lab->file, path);
	assert_int_equal(lab->nboards, 2);
	assert_int_equal(lab->ntypes, 2);
	assert_string_equal(lab->types[0]->name, "virtual-mcu");
	assert_string_equal(lab->types[1]->name, "test-board");

	b = pl_lab_board(lab, "vb0");
	assert_ptr_equal(b, &lab->boards[0]);
	assert_ptr_equal(b->type, pl_lab_board_type(lab, "virtual-mcu"));
	assert_int_equal(b->ntags, 2);
	assert_string_equal(b->tags[0], "good");
	assert_true(pl_board_has_tag(b, "rack0"));
	assert_false(pl_board_has_tag(b, "qemu"));
	assert_int_equal(b->pos.line, 11);
	assert_int_equal(b->pos.col, 5);
	/* power: relative path resolved against the lab's directory */
	f = b->fixture[PL_FIXTURE_POWER];
	assert_non_null(f);
	assert_int_equal(f->cls, PL_FIXTURE_POWER);
	assert_string_equal(f->driver->name, "lcus");
	assert_int_equal(f->opts.n, 2);
	assert_string_equal(opt(f, "port"), relay);
	assert_int_equal(pl_opts_int(&f->opts, "channel", 0, &lv), 0);
	assert_int_equal(lv, 1);
	assert_int_equal(pl_opts_get(&f->opts, "channel")->pos.line, 14);
	/* console: ${VAR} expanded, the lab defaults merged in */
	f = b->fixture[PL_FIXTURE_CONSOLE];
	assert_string_equal(f->driver->name, "tty");
	assert_string_equal(opt(f, "path"), "/tmp/rack/vb0.console");
	assert_string_equal(opt(f, "baud"), "57600");
	assert_int_equal(pl_opts_bool(&f->opts, "reopen", true, &bv), 0);
	assert_false(bv);
	assert_int_equal(f->opts.n, 3);
	f = b->fixture[PL_FIXTURE_PROBE];
	assert_string_equal(f->driver->name, "gdb");
	assert_string_equal(opt(f, "address"), "127.0.0.1:40001");
	/* vars: scalars, quoted ones stay strings */
	assert_int_equal(b->vars->n, 3);
	assert_string_equal(pl_value_get(b->vars, "profile")->str, "good");
	assert_true(pl_value_get(b->vars, "slots")->plain);
	assert_false(pl_value_get(b->vars, "code")->plain);

	b = pl_lab_board(lab, "q0");
	assert_non_null(b);
	assert_string_equal(b->type->name, "test-board");
	assert_int_equal(b->ntags, 1);
	assert_string_equal(b->tags[0], "qemu");
	assert_null(b->fixture[PL_FIXTURE_PROBE]);
	assert_null(b->vars);
	f = b->fixture[PL_FIXTURE_POWER];
	assert_string_equal(f->driver->name, "exec");
	assert_int_equal(pl_opts_get(&f->opts, "on")->list_len, 2);
	assert_string_equal(pl_opts_get(&f->opts, "on")->list[1], "on");
	assert_string_equal(pl_opts_get(&f->opts, "off")->list[0], "relay-ctl");
	assert_null(pl_opts_get(&f->opts, "on")->value);
	assert_string_equal(opt(f, "timeout_ms"), "500");
	/* the board's own baud wins over the lab default */
	assert_string_equal(opt(b->fixture[PL_FIXTURE_CONSOLE], "baud"), "115200");
	assert_null(pl_lab_board(lab, "vb9"));

	pl_lab_free(lab);
	pl_diags_free(d);
	free(relay);
	free(path);
}

static void virtual_mcu_board_type_matches_the_rack_design(void **state)
{
	char *path = pl_test_source_path("boards/virtual-mcu.yaml");
	const struct pl_board_type *t;
	struct pl_board_type *tt;
	const struct pl_flash_region *r;
	struct pl_diags *d;
	regmatch_t m[4];
	uint64_t addr;

	(void)state;
	assert_int_equal(pl_diags_new(&d), 0);
	assert_loaded(pl_board_type_load(&tt, path, NULL, d), d);
	t = tt;
	assert_string_equal(t->name, "virtual-mcu");
	assert_int_equal(t->boot_timeout_ms, 5000);
	/* the console texts of fixtures/virtual/DESIGN.md */
	assert_int_equal(regexec(&t->console.banner->re, "vboot 1.0 profile=good",
				 0, NULL, 0), 0);
	assert_int_equal(regexec(&t->console.prompt->re, "> ", 0, NULL, 0), 0);
	assert_int_equal(regexec(&t->console.boot_ok->re,
				 "app: version 1.1.0 slot B running", 4, m, 0), 0);
	assert_int_equal(pl_pattern_group(t->console.boot_ok, "version"), 1);
	assert_int_equal(pl_pattern_group(t->console.boot_ok, "slot"), 2);
	assert_int_equal(pl_pattern_group(t->console.boot_ok, "reason"), -1);
	assert_int_equal(m[2].rm_eo - m[2].rm_so, 1);
	assert_int_equal(regexec(&t->console.boot_fail->re,
				 "BOOT FAILED: no bootable slot (A: bad hash, B: empty)",
				 0, NULL, 0), 0);
	assert_string_equal(t->console.newline, "\n");
	assert_string_equal(t->version.command, "version");
	assert_int_equal(regexec(&t->version.pattern->re,
				 "version 1.1.0 slot B state=pending", 0, NULL, 0), 0);
	assert_int_equal(pl_pattern_group(t->version.pattern, "state"), 3);
	assert_int_equal(t->update.method, PL_UPDATE_XMODEM);
	assert_string_equal(t->update.command, "update xmodem");
	assert_int_equal(t->update.block_size, 1024);
	assert_int_equal(t->update.timeout_ms, 120000);
	assert_int_equal(regexec(&t->update.progress->re, "write 37%", 0, NULL, 0), 0);
	assert_int_equal(regexec(&t->update.done->re, "update: ok slot B pending",
				 0, NULL, 0), 0);
	assert_int_equal(regexec(&t->update.error->re, "update: failed: bad hash",
				 0, NULL, 0), 0);
	assert_string_equal(t->confirm.command, "confirm");
	/* the flash layout of DESIGN.md */
	assert_int_equal(t->flash.base, 0x08000000);
	assert_int_equal(t->flash.size, 1 << 20);
	assert_int_equal(t->flash.sector, 4096);
	assert_int_equal(t->flash.page, 256);
	assert_int_equal(t->flash.nregions, 6);
	r = pl_board_type_region(t, "slot-b");
	assert_non_null(r);
	assert_int_equal(r->offset, 0x84000);
	assert_int_equal(r->size, 496 * 1024);
	assert_int_equal(pl_board_type_region(t, "metadata-a")->offset, 0x4000);
	assert_int_equal(pl_board_type_region(t, "scratch")->size, 8192);
	assert_null(pl_board_type_region(t, "slot-c"));
	/* the memory map seen through the GDB server */
	assert_int_equal(pl_board_type_breakpoint(t, "flash_erase", &addr), 0);
	assert_int_equal(addr, 0x08f00000);
	assert_int_equal(pl_board_type_breakpoint(t, "flash_program", &addr), 0);
	assert_int_equal(addr, 0x08f00100);
	assert_int_equal(pl_board_type_breakpoint(t, "boot_decide", &addr), 0);
	assert_int_equal(addr, 0x08f00200);
	assert_int_equal(pl_board_type_register(t, "op_counter", &addr), 0);
	assert_int_equal(addr, 0x40000000);
	assert_int_equal(pl_board_type_register(t, "halted", &addr), 0);
	assert_int_equal(addr, 0x40000010);
	assert_int_equal(pl_board_type_register(t, "pc", &addr), -ENOENT);
	assert_int_equal(t->recovery.method, PL_RECOVERY_PROBE);
	assert_string_equal(t->recovery.image, "factory");
	assert_ptr_equal(t->recovery.region, pl_board_type_region(t, "bootloader"));

	pl_board_type_free(tt);
	pl_diags_free(d);
	free(path);
}

static void good_suite_loads_field_by_field(void **state)
{
	char *path = pl_test_source_path("tests/data/good-config/suites/full.yaml");
	char *images = pl_test_source_path("tests/data/good-config/images");
	char *scen = pl_test_source_path("tests/data/good-config/cut.lua");
	struct env e = { NULL, images };
	struct pl_config_opts o = { .getenv = test_env, .env_user_data = &e };
	const struct pl_run_cfg *r;
	const struct pl_sweep_cfg *sw;
	const struct pl_value *p, *cuts;
	struct pl_diags *d;
	struct pl_suite *s;
	double num;
	bool is_int, bv;
	char *want;

	(void)state;
	assert_int_equal(pl_diags_new(&d), 0);
	assert_loaded(pl_suite_load(&s, path, &o, d), d);
	assert_string_equal(s->name, "full");
	assert_int_equal(s->nimages, 2);
	assert_string_equal(s->images[0].name, "old");
	assert_true(strstr(s->images[0].path, "suites/../images/old.img") != NULL);
	assert_null(s->images[0].version);
	assert_non_null(pl_suite_image(s, "new"));
	assert_int_equal(asprintf(&want, "%s/new.img", images) > 0, 1);
	assert_string_equal(pl_suite_image(s, "new")->path, want);
	free(want);
	assert_string_equal(pl_suite_image(s, "new")->version, "1.1.0");
	assert_int_equal(s->defaults.run_timeout_ms, 300000);
	assert_int_equal(s->defaults.instructions, 100000000);
	assert_int_equal(s->defaults.memory, 64 << 20);
	assert_true(s->gate.given);
	assert_true(s->gate.max_brick_rate > 0.00099 && s->gate.max_brick_rate < 0.00101);
	assert_int_equal(s->gate.min_cuts, 200);
	assert_int_equal(s->nruns, 2);

	r = &s->runs[0];
	assert_true(strstr(r->scenario, "good-config/cut.lua") != NULL);
	assert_int_equal(r->on.kind, PL_SELECT_TAGS);
	assert_int_equal(r->on.n, 1);
	assert_string_equal(r->on.names[0], "good");
	assert_int_equal(r->repeat, 3);
	assert_int_equal(r->budget.run_timeout_ms, 300000);
	assert_int_equal(r->budget.memory, 64 << 20);
	/* params: a generic tree the Lua host turns into tables */
	p = r->params;
	assert_int_equal(p->kind, PL_VALUE_MAP);
	assert_int_equal(p->n, 3);
	assert_string_equal(p->keys[0], "image");
	cuts = pl_value_get(p, "cuts");
	assert_int_equal(cuts->kind, PL_VALUE_LIST);
	assert_int_equal(cuts->n, 3);
	assert_int_equal(pl_value_number(cuts->items[0], &num, &is_int), 0);
	assert_true(is_int);
	assert_int_equal(pl_value_number(cuts->items[1], &num, &is_int), 0);
	assert_false(is_int);
	assert_true(num > 2.49 && num < 2.51);
	assert_int_equal(pl_value_number(cuts->items[2], &num, &is_int), -EINVAL);
	assert_string_equal(cuts->items[2]->str, "3");
	assert_int_equal(pl_value_bool(pl_value_get(pl_value_get(p, "opts"), "verify"),
				       &bv), 0);
	assert_true(bv);
	assert_int_equal(pl_value_bool(pl_value_get(p, "image"), &bv), -EINVAL);
	assert_int_equal(cuts->pos.line, 14);
	assert_int_equal(cuts->pos.col, 13);
	/* the sweep and its nested sweep */
	sw = r->sweep;
	assert_non_null(sw);
	assert_null(sw->scenario);
	assert_int_equal(sw->over, PL_SWEEP_FLASH_OPS);
	assert_int_equal(sw->phases, PL_PHASE_BEFORE | PL_PHASE_DURING | PL_PHASE_AFTER);
	assert_int_equal(sw->points, 0);
	assert_int_equal(sw->strategy, PL_STRATEGY_RANDOM);
	assert_true(sw->has_seed);
	assert_int_equal(sw->seed, 42);
	assert_non_null(sw->nested);
	assert_int_equal(sw->nested->over, PL_SWEEP_TIME);
	assert_int_equal(sw->nested->points, 10);
	assert_int_equal(sw->nested->strategy, PL_STRATEGY_UNIFORM);
	assert_int_equal(sw->nested->phases, PL_PHASE_DURING);
	assert_false(sw->nested->has_seed);
	assert_null(sw->nested->nested);

	r = &s->runs[1];
	assert_string_equal(r->scenario, s->runs[0].scenario);
	assert_int_equal(r->on.kind, PL_SELECT_BOARDS);
	assert_int_equal(r->on.n, 2);
	assert_string_equal(r->on.names[1], "q0");
	assert_int_equal(r->repeat, 1);
	assert_null(r->params);
	assert_null(r->sweep);
	assert_int_equal(r->budget.run_timeout_ms, 30000);
	assert_int_equal(r->budget.instructions, 100000000);

	pl_suite_free(s);
	pl_diags_free(d);
	free(scen);
	free(images);
	free(path);
}

/* Write a file under dir; returns its malloc'ed path. */
static char *write_file(const char *dir, const char *name, const char *text)
{
	char *path;
	FILE *f;

	assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static void suite_is_checked_against_a_lab_and_image_overrides(void **state)
{
	char *lab_path = pl_test_source_path("tests/data/good-config/lab.yaml");
	char *dir = pl_test_tmpdir("config");
	struct env e = { "/tmp/rack", NULL };
	const char *over[] = { NULL, NULL };
	struct pl_config_opts o = { .getenv = test_env, .env_user_data = &e,
				    .image_overrides = over };
	char *scen, *img, *suite, *ov, *vendor;
	const struct pl_diag *dg;
	struct pl_diags *d;
	struct pl_lab *lab;
	struct pl_suite *s;

	(void)state;
	scen = write_file(dir, "s.lua", "return 1\n");
	img = write_file(dir, "other.img", "x");
	/* test-board's update module, where check looks for it */
	vendor = pl_test_path(dir, "vendor");
	assert_int_equal(mkdir(vendor, 0755), 0);
	free(write_file(vendor, "update.lua", "return {}\n"));
	free(vendor);
	suite = write_file(dir, "suite.yaml",
			   "name: x\n"
			   "images: {fw: nope.img, factory: other.img}\n"
			   "runs:\n"
			   "  - scenario: s.lua\n"
			   "    on: {boards: [vb0, vb7]}\n"
			   "  - scenario: s.lua\n"
			   "    on: {tags: [good, qemu]}\n"
			   "  - scenario: s.lua\n"
			   "    on: {types: [test-board]}\n");
	assert_int_equal(pl_diags_new(&d), 0);
	assert_loaded(pl_lab_load(&lab, lab_path, &o, d), d);
	/* without the override the image does not exist */
	assert_int_equal(pl_suite_load(&s, suite, &o, d), -PL_ECONFIG);
	assert_null(s);
	assert_int_equal(pl_diags_count(d), 1);
	assert_string_equal(pl_diags_at(d, 0)->msg, "image 'fw': no such file 'nope.img'");
	pl_diags_free(d);
	/* --image fw=PATH replaces it */
	assert_true(asprintf(&ov, "fw=%s", img) > 0);
	over[0] = ov;
	assert_int_equal(pl_diags_new(&d), 0);
	assert_loaded(pl_suite_load(&s, suite, &o, d), d);
	assert_string_equal(pl_suite_image(s, "fw")->path, img);
	assert_true(pl_run_selects(&s->runs[0], pl_lab_board(lab, "vb0")));
	assert_false(pl_run_selects(&s->runs[0], pl_lab_board(lab, "q0")));
	assert_true(pl_run_selects(&s->runs[2], pl_lab_board(lab, "q0")));
	assert_int_equal(pl_suite_check_lab(s, lab, d), -PL_ECONFIG);
	assert_int_equal(pl_diags_count(d), 2);
	dg = pl_diags_at(d, 0);
	assert_int_equal(dg->line, 5);
	assert_int_equal(dg->col, 24);
	assert_true(strstr(dg->msg, "has no board 'vb7'") != NULL);
	dg = pl_diags_at(d, 1);
	assert_int_equal(dg->line, 7);
	assert_true(strstr(dg->msg, "run 2 selects no board") != NULL);
	pl_suite_free(s);
	pl_diags_free(d);
	/* an override for an image the suite does not declare */
	over[0] = "fx=/dev/null";
	assert_int_equal(pl_diags_new(&d), 0);
	assert_int_equal(pl_suite_load(&s, suite, &o, d), -PL_ECONFIG);
	assert_int_equal(pl_diags_count(d), 2);
	assert_string_equal(pl_diags_at(d, 1)->msg,
			    "--image fx=/dev/null: the suite declares no image 'fx'");
	assert_null(pl_diags_at(d, 1)->file);
	pl_diags_free(d);

	pl_lab_free(lab);
	free(ov);
	free(suite);
	free(img);
	free(scen);
	pl_test_rmrf(dir);
	free(dir);
	free(lab_path);
}

/* Issue 12 item 8: an image that is a FIFO is named as such (it would
 * block the controller), and one larger than the flash of a board type
 * the suite runs on is refused against the lab. */
static void images_must_be_regular_and_fit_the_flash(void **state)
{
	char *lab_path = pl_test_source_path("tests/data/good-config/lab.yaml");
	char *dir = pl_test_tmpdir("config");
	struct env e = { "/tmp/rack", NULL };
	struct pl_config_opts o = { .getenv = test_env, .env_user_data = &e };
	char *suite, *big, *fifo;
	const struct pl_diag *dg;
	struct pl_diags *d;
	struct pl_lab *lab;
	struct pl_suite *s;
	int fd;

	(void)state;
	free(write_file(dir, "s.lua", "return 1\n"));
	assert_true(asprintf(&fifo, "%s/fw.fifo", dir) > 0);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	big = write_file(dir, "big.img", "x");
	fd = open(big, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 2 << 20), 0); /* sparse 2 MiB */
	close(fd);
	suite = write_file(dir, "fifo.yaml",
			   "name: x\n"
			   "images: {fw: fw.fifo}\n"
			   "runs:\n"
			   "  - scenario: s.lua\n");
	assert_int_equal(pl_diags_new(&d), 0);
	assert_int_equal(pl_suite_load(&s, suite, &o, d), -PL_ECONFIG);
	assert_int_equal(pl_diags_count(d), 1);
	dg = pl_diags_at(d, 0);
	assert_int_equal(dg->line, 2);
	assert_int_equal(dg->col, 14);
	assert_string_equal(dg->msg,
			    "image 'fw': 'fw.fifo' is a FIFO, not an image file");
	pl_diags_free(d);
	free(suite);

	suite = write_file(dir, "big.yaml",
			   "name: x\n"
			   "images: {big: big.img, factory: s.lua}\n"
			   "runs:\n"
			   "  - scenario: s.lua\n"
			   "    on: {boards: [vb0]}\n");
	assert_int_equal(pl_diags_new(&d), 0);
	assert_loaded(pl_lab_load(&lab, lab_path, &o, d), d);
	assert_loaded(pl_suite_load(&s, suite, &o, d), d);
	assert_int_equal(pl_suite_image(s, "big")->size, 2 << 20);
	assert_int_equal(pl_suite_check_lab(s, lab, d), -PL_ECONFIG);
	assert_int_equal(pl_diags_count(d), 1);
	dg = pl_diags_at(d, 0);
	assert_int_equal(dg->line, 2);
	assert_int_equal(dg->col, 10);
	assert_string_equal(dg->msg,
			    "image 'big' is 2097152 bytes: more than the "
			    "1048576-byte flash of board type 'virtual-mcu'");
	pl_suite_free(s);
	pl_lab_free(lab);
	pl_diags_free(d);
	free(suite);
	free(big);
	free(fifo);
	free(lab_path);
	pl_test_rmrf(dir);
	free(dir);
}

/* Issue 12 item 8: duplicate ids and shared fixtures are still found when
 * the check no longer compares every pair of boards. */
static void shared_ids_and_fixtures_are_found_in_board_order(void **state)
{
	char *dir = pl_test_tmpdir("config");
	struct env e = { "/tmp/rack", NULL };
	struct pl_config_opts o = { .getenv = test_env, .env_user_data = &e };
	struct pl_diags *d;
	struct pl_lab *lab;
	char *path;

	(void)state;
	path = write_file(dir, "lab.yaml",
		"boards:\n"
		"  - {id: a, type: virtual-mcu, power: {driver: virtual},"
		" console: {driver: tty, path: /tmp/a}}\n"
		"  - {id: b, type: virtual-mcu, power: {driver: virtual},"
		" console: {driver: tty, path: /tmp/x, baud: 9600}}\n"
		"  - {id: a, type: virtual-mcu, power: {driver: virtual},"
		" console: {driver: tty, path: /tmp/c}}\n"
		"  - {id: d, type: virtual-mcu, power: {driver: virtual},"
		" console: {driver: tty, baud: 9600, path: /tmp/x}}\n"
		"  - {id: a, type: virtual-mcu, power: {driver: virtual},"
		" console: {driver: tty, path: /tmp/x}}\n");
	assert_int_equal(pl_diags_new(&d), 0);
	assert_int_equal(pl_lab_load(&lab, path, &o, d), -PL_ECONFIG);
	assert_int_equal(pl_diags_count(d), 3);
	assert_string_equal(pl_diags_at(d, 0)->msg,
			    "duplicate board id 'a' (first at 2:5)");
	assert_int_equal(pl_diags_at(d, 0)->line, 4);
	assert_string_equal(pl_diags_at(d, 1)->msg,
			    "duplicate board id 'a' (first at 2:5)");
	assert_int_equal(pl_diags_at(d, 1)->line, 6);
	/* same options in another order: the same console; /tmp/x without
	 * the baud is another */
	assert_string_equal(pl_diags_at(d, 2)->msg,
			    "console is the same fixture as board 'b''s (at "
			    "3:67): boards cannot share one");
	assert_int_equal(pl_diags_at(d, 2)->line, 5);
	pl_diags_free(d);
	free(path);
	pl_test_rmrf(dir);
	free(dir);
}

static void broken_board_type_is_reported_once_in_its_own_file(void **state)
{
	char *dir = pl_test_tmpdir("config");
	char *bdir, *btype, *lab_path;
	const struct pl_diag *dg;
	struct pl_diags *d;
	struct pl_lab *lab;

	(void)state;
	assert_true(asprintf(&bdir, "%s/types", dir) > 0);
	assert_int_equal(mkdir(bdir, 0700), 0);
	btype = write_file(bdir, "broken.yaml",
			   "name: broken\n"
			   "console: {prompt: '> '}\n");
	lab_path = write_file(dir, "lab.yaml",
			      "lab: {boards_path: types}\n"
			      "boards:\n"
			      "  - {id: a, type: broken, power: {driver: virtual},"
			      " console: {driver: tty, path: /tmp/a}}\n"
			      "  - {id: b, type: broken, power: {driver: virtual},"
			      " console: {driver: tty, path: /tmp/b}}\n");
	assert_int_equal(pl_diags_new(&d), 0);
	assert_int_equal(pl_lab_load(&lab, lab_path, NULL, d), -PL_ECONFIG);
	assert_null(lab);
	assert_int_equal(pl_diags_count(d), 1);
	dg = pl_diags_at(d, 0);
	assert_string_equal(dg->file, btype);
	assert_int_equal(dg->line, 2);
	assert_int_equal(dg->col, 10);
	assert_string_equal(dg->msg, "missing required key 'boot_ok' in console");
	pl_diags_free(d);
	free(lab_path);
	free(btype);
	free(bdir);
	pl_test_rmrf(dir);
	free(dir);
}

static void lab_defaults_supply_a_driver_and_its_options(void **state)
{
	char *dir = pl_test_tmpdir("config");
	const struct pl_fixture_cfg *f;
	struct pl_diags *d;
	struct pl_lab *lab;
	char *lab_path, *port;

	(void)state;
	lab_path = write_file(dir, "lab.yaml",
			      "defaults:\n"
			      "  power: {driver: lcus, port: relay.tty, baud: 19200}\n"
			      "  console: {baud: 9600}\n"
			      "boards:\n"
			      "  - id: a\n"
			      "    type: virtual-mcu\n"
			      "    power: {channel: 2}\n"
			      "    console: {driver: tcp, address: 'localhost:2000'}\n");
	assert_int_equal(pl_diags_new(&d), 0);
	assert_loaded(pl_lab_load(&lab, lab_path, NULL, d), d);
	f = lab->boards[0].fixture[PL_FIXTURE_POWER];
	assert_string_equal(f->driver->name, "lcus");
	assert_true(asprintf(&port, "%s/relay.tty", dir) > 0);
	assert_string_equal(pl_opts_str(&f->opts, "port", NULL), port);
	assert_string_equal(pl_opts_str(&f->opts, "channel", NULL), "2");
	assert_string_equal(pl_opts_str(&f->opts, "baud", NULL), "19200");
	/* a default the driver does not take is left out */
	f = lab->boards[0].fixture[PL_FIXTURE_CONSOLE];
	assert_string_equal(f->driver->name, "tcp");
	assert_null(pl_opts_get(&f->opts, "baud"));
	assert_int_equal(f->opts.n, 1);
	pl_lab_free(lab);
	pl_diags_free(d);
	free(port);
	free(lab_path);
	pl_test_rmrf(dir);
	free(dir);
}

static void durations_and_sizes_parse_with_units(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(pl_parse_duration_ms("500ms", &v), 0);
	assert_int_equal(v, 500);
	assert_int_equal(pl_parse_duration_ms("5s", &v), 0);
	assert_int_equal(v, 5000);
	assert_int_equal(pl_parse_duration_ms("2m", &v), 0);
	assert_int_equal(v, 120000);
	assert_int_equal(pl_parse_duration_ms("1.5s", &v), 0);
	assert_int_equal(v, 1500);
	assert_int_equal(pl_parse_duration_ms("1h", &v), 0);
	assert_int_equal(v, 3600000);
	assert_int_equal(pl_parse_duration_ms("5", &v), -EINVAL);
	assert_int_equal(pl_parse_duration_ms("5 s", &v), -EINVAL);
	assert_int_equal(pl_parse_duration_ms("-5s", &v), -EINVAL);
	assert_int_equal(pl_parse_duration_ms("s", &v), -EINVAL);
	assert_int_equal(pl_parse_size("4KiB", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(pl_parse_size("1MiB", &v), 0);
	assert_int_equal(v, 1 << 20);
	assert_int_equal(pl_parse_size("0x84000", &v), 0);
	assert_int_equal(v, 0x84000);
	assert_int_equal(pl_parse_size("256", &v), 0);
	assert_int_equal(v, 256);
	assert_int_equal(pl_parse_size("1MB", &v), -EINVAL);
	assert_int_equal(pl_parse_size("-1", &v), -EINVAL);
	assert_int_equal(pl_parse_size("99999999999GiB", &v), -EINVAL);
}

static void diagnostics_print_as_file_line_col(void **state)
{
	struct pl_srcpos pos = { "lab.yaml", 7, 5 };
	struct pl_diags *d;
	char buf[512] = "";
	FILE *f;

	(void)state;
	assert_int_equal(pl_diags_new(&d), 0);
	pl_diags_add(d, &pos, "unknown key '%s'", "chanel");
	pos.col = 0;
	pl_diags_add(d, &pos, "lua says %d", 3);
	pl_diags_add(d, NULL, "no position");
	assert_int_equal(pl_diags_count(d), 3);
	assert_null(pl_diags_at(d, 3));
	f = fmemopen(buf, sizeof(buf), "w");
	assert_non_null(f);
	pl_diags_print(d, f);
	fclose(f);
	assert_string_equal(buf, "lab.yaml:7:5: error: unknown key 'chanel'\n"
				 "lab.yaml:7: error: lua says 3\n"
				 "patchlab: error: no position\n");
	pl_diags_free(d);
	pl_diags_free(NULL);
	pl_lab_free(NULL);
	pl_suite_free(NULL);
	pl_board_type_free(NULL);
}

static void kinds_are_recognised_by_content_and_place(void **state)
{
	static const struct {
		const char *name, *text;
		enum pl_config_kind kind;
	} cases[] = {
		{ "x.yaml", "name: t\nconsole: {boot_ok: x}\n", PL_CONFIG_BOARD },
		{ "t.yaml", "name: t\nconsole: {boot_ok: x}\n", PL_CONFIG_BOARD },
		{ "x.yaml", "boards: []\n", PL_CONFIG_LAB },
		{ "x.yaml", "runs: []\n", PL_CONFIG_SUITE },
		{ "a/boards/x.yaml", "name: x\n", PL_CONFIG_BOARD },
		{ "a/suites/x.yaml", "name: x\n", PL_CONFIG_SUITE },
		{ "lab.yaml", "{}\n", PL_CONFIG_LAB },
		{ "x.lua", "return 1\n", PL_CONFIG_LUA },
		{ "x.yaml", "name: x\n", PL_CONFIG_AUTO },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum pl_config_kind k;
		struct pl_diags *d;

		assert_int_equal(pl_diags_new(&d), 0);
		pl_config_check_buffer(cases[i].name, cases[i].text,
				       strlen(cases[i].text), PL_CONFIG_AUTO, NULL,
				       d, &k);
		assert_int_equal(k, cases[i].kind);
		pl_diags_free(d);
	}
}

/* Issue 11 item 1: recovery by a Lua module and a boot-mode control, as
 * boards/virtual-gateway-rom.yaml writes them; %{NAME} of the boot-mode
 * fixture resolved per board (board vars over the lab's). */
static void lua_recovery_and_boot_mode_load(void **state)
{
	char *path = pl_test_source_path("boards/virtual-gateway-rom.yaml");
	char *dir = pl_test_tmpdir("config"), *lab_path, *v, err[200];
	const struct pl_board_type *t;
	struct pl_board_type *tt;
	struct pl_diags *d;
	struct pl_lab *lab;
	const struct pl_board_cfg *b;
	struct pl_config_opts o = { 0 };
	char boards_dir[4096];

	(void)state;
	assert_int_equal(pl_diags_new(&d), 0);
	assert_loaded(pl_board_type_load(&tt, path, NULL, d), d);
	t = tt;
	assert_int_equal(t->recovery.method, PL_RECOVERY_LUA);
	assert_string_equal(t->recovery.lua_module, "lib.gateway.rom_recover");
	assert_int_not_equal(t->recovery.lua_pos.line, 0);
	assert_string_equal(t->recovery.image, "factory");
	assert_int_equal(t->recovery.timeout_ms, 60000);
	assert_false(t->recovery.boot_mode);
	assert_null(t->recovery.command);
	assert_non_null(t->boot_mode.driver);
	assert_string_equal(t->boot_mode.driver->name, "lcus");
	assert_int_equal(t->boot_mode.nopts, 2);
	assert_string_equal(t->boot_mode.opts[0].key, "port");
	assert_string_equal(t->boot_mode.opts[0].value, "%{STRAP_PORT}");
	assert_string_equal(t->boot_mode.opts[1].key, "channel");
	assert_int_equal(t->boot_mode.settle_ms, 100);
	pl_board_type_free(tt);
	pl_diags_free(d);

	/* a board of that type: its vars fill the fixture's options */
	snprintf(boards_dir, sizeof(boards_dir), "%s", path);
	*strrchr(boards_dir, '/') = '\0';
	lab_path = pl_test_path(dir, "lab.yaml");
	{
		FILE *f = fopen(lab_path, "w");

		assert_non_null(f);
		fprintf(f, "lab:\n  boards_path: [\"%s\"]\n  vars: {STRAP_CHANNEL: 9}\n"
			"boards:\n"
			"  - id: gw0\n"
			"    type: virtual-gateway-rom\n"
			"    power:   {driver: lcus, port: relay0.tty, channel: 1}\n"
			"    console: {driver: tty, path: /dev/null}\n"
			"    vars:    {STRAP_PORT: strap0.tty, STRAP_CHANNEL: 3}\n",
			boards_dir);
		fclose(f);
	}
	assert_int_equal(pl_diags_new(&d), 0);
	assert_loaded(pl_lab_load(&lab, lab_path, &o, d), d);
	b = pl_lab_board(lab, "gw0");
	assert_non_null(b);
	v = pl_board_cfg_subst(b, "%{STRAP_PORT}:%{STRAP_CHANNEL} %{board} %{type}",
			       err, sizeof(err));
	assert_non_null(v);
	assert_string_equal(v, "strap0.tty:3 gw0 virtual-gateway-rom");
	free(v);
	v = pl_board_cfg_subst(b, "%{STRAP_PIN}", err, sizeof(err));
	assert_null(v);
	assert_non_null(strstr(err, "%{STRAP_PIN} is not known for board gw0"));
	v = pl_board_cfg_subst(b, "x%{STRAP_PORT", err, sizeof(err));
	assert_null(v);
	assert_non_null(strstr(err, "bad '%{'"));
	v = pl_board_cfg_subst(b, "", err, sizeof(err));
	assert_string_equal(v, "");
	free(v);
	pl_lab_free(lab);
	pl_diags_free(d);
	pl_test_rmrf(dir);
	free(dir);
	free(lab_path);
	free(path);
}

const struct CMUnitTest pl_config_model_tests[] = {
	cmocka_unit_test(good_lab_loads_field_by_field),
	cmocka_unit_test(virtual_mcu_board_type_matches_the_rack_design),
	cmocka_unit_test(lua_recovery_and_boot_mode_load),
	cmocka_unit_test(good_suite_loads_field_by_field),
	cmocka_unit_test(suite_is_checked_against_a_lab_and_image_overrides),
	cmocka_unit_test(images_must_be_regular_and_fit_the_flash),
	cmocka_unit_test(shared_ids_and_fixtures_are_found_in_board_order),
	cmocka_unit_test(broken_board_type_is_reported_once_in_its_own_file),
	cmocka_unit_test(lab_defaults_supply_a_driver_and_its_options),
	cmocka_unit_test(durations_and_sizes_parse_with_units),
	cmocka_unit_test(diagnostics_print_as_file_line_col),
	cmocka_unit_test(kinds_are_recognised_by_content_and_place),
};
const size_t pl_config_model_ntests =
	sizeof(pl_config_model_tests) / sizeof(pl_config_model_tests[0]);
