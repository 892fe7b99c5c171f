/* SPDX-License-Identifier: MIT */
/*
 * patchlab vrack up|serve|status|down|profiles: the virtual rack as a
 * background service.
 *
 * `vrack up` re-executes this program (/proc/self/exe) as
 * `patchlab vrack serve ... --ready-fd 3` in a new session (setsid), with
 * stdin on /dev/null and stdout/stderr appended to DIR/rack.log, and waits
 * on a pipe until the rack writes "ready" (or the pipe closes: the rack
 * died, and the tail of DIR/rack.log says why). The rack writes
 * DIR/rack.pid, DIR/lab.yaml and serves DIR/rack.sock.
 *
 * `vrack status` and `vrack down` talk to DIR/rack.sock; `down` then waits
 * for the process to be gone (pidfd), so when it returns the ptys, symlinks
 * and socket are removed and every board is off. Flash files, keys and
 * images stay: a later `up` on the same DIR finds the boards as they were.
 *
 * The rack, like any daemon, is re-parented when `up` exits: whoever must
 * reap it (a test) makes itself a child subreaper (PR_SET_CHILD_SUBREAPER).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <uv.h>

#include "cli.h"
#include "patchlab/clock.h"
#include "patchlab/exit.h"
#include "patchlab/sockpath.h"
#include "patchlab/vrack.h"

#define VRACK_MAX_BOARDS 2000
#define VRACK_MAX_PROFILES 64
#define VRACK_UP_TIMEOUT_MS 600000
#define VRACK_CTL_TIMEOUT_MS 60000

static const struct pl_cli_opt up_options[] = {
	{ "dir", 'd', "DIR", "rack directory (ptys, flash files, lab.yaml)", false },
	{ "boards", 'n', "N", "number of boards (default 1)", false },
	{ "profile", 'p', "NAME[,NAME...]",
	  "firmware profiles, assigned round-robin (default good)", false },
	{ "speed", 's', "X", "divide every firmware duration by X (default 1)", false },
	{ "seed", 0, "S", "seed of torn writes and half erases (default 1)", false },
	{ "key", 'k', "KEYDIR", "sign with this key pair instead of DIR/keys", false },
	{ "family", 0, "NAME", "board family: virtual-mcu (default) or gateway", false },
	{ "no-recovery", 0, NULL,
	  "gateway: factory programmers that never answer", false },
	{ "rom-recovery", 0, NULL,
	  "gateway: boards of type virtual-gateway-rom, recovered through the "
	  "ROM download mode (strap relay + console)", false },
	{ NULL },
};

static const struct pl_cli_opt serve_options[] = {
	{ "dir", 'd', "DIR", "rack directory (ptys, flash files, lab.yaml)", false },
	{ "boards", 'n', "N", "number of boards (default 1)", false },
	{ "profile", 'p', "NAME[,NAME...]",
	  "firmware profiles, assigned round-robin (default good)", false },
	{ "speed", 's', "X", "divide every firmware duration by X (default 1)", false },
	{ "seed", 0, "S", "seed of torn writes and half erases (default 1)", false },
	{ "key", 'k', "KEYDIR", "sign with this key pair instead of DIR/keys", false },
	{ "family", 0, "NAME", "board family: virtual-mcu (default) or gateway", false },
	{ "no-recovery", 0, NULL,
	  "gateway: factory programmers that never answer", false },
	{ "rom-recovery", 0, NULL,
	  "gateway: boards of type virtual-gateway-rom, recovered through the "
	  "ROM download mode (strap relay + console)", false },
	{ "ready-fd", 0, "FD", "write \"ready\" to this fd once serving", false },
	{ NULL },
};

static const struct pl_cli_opt profiles_options[] = {
	{ "family", 0, "NAME", "board family: virtual-mcu (default) or gateway", false },
	{ NULL },
};

static const struct pl_cli_opt factory_options[] = {
	{ "dir", 'd', "DIR", "rack directory", false },
	{ "board", 'b', "ID", "board id (gw0, gw1, ...)", false },
	{ "image", 'i', "PATH", "factory flash to write (DIR/images/gw-factory.bin)",
	  false },
	{ "timeout", 't', "SECONDS", "wait this long for the answer (default 20)",
	  false },
	{ NULL },
};

static const struct pl_cli_opt dir_options[] = {
	{ "dir", 'd', "DIR", "rack directory", false },
	{ NULL },
};

/* The options of up/serve, checked. Strings are borrowed from argv. */
struct up_args {
	const char *dir;
	unsigned boards;
	char *profile_buf;
	const char *profiles[VRACK_MAX_PROFILES];
	size_t nprofiles;
	double speed;
	uint64_t seed;
	const char *key;
	const char *family;
	bool no_recovery;
	bool rom_recovery;
	int ready_fd;
};

