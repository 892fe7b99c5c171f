/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "patchlab/clock.h"
#include "pl_test.h"
#include "vrack_util.h"

int vt_wait_all(struct vt_con *c, size_t n, const char *needle,
		unsigned timeout_ms)
{
	uint64_t deadline = pl_now_ns() + (uint64_t)timeout_ms * 1000000u;
	struct pollfd *p = calloc(n, sizeof(*p));
	size_t left = 0;
	int rc = 0;

	for (size_t i = 0; i < n; i++) {
		c[i].done = false;
		left++;
	}
	while (left > 0) {
		uint64_t now = pl_now_ns();
		int k;

		if (now >= deadline) {
			rc = -ETIMEDOUT;
			break;
		}
		for (size_t i = 0; i < n; i++) {
			p[i].fd = c[i].done ? -1 : c[i].fd;
			p[i].events = POLLIN;
			p[i].revents = 0;
		}
		k = poll(p, n, (int)((deadline - now) / 1000000u) + 1);
		if (k <= 0)
			continue;
		for (size_t i = 0; i < n; i++) {
			char buf[2048];
			ssize_t r;

			if (!(p[i].revents & POLLIN))
				continue;
			r = read(c[i].fd, buf, sizeof(buf));
			if (r <= 0)
				continue;
			pl_strbuf_append(&c[i].acc, buf, (size_t)r);
			if (strstr(c[i].acc.s + c[i].from, needle)) {
				c[i].done = true;
				left--;
			}
		}
	}
	if (rc < 0)
		for (size_t i = 0; i < n; i++)
			if (!c[i].done) {
				print_message("vb%zu never said '%s'; it had:\n%s\n",
					      i, needle,
					      c[i].acc.s ? c[i].acc.s : "");
				break;
			}
	free(p);
	return rc;
}

int vt_open_tty(const char *path, bool nonblock)
{
	int fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC |
		      (nonblock ? O_NONBLOCK : 0));
	struct termios t;

	if (fd < 0)
		return -errno;
	if (tcgetattr(fd, &t) == 0) {
		cfmakeraw(&t);
		tcsetattr(fd, TCSANOW, &t);
	}
	tcflush(fd, TCIFLUSH);
	return fd;
}

int vt_open_nth(const char *dir, const char *stem, size_t n, const char *ext,
		bool nonblock)
{
	char name[64], *path;
	int fd;

	snprintf(name, sizeof(name), "%s%zu%s", stem, n, ext);
	path = pl_test_path(dir, name);
	if (!path)
		return -ENOMEM;
	fd = vt_open_tty(path, nonblock);
	free(path);
	return fd;
}

int vt_read_until(int fd, struct pl_strbuf *acc, size_t from,
		  const char *needle, unsigned timeout_ms)
{
	uint64_t deadline = pl_now_ns() + (uint64_t)timeout_ms * 1000000u;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		uint64_t now;
		char buf[4096];
		ssize_t n;

		if (acc->s && acc->len > from && strstr(acc->s + from, needle))
			return 0;
		now = pl_now_ns();
		if (now >= deadline)
			return -ETIMEDOUT;
		if (poll(&p, 1, (int)((deadline - now) / 1000000u) + 1) <= 0)
			continue;
		n = read(fd, buf, sizeof(buf));
		if (n > 0) {
			/* keep NULs out of the way of strstr */
			for (ssize_t i = 0; i < n; i++)
				if (buf[i] == '\0')
					buf[i] = '.';
			pl_strbuf_append(acc, buf, (size_t)n);
		} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			return -EIO;
		}
	}
}

int vt_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				struct pollfd pf = { .fd = fd, .events = POLLOUT };

				poll(&pf, 1, 1000);
				continue;
			}
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int vt_lcus(int fd, unsigned ch, bool on)
{
	uint8_t f[4] = { 0xA0, (uint8_t)ch, on ? 1 : 0, 0 };

	f[3] = (uint8_t)(f[0] + f[1] + f[2]);
	return vt_write_all(fd, f, 4);
}

