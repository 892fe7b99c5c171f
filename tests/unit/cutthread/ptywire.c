/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "ptywire.h"

static void on_readable(uv_poll_t *h, int status, int events)
{
	struct ptywire *w = h->data;
	ssize_t n;

	(void)status;
	(void)events;
	while (w->len < sizeof(w->got) &&
	       (n = read(w->master, w->got + w->len,
			 sizeof(w->got) - w->len)) > 0)
		w->len += (size_t)n;
}

int ptywire_open(struct ptywire *w, uv_loop_t *loop)
{
	struct termios tio;
	int fd, err;

	memset(w, 0, sizeof(*w));
	fd = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (grantpt(fd) || unlockpt(fd) ||
	    ptsname_r(fd, w->path, sizeof(w->path))) {
		err = -errno;
		close(fd);
		return err;
	}
	if (tcgetattr(fd, &tio) == 0) {
		cfmakeraw(&tio);
		tcsetattr(fd, TCSANOW, &tio);
	}
	w->master = fd;
	err = uv_poll_init(loop, &w->poll, fd);
	if (err) {
		close(fd);
		return err;
	}
	w->poll.data = w;
	return uv_poll_start(&w->poll, UV_READABLE, on_readable);
}

static void on_closed(uv_handle_t *h)
{
	struct ptywire *w = h->data;

	close(w->master);
	w->master = -1;
}

void ptywire_close(struct ptywire *w)
{
	uv_poll_stop(&w->poll);
	uv_close((uv_handle_t *)&w->poll, on_closed);
}

unsigned ptywire_frames(const struct ptywire *w, int on)
{
	unsigned n = 0;

	for (size_t i = 0; i + 4 <= w->len; i++) {
		const uint8_t *f = w->got + i;

		if (f[0] == 0xA0 && f[1] == 0x01 && f[2] == (on ? 1 : 0) &&
		    f[3] == (uint8_t)(0xA0 + 0x01 + (on ? 1 : 0))) {
			n++;
			i += 3;
		}
	}
	return n;
}

void ptywire_clear(struct ptywire *w)
{
	w->len = 0;
}
