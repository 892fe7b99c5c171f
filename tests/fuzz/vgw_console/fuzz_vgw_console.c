/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the virtual gateway (patchlab/vgw.h): what it reads
 * from outside, the console bytes typed at its shell and the boot
 * environment in its storage file.
 *
 * Input layout: byte 0 picks the profile; byte 1 (n) says how many of the
 * following bytes (16 * n, at most what is left) overwrite the start of
 * environment copy 1 in the storage before power-on (a damaged or forged
 * environment); the rest is the console stream, typed once the board has
 * booted (or failed to), in pieces of 1 + (b % 64) bytes, b the piece's
 * first byte, with the clock run to the board's next event after each.
 *
 * Invariants (abort on violation): the board's console output never holds
 * a NUL; every event time the model asks for is no earlier than the last
 * one; after power-off it asks for none; the storage file keeps its size;
 * the view of the storage is well formed (bootslot A, B or '?', versions
 * NUL-terminated); a board that booted says "gw: boot ok" with the version
 * the view reports for its slot.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "patchlab/vgw.h"
#include "fuzz.h"

struct out {
	char buf[65536];
	size_t n;
	uint64_t bytes;
};

static void on_console(void *ud, const char *buf, size_t len)
{
	struct out *o = ud;

	for (size_t i = 0; i < len; i++)
		CHECK(buf[i] != '\0');
	o->bytes += len;
	if (len > sizeof(o->buf) - 1 - o->n)
		o->n = 0; /* keep the tail only */
	if (len <= sizeof(o->buf) - 1) {
		memcpy(o->buf + o->n, buf, len);
		o->n += len;
		o->buf[o->n] = '\0';
	}
}

/* Run the model to its next events, up to max steps; returns the clock. */
static uint64_t run(struct pl_vgw *gw, uint64_t now, unsigned max)
{
	for (unsigned i = 0; i < max; i++) {
		uint64_t next = pl_vgw_next_ns(gw);

		if (next == UINT64_MAX)
			break;
		if (next > now)
			now = next;
		pl_vgw_advance(gw, now);
		CHECK(pl_vgw_next_ns(gw) == UINT64_MAX ||
		      pl_vgw_next_ns(gw) >= now || pl_vgw_next_ns(gw) == 0);
	}
	return now;
}

static uint8_t *factory(void)
{
	static uint8_t payload[2048];
	uint8_t *img = NULL, *flash = NULL;
	size_t len;

	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 7);
	CHECK(pl_vgw_image_pack("1.0.0", NULL, payload, sizeof(payload), &img,
				&len) == 0);
	CHECK(pl_vgw_factory_flash_image(img, len, &flash) == 0);
	free(img);
	return flash;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *fac;
	static struct out o;
	const struct pl_vgw_io io = { .console = on_console, .user_data = &o };
	char path[64];
	struct pl_vgw *gw;
	struct pl_vgw_view v;
	struct stat st;
	size_t pos = 2, env = 0;
	uint64_t now = 1000000;
	int fd;

	if (size < 2)
		return 0;
	if (!fac)
		fac = factory();
	memset(&o, 0, sizeof(o));
	snprintf(path, sizeof(path), "/tmp/fuzz_vgw_%ld.flash", (long)getpid());
	unlink(path);
	env = (size_t)data[1] * 16;
	if (env > size - pos)
		env = size - pos;
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0);
	CHECK(write(fd, fac, PL_VGW_FLASH_SIZE) == PL_VGW_FLASH_SIZE);
	if (env)
		CHECK(pwrite(fd, data + pos, env, PL_VGW_ENV1_OFF) == (ssize_t)env);
	close(fd);
	pos += env;

	CHECK(pl_vgw_open(&gw, path, pl_vgw_profile_at(data[0] %
			  pl_vgw_profile_count())->name, NULL, 1.0, data[0],
			  NULL, &io) == 0);
	pl_vgw_power(gw, true, now);
	now = run(gw, now, 4000);
	if (pl_vgw_shell_ready(gw)) {
		int s = pl_vgw_running_slot(gw);
		char want[64];

		pl_vgw_view(gw, &v);
		CHECK(s == 0 || s == 1);
		snprintf(want, sizeof(want), "gw: boot ok slot=%c version=%s\r\n",
			 s ? 'B' : 'A', v.version[s]);
		CHECK(strstr(o.buf, want) != NULL);
	}
	while (pos < size) {
		size_t n = 1 + data[pos] % 64;

		if (n > size - pos)
			n = size - pos;
		pl_vgw_console_in(gw, data + pos, n, now);
		now = run(gw, now, 2000);
		pos += n;
	}
	now += 1000;
	pl_vgw_power(gw, false, now);
	CHECK(pl_vgw_next_ns(gw) == UINT64_MAX);
	pl_vgw_view(gw, &v);
	CHECK(v.bootslot == 'A' || v.bootslot == 'B' || v.bootslot == '?');
	CHECK(strlen(v.version[0]) < sizeof(v.version[0]) &&
	      strlen(v.version[1]) < sizeof(v.version[1]));
	pl_vgw_close(gw);
	CHECK(stat(path, &st) == 0 && st.st_size == PL_VGW_FLASH_SIZE);
	unlink(path);
	return 0;
}