static bool known_family(const char *family)
{
	return strcmp(family, PL_VRACK_FAMILY_MCU) == 0 ||
	       strcmp(family, PL_VRACK_FAMILY_GATEWAY) == 0;
}

static bool known_profile(const char *family, const char *name)
{
	const char *names[VRACK_MAX_PROFILES], *defects[VRACK_MAX_PROFILES];
	size_t n = pl_vrack_family_profiles(family, names, defects,
					    VRACK_MAX_PROFILES);

	for (size_t i = 0; i < n && i < VRACK_MAX_PROFILES; i++)
		if (strcmp(names[i], name) == 0)
			return true;
	return false;
}

static int parse_up(const struct pl_cli_args *a, struct up_args *u)
{
	const char *v;
	char *e, *save = NULL;

	memset(u, 0, sizeof(*u));
	u->boards = 1;
	u->speed = 1.0;
	u->seed = 1;
	u->ready_fd = -1;
	u->dir = pl_cli_opt(a, "dir");
	if (!u->dir || !*u->dir)
		return pl_cli_usage_error(a->cmd, "--dir DIR is required");
	if ((v = pl_cli_opt(a, "boards"))) {
		unsigned long n;

		errno = 0;
		n = strtoul(v, &e, 10);
		if (*v == '-' || e == v || *e || errno || n < 1 ||
		    n > VRACK_MAX_BOARDS)
			return pl_cli_usage_error(a->cmd,
				"--boards '%s': want a count from 1 to %d", v,
				VRACK_MAX_BOARDS);
		u->boards = (unsigned)n;
	}
	if ((v = pl_cli_opt(a, "speed"))) {
		u->speed = strtod(v, &e);
		if (e == v || *e || !isfinite(u->speed) || u->speed <= 0)
			return pl_cli_usage_error(a->cmd,
				"--speed '%s': want a positive number", v);
	}
	if ((v = pl_cli_opt(a, "seed"))) {
		errno = 0;
		u->seed = strtoull(v, &e, 0);
		if (*v == '-' || e == v || *e || errno)
			return pl_cli_usage_error(a->cmd,
				"--seed '%s': want an unsigned integer", v);
	}
	u->key = pl_cli_opt(a, "key");
	u->family = pl_cli_opt(a, "family");
	if (u->family && !known_family(u->family))
		return pl_cli_usage_error(a->cmd, "--family '%s': want %s or %s",
					  u->family, PL_VRACK_FAMILY_MCU,
					  PL_VRACK_FAMILY_GATEWAY);
	u->no_recovery = pl_cli_flag(a, "no-recovery");
	if (u->no_recovery && (!u->family ||
			       strcmp(u->family, PL_VRACK_FAMILY_GATEWAY) != 0))
		return pl_cli_usage_error(a->cmd, "--no-recovery is for "
					  "--family gateway (the recovery "
					  "channel is its factory programmer)");
	u->rom_recovery = pl_cli_flag(a, "rom-recovery");
	if (u->rom_recovery && (!u->family ||
				strcmp(u->family, PL_VRACK_FAMILY_GATEWAY) != 0))
		return pl_cli_usage_error(a->cmd, "--rom-recovery is for "
					  "--family gateway");
	if ((v = pl_cli_opt(a, "ready-fd"))) {
		long fd = strtol(v, &e, 10);

		if (e == v || *e || fd < 0 || fd > INT_MAX)
			return pl_cli_usage_error(a->cmd, "--ready-fd '%s'", v);
		u->ready_fd = (int)fd;
	}
	if ((v = pl_cli_opt(a, "profile"))) {
		u->profile_buf = strdup(v);
		if (!u->profile_buf)
			return PL_EXIT_LAB_ERROR;
		for (char *w = strtok_r(u->profile_buf, ",", &save); w;
		     w = strtok_r(NULL, ",", &save)) {
			if (!known_profile(u->family, w)) {
				int rc = pl_cli_usage_error(a->cmd,
					"--profile: no profile '%s' in family %s "
					"(patchlab vrack profiles --family %s lists "
					"them)", w, u->family ? u->family :
					PL_VRACK_FAMILY_MCU, u->family ? u->family :
					PL_VRACK_FAMILY_MCU);

				free(u->profile_buf);
				u->profile_buf = NULL;
				return rc;
			}
			if (u->nprofiles < VRACK_MAX_PROFILES)
				u->profiles[u->nprofiles++] = w;
		}
		if (u->nprofiles == 0) {
			free(u->profile_buf);
			u->profile_buf = NULL;
			return pl_cli_usage_error(a->cmd, "--profile: empty list");
		}
	}
	return 0;
}

/* DIR/name, malloc'ed. */
static char *dir_path(const char *dir, const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", dir, name) < 0)
		return NULL;
	return p;
}

