/* SPDX-License-Identifier: MIT */
/*
 * The CLI frame: dispatch, option parsing, arity checks and help (the
 * helpers handlers call are in args.c).
 * Handlers only run with arguments that fit their row in the table.
 */
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "patchlab/exit.h"
#include "patchlab/strbuf.h"

static const struct pl_cli_opt *find_long(const struct pl_cli_cmd *cmd,
					  const char *name, size_t len)
{
	for (const struct pl_cli_opt *o = cmd->options; o && o->name; o++)
		if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
			return o;
	return NULL;
}

static const struct pl_cli_opt *find_short(const struct pl_cli_cmd *cmd,
					   char c)
{
	for (const struct pl_cli_opt *o = cmd->options; o && o->name; o++)
		if (o->short_name && o->short_name == c)
			return o;
	return NULL;
}

static int seen(const struct pl_cli_args *a, const struct pl_cli_opt *o)
{
	for (size_t k = 0; k < a->nopts; k++)
		if (a->opts[k].opt == o)
			return 1;
	return 0;
}

/*
 * Parse argv (the words after the command name) into a. Options may come
 * anywhere among the positional arguments (GNU style); "--" ends options.
 * Returns 0, 1 when help was asked for, or PL_EXIT_USAGE after a message.
 */
static int parse(const struct pl_cli_cmd *cmd, int argc, char **argv,
		 struct pl_cli_args *a)
{
	bool only_pos = false;

	a->cmd = cmd;
	a->argv = calloc((size_t)argc + 1, sizeof(char *));
	a->opts = calloc((size_t)argc + 1, sizeof(*a->opts));
	if (!a->argv || !a->opts) {
		fprintf(stderr, "patchlab: out of memory\n");
		return PL_EXIT_USAGE;
	}
	for (int i = 0; i < argc; i++) {
		char *w = argv[i];
		const struct pl_cli_opt *o = NULL;
		const char *value = NULL;

		if (only_pos || w[0] != '-' || w[1] == '\0') {
			a->argv[a->argc++] = w;
			continue;
		}
		if (strcmp(w, "--") == 0) {
			only_pos = true;
			continue;
		}
		if (strcmp(w, "-h") == 0 || strcmp(w, "--help") == 0)
			return 1;
		if (w[1] == '-') {
			const char *eq = strchr(w + 2, '=');
			size_t len = eq ? (size_t)(eq - (w + 2)) : strlen(w + 2);

			o = find_long(cmd, w + 2, len);
			if (!o)
				return pl_cli_usage_error(cmd, "unknown option '%s'", w);
			if (eq) {
				if (!o->arg)
					return pl_cli_usage_error(cmd,
						"option '--%s' takes no value", o->name);
				value = eq + 1;
			}
		} else {
			o = find_short(cmd, w[1]);
			if (!o)
				return pl_cli_usage_error(cmd, "unknown option '%s'", w);
			if (w[2] != '\0') {
				if (!o->arg)
					return pl_cli_usage_error(cmd,
						"option '-%c' takes no value", w[1]);
				value = w + 2;
			}
		}
		if (o->arg && !value) {
			if (i + 1 >= argc)
				return pl_cli_usage_error(cmd,
					"option '--%s' needs a value (%s)", o->name, o->arg);
			value = argv[++i];
		}
		if (!o->arg)
			value = "1";
		if (!o->repeat && seen(a, o))
			return pl_cli_usage_error(cmd, "option '--%s' given twice",
						  o->name);
		a->opts[a->nopts].opt = o;
		a->opts[a->nopts].value = value;
		a->nopts++;
	}
	if (a->argc < cmd->min_args)
		return pl_cli_usage_error(cmd, "missing argument%s",
					  cmd->min_args - a->argc > 1 ? "s" : "");
	if (cmd->max_args >= 0 && a->argc > cmd->max_args)
		return pl_cli_usage_error(cmd, "too many arguments ('%s')",
					  a->argv[cmd->max_args]);
	return 0;
}

/* How many words of argv[] the command name takes, or 0 if it does not match. */
static int name_match(const struct pl_cli_cmd *cmd, int argc, char **argv)
{
	const char *n = cmd->name;
	int words = 0;

	while (*n) {
		const char *sp = strchr(n, ' ');
		size_t len = sp ? (size_t)(sp - n) : strlen(n);

		if (words >= argc || strlen(argv[words]) != len ||
		    strncmp(argv[words], n, len) != 0)
			return 0;
		words++;
		n += len;
		if (*n == ' ')
			n++;
	}
	return words;
}

