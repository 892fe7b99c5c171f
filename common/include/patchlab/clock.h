/* SPDX-License-Identifier: MIT */
/* Time as patchlab measures it: CLOCK_MONOTONIC nanoseconds for every event
 * timestamp (console bytes, trigger firings, power commands), and wall-clock
 * time only for what a person reads (run start dates). */
#ifndef PATCHLAB_CLOCK_H
#define PATCHLAB_CLOCK_H

#include <stdint.h>

/* Monotonic time in nanoseconds since an arbitrary origin. */
uint64_t pl_now_ns(void);

/* Wall-clock time in nanoseconds since the Unix epoch. */
uint64_t pl_wall_ns(void);

#endif
