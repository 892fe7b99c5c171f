/* SPDX-License-Identifier: MIT */
/* Exit codes of the patchlab command (documented in the README). */
#ifndef PATCHLAB_EXIT_H
#define PATCHLAB_EXIT_H

enum pl_exit {
	PL_EXIT_OK = 0,          /* gate passed / command succeeded */
	PL_EXIT_GATE_FAILED = 1, /* device failures: bricked, recovered, fail */
	PL_EXIT_LAB_ERROR = 2,   /* incomplete: the lab failed (fixture,
				  * controller) or runs did not run */
	PL_EXIT_USAGE = 64,      /* EX_USAGE: bad command line */
	PL_EXIT_CONFIG = 65,     /* EX_DATAERR: bad configuration or script */
};

#endif
