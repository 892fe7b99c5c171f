/* SPDX-License-Identifier: MIT */
/*
 * patchlab console BOARD: talk to a board's console by hand, under the
 * board's lease (manual.h). Bytes go both ways through the board's console
 * fixture, and everything is also logged (pl_console_set_log's format) to
 * runs/console/BOARD-manual.log, or --log FILE.
 *
 *   - stdin a terminal: raw mode, every key goes to the board as typed
 *     (Enter sends \r), Ctrl-] quits, the terminal is restored at the end;
 *   - stdin anything else (a pipe, a file): it is copied to the console
 *     until EOF, and console output keeps being printed for --timeout ms
 *     after that, so the command is scriptable. --until REGEX ends it as
 *     soon as a console line (or the unfinished last line, for prompts)
 *     matches, and makes "never matched" exit 1.
 *
 * Console output is written to stdout with blocking writes: a reader that
 * stops reading holds the session up (the board's bytes wait in the
 * kernel's buffers) rather than losing bytes.
 */
#include <errno.h>
#include <poll.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "manual.h"
#include "patchlab/console.h"
#include "patchlab/error.h"
#include "patchlab/exit.h"
#include "patchlab/strbuf.h"

#define CTRL_RBRACKET 0x1d
#define LINE_MAX_KEEP 4096u

static const struct pl_cli_opt console_options[] = {
	PL_MANUAL_OPTIONS,
	{ "timeout", 0, "MS",
	  "stdin not a terminal: keep printing this long after its EOF "
	  "(default 1000)", false },
	{ "until", 0, "REGEX",
	  "stop when a console line matches (exit 1 if none does)", false },
	{ "log", 0, "FILE",
	  "console log (default runs/console/BOARD-manual.log)", false },
	{ NULL },
};

struct session {
	struct pl_manual *m;
	struct pl_console *con;
	bool done;
	bool matched;
	bool have_until;
	regex_t until;
	struct pl_strbuf line;
	uint64_t timeout_ms;

	/* stdin: a terminal, a pipe, or a file read through uv_fs_read */
	uv_handle_type in_type;
	uv_tty_t in_tty;
	uv_pipe_t in_pipe;
	uv_stream_t *in;
	uv_fs_t in_req;
	bool in_reading_file;
	bool raw_mode;
	char in_buf[4096];
	uv_timer_t linger;
	bool linger_init;
};

static void out_write(const void *buf, size_t len)
{
	const char *p = buf;

	/* stdout may share a non-blocking file description with a terminal
	 * stdin libuv set up: wait for room instead of dropping bytes. */
	while (len) {
		ssize_t n = write(1, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			struct pollfd pfd = { .fd = 1, .events = POLLOUT };

			poll(&pfd, 1, -1);
			continue;
		}
		if (n <= 0)
			return;
		p += n;
		len -= (size_t)n;
	}
}

static void finish(struct session *s)
{
	s->done = true;
	uv_stop(&s->m->loop);
}

static void check_line(struct session *s)
{
	if (!s->have_until || s->matched || !s->line.s)
		return;
	if (regexec(&s->until, s->line.s, 0, NULL, 0) == 0) {
		s->matched = true;
		finish(s);
	}
}

static void on_console_data(struct pl_console *c, const uint8_t *buf,
			    size_t len, uint64_t t_ns, void *ud)
{
	struct session *s = ud;

	(void)c;
	(void)t_ns;
	out_write(buf, len);
	if (!s->have_until)
		return;
	for (size_t i = 0; i < len && !s->matched; i++) {
		if (buf[i] == '\n') {
			if (s->line.len && s->line.s[s->line.len - 1] == '\r')
				s->line.s[--s->line.len] = '\0';
			check_line(s);
			pl_strbuf_reset(&s->line);
		} else if (s->line.len < LINE_MAX_KEEP) {
			pl_strbuf_append(&s->line, &buf[i], 1);
		}
	}
	check_line(s); /* a prompt has no line end */
}

static void on_console_event(struct pl_console *c, enum pl_console_event ev,
			     int status, uint64_t gap_ns, void *ud)
{
	struct session *s = ud;

	(void)c;
	if (ev == PL_CONSOLE_GONE)
		fprintf(stderr, "\r\n[patchlab: console of %s gone (%s); "
			"waiting for it]\r\n", s->m->board->id,
			pl_strerror(status));
	else
		fprintf(stderr, "\r\n[patchlab: console of %s back after "
			"%.0f ms]\r\n", s->m->board->id, (double)gap_ns / 1e6);
}

