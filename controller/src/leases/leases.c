/* SPDX-License-Identifier: MIT */
/*
 * Board leases on the loop (contract: patchlab/leases.h). Each board this
 * module takes or waits for is one struct lease with its own timer (the
 * retry while waiting, or the deferred first callback); one shared timer
 * renews every held lease. A lease leaves the list when it ends, and its
 * memory goes when its timer handle has closed, so a callback that releases
 * or closes never pulls memory from under a loop that is walking the list.
 *
 * The hardware lock (pl_leases_set_lab()): <lock dir>/<board>.lock, an
 * flock(LOCK_EX) taken before the store's lease and kept while the lease
 * is held. The kernel drops it when the holder dies, whatever store it
 * used. The file holds the holder's identity (pid, host, command, since
 * when) for whoever finds it taken; it is never unlinked (a waiter may have
 * it open), only emptied at release. O_CLOEXEC: a child (QEMU, an exec
 * power command) never inherits it, so the lock dies with the controller.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "patchlab/error.h"
#include "patchlab/leases.h"
#include "patchlab/text.h"

enum lease_state {
	LEASE_WAITING,  /* held by another; the timer asks again */
	LEASE_HELD,     /* ours in the store */
	LEASE_ENDED,    /* off the list; waiting for its handle to close */
};

struct lease {
	struct pl_leases *l;
	char *board;
	enum lease_state state;
	bool told;             /* the take callback has run */
	pl_leases_take_cb cb;
	void *user_data;
	uint64_t renewed_at;   /* loop ms of the last successful take/renew */
	int lock_fd;           /* the board's lock file, flock'ed; or -1 */
	uv_timer_t timer;
	struct lease *next;
};

struct pl_leases {
	uv_loop_t *loop;
	struct pl_store *st;
	uint64_t ttl_ms;
	unsigned retry_ms;
	struct pl_log log;
	pl_leases_lost_cb lost;
	void *lost_data;
	struct lease *list;
	uv_timer_t renew;
	unsigned handles;      /* open handles: renew + one per lease */
	bool closing;
	char *lock_dir;        /* per-lab lock directory, or NULL: no locks */
	char *identity;        /* what the lock file says about us */
};

/* ------------------------------------------------------- hardware lock */

/* FNV-1a, 64 bits: names a lab's lock directory after its path. */
static uint64_t fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325u;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3u;
	}
	return h;
}

/* mkdir path (0700) unless it exists; it must then be a directory of ours,
 * not a link (a /tmp path someone else could have made first). */