/* mkdir -p */
static int make_dirs(const char *path)
{
	char *p = strdup(path);
	int rc = 0;

	if (!p)
		return -ENOMEM;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			rc = -errno;
		*s = '/';
		if (rc < 0)
			break;
	}
	if (rc == 0 && mkdir(p, 0755) < 0 && errno != EEXIST)
		rc = -errno;
	free(p);
	return rc;
}

/* ------------------------------------------------------ control socket */

/* Connect to DIR/rack.sock (DIR of any depth: patchlab/sockpath.h);
 * -ENOENT / -ECONNREFUSED when no rack runs. */
static int ctl_connect(const char *dir, int *out)
{
	char *path = dir_path(dir, "rack.sock");
	int fd;

	if (!path)
		return -ENOMEM;
	fd = pl_unix_connect(path);
	free(path);
	if (fd < 0)
		return fd;
	*out = fd;
	return 0;
}

/* Send one command line and read the answer until EOF (deadline). */
static int ctl_request(int fd, const char *cmd, char **reply)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	uint64_t deadline = pl_now_ns() + (uint64_t)VRACK_CTL_TIMEOUT_MS * 1000000u;

	if (!buf)
		return -ENOMEM;
	if (write(fd, cmd, strlen(cmd)) != (ssize_t)strlen(cmd)) {
		free(buf);
		return -EIO;
	}
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		uint64_t now = pl_now_ns();
		ssize_t n;

		if (now >= deadline) {
			free(buf);
			return -ETIMEDOUT;
		}
		if (poll(&p, 1, (int)((deadline - now) / 1000000u) + 1) < 0 &&
		    errno != EINTR) {
			free(buf);
			return -errno;
		}
		if (len + 1 >= cap) {
			char *nb = realloc(buf, cap * 2);

			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*reply = buf;
	return 0;
}

static pid_t read_pid(const char *dir)
{
	char *path = dir_path(dir, "rack.pid");
	FILE *f = path ? fopen(path, "r") : NULL;
	long pid = 0;

	free(path);
	if (!f)
		return 0;
	if (fscanf(f, "%ld", &pid) != 1)
		pid = 0;
	fclose(f);
	return (pid_t)pid;
}

/*
 * Is pid the rack serving dir? A pid file can outlive its process and the
 * number be reused: never signal a process that is not `patchlab vrack
 * serve --dir <dir>` (compared by real path).
 */
static bool is_our_rack(pid_t pid, const char *dir)
{
	char path[64], buf[8192], want[PATH_MAX], got[PATH_MAX], cwd[PATH_MAX];
	char *args[64];
	size_t n = 0, len;
	FILE *f;
	bool serve = false, match = false;

	snprintf(path, sizeof(path), "/proc/%ld/cmdline", (long)pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len] = '\0';
	for (size_t i = 0; i < len && n < 64; i += strlen(buf + i) + 1)
		args[n++] = buf + i;
	if (!realpath(dir, want))
		return false;
	snprintf(path, sizeof(path), "/proc/%ld/cwd", (long)pid);
	len = 0;
	{
		ssize_t k = readlink(path, cwd, sizeof(cwd) - 1);

		if (k > 0)
			len = (size_t)k;
	}
	cwd[len] = '\0';
	for (size_t i = 0; i + 1 < n; i++) {
		char joined[2 * PATH_MAX + 2];

		if (strcmp(args[i], "vrack") == 0 && strcmp(args[i + 1], "serve") == 0)
			serve = true;
		if (strcmp(args[i], "--dir") != 0)
			continue;
		if (args[i + 1][0] == '/')
			snprintf(joined, sizeof(joined), "%s", args[i + 1]);
		else
			snprintf(joined, sizeof(joined), "%s/%s", cwd, args[i + 1]);
		match = realpath(joined, got) && strcmp(got, want) == 0;
	}
	return serve && match;
}

/* Wait (pidfd, deadline) until process pid is gone. */
static int wait_gone(pid_t pid, unsigned timeout_ms)
{
	int pfd = pidfd_open(pid, 0);
	struct pollfd p;
	int rc;

	if (pfd < 0)
		return errno == ESRCH ? 0 : -errno;
	p.fd = pfd;
	p.events = POLLIN;
	do
		rc = poll(&p, 1, (int)timeout_ms);
	while (rc < 0 && errno == EINTR);
	close(pfd);
	return rc > 0 ? 0 : -ETIMEDOUT;
}

/* ---------------------------------------------------------------- up */

/* Size of DIR/rack.log now (0 when missing). */
static long log_size(const char *dir)
{
	char *path = dir_path(dir, "rack.log");
	struct stat st;
	long n = 0;

	if (path && stat(path, &st) == 0)
		n = (long)st.st_size;
	free(path);
	return n;
}