/* ----------------------------------------------------------- stdin */

static void on_linger(uv_timer_t *t)
{
	finish(t->data);
}

static void stdin_ended(struct session *s)
{
	if (s->done)
		return;
	uv_timer_start(&s->linger, on_linger, s->timeout_ms, 0);
}

static void send_input(struct session *s, const char *buf, size_t len)
{
	int err;

	if (s->raw_mode) {
		const char *q = memchr(buf, CTRL_RBRACKET, len);

		if (q) {
			len = (size_t)(q - buf);
			finish(s);
		}
	}
	if (!len)
		return;
	err = pl_console_write(s->con, buf, len);
	if (err)
		fprintf(stderr, "\r\n[patchlab: console write: %s]\r\n",
			pl_strerror(err));
}

static void on_alloc(uv_handle_t *h, size_t want, uv_buf_t *b)
{
	struct session *s = h->data;

	(void)want;
	*b = uv_buf_init(s->in_buf, sizeof(s->in_buf));
}

static void on_stdin(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
	struct session *s = st->data;

	if (n > 0) {
		send_input(s, b->base, (size_t)n);
		return;
	}
	if (n < 0) {
		uv_read_stop(st);
		if (s->raw_mode)
			finish(s); /* the terminal went away */
		else
			stdin_ended(s);
	}
}

static void on_file_read(uv_fs_t *req)
{
	struct session *s = req->data;
	ssize_t n = req->result;

	uv_fs_req_cleanup(req);
	s->in_reading_file = false;
	if (n > 0 && !s->done) {
		uv_buf_t b = uv_buf_init(s->in_buf, sizeof(s->in_buf));

		send_input(s, s->in_buf, (size_t)n);
		if (!s->done &&
		    uv_fs_read(&s->m->loop, &s->in_req, 0, &b, 1, -1,
			       on_file_read) == 0) {
			s->in_reading_file = true;
			return;
		}
	}
	stdin_ended(s);
}

static int stdin_start(struct session *s)
{
	uv_loop_t *loop = &s->m->loop;
	int err;

	s->in_type = uv_guess_handle(0);
	if (s->in_type == UV_TTY) {
		err = uv_tty_init(loop, &s->in_tty, 0, 1);
		if (err)
			return err;
		s->in = (uv_stream_t *)&s->in_tty;
		err = uv_tty_set_mode(&s->in_tty, UV_TTY_MODE_RAW);
		if (err)
			return err;
		s->raw_mode = true;
	} else if (s->in_type == UV_NAMED_PIPE || s->in_type == UV_TCP) {
		err = uv_pipe_init(loop, &s->in_pipe, 0);
		if (!err)
			err = uv_pipe_open(&s->in_pipe, 0);
		if (err)
			return err;
		s->in = (uv_stream_t *)&s->in_pipe;
	} else {
		uv_buf_t b = uv_buf_init(s->in_buf, sizeof(s->in_buf));

		s->in_req.data = s;
		err = uv_fs_read(loop, &s->in_req, 0, &b, 1, -1, on_file_read);
		if (err)
			return err;
		s->in_reading_file = true;
		return 0;
	}
	s->in->data = s;
	return uv_read_start(s->in, on_alloc, on_stdin);
}

static void stdin_stop(struct session *s)
{
	if (s->in) {
		if (s->raw_mode)
			uv_tty_reset_mode();
		uv_read_stop(s->in);
		uv_close((uv_handle_t *)s->in, NULL);
		s->in = NULL;
	}
	/* A read of a file in flight ends on its own; the loop drain waits. */
}

/* --------------------------------------------------------------- run */

static int parse_opts(const struct pl_cli_args *a, struct session *s)
{
	const char *v;
	long ms = 1000;
	int err;

	if ((v = pl_cli_opt(a, "timeout")) &&
	    (pl_parse_long(v, &ms) || ms < 0 || ms > 86400000))
		return pl_cli_usage_error(a->cmd,
			"--timeout takes milliseconds (0..86400000), not '%s'", v);
	s->timeout_ms = (uint64_t)ms;
	if ((v = pl_cli_opt(a, "until"))) {
		err = regcomp(&s->until, v, REG_EXTENDED | REG_NOSUB);
		if (err) {
			char msg[128];

			regerror(err, &s->until, msg, sizeof(msg));
			return pl_cli_usage_error(a->cmd, "--until '%s': %s", v,
						  msg);
		}
		s->have_until = true;
	}
	return 0;
}