static const struct pl_cli_cmd *lookup(int argc, char **argv, int *words)
{
	const struct pl_cli_cmd *best = NULL;
	int best_words = 0;

	for (size_t i = 0; pl_cli_commands[i]; i++) {
		int w = name_match(pl_cli_commands[i], argc, argv);

		if (w > best_words) {
			best = pl_cli_commands[i];
			best_words = w;
		}
	}
	*words = best_words;
	return best;
}

static const char *const phase_names[] = {
	[PL_CLI_OFFLINE] = "files",
	[PL_CLI_LAB] = "lab",
	[PL_CLI_SERVICE] = "service",
};

/* List the commands whose name starts with prefix (all when NULL). */
static int list_commands(FILE *f, const char *prefix)
{
	size_t plen = prefix ? strlen(prefix) : 0;
	int n = 0;

	for (size_t i = 0; pl_cli_commands[i]; i++) {
		const struct pl_cli_cmd *c = pl_cli_commands[i];

		if (prefix && (strncmp(c->name, prefix, plen) != 0 ||
			       (c->name[plen] != ' ' && c->name[plen] != '\0')))
			continue;
		fprintf(f, "  %-18s %-8s %s\n", c->name, phase_names[c->phase],
			c->help);
		n++;
	}
	return n;
}

static void print_overview(FILE *f)
{
	fprintf(f,
		"usage: patchlab COMMAND [options] [ARGS]\n"
		"\n"
		"patchlab drives racks of devices through power relays, consoles and\n"
		"debug probes, cuts the power at chosen points of a firmware update and\n"
		"reports, board by board and cut by cut, whether every device still boots.\n"
		"\n"
		"commands:                  (phase: files = configuration only, lab = drives\n"
		"                            fixtures, service = long-lived process)\n");
	list_commands(f, NULL);
	fprintf(f,
		"\n"
		"  patchlab help COMMAND     help on one command\n"
		"  patchlab --version        print the version\n"
		"\n"
		"exit codes: 0 gate passed, 1 gate failed (device failures), 2 lab error,\n"
		"            64 usage, 65 bad configuration\n");
}

static int run_command(const struct pl_cli_cmd *cmd, int argc, char **argv,
		       const char *cmdline)
{
	struct pl_cli_args a = { .cmdline = cmdline };
	int rc = parse(cmd, argc, argv, &a);

	if (rc == 1) {
		pl_cli_print_usage(cmd, stdout);
		rc = PL_EXIT_OK;
	} else if (rc == 0) {
		rc = cmd->run(&a);
	}
	free(a.argv);
	free(a.opts);
	return rc;
}

static int help(int argc, char **argv)
{
	const struct pl_cli_cmd *cmd;
	int words;

	if (argc == 0) {
		print_overview(stdout);
		return PL_EXIT_OK;
	}
	cmd = lookup(argc, argv, &words);
	if (cmd && words == argc) {
		pl_cli_print_usage(cmd, stdout);
		return PL_EXIT_OK;
	}
	if (argc == 1 && list_commands(stdout, argv[0]) > 0)
		return PL_EXIT_OK;
	fprintf(stderr, "patchlab help: no command '%s'\n", argv[0]);
	return PL_EXIT_USAGE;
}

int pl_cli_main(int argc, char **argv)
{
	const struct pl_cli_cmd *cmd;
	int words;

	/* A console or relay socket whose peer is gone (a QEMU board killed
	 * for its power cut, a ser2net port closed) must give EPIPE to the
	 * writer, a lab fault it can report, not kill the controller with
	 * the suite's report half written. */
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2) {
		print_overview(stderr);
		return PL_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return help(0, NULL);
	if (strcmp(argv[1], "help") == 0)
		return help(argc - 2, argv + 2);
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
		if (argc > 2) {
			fprintf(stderr, "patchlab version: too many arguments\n");
			return PL_EXIT_USAGE;
		}
		printf("patchlab %s\n", PL_VERSION);
		return PL_EXIT_OK;
	}

	cmd = lookup(argc - 1, argv + 1, &words);
	if (!cmd) {
		/* A group name alone ("patchlab vrack") lists its commands. */
		if (argv[1][0] != '-' && list_commands(stderr, argv[1]) > 0) {
			fprintf(stderr, "patchlab %s: which one? (see above)\n", argv[1]);
			return PL_EXIT_USAGE;
		}
		fprintf(stderr, "patchlab: unknown command '%s' (patchlab --help lists them)\n",
			argv[1]);
		return PL_EXIT_USAGE;
	}
	{
		struct pl_strbuf line = { 0 };
		int rc;

		pl_strbuf_puts(&line, "patchlab");
		for (int i = 1; i < argc; i++) {
			pl_strbuf_putc(&line, ' ');
			pl_strbuf_shell_word(&line, argv[i]);
		}
		rc = run_command(cmd, argc - 1 - words, argv + 1 + words,
				 line.s);
		pl_strbuf_free(&line);
		return rc;
	}
}