/* Copy what the rack logged since offset `from` to stderr, indented. */
static void print_log_since(const char *dir, long from)
{
	char *path = dir_path(dir, "rack.log");
	FILE *f = path ? fopen(path, "r") : NULL;
	char line[512];

	if (f && fseek(f, from, SEEK_SET) == 0)
		while (fgets(line, sizeof(line), f))
			fprintf(stderr, "  %s", line);
	if (f)
		fclose(f);
	free(path);
}

/* The child: become the rack (never returns). */
static void exec_serve(const struct up_args *u, int ready_w)
{
	char boards[16], seed[32], speed[64], fd[16];
	char *argv[24];
	char *log = dir_path(u->dir, "rack.log");
	int n = 0, nul, lfd;

	setsid();
	nul = open("/dev/null", O_RDONLY);
	lfd = log ? open(log, O_WRONLY | O_CREAT | O_APPEND, 0644) : -1;
	if (nul >= 0)
		dup2(nul, 0);
	if (lfd >= 0) {
		dup2(lfd, 1);
		dup2(lfd, 2);
	}
	/* fd 3 for the serve side; dup2 onto itself keeps O_CLOEXEC, so
	 * clear it explicitly */
	if ((ready_w != 3 && dup2(ready_w, 3) < 0) || fcntl(3, F_SETFD, 0) < 0)
		_exit(127);
	/* nothing else of the caller's: a daemon holding someone's pipe open
	 * would keep a `$(patchlab vrack up ...)` waiting forever */
	close_range(4, ~0u, 0);
	snprintf(boards, sizeof(boards), "%u", u->boards);
	snprintf(seed, sizeof(seed), "%llu", (unsigned long long)u->seed);
	snprintf(speed, sizeof(speed), "%.17g", u->speed);
	snprintf(fd, sizeof(fd), "%d", 3);
	argv[n++] = "patchlab";
	argv[n++] = "vrack";
	argv[n++] = "serve";
	argv[n++] = "--dir";
	argv[n++] = (char *)u->dir;
	argv[n++] = "--boards";
	argv[n++] = boards;
	argv[n++] = "--speed";
	argv[n++] = speed;
	argv[n++] = "--seed";
	argv[n++] = seed;
	argv[n++] = "--ready-fd";
	argv[n++] = fd;
	if (u->key) {
		argv[n++] = "--key";
		argv[n++] = (char *)u->key;
	}
	if (u->family) {
		argv[n++] = "--family";
		argv[n++] = (char *)u->family;
	}
	if (u->no_recovery)
		argv[n++] = "--no-recovery";
	if (u->rom_recovery)
		argv[n++] = "--rom-recovery";
	if (u->nprofiles) {
		/* re-joined: the buffer was split by strtok (the child
		 * execs or exits, so this is never freed) */
		size_t cap = 1, off = 0;
		char *joined;

		for (size_t i = 0; i < u->nprofiles; i++)
			cap += strlen(u->profiles[i]) + 1;
		joined = malloc(cap);
		if (!joined)
			_exit(127);
		for (size_t i = 0; i < u->nprofiles; i++)
			off += (size_t)snprintf(joined + off, cap - off, "%s%s",
						i ? "," : "", u->profiles[i]);
		argv[n++] = "--profile";
		argv[n++] = joined;
	}
	argv[n] = NULL;
	/* the binary by its real name, so ps shows "patchlab", not "exe" */
	{
		char self[PATH_MAX];
		ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);

		if (len > 0) {
			self[len] = '\0';
			execv(self, argv);
		}
	}
	execv("/proc/self/exe", argv);
	fprintf(stderr, "vrack: cannot exec /proc/self/exe: %s\n", strerror(errno));
	_exit(127);
}