int vt_sx_start(const char *file, int *peer)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		return -errno;
	}
	if (pid == 0) {
		int nul = open("/dev/null", O_WRONLY);

		dup2(sv[1], 0);
		dup2(sv[1], 1);
		if (nul >= 0)
			dup2(nul, 2);
		execlp("sx", "sx", "-k", file, (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	*peer = sv[0];
	return pid;
}

int vt_pump(int con, int peer, struct pl_strbuf *acc, int stop_fd,
	    const char *needle, size_t from, bool *peer_eof,
	    unsigned timeout_ms)
{
	uint64_t deadline = pl_now_ns() + (uint64_t)timeout_ms * 1000000u;

	for (;;) {
		struct pollfd p[3] = {
			{ .fd = con, .events = POLLIN },
			{ .fd = *peer_eof ? -1 : peer, .events = POLLIN },
			{ .fd = stop_fd, .events = POLLIN },
		};
		char buf[4096];
		uint64_t now = pl_now_ns();
		ssize_t n;

		if (*peer_eof && (!needle || (acc->s && acc->len > from &&
					      strstr(acc->s + from, needle))))
			return 0;
		if (now >= deadline)
			return -ETIMEDOUT;
		if (poll(p, 3, (int)((deadline - now) / 1000000u) + 1) <= 0)
			continue;
		if (stop_fd >= 0 && (p[2].revents & POLLIN))
			return 0;
		if (p[0].revents & POLLIN) {
			n = read(con, buf, sizeof(buf));
			if (n > 0) {
				/* sx may be gone already: no SIGPIPE */
				if (!*peer_eof)
					(void)!send(peer, buf, (size_t)n,
						    MSG_NOSIGNAL);
				for (ssize_t i = 0; i < n; i++)
					if (buf[i] == '\0')
						buf[i] = '.';
				pl_strbuf_append(acc, buf, (size_t)n);
			}
		}
		if (p[1].revents & (POLLIN | POLLHUP)) {
			n = read(peer, buf, sizeof(buf));
			if (n > 0)
				vt_write_all(con, buf, (size_t)n);
			else if (n == 0)
				*peer_eof = true;
		}
	}
}

int vt_gdb_connect(unsigned port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;

	if (fd < 0)
		return -errno;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* One byte with a deadline. */
static int get_byte(int fd, uint64_t deadline, uint8_t *b)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		uint64_t now = pl_now_ns();
		ssize_t n;

		if (now >= deadline)
			return -ETIMEDOUT;
		if (poll(&p, 1, (int)((deadline - now) / 1000000u) + 1) <= 0)
			continue;
		n = read(fd, b, 1);
		if (n == 1)
			return 0;
		if (n == 0)
			return -ECONNRESET;
		if (errno != EINTR && errno != EAGAIN)
			return -errno;
	}
}

int vt_gdb_send(int fd, const char *data, bool acks, unsigned timeout_ms)
{
	size_t len = strlen(data);
	char *pkt = malloc(len + 5);
	uint8_t sum = 0, b;
	int rc;

	for (size_t i = 0; i < len; i++)
		sum = (uint8_t)(sum + (uint8_t)data[i]);
	snprintf(pkt, len + 5, "$%s#%02x", data, sum);
	rc = vt_write_all(fd, pkt, len + 4);
	free(pkt);
	if (rc < 0 || !acks)
		return rc;
	rc = get_byte(fd, pl_now_ns() + (uint64_t)timeout_ms * 1000000u, &b);
	if (rc == 0 && b != '+')
		rc = -EPROTO;
	return rc;
}

int vt_gdb_recv(int fd, char **out, bool acks, unsigned timeout_ms)
{
	uint64_t deadline = pl_now_ns() + (uint64_t)timeout_ms * 1000000u;
	struct pl_strbuf sb = { 0 };
	uint8_t b, sum = 0, ck[2];
	int rc;

	do {
		rc = get_byte(fd, deadline, &b);
		if (rc < 0)
			return rc;
	} while (b != '$');
	for (;;) {
		rc = get_byte(fd, deadline, &b);
		if (rc < 0)
			goto err;
		if (b == '#')
			break;
		sum = (uint8_t)(sum + b);
		pl_strbuf_append(&sb, &b, 1);
	}
	if ((rc = get_byte(fd, deadline, &ck[0])) < 0 ||
	    (rc = get_byte(fd, deadline, &ck[1])) < 0)
		goto err;
	if (strtoul((char[]){ (char)ck[0], (char)ck[1], 0 }, NULL, 16) != sum) {
		rc = -EBADMSG;
		goto err;
	}
	if (acks)
		vt_write_all(fd, "+", 1);
	*out = pl_strbuf_steal(&sb);
	return 0;
err:
	pl_strbuf_free(&sb);
	return rc;
}

int vt_gdb_cmd(int fd, const char *data, char **reply, bool acks)
{
	int rc = vt_gdb_send(fd, data, acks, 5000);

	if (rc < 0)
		return rc;
	return vt_gdb_recv(fd, reply, acks, 5000);
}

int vt_gdb_read32(int fd, uint32_t addr, uint32_t *out, bool acks)
{
	char cmd[32], *r = NULL;
	uint32_t v = 0;
	int rc;

	snprintf(cmd, sizeof(cmd), "m%x,4", addr);
	rc = vt_gdb_cmd(fd, cmd, &r, acks);
	if (rc < 0)
		return rc;
	if (strlen(r) != 8) {
		free(r);
		return -EPROTO;
	}
	for (int k = 3; k >= 0; k--) {
		char byte[3] = { r[2 * k], r[2 * k + 1], 0 };

		v = v << 8 | (uint32_t)strtoul(byte, NULL, 16);
	}
	free(r);
	*out = v;
	return 0;
}
