/* SPDX-License-Identifier: MIT */
/* Helpers of the `patchlab serve` tests: see serve_test.h. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "pl_test.h"
#include "serve_test.h"

/* How long a server may take to print its URL (an ASan build is slow). */
#define START_DEADLINE_MS 30000
#define IO_DEADLINE_MS 30000

int64_t serve_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for fd to be readable until deadline: 0, -ETIMEDOUT. */
static int wait_in(int fd, int64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	for (;;) {
		int64_t left = deadline - serve_now_ms();
		int n;

		if (left <= 0)
			return -ETIMEDOUT;
		n = poll(&pfd, 1, (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

int serve_start(struct serve_proc *p, const char *db, const char *port,
		const char *const *extra)
{
	char *argv[32], listen[64], line[160];
	size_t n = 0, got = 0;
	int pipefd[2], rc;
	pid_t pid;

	memset(p, 0, sizeof(*p));
	snprintf(listen, sizeof(listen), "127.0.0.1:%s", port);
	argv[n++] = (char *)pl_test_patchlab();
	argv[n++] = "serve";
	argv[n++] = "--db";
	argv[n++] = (char *)db;
	argv[n++] = "--listen";
	argv[n++] = listen;
	for (size_t i = 0; extra && extra[i] && n < 31; i++)
		argv[n++] = (char *)extra[i];
	argv[n] = NULL;
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		rc = -errno;
		close(pipefd[0]);
		close(pipefd[1]);
		return rc;
	}
	if (pid == 0) {
		/* a test that dies (an assertion, a sanitizer) takes its
		 * server along instead of leaving it to hold ctest's pipes */
		int null = open("/dev/null", O_RDONLY);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (null < 0 || dup2(null, 0) < 0 || dup2(pipefd[1], 1) < 0)
			_exit(127);
		execv(argv[0], argv);
		_exit(127);
	}
	close(pipefd[1]);
	p->pid = pid;
	/* the first line is the URL */
	rc = 0;
	while (got < sizeof(line) - 1 && !memchr(line, '\n', got)) {
		int64_t end = serve_now_ms() + START_DEADLINE_MS;
		ssize_t r;

		rc = wait_in(pipefd[0], end);
		if (rc)
			break;
		r = read(pipefd[0], line + got, sizeof(line) - 1 - got);
		if (r <= 0) {
			rc = -EPIPE;
			break;
		}
		got += (size_t)r;
	}
	/* the rest of its stdout is not read: it prints nothing more */
	close(pipefd[0]);
	line[got] = '\0';
	if (rc == 0 && (!strchr(line, '\n') || strncmp(line, "http://", 7)))
		rc = -EPROTO;
	if (rc) {
		serve_stop(p, true);
		return rc;
	}
	*strchr(line, '\n') = '\0';
	snprintf(p->url, sizeof(p->url), "%s", line);
	snprintf(p->port, sizeof(p->port), "%s", strrchr(line, ':') + 1);
	p->port[strcspn(p->port, "/")] = '\0';
	return 0;
}

int serve_stop(struct serve_proc *p, bool hard)
{
	int rc;

	if (p->pid <= 0)
		return -1;
	kill(p->pid, hard ? SIGKILL : SIGTERM);
	rc = pl_test_reap(p->pid, 30000);
	p->pid = 0;
	return rc;
}

static int connect_to(const struct serve_proc *p)
{
	struct addrinfo hints = { .ai_family = AF_INET,
				  .ai_socktype = SOCK_STREAM };
	struct addrinfo *ai;
	int fd, rc;

	if (getaddrinfo("127.0.0.1", p->port, &hints, &ai))
		return -EINVAL;
	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
	} else if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		rc = -errno;
		close(fd);
	} else {
		rc = fd;
	}
	freeaddrinfo(ai);
	return rc;
}

static int send_all(int fd, const char *s)
{
	size_t n = strlen(s);

	while (n) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

int http_req(const struct serve_proc *p, const char *method,
	     const char *path, const char *headers, int *status, char **body)
{
	int64_t end = serve_now_ms() + IO_DEADLINE_MS;
	size_t len = 0, cap = 4096;
	char *buf, *req, *hdr_end;
	bool own_host = !headers || strncasecmp(headers, "Host:", 5) != 0;
	int fd = connect_to(p), rc;

	*body = NULL;
	*status = 0;
	if (fd < 0)
		return fd;
	/* HTTP/1.0: no chunked coding, the server closes at the end */
	if (asprintf(&req, "%s %s HTTP/1.0\r\n%s%s%s%s"
		     "Content-Length: 0\r\nConnection: close\r\n\r\n", method,
		     path, own_host ? "Host: 127.0.0.1:" : "",
		     own_host ? p->port : "", own_host ? "\r\n" : "",
		     headers ? headers : "") < 0) {
		close(fd);
		return -ENOMEM;
	}
	rc = send_all(fd, req);
	free(req);
	buf = malloc(cap);
	if (!buf)
		rc = -ENOMEM;
	while (rc == 0) {
		ssize_t r;

		if (len + 1 >= cap) {
			char *nb = realloc(buf, cap *= 2);

			if (!nb) {
				rc = -ENOMEM;
				break;
			}
			buf = nb;
		}
		rc = wait_in(fd, end);
		if (rc)
			break;
		r = read(fd, buf + len, cap - 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	if (rc) {
		free(buf);
		return rc;
	}
	buf[len] = '\0';
	hdr_end = strstr(buf, "\r\n\r\n");
	if (strncmp(buf, "HTTP/1.", 7) || !hdr_end) {
		free(buf);
		return -EPROTO;
	}
	*status = atoi(buf + 9);
	*hdr_end = '\0';
	hdr_end += 4;
	len -= (size_t)(hdr_end - buf);
	memmove(buf, hdr_end, len + 1);
	*body = buf;
	return 0;
}

int sse_open(struct sse_conn *c, const struct serve_proc *p, const char *path,
	     const char *last_event_id)
{
	int64_t end = serve_now_ms() + IO_DEADLINE_MS;
	char *req, *h;
	int rc;

	memset(c, 0, sizeof(*c));
	c->fd = connect_to(p);
	if (c->fd < 0)
		return c->fd;
	if (asprintf(&req, "GET %s HTTP/1.0\r\nHost: 127.0.0.1:%s\r\n"
		     "Accept: text/event-stream\r\n%s%s%s\r\n", path, p->port,
		     last_event_id ? "Last-Event-ID: " : "",
		     last_event_id ? last_event_id : "",
		     last_event_id ? "\r\n" : "") < 0) {
		sse_close(c);
		return -ENOMEM;
	}
	rc = send_all(c->fd, req);
	free(req);
	c->cap = 8192;
	c->buf = malloc(c->cap);
	if (!c->buf)
		rc = -ENOMEM;
	/* the response header */
	while (rc == 0 && !(c->len && (h = memmem(c->buf, c->len,
						      "\r\n\r\n", 4)))) {
		ssize_t r;

		rc = wait_in(c->fd, end);
		if (rc)
			break;
		r = read(c->fd, c->buf + c->len, c->cap - 1 - c->len);
		if (r <= 0)
			rc = -EPIPE;
		else
			c->len += (size_t)r;
	}
	if (rc == 0) {
		size_t hl;

		c->buf[c->len] = '\0';
		if (strncmp(c->buf, "HTTP/1.", 7) ||
		    strncmp(c->buf + 8, " 200", 4) ||
		    !strcasestr(c->buf, "content-type: text/event-stream"))
			rc = -EPROTO;
		h = strstr(c->buf, "\r\n\r\n");
		hl = (size_t)(h - c->buf) + 4;
		memmove(c->buf, c->buf + hl, c->len - hl);
		c->len -= hl;
	}
	if (rc)
		sse_close(c);
	return rc;
}

int sse_next(struct sse_conn *c, int64_t deadline_ms, int64_t *id,
	     char **data)
{
	char *d = NULL;
	int64_t cur = -1;

	*data = NULL;
	for (;;) {
		char *nl;

		/* parse complete lines */
		while ((nl = memchr(c->buf, '\n', c->len))) {
			size_t n = (size_t)(nl - c->buf), used = n + 1;

			if (n && c->buf[n - 1] == '\r')
				n--;
			c->buf[n] = '\0';
			if (n == 0 && d && cur >= 0) {
				/* an empty line dispatches the event */
				memmove(c->buf, c->buf + used, c->len - used);
				c->len -= used;
				*id = cur;
				*data = d;
				return 0;
			}
			if (strncmp(c->buf, "id: ", 4) == 0)
				cur = strtoll(c->buf + 4, NULL, 10);
			else if (strncmp(c->buf, "data: ", 6) == 0) {
				free(d);
				d = strdup(c->buf + 6);
			}
			memmove(c->buf, c->buf + used, c->len - used);
			c->len -= used;
		}
		if (c->len + 1 >= c->cap) {
			char *nb = realloc(c->buf, c->cap * 2);

			if (!nb) {
				free(d);
				return -ENOMEM;
			}
			c->buf = nb;
			c->cap *= 2;
		}
		{
			int rc = wait_in(c->fd, deadline_ms);
			ssize_t r;

			if (rc) {
				free(d);
				return rc;
			}
			r = read(c->fd, c->buf + c->len, c->cap - 1 - c->len);
			if (r <= 0) {
				free(d);
				return -EPIPE;
			}
			c->len += (size_t)r;
		}
	}
}

void sse_close(struct sse_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->buf);
	c->buf = NULL;
	c->len = c->cap = 0;
}

int serve_write_run(struct pl_store *st, int64_t suite, const char *board,
		    const char *scenario, long op_index, enum pl_verdict v,
		    const char *reason, const char *console_log,
		    int64_t *run_id)
{
	struct pl_run_info ri = {
		.suite_id = suite,
		.board_id = board,
		.board_type = "virtual-mcu",
		.image = "fw-2.bin",
		.scenario = scenario,
		.cut = { .phase = op_index >= 0 ? PL_CUT_DURING : PL_CUT_NONE,
			 .op_index = op_index, .phi = 0.5,
			 .kind = "program", .aimed_by = "probe" },
		.seed = 7,
		.console_log = console_log,
		.replay = "patchlab replay 1",
	};
	int rc = pl_store_run_begin(st, &ri, run_id);

	rc = rc ? rc : pl_store_event_power(st, *run_id, "off", 1000, 2000,
					    3000);
	rc = rc ? rc : pl_store_run_end(st, *run_id, v, reason);
	return rc;
}