/* runs/console/BOARD-manual.log, its directories made. */
static char *default_log(const char *board)
{
	char *path = NULL;

	mkdir("runs", 0777);
	mkdir("runs/console", 0777);
	if (asprintf(&path, "runs/console/%s-manual.log", board) < 0)
		return NULL;
	return path;
}

static int session_run(struct session *s, const struct pl_cli_args *a)
{
	struct pl_manual *m = s->m;
	struct pl_console_cbs cbs = { .data = on_console_data,
				      .event = on_console_event,
				      .user_data = s };
	const struct pl_fixture_cfg *fc;
	char *log = NULL;
	int err, rc;

	fc = pl_manual_fixture(m, PL_FIXTURE_CONSOLE);
	if (!fc)
		return PL_EXIT_CONFIG;
	err = pl_console_open(&s->con, &m->fctx, fc->driver->name, &fc->opts,
			      &cbs);
	if (err) {
		fprintf(stderr, "patchlab console: board %s: console %s: cannot "
			"open: %s\n", m->board->id, fc->driver->name,
			pl_strerror(err));
		return PL_EXIT_LAB_ERROR;
	}
	log = pl_cli_opt(a, "log") ? strdup(pl_cli_opt(a, "log"))
				   : default_log(m->board->id);
	err = log ? pl_console_set_log(s->con, log) : -ENOMEM;
	if (err) {
		fprintf(stderr, "patchlab console: log %s: %s\n",
			log ? log : "(none)", pl_strerror(err));
		free(log);
		return PL_EXIT_LAB_ERROR;
	}
	uv_timer_init(&m->loop, &s->linger);
	s->linger.data = s;
	s->linger_init = true;
	err = stdin_start(s);
	if (err) {
		fprintf(stderr, "patchlab console: stdin: %s\n", uv_strerror(err));
		free(log);
		return PL_EXIT_LAB_ERROR;
	}
	if (s->raw_mode)
		fprintf(stderr, "[patchlab: connected to %s (%s), log %s; "
			"Ctrl-] quits]\r\n", m->board->id, fc->driver->name, log);
	free(log);
	rc = pl_manual_run(m, &s->done);
	if (rc == 0 && s->have_until && !s->matched) {
		fprintf(stderr, "patchlab console: board %s: nothing matched "
			"--until within %llu ms of the end of input\n",
			m->board->id, (unsigned long long)s->timeout_ms);
		rc = PL_EXIT_GATE_FAILED;
	}
	return rc;
}

static int run_console(const struct pl_cli_args *a)
{
	struct session s = { 0 };
	struct pl_manual m;
	int rc;

	rc = parse_opts(a, &s);
	if (rc)
		return rc;
	rc = pl_manual_begin(&m, a, a->argv[0]);
	s.m = &m;
	if (rc == 0)
		rc = session_run(&s, a);
	stdin_stop(&s);
	if (s.raw_mode)
		fprintf(stderr, "\r\n[patchlab: disconnected]\n");
	if (s.linger_init)
		uv_close((uv_handle_t *)&s.linger, NULL);
	pl_console_close(s.con);
	rc = pl_manual_end(&m, rc);
	if (s.have_until)
		regfree(&s.until);
	pl_strbuf_free(&s.line);
	return rc;
}

const struct pl_cli_cmd pl_cmd_console = {
	.name = "console",
	.run = run_console,
	.help = "talk to a board's console by hand (Ctrl-] quits)",
	.usage = "BOARD",
	.min_args = 1,
	.max_args = 1,
	.phase = PL_CLI_LAB,
	.options = console_options,
	.details = "Takes the board's lease first, like a run. On a terminal: "
		   "raw mode, Ctrl-]\nquits. Otherwise stdin is sent until EOF "
		   "and output printed for --timeout\nms more, e.g.\n"
		   "  echo version | patchlab console vb0 --lab L --until "
		   "'^version '\nExit codes: 0 done, 1 --until never matched, "
		   "2 fixture error or leased\nboard (--no-wait), 64 usage, "
		   "65 bad lab file.",
};