/* Read from fd until "ready\n", EOF or the deadline. */
static int wait_ready(int fd)
{
	char buf[64];
	size_t len = 0;
	uint64_t deadline = pl_now_ns() + (uint64_t)VRACK_UP_TIMEOUT_MS * 1000000u;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		uint64_t now = pl_now_ns();
		ssize_t n;

		if (now >= deadline)
			return -ETIMEDOUT;
		if (poll(&p, 1, (int)((deadline - now) / 1000000u) + 1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EPIPE;
		len += (size_t)n;
		buf[len] = '\0';
		if (strstr(buf, "ready\n"))
			return 0;
		if (len >= sizeof(buf) - 1)
			return -EPROTO;
	}
}

static int up_run(const struct pl_cli_args *a)
{
	struct up_args u;
	int rc = parse_up(a, &u);
	int fds[2], cfd;
	pid_t pid;
	uint64_t t0 = pl_now_ns();
	long log_from;

	if (rc)
		return rc;
	if ((rc = make_dirs(u.dir)) < 0) {
		fprintf(stderr, "patchlab vrack up: cannot create %s: %s\n", u.dir,
			strerror(-rc));
		rc = PL_EXIT_LAB_ERROR;
		goto out;
	}
	if (ctl_connect(u.dir, &cfd) == 0) {
		close(cfd);
		fprintf(stderr, "patchlab vrack up: a rack already runs in %s "
			"(pid %ld); `patchlab vrack down --dir %s` first\n",
			u.dir, (long)read_pid(u.dir), u.dir);
		rc = PL_EXIT_LAB_ERROR;
		goto out;
	}
	log_from = log_size(u.dir);
	if (pipe2(fds, O_CLOEXEC) < 0) {
		perror("patchlab vrack up: pipe");
		rc = PL_EXIT_LAB_ERROR;
		goto out;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		perror("patchlab vrack up: fork");
		close(fds[0]);
		close(fds[1]);
		rc = PL_EXIT_LAB_ERROR;
		goto out;
	}
	if (pid == 0) {
		close(fds[0]);
		exec_serve(&u, fds[1]);
	}
	close(fds[1]);
	rc = wait_ready(fds[0]);
	close(fds[0]);
	if (rc < 0) {
		int status;

		fprintf(stderr, "patchlab vrack up: the rack in %s did not start (%s); "
			"%s/rack.log says:\n", u.dir,
			rc == -ETIMEDOUT ? "timed out" : "it exited", u.dir);
		if (rc == -ETIMEDOUT)
			kill(pid, SIGTERM);
		waitpid(pid, &status, 0);
		print_log_since(u.dir, log_from);
		rc = PL_EXIT_LAB_ERROR;
		goto out;
	}
	printf("vrack: %u board%s up in %s (pid %ld, %.2f s)\n", u.boards,
	       u.boards == 1 ? "" : "s", u.dir, (long)pid,
	       (double)(pl_now_ns() - t0) / 1e9);
	printf("lab: %s/lab.yaml\n", u.dir);
	rc = PL_EXIT_OK;
out:
	free(u.profile_buf);
	return rc;
}

/* ------------------------------------------------------------- serve */

struct serve_ctx {
	uv_loop_t loop;
	struct pl_vrack *rack;
	uv_signal_t sig[3];
	char *pid_path;
	bool stopping;
};

static void serve_stop(struct serve_ctx *s)
{
	if (s->stopping)
		return;
	s->stopping = true;
	pl_vrack_close(s->rack);
	s->rack = NULL;
	for (int i = 0; i < 3; i++)
		uv_close((uv_handle_t *)&s->sig[i], NULL);
}

static void on_down(void *user_data)
{
	serve_stop(user_data);
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct serve_ctx *s = h->data;

	fprintf(stderr, "vrack: signal %d: powering off and cleaning up\n", signum);
	serve_stop(s);
}

static int write_pid(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -errno;
	fprintf(f, "%ld\n", (long)getpid());
	return fclose(f) == 0 ? 0 : -EIO;
}

static int serve_run(const struct pl_cli_args *a)
{
	static const int signums[3] = { SIGTERM, SIGINT, SIGHUP };
	struct serve_ctx s = { 0 };
	struct pl_vrack_config cfg = { 0 };
	struct pl_log log = { .max = PL_LOG_INFO };
	struct up_args u;
	int rc = parse_up(a, &u);

	if (rc)
		return rc;
	signal(SIGPIPE, SIG_IGN);
	uv_loop_init(&s.loop);
	cfg.dir = u.dir;
	cfg.boards = u.boards;
	cfg.profiles = u.nprofiles ? u.profiles : NULL;
	cfg.nprofiles = u.nprofiles;
	cfg.speed = u.speed;
	cfg.seed = u.seed;
	cfg.key_dir = u.key;
	cfg.family = u.family;
	cfg.no_recovery = u.no_recovery;
	cfg.rom_recovery = u.rom_recovery;
	cfg.control_socket = true;
	cfg.log = &log;
	rc = pl_vrack_open(&s.rack, &s.loop, &cfg);
	if (rc < 0) {
		fprintf(stderr, "patchlab vrack serve: the rack in %s failed: %s\n",
			u.dir, strerror(rc < -4096 ? EIO : -rc));
		rc = PL_EXIT_LAB_ERROR;
		goto out_loop;
	}
	s.pid_path = dir_path(u.dir, "rack.pid");
	if (!s.pid_path || write_pid(s.pid_path) < 0)
		fprintf(stderr, "vrack: cannot write %s/rack.pid\n", u.dir);
	pl_vrack_set_down_cb(s.rack, on_down, &s);
	for (int i = 0; i < 3; i++) {
		uv_signal_init(&s.loop, &s.sig[i]);
		s.sig[i].data = &s;
		uv_signal_start(&s.sig[i], on_signal, signums[i]);
	}
	fprintf(stderr, "vrack: %u boards ready in %s (pid %ld)\n", u.boards,
		u.dir, (long)getpid());
	if (u.ready_fd >= 0) {
		if (write(u.ready_fd, "ready\n", 6) != 6)
			fprintf(stderr, "vrack: cannot signal readiness\n");
		close(u.ready_fd);
	}
	uv_run(&s.loop, UV_RUN_DEFAULT);
	if (s.pid_path)
		unlink(s.pid_path);
	fprintf(stderr, "vrack: down\n");
	rc = PL_EXIT_OK;
out_loop:
	if (!s.stopping && s.rack)
		pl_vrack_close(s.rack);
	uv_run(&s.loop, UV_RUN_DEFAULT);
	uv_loop_close(&s.loop);
	free(s.pid_path);
	free(u.profile_buf);
	return rc;
}

/* ------------------------------------------------------- status, down */

static int status_run(const struct pl_cli_args *a)
{
	const char *dir = pl_cli_opt(a, "dir");
	char *reply = NULL;
	int fd, rc;

	if (!dir)
		return pl_cli_usage_error(a->cmd, "--dir DIR is required");
	rc = ctl_connect(dir, &fd);
	if (rc < 0) {
		fprintf(stderr, "patchlab vrack status: no rack running in %s (%s)\n",
			dir, strerror(-rc));
		return PL_EXIT_LAB_ERROR;
	}
	rc = ctl_request(fd, "status\n", &reply);
	close(fd);
	if (rc < 0) {
		fprintf(stderr, "patchlab vrack status: %s: %s\n", dir,
			strerror(-rc));
		return PL_EXIT_LAB_ERROR;
	}
	fputs(reply, stdout);
	free(reply);
	return PL_EXIT_OK;
}

/* A rack that died without cleaning up (SIGKILL, a crash) leaves its
 * socket, pid file, lab.yaml and its pty links (vbN.console, relayN.tty,
 * symlinks only): remove those, nothing else. Call only when no rack runs
 * in dir. Returns how many were removed. */
static int remove_leftovers(const char *dir)
{
	static const char *const fixed[] = { "rack.sock", "rack.pid", "lab.yaml" };
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		char *p = dir_path(dir, fixed[i]);

		if (p && unlink(p) == 0)
			n++;
		free(p);
	}
	while (d && (e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		bool ours = ((strncmp(e->d_name, "vb", 2) == 0 ||
			      strncmp(e->d_name, "gw", 2) == 0) && len > 8 &&
			     strcmp(e->d_name + len - 8, ".console") == 0) ||
			    (strncmp(e->d_name, "gw", 2) == 0 && len > 8 &&
			     strcmp(e->d_name + len - 8, ".factory") == 0) ||
			    (strncmp(e->d_name, "strap", 5) == 0 && len > 4 &&
			     strcmp(e->d_name + len - 4, ".tty") == 0) ||
			    (strncmp(e->d_name, "relay", 5) == 0 && len > 4 &&
			     strcmp(e->d_name + len - 4, ".tty") == 0);
		char *p;
		struct stat st;

		if (!ours || !(p = dir_path(dir, e->d_name)))
			continue;
		/* no rack runs here, so every such link is a leftover (its
		 * /dev/pts/N may already belong to someone else: do not
		 * judge by the target) */
		if (lstat(p, &st) == 0 && S_ISLNK(st.st_mode) && unlink(p) == 0)
			n++;
		free(p);
	}
	if (d)
		closedir(d);
	return n;
}

static int down_run(const struct pl_cli_args *a)
{
	const char *dir = pl_cli_opt(a, "dir");
	char *reply = NULL;
	pid_t pid;
	int fd, rc;

	if (!dir)
		return pl_cli_usage_error(a->cmd, "--dir DIR is required");
	pid = read_pid(dir);
	rc = ctl_connect(dir, &fd);
	if (rc < 0) {
		if (pid > 0 && is_our_rack(pid, dir) && kill(pid, SIGTERM) == 0) {
			/* The socket is gone but the process is not. */
			fprintf(stderr, "vrack down: no control socket; sent SIGTERM "
				"to pid %ld\n", (long)pid);
			if (wait_gone(pid, VRACK_CTL_TIMEOUT_MS) < 0)
				return PL_EXIT_LAB_ERROR;
			remove_leftovers(dir); /* if it died before cleaning */
			return PL_EXIT_OK;
		}
		rc = remove_leftovers(dir);
		printf("vrack: no rack running in %s%s\n", dir,
		       rc > 0 ? " (removed what a dead one left)" : "");
		return PL_EXIT_OK;
	}
	rc = ctl_request(fd, "down\n", &reply);
	close(fd);
	if (rc < 0 || strncmp(reply, "ok", 2) != 0) {
		fprintf(stderr, "patchlab vrack down: %s: %s\n", dir,
			rc < 0 ? strerror(-rc) : reply);
		free(reply);
		return PL_EXIT_LAB_ERROR;
	}
	free(reply);
	if (pid > 0 && wait_gone(pid, VRACK_CTL_TIMEOUT_MS) < 0) {
		fprintf(stderr, "patchlab vrack down: pid %ld still runs\n",
			(long)pid);
		return PL_EXIT_LAB_ERROR;
	}
	printf("vrack: down (%s)\n", dir);
	return PL_EXIT_OK;
}

static int profiles_run(const struct pl_cli_args *a)
{
	const char *names[VRACK_MAX_PROFILES], *defects[VRACK_MAX_PROFILES];
	const char *family = pl_cli_opt(a, "family");
	size_t n;

	if (family && !known_family(family))
		return pl_cli_usage_error(a->cmd, "--family '%s': want %s or %s",
					  family, PL_VRACK_FAMILY_MCU,
					  PL_VRACK_FAMILY_GATEWAY);
	n = pl_vrack_family_profiles(family, names, defects, VRACK_MAX_PROFILES);
	for (size_t i = 0; i < n && i < VRACK_MAX_PROFILES; i++)
		printf("%-16s %s\n", names[i], defects[i]);
	return PL_EXIT_OK;
}

/* ----------------------------------------------------------- factory */

/*
 * Drive a gateway's factory programmer (DIR/ID.factory): "flash PATH" and
 * one answer line, within the timeout. Exit 0 on "ok", 1 when the
 * programmer refused ("error: ..."), 2 when it did not answer or the pty
 * cannot be used. This is what the board type's recovery command runs.
 */
static int factory_run(const struct pl_cli_args *a)
{
	const char *dir = pl_cli_opt(a, "dir"), *board = pl_cli_opt(a, "board");
	const char *image = pl_cli_opt(a, "image"), *v = pl_cli_opt(a, "timeout");
	char name[64], img[PATH_MAX], *path, *cmd = NULL, buf[1024];
	double timeout_s = 20;
	size_t len = 0;
	uint64_t deadline;
	int fd, rc = PL_EXIT_LAB_ERROR;

	if (!dir || !board || !image)
		return pl_cli_usage_error(a->cmd, "--dir, --board and --image are "
					  "required");
	if (v) {
		char *e;

		timeout_s = strtod(v, &e);
		if (e == v || *e || !isfinite(timeout_s) || timeout_s <= 0 ||
		    timeout_s > 3600)
			return pl_cli_usage_error(a->cmd, "--timeout '%s': want "
						  "seconds, up to 3600", v);
	}
	if (strchr(board, '/') || strlen(board) > 32)
		return pl_cli_usage_error(a->cmd, "--board '%s': want an id such "
					  "as gw0", board);
	if (!realpath(image, img)) {
		fprintf(stderr, "patchlab vrack factory: %s: %s\n", image,
			strerror(errno));
		return PL_EXIT_LAB_ERROR;
	}
	snprintf(name, sizeof(name), "%s.factory", board);
	path = dir_path(dir, name);
	if (!path)
		return PL_EXIT_LAB_ERROR;
	fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "patchlab vrack factory: %s: %s (is a gateway rack "
			"running in %s?)\n", path, strerror(errno), dir);
		goto out;
	}
	{
		struct termios t;

		if (tcgetattr(fd, &t) == 0) {
			cfmakeraw(&t);
			tcsetattr(fd, TCSANOW, &t);
		}
		tcflush(fd, TCIFLUSH); /* answers nobody read before us */
	}
	if (asprintf(&cmd, "flash %s\n", img) < 0 ||
	    write(fd, cmd, strlen(cmd)) != (ssize_t)strlen(cmd)) {
		fprintf(stderr, "patchlab vrack factory: %s: cannot write\n", path);
		goto out_close;
	}
	deadline = pl_now_ns() + (uint64_t)(timeout_s * 1e9);
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		uint64_t now = pl_now_ns();
		char *nl;
		ssize_t n;

		if (now >= deadline) {
			fprintf(stderr, "patchlab vrack factory: %s: no answer from "
				"the factory programmer in %g s\n", board, timeout_s);
			goto out_close;
		}
		if (poll(&p, 1, (int)((deadline - now) / 1000000u) + 1) < 0 &&
		    errno != EINTR)
			goto out_close;
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			fprintf(stderr, "patchlab vrack factory: %s: the line "
				"closed\n", board);
			goto out_close;
		}
		len += (size_t)n;
		buf[len] = '\0';
		nl = strchr(buf, '\n');
		if (!nl && len < sizeof(buf) - 1)
			continue;
		if (nl)
			*nl = '\0';
		if (nl && nl > buf && nl[-1] == '\r')
			nl[-1] = '\0';
		if (strncmp(buf, "ok", 2) == 0) {
			printf("%s: %s\n", board, buf);
			rc = PL_EXIT_OK;
		} else {
			fprintf(stderr, "patchlab vrack factory: %s: %s\n", board,
				buf);
			rc = 1;
		}
		break;
	}
