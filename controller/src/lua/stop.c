/* SPDX-License-Identifier: MIT */
/*
 * Stopping runaway scripts on a signal (contracts in patchlab/luahost.h).
 *
 * A script in an endless loop never returns to the event loop, so a
 * controller that learns of SIGTERM through libuv (a uv_signal_t) would
 * only hear of it after the script ends. The count hook cannot wait for
 * that: it reads a counter that a signal handler bumps. Each host notes
 * the counter when it opens; a request made after that kills the run
 * executing at its next hook (at most PL_LUA_HOOK_STEP VM instructions
 * later), and every later run of the host at its first one.
 *
 * This is the one place with mutable file-scope state: a signal handler
 * has no user data, so the counter and the handler it chains to can live
 * nowhere else. Both are only written by pl_lua_request_stop() (async-
 * signal-safe) and pl_lua_stop_on_signal() (on the loop thread).
 */
#include <errno.h>
#include <signal.h>
#include <stddef.h>

#include "luahost_internal.h"

static volatile sig_atomic_t stop_requests;
static volatile sig_atomic_t stop_signum;
/* The handler each signal had before pl_lua_stop_on_signal() (libuv's). */
static struct sigaction prev_action[NSIG];

void pl_lua_request_stop(int signum)
{
	stop_signum = signum;
	/* wraps to 1, never to the value a host noted long ago by chance */
	stop_requests = stop_requests < SIG_ATOMIC_MAX ? stop_requests + 1 : 1;
}

static void on_stop_signal(int signum, siginfo_t *info, void *uctx)
{
	const struct sigaction *prev;

	pl_lua_request_stop(signum);
	if (signum <= 0 || signum >= NSIG)
		return;
	prev = &prev_action[signum];
	if (prev->sa_flags & SA_SIGINFO) {
		if (prev->sa_sigaction)
			prev->sa_sigaction(signum, info, uctx);
	} else if (prev->sa_handler == SIG_DFL) {
		/* nobody handles it: do what the default would (terminate) */
		sigaction(signum, prev, NULL);
		raise(signum);
	} else if (prev->sa_handler != SIG_IGN) {
		prev->sa_handler(signum);
	}
}

int pl_lua_stop_on_signal(int signum)
{
	struct sigaction cur, sa;

	if (signum <= 0 || signum >= NSIG)
		return -EINVAL;
	if (sigaction(signum, NULL, &cur))
		return -errno;
	if ((cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == on_stop_signal)
		return 0; /* already chained: never chain to ourselves */
	prev_action[signum] = cur;
	sa = cur;
	sa.sa_flags |= SA_SIGINFO;
	sa.sa_sigaction = on_stop_signal;
	if (sigaction(signum, &sa, NULL))
		return -errno;
	return 0;
}

unsigned long pl_lua__stop_mark(void)
{
	return (unsigned long)stop_requests;
}

bool pl_lua__stop_requested(const struct pl_lua_host *h, int *signum)
{
	if ((unsigned long)stop_requests == h->stop_mark)
		return false;
	*signum = stop_signum;
	return true;
}

const char *pl_lua__signame(int signum)
{
	switch (signum) {
	case SIGTERM:
		return "SIGTERM";
	case SIGINT:
		return "SIGINT";
	case SIGHUP:
		return "SIGHUP";
	case SIGQUIT:
		return "SIGQUIT";
	default:
		return "stop requested";
	}
}
