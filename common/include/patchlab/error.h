/* SPDX-License-Identifier: MIT */
/*
 * patchlab error convention (one per API layer, never mixed in one function):
 *
 *   - actions return int: 0 on success, a negative errno (-ETIMEDOUT, -EIO,
 *     -ENODEV, ...) or a negative patchlab code from enum pl_error below;
 *   - predicates return bool;
 *   - constructors are int pl_x_open(struct pl_x **out, ...) with the same codes;
 *   - byte counts travel through size_t *out parameters, never the return value.
 *
 * Programmer errors are assert()s; errors of the world are return codes.
 */
#ifndef PATCHLAB_ERROR_H
#define PATCHLAB_ERROR_H

/*
 * Project-specific codes, all above the errno range. NB: when you add one,
 * add its message to the table in common/src/error.c as well.
 */
enum pl_error {
	PL_EBASE = 4096,
	PL_ECONFIG,     /* bad configuration (file:line:col reported separately) */
	PL_EPROTO,      /* a peer broke its protocol (garbage, bad checksum, ...) */
	PL_EFIXTURE,    /* a fixture (relay, console, probe) failed: lab-error */
	PL_ESCRIPT,     /* a scenario script raised an error */
	PL_EBUDGET,     /* a scenario exceeded its instruction or memory budget */
	PL_EREFUSED,    /* the device refused an operation it was asked to do */
	PL_ENOTBUILT,   /* the driver exists but was not built into this binary */
	PL_ELEASED,     /* the board is leased by another controller */
	PL_ECANCELED,   /* the operation was cancelled (run ended, power cut) */
	PL_EDIFFERS,    /* a probe verify: the target's memory is not the data */
	PL_EMAX
};

/*
 * Message for a return code: accepts either sign of errno values and of the
 * pl_error codes. Never returns NULL; the string is static.
 */
const char *pl_strerror(int code);

#endif