out_close:
	close(fd);
out:
	free(cmd);
	free(path);
	return rc;
}

const struct pl_cli_cmd pl_cmd_vrack_factory = {
	.name = "vrack factory",
	.run = factory_run,
	.help = "write a gateway's whole storage through its factory programmer",
	.usage = "",
	.min_args = 0,
	.max_args = 0,
	.phase = PL_CLI_LAB,
	.options = factory_options,
	.details =
		"Sends `flash PATH` to DIR/ID.factory, the board's factory\n"
		"programmer (a USB boot-mode flasher, in the virtual rack), and\n"
		"waits for its answer. The programmer takes it only while the\n"
		"board is powered off (or held in boot mode). Exit 0 on \"ok\",\n"
		"1 when the programmer refused, 2 when it did not answer in\n"
		"--timeout seconds (a rack started with --no-recovery never\n"
		"answers). A gateway board type's recovery command runs this.",
};

const struct pl_cli_cmd pl_cmd_vrack_up = {
	.name = "vrack up",
	.run = up_run,
	.help = "start a virtual rack in the background and write DIR/lab.yaml",
	.usage = "",
	.min_args = 0,
	.max_args = 0,
	.phase = PL_CLI_SERVICE,
	.options = up_options,
	.details =
		"Boards vb0..vbN-1, all powered off: consoles DIR/vbI.console\n"
		"(ptys), relays DIR/relayK.tty (LCUS frames A0 ch state sum;\n"
		"channel c of relay K powers board 8K+c-1), GDB servers on\n"
		"127.0.0.1 (ports in DIR/lab.yaml), flash files DIR/vbI.flash\n"
		"(kept across down/up; a new one holds the factory image 1.0.0).\n"
		"DIR/images/ holds v1.0.0.img, v1.1.0.img and faulty images\n"
		"(corrupt, truncated, wrong-key, downgrade-0.9.0, wrong-board),\n"
		"signed with DIR/keys/ (made on first use) or --key.\n"
		"\n"
		"\n"
		"--family gateway makes embedded-Linux gateways gw0..gwN-1 instead\n"
		"(docs/virtual-gateway.md): no GDB server, a factory programmer\n"
		"pty DIR/gwI.factory each, boot-mode straps on relays\n"
		"DIR/strapK.tty (channel c holds gw(8K+c-1)'s strap), images\n"
		"DIR/images/gw-*.img and\n"
		"gw-factory.bin, and a lab.yaml with the variables VRACK, PATCHLAB,\n"
		"PROFILE and FACTORY; `vrack profiles --family gateway` lists its\n"
		"profiles. --no-recovery: the factory programmers never answer.\n"
		"\n"
		"The rack is this program re-run as `patchlab vrack serve` in its\n"
		"own session; `up` returns once it is ready. Its log is\n"
		"DIR/rack.log, its pid DIR/rack.pid. Exit 2 when it cannot start.",
};

