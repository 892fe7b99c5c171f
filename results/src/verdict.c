/* SPDX-License-Identifier: MIT */
/* Verdict, cut-phase and event-kind names: written to the store and to every
 * report file, so a name never changes once released. */
#include <errno.h>
#include <string.h>

#include "patchlab/store.h"
#include "patchlab/verdict.h"

/* Indexed by enum pl_verdict. */
static const char *const verdict_names[PL_VERDICT_COUNT] = {
	[PL_VERDICT_PASS] = "pass",
	[PL_VERDICT_ROLLED_BACK] = "rolled-back",
	[PL_VERDICT_BRICKED] = "bricked",
	[PL_VERDICT_RECOVERED] = "recovered",
	[PL_VERDICT_FAIL] = "fail",
	[PL_VERDICT_LAB_ERROR] = "lab-error",
	[PL_VERDICT_NOT_RUN] = "not-run",
};

static const char *const phase_names[] = {
	[PL_CUT_NONE] = "none",
	[PL_CUT_BEFORE] = "before",
	[PL_CUT_DURING] = "during",
	[PL_CUT_AFTER] = "after",
};

static const char *const event_names[PL_EV_COUNT] = {
	[PL_EV_POWER] = "power",
	[PL_EV_TRIGGER] = "trigger",
	[PL_EV_CONSOLE_MATCH] = "console-match",
	[PL_EV_PROBE] = "probe",
	[PL_EV_TRANSFER] = "transfer",
	[PL_EV_VERDICT] = "verdict",
	[PL_EV_LOG] = "log",
};

static int lookup(const char *const *names, int n, const char *s)
{
	if (!s)
		return -EINVAL;
	for (int i = 0; i < n; i++)
		if (strcmp(names[i], s) == 0)
			return i;
	return -EINVAL;
}

const char *pl_verdict_name(enum pl_verdict v)
{
	if ((unsigned)v >= PL_VERDICT_COUNT)
		return "?";
	return verdict_names[v];
}

int pl_verdict_parse(const char *s, enum pl_verdict *out)
{
	int i = lookup(verdict_names, PL_VERDICT_COUNT, s);

	if (i < 0)
		return i;
	*out = (enum pl_verdict)i;
	return 0;
}

bool pl_verdict_is_brick(enum pl_verdict v)
{
	return v == PL_VERDICT_BRICKED || v == PL_VERDICT_RECOVERED;
}

bool pl_verdict_is_failure(enum pl_verdict v)
{
	return pl_verdict_is_brick(v) || v == PL_VERDICT_FAIL;
}

const char *pl_cut_phase_name(enum pl_cut_phase p)
{
	if ((unsigned)p > PL_CUT_AFTER)
		return "?";
	return phase_names[p];
}

int pl_cut_phase_parse(const char *s, enum pl_cut_phase *out)
{
	int i = lookup(phase_names, PL_CUT_AFTER + 1, s);

	if (i < 0)
		return i;
	*out = (enum pl_cut_phase)i;
	return 0;
}

const char *pl_event_kind_name(enum pl_event_kind k)
{
	if ((unsigned)k >= PL_EV_COUNT)
		return "?";
	return event_names[k];
}

int pl_event_kind_parse(const char *s, enum pl_event_kind *out)
{
	int i = lookup(event_names, PL_EV_COUNT, s);

	if (i < 0)
		return i;
	*out = (enum pl_event_kind)i;
	return 0;
}