static int own_dir(const char *path)
{
	struct stat st;

	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return -errno;
	if (lstat(path, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid())
		return -EPERM;
	return 0;
}

static char *self_identity(void)
{
	char host[256] = "?", cmd[256] = "", since[32];
	time_t now = time(NULL);
	struct tm tm;
	char *id = NULL;
	FILE *f;
	size_t n = 0;

	gethostname(host, sizeof(host) - 1);
	f = fopen("/proc/self/cmdline", "re");
	if (f) {
		n = fread(cmd, 1, sizeof(cmd) - 1, f);
		fclose(f);
	}
	for (size_t i = 0; i + 1 < n; i++)
		if (cmd[i] == '\0')
			cmd[i] = ' ';
	cmd[n] = '\0';
	if (!gmtime_r(&now, &tm) ||
	    !strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%SZ", &tm))
		strcpy(since, "?");
	if (asprintf(&id, "pid %ld on %s, since %s: %s", (long)getpid(), host,
		     since, cmd[0] ? cmd : "?") < 0)
		return NULL;
	return id;
}

static int lock_path(const struct pl_leases *l, const char *board, char *buf,
		     size_t len)
{
	if ((size_t)snprintf(buf, len, "%s/%s.lock", l->lock_dir, board) >= len)
		return -ENAMETOOLONG;
	return 0;
}

/* What the lock file at fd says about its holder (sanitised), or NULL. */
static char *read_holder(int fd)
{
	char buf[512];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return pl_term_dup(buf);
}

/*
 * Take board's hardware lock: 0 with *fd open and locked (or -1 when locks
 * are off), -PL_ELEASED with *holder (malloc'ed, may be NULL) when another
 * process holds it, or -errno.
 */
static int hw_lock(struct pl_leases *l, const char *board, int *fd,
		   char **holder)
{
	char path[PATH_MAX];
	int err;

	*fd = -1;
	if (holder)
		*holder = NULL;
	if (!l->lock_dir)
		return 0;
	err = lock_path(l, board, path, sizeof(path));
	if (err)
		return err;
	*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (*fd < 0)
		return -errno;
	if (flock(*fd, LOCK_EX | LOCK_NB) < 0) {
		err = errno == EWOULDBLOCK ? -PL_ELEASED : -errno;
		if (holder && err == -PL_ELEASED)
			*holder = read_holder(*fd);
		close(*fd);
		*fd = -1;
		return err;
	}
	/* who holds it, for whoever finds it taken */
	if (ftruncate(*fd, 0) == 0 && l->identity) {
		size_t len = strlen(l->identity);

		if (pwrite(*fd, l->identity, len, 0) != (ssize_t)len ||
		    pwrite(*fd, "\n", 1, (off_t)len) != 1)
			pl_log(&l->log, PL_LOG_WARN, "board %s: lock file %s: "
			       "cannot write the holder", board, path);
	}
	return 0;
}

static void hw_unlock(int *fd)
{
	if (*fd < 0)
		return;
	if (ftruncate(*fd, 0) < 0) {
		/* the next holder rewrites it anyway */
	}
	close(*fd); /* drops the flock */
	*fd = -1;
}

/* Another process's hold on board's lock: 0 with *holder, -ENOENT when
 * nobody (else) holds it, or -errno. */
static int hw_holder(struct pl_leases *l, const char *board, char **holder)
{
	char path[PATH_MAX];
	int fd, err;

	*holder = NULL;
	err = lock_path(l, board, path, sizeof(path));
	if (err)
		return err;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? -ENOENT : -errno;
	if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
		close(fd);
		return -ENOENT;
	}
	err = errno == EWOULDBLOCK ? 0 : -errno;
	if (!err) {
		*holder = read_holder(fd);
		if (!*holder)
			*holder = strdup("another patchlab process");
		if (!*holder)
			err = -ENOMEM;
	}
	close(fd);
	return err;
}

int pl_leases_set_lab(struct pl_leases *l, const char *lab_path)
{
	const char *env = getenv("PATCHLAB_LOCK_DIR");
	char base[PATH_MAX], dir[PATH_MAX], *abs;
	int err;

	abs = realpath(lab_path, NULL);
	if (!abs)
		return -errno;
	if (env && *env) {
		snprintf(base, sizeof(base), "%s", env);
		err = own_dir(base);
	} else {
		snprintf(base, sizeof(base), "/tmp/patchlab-%lu",
			 (unsigned long)geteuid());
		err = own_dir(base);
		if (!err) {
			strncat(base, "/locks", sizeof(base) - strlen(base) - 1);
			err = own_dir(base);
		}
	}
	if (!err && (size_t)snprintf(dir, sizeof(dir), "%s/%016" PRIx64, base,
				     fnv1a(abs)) >= sizeof(dir))
		err = -ENAMETOOLONG;
	if (!err)
		err = own_dir(dir);
	free(abs);
	if (err)
		return err;
	free(l->lock_dir);
	l->lock_dir = strdup(dir);
	if (!l->identity)
		l->identity = self_identity();
	return l->lock_dir && l->identity ? 0 : -ENOMEM;
}

const char *pl_leases_lock_dir(const struct pl_leases *l)
{
	return l->lock_dir;
}

/* ------------------------------------------------------------ helpers */

static void maybe_free(struct pl_leases *l)
{
	if (l->closing && l->handles == 0) {
		free(l->lock_dir);
		free(l->identity);
		free(l);
	}
}

static void on_lease_closed(uv_handle_t *h)
{
	struct lease *ls = h->data;
	struct pl_leases *l = ls->l;

	free(ls->board);
	free(ls);
	l->handles--;
	maybe_free(l);
}

static void on_renew_closed(uv_handle_t *h)
{
	struct pl_leases *l = h->data;

	l->handles--;
	maybe_free(l);
}

static struct lease *find(const struct pl_leases *l, const char *board)
{
	for (struct lease *ls = l->list; ls; ls = ls->next)
		if (strcmp(ls->board, board) == 0)
			return ls;
	return NULL;
}

static bool any_held(const struct pl_leases *l)
{
	for (const struct lease *ls = l->list; ls; ls = ls->next)
		if (ls->state == LEASE_HELD)
			return true;
	return false;
}

static void on_renew(uv_timer_t *t);

/* The renewal timer runs exactly while some lease is held. */
static void renew_update(struct pl_leases *l)
{
	uint64_t every = l->ttl_ms / 3 ? l->ttl_ms / 3 : 1;

	if (l->closing)
		return;
	if (any_held(l)) {
		if (!uv_is_active((uv_handle_t *)&l->renew))
			uv_timer_start(&l->renew, on_renew, every, every);
	} else {
		uv_timer_stop(&l->renew);
	}
}

/* Take a lease off the list and let its handle close (memory goes then). */
static void end_lease(struct lease *ls)
{
	struct pl_leases *l = ls->l;
	struct lease **pp;

	for (pp = &l->list; *pp; pp = &(*pp)->next) {
		if (*pp == ls) {
			*pp = ls->next;
			break;
		}
	}
	ls->state = LEASE_ENDED;
	hw_unlock(&ls->lock_fd);
	uv_timer_stop(&ls->timer);
	uv_close((uv_handle_t *)&ls->timer, on_lease_closed);
	renew_update(l);
}

/* Run the take callback once. */
static void tell(struct lease *ls, int status)
{
	if (ls->told)
		return;
	ls->told = true;
	if (ls->cb)
		ls->cb(ls->l, ls->board, status, ls->user_data);
}

/* ------------------------------------------------------------- timers */

static void on_deliver(uv_timer_t *t)
{
	struct lease *ls = t->data;

	tell(ls, 0);
}

static void on_retry(uv_timer_t *t)
{
	struct lease *ls = t->data;
	struct pl_leases *l = ls->l;
	int err = 0;

	if (ls->lock_fd < 0)
		err = hw_lock(l, ls->board, &ls->lock_fd, NULL);
	if (err == 0)
		err = pl_store_lease_take(l->st, ls->board, NULL, l->ttl_ms,
					  NULL);
	if (err == -PL_ELEASED)
		return;
	if (err) {
		pl_log(&l->log, PL_LOG_ERROR, "board %s: lease: %s", ls->board,
		       pl_strerror(err));
		end_lease(ls);
		tell(ls, err);
		return;
	}
	uv_timer_stop(&ls->timer);
	ls->state = LEASE_HELD;
	ls->renewed_at = uv_now(l->loop);
	pl_log(&l->log, PL_LOG_INFO, "board %s: lease taken after waiting",
	       ls->board);
	renew_update(l);
	tell(ls, 0);
}

static void lose(struct lease *ls, int status)
{
	struct pl_leases *l = ls->l;
	char *holder = NULL;

	if (status == -PL_ELEASED &&
	    pl_leases_holder(l, ls->board, &holder, NULL) != 0)
		holder = NULL;
	pl_log(&l->log, PL_LOG_ERROR, "board %s: lease lost: %s%s%s",
	       ls->board, pl_strerror(status), holder ? ", now held by " : "",
	       holder ? holder : "");
	end_lease(ls);
	/* A take not yet told is told of the loss instead of a success. */
	if (!ls->told) {
		tell(ls, status);
	} else if (l->lost) {
		l->lost(l, ls->board, status, holder, l->lost_data);
	}
	free(holder);
}

static void on_renew(uv_timer_t *t)
{
	struct pl_leases *l = t->data;
	uint64_t now = uv_now(l->loop);
	struct lease *ls, *next;

	/* Callbacks may end leases (memory stays until the handle closes)
	 * or close the module: skip what is no longer held. */
	for (ls = l->list; ls && !l->closing; ls = next) {
		int err;

		next = ls->next;
		if (ls->state != LEASE_HELD)
			continue;
		err = pl_store_lease_renew(l->st, ls->board, NULL, l->ttl_ms);
		if (err == 0) {
			ls->renewed_at = now;
			continue;
		}
		if (err == -PL_ELEASED || err == -ENOENT ||
		    now - ls->renewed_at >= l->ttl_ms) {
			lose(ls, err);
			continue;
		}
		/* A busy or failing store: two more tries before it expires. */
		pl_log(&l->log, PL_LOG_WARN, "board %s: lease renewal: %s",
		       ls->board, pl_strerror(err));
	}
}

/* ---------------------------------------------------------------- API */

int pl_leases_open(struct pl_leases **out, uv_loop_t *loop,
		   struct pl_store *st, uint64_t ttl_ms)
{
	struct pl_leases *l;
	uint64_t retry;

	*out = NULL;
	if (!loop || !st)
		return -EINVAL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->loop = loop;
	l->st = st;
	l->ttl_ms = ttl_ms ? ttl_ms : PL_LEASES_DEFAULT_TTL_MS;
	retry = l->ttl_ms / 10;
	l->retry_ms = (unsigned)(retry < 10 ? 10 : retry > 1000 ? 1000 : retry);
	uv_timer_init(loop, &l->renew);
	l->renew.data = l;
	l->handles = 1;
	*out = l;
	return 0;
}

void pl_leases_set_lost_cb(struct pl_leases *l, pl_leases_lost_cb cb,
			   void *user_data)
{
	l->lost = cb;
	l->lost_data = user_data;
}

void pl_leases_set_log(struct pl_leases *l, const struct pl_log *log)
{
	if (log)
		l->log = *log;
	else
		memset(&l->log, 0, sizeof(l->log));
}

void pl_leases_set_retry_ms(struct pl_leases *l, unsigned ms)
{
	l->retry_ms = ms ? ms : 1;
}

int pl_leases_take(struct pl_leases *l, const char *board_id, bool wait,
		   pl_leases_take_cb cb, void *user_data)
{
	struct lease *ls;
	char *cur = NULL;
	uint64_t until = 0;
	int err, fd = -1;

	if (l->closing || !board_id)
		return l->closing ? -PL_ECANCELED : -EINVAL;
	if (find(l, board_id))
		return -EALREADY;
	/* the hardware first: whatever store the other process uses */
	err = hw_lock(l, board_id, &fd, &cur);
	if (err == 0) {
		err = pl_store_lease_take(l->st, board_id, NULL, l->ttl_ms,
					  &cur);
		if (err == -PL_ELEASED) {
			char *h = NULL;

			if (pl_leases_holder(l, board_id, &h, &until))
				until = 0;
			free(h);
		}
	}
	if (err && (err != -PL_ELEASED || !wait)) {
		hw_unlock(&fd);
		free(cur);
		return err;
	}
	ls = calloc(1, sizeof(*ls));
	if (!ls)
		goto err_release;
	ls->lock_fd = fd;
	ls->board = strdup(board_id);
	if (!ls->board)
		goto err_free_lease;
	ls->l = l;
	ls->cb = cb;
	ls->user_data = user_data;
	uv_timer_init(l->loop, &ls->timer);
	ls->timer.data = ls;
	l->handles++;
	ls->next = l->list;
	l->list = ls;
	if (err == 0) {
		ls->state = LEASE_HELD;
		ls->renewed_at = uv_now(l->loop);
		uv_timer_start(&ls->timer, on_deliver, 0, 0);
		renew_update(l);
	} else {
		ls->state = LEASE_WAITING;
		if (fd < 0 && l->lock_dir)
			pl_log(&l->log, PL_LOG_INFO,
			       "board %s: driven by %s; waiting until it lets go",
			       board_id, cur ? cur : "another patchlab process");
		else
			pl_log(&l->log, PL_LOG_INFO,
			       "board %s: leased by %s; waiting for it (the "
			       "lease runs out in %.0f s unless renewed)",
			       board_id, cur ? cur : "another controller",
			       until > pl_store_now(l->st)
				       ? (double)(until - pl_store_now(l->st)) / 1e9
				       : 0.0);
		uv_timer_start(&ls->timer, on_retry, l->retry_ms, l->retry_ms);
	}
	free(cur);
	return 0;

err_free_lease:
	free(ls);
err_release:
	if (err == 0)
		pl_store_lease_release(l->st, board_id, NULL);
	hw_unlock(&fd);
	free(cur);
	return -ENOMEM;
}

int pl_leases_release(struct pl_leases *l, const char *board_id)
{
	struct lease *ls = find(l, board_id);
	int err = 0;

	if (!ls)
		return -ENOENT;
	if (ls->state == LEASE_HELD)
		err = pl_store_lease_release(l->st, ls->board, NULL);
	if (err)
		pl_log(&l->log, PL_LOG_WARN, "board %s: lease release: %s",
		       ls->board, pl_strerror(err));
	end_lease(ls);
	tell(ls, -PL_ECANCELED);
	return err;
}

bool pl_leases_held(const struct pl_leases *l, const char *board_id)
{
	const struct lease *ls = find(l, board_id);

	return ls && ls->state == LEASE_HELD;
}

int pl_leases_holder(struct pl_leases *l, const char *board_id, char **holder,
		     uint64_t *expires_ns)
{
	struct pl_lease_row *rows;
	uint64_t now = pl_store_now(l->st);
	const struct lease *ls = find(l, board_id);
	size_t n;
	int err;

	*holder = NULL;
	if (expires_ns)
		*expires_ns = 0;
	/* another process on the hardware lock: held until it lets go */
	if (l->lock_dir && !(ls && ls->lock_fd >= 0)) {
		err = hw_holder(l, board_id, holder);
		if (err != -ENOENT)
			return err;
	}
	err = pl_store_list_leases(l->st, &rows, &n);
	if (err)
		return err;
	err = -ENOENT;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(rows[i].board_id, board_id) != 0 ||
		    rows[i].expires_ns <= now)
			continue;
		*holder = strdup(rows[i].holder);
		err = *holder ? 0 : -ENOMEM;
		if (expires_ns)
			*expires_ns = rows[i].expires_ns;
		break;
	}
	pl_store_leases_free(rows, n);
	return err;
}

void pl_leases_close(struct pl_leases *l)
{
	if (!l || l->closing)
		return;
	/* Set first: a callback run from here may call close again. */
	l->closing = true;
	while (l->list)
		pl_leases_release(l, l->list->board);
	uv_timer_stop(&l->renew);
	uv_close((uv_handle_t *)&l->renew, on_renew_closed);
}