const struct pl_cli_cmd pl_cmd_vrack_serve = {
	.name = "vrack serve",
	.run = serve_run,
	.help = "run a virtual rack in the foreground (what `vrack up` starts)",
	.usage = "",
	.min_args = 0,
	.max_args = 0,
	.phase = PL_CLI_SERVICE,
	.options = serve_options,
	.details = "SIGTERM, SIGINT or `vrack down` powers every board off and "
		   "cleans up.",
};

const struct pl_cli_cmd pl_cmd_vrack_status = {
	.name = "vrack status",
	.run = status_run,
	.help = "show the boards of the virtual rack running in DIR",
	.usage = "",
	.min_args = 0,
	.max_args = 0,
	.phase = PL_CLI_SERVICE,
	.options = dir_options,
};

const struct pl_cli_cmd pl_cmd_vrack_down = {
	.name = "vrack down",
	.run = down_run,
	.help = "power off and stop the virtual rack in DIR (flash files stay)",
	.usage = "",
	.min_args = 0,
	.max_args = 0,
	.phase = PL_CLI_SERVICE,
	.options = dir_options,
};

const struct pl_cli_cmd pl_cmd_vrack_profiles = {
	.name = "vrack profiles",
	.run = profiles_run,
	.help = "list the virtual boards' firmware profiles and their defects",
	.usage = "",
	.min_args = 0,
	.max_args = 0,
	.phase = PL_CLI_OFFLINE,
	.options = profiles_options,
};
