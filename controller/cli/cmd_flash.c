/* SPDX-License-Identifier: MIT */
/*
 * patchlab flash BOARD IMAGE: write an image into a board's flash through
 * its debug probe (PL_PROBE_FLASH: erase, program, verify), under the
 * board's lease (manual.h). The address is the board type's flash base plus
 * the offset of its recovery region (where a factory image goes), unless
 * --address says otherwise. The power is left as it is.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "manual.h"
#include "patchlab/clock.h"
#include "patchlab/error.h"
#include "patchlab/exit.h"
#include "patchlab/probe.h"
#include "patchlab/strbuf.h"

static const struct pl_cli_opt flash_options[] = {
	PL_MANUAL_OPTIONS,
	{ "address", 'a', "A",
	  "where on the probe's bus (default: flash base + recovery region)",
	  false },
	{ NULL },
};

struct flash_wait {
	uv_loop_t *loop;
	bool done;
	int status;
};

static void on_flashed(struct pl_probe *p, int status, const void *data,
		       size_t len, void *ud)
{
	struct flash_wait *w = ud;

	(void)p;
	(void)data;
	(void)len;
	w->done = true;
	w->status = status;
	uv_stop(w->loop);
}

/* The whole file in memory (images are flash-sized: a few MiB at most). */
static int read_image(const char *path, void **data, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct pl_strbuf sb = { 0 };
	char buf[65536];
	size_t n;
	int err = 0;

	*data = NULL;
	*len = 0;
	if (!f)
		return -errno;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0 && !err)
		err = pl_strbuf_append(&sb, buf, n);
	if (!err && ferror(f))
		err = -EIO;
	fclose(f);
	if (!err && sb.len == 0)
		err = -ENODATA;
	if (err) {
		pl_strbuf_free(&sb);
		return err;
	}
	*len = sb.len;
	*data = pl_strbuf_steal(&sb);
	return 0;
}

static int flash_address(struct pl_manual *m, const char *opt, uint64_t *addr)
{
	const struct pl_board_type *t = m->board->type;
	long v;

	if (opt) {
		if (pl_parse_long(opt, &v) || v < 0)
			return pl_cli_usage_error(m->cmd,
				"--address takes a number (0x hex ok), not '%s'", opt);
		*addr = (uint64_t)v;
		return 0;
	}
	*addr = t->flash.base +
		(t->recovery.region ? t->recovery.region->offset : 0);
	return 0;
}

static int run_flash(const struct pl_cli_args *a)
{
	const char *image = a->argv[1];
	const struct pl_fixture_cfg *fc;
	struct flash_wait w = { 0 };
	struct pl_probe *p = NULL;
	struct pl_probe_req req = { .op = PL_PROBE_FLASH, .cb = on_flashed,
				    .user_data = &w };
	struct pl_manual m;
	uint64_t addr = 0, t0;
	void *data = NULL;
	size_t len = 0;
	long chk;
	int rc, err;

	if (pl_cli_opt(a, "address") &&
	    (pl_parse_long(pl_cli_opt(a, "address"), &chk) || chk < 0))
		return pl_cli_usage_error(a->cmd,
			"--address takes a number (0x hex ok), not '%s'",
			pl_cli_opt(a, "address"));
	err = read_image(image, &data, &len);
	if (err) {
		fprintf(stderr, "patchlab flash: %s: %s\n", image,
			pl_strerror(err));
		return PL_EXIT_CONFIG;
	}
	rc = pl_manual_begin(&m, a, a->argv[0]);
	if (rc)
		goto out;
	rc = flash_address(&m, pl_cli_opt(a, "address"), &addr);
	if (rc)
		goto out;
	fc = pl_manual_fixture(&m, PL_FIXTURE_PROBE);
	if (!fc) {
		rc = PL_EXIT_CONFIG;
		goto out;
	}
	err = pl_probe_open(&p, &m.fctx, fc->driver->name, &fc->opts);
	if (err) {
		fprintf(stderr, "patchlab flash: board %s: probe %s: cannot "
			"open: %s\n", m.board->id, fc->driver->name,
			pl_strerror(err));
		rc = PL_EXIT_LAB_ERROR;
		goto out;
	}
	w.loop = &m.loop;
	req.addr = addr;
	req.data = data;
	req.len = len;
	t0 = pl_now_ns();
	err = pl_probe_submit(p, &req);
	if (!err)
		rc = pl_manual_run(&m, &w.done);
	if (!err && !rc)
		err = w.done ? w.status : -EIO;
	if (err) {
		fprintf(stderr, "patchlab flash: board %s: probe %s: flash of "
			"%zu bytes at 0x%llx failed: %s\n", m.board->id,
			fc->driver->name, len, (unsigned long long)addr,
			pl_strerror(err));
		rc = PL_EXIT_LAB_ERROR;
	} else if (!rc) {
		printf("%s: flashed %s (%zu bytes) at 0x%llx via %s: erased, "
		       "programmed and verified in %.1f ms\n", m.board->id,
		       image, len, (unsigned long long)addr, fc->driver->name,
		       (double)(pl_now_ns() - t0) / 1e6);
	}
out:
	pl_probe_close(p);
	free(data);
	return pl_manual_end(&m, rc);
}

const struct pl_cli_cmd pl_cmd_flash = {
	.name = "flash",
	.run = run_flash,
	.help = "write an image into a board's flash through its debug probe",
	.usage = "BOARD IMAGE",
	.min_args = 2,
	.max_args = 2,
	.phase = PL_CLI_LAB,
	.options = flash_options,
	.details = "Erases, programs and verifies IMAGE at the board type's "
		   "flash base plus its\nrecovery region's offset (--address "
		   "to choose), under the board's lease.\nExit codes: 0 done, 2 "
		   "probe error or leased board (--no-wait), 64 usage,\n65 bad "
		   "lab file or unreadable IMAGE.",
};
