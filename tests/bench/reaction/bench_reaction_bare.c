/* SPDX-License-Identifier: MIT */
/*
 * bench_reaction_bare CONSOLE RELAY CHANNEL COUNT: the reference for
 * bench_reaction. A bare single-purpose loop that does what a console-aimed
 * power cut does, and nothing else: switch the board on (an LCUS frame on
 * RELAY), read CONSOLE until "gw: boot ok" has arrived, write the LCUS
 * "off" frame at once, COUNT times. No event library, no logging, no store:
 * poll(2), read(2), memmem(3), write(2). The virtual gateway measures where
 * each power-off landed after the line (rack.log), as it does for patchlab:
 * the meter is the same for both. Exit 0 when every boot line was seen.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define LINE "gw: boot ok"
#define BOOT_TIMEOUT_MS 10000

static int open_raw(const char *path)
{
	struct termios t;
	int fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (tcgetattr(fd, &t) == 0) {
		cfmakeraw(&t);
		tcsetattr(fd, TCSANOW, &t);
	}
	return fd;
}

static int relay(int fd, unsigned ch, unsigned on)
{
	unsigned char f[4] = { 0xa0, (unsigned char)ch, (unsigned char)on,
			       (unsigned char)(0xa0 + ch + on) };

	return write(fd, f, sizeof(f)) == (ssize_t)sizeof(f) ? 0 : -1;
}

int main(int argc, char **argv)
{
	char buf[8192];
	int con, rel;
	unsigned ch;
	long count;

	if (argc != 5) {
		fprintf(stderr, "usage: bench_reaction_bare CONSOLE RELAY "
			"CHANNEL COUNT\n");
		return 2;
	}
	ch = (unsigned)atoi(argv[3]);
	count = atol(argv[4]);
	con = open_raw(argv[1]);
	rel = open_raw(argv[2]);
	if (con < 0 || rel < 0) {
		perror("bench_reaction_bare: open");
		return 2;
	}
	for (long i = 0; i < count; i++) {
		struct pollfd p = { .fd = con, .events = POLLIN };
		size_t len = 0;
		bool seen = false;

		/* what the board said while off (nothing) or before: gone */
		tcflush(con, TCIFLUSH);
		if (relay(rel, ch, 1)) {
			perror("bench_reaction_bare: relay on");
			return 1;
		}
		while (!seen) {
			ssize_t n;

			if (poll(&p, 1, BOOT_TIMEOUT_MS) <= 0) {
				fprintf(stderr, "bench_reaction_bare: no boot "
					"line in %d ms (cut %ld)\n",
					BOOT_TIMEOUT_MS, i + 1);
				return 1;
			}
			n = read(con, buf + len, sizeof(buf) - 1 - len);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				perror("bench_reaction_bare: read");
				return 1;
			}
			len += (size_t)n;
			seen = memmem(buf, len, LINE, strlen(LINE)) != NULL;
			if (!seen && len > sizeof(buf) / 2) {
				/* keep the tail: the line may straddle */
				memmove(buf, buf + len - 64, 64);
				len = 64;
			}
		}
		if (relay(rel, ch, 0)) {
			perror("bench_reaction_bare: relay off");
			return 1;
		}
	}
	return 0;
}
