/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "drv_peer.h"

int drv_openpty(int *master, int *slave, char *name, size_t name_len)
{
	struct termios tio;
	int m, s;

	if (openpty(&m, &s, NULL, NULL, NULL) < 0)
		return -errno;
	if (tcgetattr(s, &tio) == 0) {
		cfmakeraw(&tio);
		tcsetattr(s, TCSANOW, &tio);
	}
	fcntl(m, F_SETFL, fcntl(m, F_GETFL) | O_NONBLOCK);
	fcntl(m, F_SETFD, FD_CLOEXEC);
	fcntl(s, F_SETFD, FD_CLOEXEC);
	if (name && ttyname_r(s, name, name_len) != 0)
		name[0] = '\0';
	*master = m;
	*slave = s;
	return 0;
}

static void on_exit_cb(uv_process_t *p, int64_t status, int sig)
{
	struct drv_child *ch = p->data;

	ch->exited = true;
	ch->status = status;
	ch->term_signal = sig;
}

int drv_spawn(uv_loop_t *loop, struct drv_child *ch, char *const argv[],
	      int fd_io, int fd_err)
{
	return drv_spawn_in(loop, ch, NULL, argv, fd_io, fd_err);
}

int drv_spawn_in(uv_loop_t *loop, struct drv_child *ch, const char *cwd,
		 char *const argv[], int fd_io, int fd_err)
{
	uv_process_options_t o;
	uv_stdio_container_t io[3];

	memset(&o, 0, sizeof(o));
	memset(io, 0, sizeof(io));
	for (int i = 0; i < 2; i++) {
		io[i].flags = fd_io >= 0 ? UV_INHERIT_FD : UV_IGNORE;
		io[i].data.fd = fd_io;
	}
	io[2].flags = UV_INHERIT_FD;
	io[2].data.fd = fd_err >= 0 ? fd_err : 2;
	o.file = argv[0];
	o.args = (char **)argv;
	o.cwd = cwd;
	o.stdio = io;
	o.stdio_count = 3;
	return drv_spawn_opts(loop, ch, &o);
}

int drv_spawn_opts(uv_loop_t *loop, struct drv_child *ch,
		   uv_process_options_t *o)
{
	int err;

	memset(ch, 0, sizeof(*ch));
	o->exit_cb = on_exit_cb;
	ch->proc.data = ch;
	err = uv_spawn(loop, &ch->proc, o);
	if (err) {
		uv_close((uv_handle_t *)&ch->proc, NULL);
		uv_run(loop, UV_RUN_NOWAIT);
		return err;
	}
	ch->spawned = true;
	return 0;
}

static void on_kill_deadline(uv_timer_t *t)
{
	bool *fired = t->data;

	*fired = true;
}

static void on_closed(uv_handle_t *h)
{
	struct drv_child *ch = h->data;

	ch->closed = true;
}

bool drv_child_reap(uv_loop_t *loop, struct drv_child *ch,
		    unsigned timeout_ms)
{
	uv_timer_t t;
	bool fired = false, on_its_own;

	if (!ch->spawned)
		return false;
	uv_timer_init(loop, &t);
	t.data = &fired;
	/* Repeating: a timer that fires at the start of a UV_RUN_ONCE
	 * iteration leaves that iteration free to block in poll for good
	 * (libuv computes the poll timeout after running timers). */
	uv_timer_start(&t, on_kill_deadline, timeout_ms, 50);
	while (!ch->exited && !fired)
		uv_run(loop, UV_RUN_ONCE);
	on_its_own = ch->exited;
	if (!ch->exited)
		uv_process_kill(&ch->proc, SIGKILL);
	while (!ch->exited)
		uv_run(loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&t, NULL);
	uv_close((uv_handle_t *)&ch->proc, on_closed);
	while (!ch->closed)
		uv_run(loop, UV_RUN_ONCE);
	ch->spawned = false;
	return on_its_own;
}

struct until {
	bool (*pred)(void *ud);
	void *ud;
	bool fired;
};

static void until_prepare(uv_prepare_t *h)
{
	struct until *u = h->data;

	if (u->fired || u->pred(u->ud))
		uv_stop(h->loop);
}

static void until_deadline(uv_timer_t *t)
{
	struct until *u = t->data;

	u->fired = true;
}

int drv_loop_until(uv_loop_t *loop, bool (*pred)(void *ud), void *ud,
		   unsigned timeout_ms)
{
	struct until u = { pred, ud, false };
	uv_prepare_t prep;
	uv_timer_t timer;
	int rc = 0;

	uv_prepare_init(loop, &prep);
	prep.data = &u;
	uv_prepare_start(&prep, until_prepare);
	uv_timer_init(loop, &timer);
	timer.data = &u;
	uv_timer_start(&timer, until_deadline, timeout_ms, 0);
	while (!pred(ud)) {
		if (u.fired) {
			rc = -ETIMEDOUT;
			break;
		}
		uv_run(loop, UV_RUN_ONCE);
	}
	uv_close((uv_handle_t *)&prep, NULL);
	uv_close((uv_handle_t *)&timer, NULL);
	uv_run(loop, UV_RUN_NOWAIT);
	return rc;
}

int drv_free_port(void)
{
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	int fd, port = -1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &alen) == 0)
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

int drv_write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };

			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return -errno;
			poll(&pfd, 1, 1000);
			continue;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

long drv_read_some(int fd, void *buf, size_t cap, unsigned timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	ssize_t n;
	int rc;

	rc = poll(&pfd, 1, (int)timeout_ms);
	if (rc < 0)
		return -errno;
	if (rc == 0)
		return 0;
	n = read(fd, buf, cap);
	if (n < 0)
		return errno == EAGAIN ? 0 : -errno;
	return n;
}

void drv_fill(uint8_t *buf, size_t len, uint32_t seed)
{
	uint32_t x = seed ? seed : 1;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		buf[i] = (uint8_t)x;
	}
}
