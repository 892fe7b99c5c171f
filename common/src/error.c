/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "patchlab/error.h"

/* Indexed by code - PL_EBASE - 1; keep in the order of enum pl_error. */
static const char *const pl_messages[] = {
	[PL_ECONFIG - PL_EBASE - 1] = "bad configuration",
	[PL_EPROTO - PL_EBASE - 1] = "protocol error from peer",
	[PL_EFIXTURE - PL_EBASE - 1] = "fixture failure",
	[PL_ESCRIPT - PL_EBASE - 1] = "scenario script error",
	[PL_EBUDGET - PL_EBASE - 1] = "scenario budget exceeded",
	[PL_EREFUSED - PL_EBASE - 1] = "refused by the device",
	[PL_ENOTBUILT - PL_EBASE - 1] = "driver not built into this patchlab",
	[PL_ELEASED - PL_EBASE - 1] = "board is leased by another controller",
	[PL_ECANCELED - PL_EBASE - 1] = "operation cancelled",
	[PL_EDIFFERS - PL_EBASE - 1] = "memory differs from the data",
};

_Static_assert(sizeof(pl_messages) / sizeof(pl_messages[0]) ==
		       PL_EMAX - PL_EBASE - 1,
	       "pl_messages[] must have one entry per enum pl_error code");

const char *pl_strerror(int code)
{
	if (code < 0)
		code = -code;
	if (code == 0)
		return "success";
	if (code > PL_EBASE && code < PL_EMAX)
		return pl_messages[code - PL_EBASE - 1];
	return strerror(code);
}
