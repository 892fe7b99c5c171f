/* SPDX-License-Identifier: MIT */
/*
 * The CLI frame. A subcommand is a declarative row: its name (one or two
 * words: "run", "vrack up"), handler, one-line help, usage, positional
 * argument counts, phase and options. The frame parses options, checks the
 * counts and prints usage (exit 64) before any handler runs; `-h`/`--help`
 * works on every command. One file per command under controller/cli/, and
 * one line per command in controller/cli/commands.c.
 */
#ifndef PATCHLAB_CLI_H
#define PATCHLAB_CLI_H

#include <stdbool.h>
#include <stddef.h>

/* What a command touches; shown in `patchlab help` and used to decide
 * whether a command takes board leases. */
enum pl_cli_phase {
	PL_CLI_OFFLINE, /* files only: check, image, results, report */
	PL_CLI_LAB,     /* drives fixtures: run, power, console, flash */
	PL_CLI_SERVICE, /* starts or stops a long-lived process: vrack */
};

struct pl_cli_opt {
	const char *name;  /* long name without dashes: "lab" */
	char short_name;   /* 'l', or 0 */
	const char *arg;   /* "LAB" when it takes a value, NULL for a flag */
	const char *help;
	bool repeat;       /* may be given more than once (--image A=x --image B=y) */
};

struct pl_cli_args {
	int argc;          /* positional arguments after the options */
	char **argv;
	/* parsed options, in command-line order */
	size_t nopts;
	struct {
		const struct pl_cli_opt *opt;
		const char *value; /* "1" for a flag */
	} *opts;
	const struct pl_cli_cmd *cmd;
	/* the whole command line, shell-quoted (for the records) */
	const char *cmdline;
};

struct pl_cli_cmd {
	const char *name;
	int (*run)(const struct pl_cli_args *a);
	const char *help;   /* one line */
	const char *usage;  /* positional part, e.g. "SUITE" or "[FILE...]" */
	int min_args;
	int max_args;       /* -1: no limit */
	enum pl_cli_phase phase;
	const struct pl_cli_opt *options; /* { NULL }-terminated, or NULL */
	const char *details;             /* longer text for `help CMD`, or NULL */
};

/* The table (controller/cli/commands.c), NULL-terminated. */
extern const struct pl_cli_cmd *const pl_cli_commands[];

/* The value of option `name` (the last one given), or NULL. */
const char *pl_cli_opt(const struct pl_cli_args *a, const char *name);
/* The i-th value of a repeatable option, or NULL. */
const char *pl_cli_opt_at(const struct pl_cli_args *a, const char *name,
			  size_t i);
bool pl_cli_flag(const struct pl_cli_args *a, const char *name);

/* Print "usage: patchlab NAME [options] USAGE" and the options to f. */
void pl_cli_print_usage(const struct pl_cli_cmd *cmd, void *file);

/* Load a lab or a suite, printing what is wrong with it (FILE:LINE:COL):
 * 0, or the exit code to end with (65 bad configuration, 2 otherwise). */
struct pl_config_opts;
struct pl_lab;
struct pl_suite;
int pl_cli_load_lab(const char *path, const struct pl_config_opts *o,
		    struct pl_lab **lab);
int pl_cli_load_suite(const char *path, const struct pl_config_opts *o,
		      struct pl_suite **s);

/* Report a usage error for cmd on stderr and return PL_EXIT_USAGE. */
int pl_cli_usage_error(const struct pl_cli_cmd *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Dispatch argv (argv[0] is the program) and return the exit code. */
int pl_cli_main(int argc, char **argv);

#endif
