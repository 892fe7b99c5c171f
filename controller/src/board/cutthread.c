/* SPDX-License-Identifier: MIT */
/*
 * The cut thread. See cutthread.h.
 *
 * The thread only sleeps, spins at most PL_CUT_LEAD_NS before an instant
 * and makes one system call (a few bytes written, a signal sent): that is
 * why a real-time class is safe for it. The cuts wait in a list sorted by
 * instant, under one mutex; the cut being fired is `firing`, and a withdraw
 * of it waits on `done` until the thread has let go of it. The mutex
 * inherits priority: the loop thread, an ordinary one, holds it for a list
 * insertion and must not keep the real-time thread waiting when it is
 * preempted there.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#include "patchlab/clock.h"
#include "patchlab/error.h"
#include "cutthread.h"

static struct {
	pthread_mutex_t mu;
	pthread_cond_t wake;   /* a new earliest cut (CLOCK_MONOTONIC) */
	pthread_cond_t done;   /* the cut being fired was let go */
	bool started;
	bool realtime;
	struct pl_cut *head;   /* sorted by at_ns */
	struct pl_cut *firing;
} g = { .done = PTHREAD_COND_INITIALIZER };

static pthread_once_t once = PTHREAD_ONCE_INIT;

static void make_mutex(void)
{
	pthread_mutexattr_t ma;

	pthread_mutexattr_init(&ma);
	pthread_mutexattr_setprotocol(&ma, PTHREAD_PRIO_INHERIT);
	pthread_mutex_init(&g.mu, &ma);
	pthread_mutexattr_destroy(&ma);
}

/* A child forked without exec has no cut thread: its first cut starts
 * one (the parent's cuts are not its own). */
static void in_child(void)
{
	make_mutex();
	pthread_cond_init(&g.done, NULL);
	g.started = false;
	g.realtime = false;
	g.head = NULL;
	g.firing = NULL;
}

static void init_mutex(void)
{
	make_mutex();
	pthread_atfork(NULL, NULL, in_child);
}

static void *cut_main(void *arg)
{
	(void)arg;
	/* no slack: the kernel's default for ordinary threads is 50 µs */
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	pthread_mutex_lock(&g.mu);
	for (;;) {
		struct pl_cut *c = g.head;
		uint64_t wake;

		if (!c) {
			pthread_cond_wait(&g.wake, &g.mu);
			continue;
		}
		wake = c->at_ns > PL_CUT_LEAD_NS ? c->at_ns - PL_CUT_LEAD_NS : 0;
		if (pl_now_ns() < wake) {
			struct timespec ts = {
				.tv_sec = (time_t)(wake / 1000000000u),
				.tv_nsec = (long)(wake % 1000000000u),
			};

			/* woken at the deadline, or by an earlier cut, or by a
			 * withdraw of this one: look again */
			pthread_cond_timedwait(&g.wake, &g.mu, &ts);
			continue;
		}
		g.head = c->next;
		c->next = NULL;
		c->queued = false;
		g.firing = c;
		pthread_mutex_unlock(&g.mu);
		/* never before the instant */
		while (pl_now_ns() < c->at_ns)
			;
		pl_power_shot_fire(c->shot);
		uv_async_send(c->async);
		pthread_mutex_lock(&g.mu);
		g.firing = NULL;
		pthread_cond_broadcast(&g.done);
	}
	return NULL;
}

/* Start the thread (under g.mu): SCHED_FIFO if permitted. 0 or -errno. */
static int start(const struct pl_log *log)
{
	struct sched_param sp = { .sched_priority = PL_CUT_RT_PRIO };
	pthread_condattr_t ca;
	pthread_attr_t attr;
	sigset_t all, old;
	pthread_t th;
	int err;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	err = pthread_cond_init(&g.wake, &ca);
	pthread_condattr_destroy(&ca);
	if (err)
		return -err;
	/* signals stay with the loop thread (libuv's SIGCHLD, SIGINT) */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setinheritsched(&attr, PTHREAD_EXPLICIT_SCHED);
	pthread_attr_setschedpolicy(&attr, SCHED_FIFO);
	pthread_attr_setschedparam(&attr, &sp);
	err = pthread_create(&th, &attr, cut_main, NULL);
	g.realtime = err == 0;
	if (err == EPERM) {
		/* not permitted: an ordinary thread, never a failure */
		pthread_attr_setinheritsched(&attr, PTHREAD_INHERIT_SCHED);
		err = pthread_create(&th, &attr, cut_main, NULL);
		if (!err)
			pl_log(log, PL_LOG_INFO, "cut thread: no real-time class "
			       "(not permitted): delayed cuts wait for the "
			       "scheduler like the loop");
	} else if (!err) {
		pl_log(log, PL_LOG_DEBUG, "cut thread: SCHED_FIFO priority %d",
		       PL_CUT_RT_PRIO);
	}
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		pthread_cond_destroy(&g.wake);
		pl_log(log, PL_LOG_ERROR, "cut thread: cannot start: %s",
		       strerror(err));
		return -err;
	}
	g.started = true;
	return 0;
}

int pl_cut_submit(struct pl_cut *c, const struct pl_log *log)
{
	struct pl_cut **pp;
	int err = 0;

	pthread_once(&once, init_mutex);
	pthread_mutex_lock(&g.mu);
	if (!g.started)
		err = start(log);
	if (!err && !c->queued && g.firing != c) {
		for (pp = &g.head; *pp && (*pp)->at_ns <= c->at_ns;
		     pp = &(*pp)->next)
			;
		c->next = *pp;
		*pp = c;
		c->queued = true;
		if (pp == &g.head)
			pthread_cond_signal(&g.wake);
	}
	pthread_mutex_unlock(&g.mu);
	return err;
}

void pl_cut_withdraw(struct pl_cut *c)
{
	struct pl_cut **pp;

	pthread_once(&once, init_mutex);
	pthread_mutex_lock(&g.mu);
	if (c->queued) {
		for (pp = &g.head; *pp; pp = &(*pp)->next) {
			if (*pp == c) {
				*pp = c->next;
				break;
			}
		}
		c->next = NULL;
		c->queued = false;
	}
	while (g.firing == c)
		pthread_cond_wait(&g.done, &g.mu);
	pthread_mutex_unlock(&g.mu);
}

bool pl_cut_thread_realtime(void)
{
	bool rt;

	pthread_once(&once, init_mutex);
	pthread_mutex_lock(&g.mu);
	rt = g.started && g.realtime;
	pthread_mutex_unlock(&g.mu);
	return rt;
}
