/* SPDX-License-Identifier: MIT */
/*
 * A pty standing in for a serial device (an LCUS relay module, a board's
 * console): the fixture opens the slave by its path, the test holds the
 * master, reads what the fixture wrote (on the loop) and writes to it.
 */
#ifndef PTYWIRE_H
#define PTYWIRE_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

struct ptywire {
	int master;
	char path[64];       /* the slave */
	uv_poll_t poll;
	uint8_t got[256];    /* bytes the fixture wrote, in order */
	size_t len;
};

/* Open a raw pty pair and read its master on loop. 0 or -errno. */
int ptywire_open(struct ptywire *w, uv_loop_t *loop);
/* Stop reading and close the master (the poll handle closes on the loop). */
void ptywire_close(struct ptywire *w);
/* How many whole LCUS frames A0 01 <state> <sum> of this state it got. */
unsigned ptywire_frames(const struct ptywire *w, int on);
/* Forget what was read so far. */
void ptywire_clear(struct ptywire *w);

#endif
