/* SPDX-License-Identifier: MIT */
/*
 * /pl/cli: the command table is the list under test, so a command added
 * tomorrow is driven by this test without anyone editing it. Every command
 * runs as a real process ($PATCHLAB).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pl_test.h"
#include "cli.h"
#include "patchlab/exit.h"

/* Split a command name ("vrack up") into argv words after the program. */
static int build_argv(char **argv, int max, const struct pl_cli_cmd *cmd,
		      char *namebuf, size_t bufsz)
{
	int n = 0;
	char *save = NULL;

	snprintf(namebuf, bufsz, "%s", cmd->name);
	argv[n++] = (char *)pl_test_patchlab();
	for (char *w = strtok_r(namebuf, " ", &save); w && n < max - 1;
	     w = strtok_r(NULL, " ", &save))
		argv[n++] = w;
	return n;
}

static void each_command_prints_help_and_exits_0(void **state)
{
	(void)state;
	for (size_t i = 0; pl_cli_commands[i]; i++) {
		const struct pl_cli_cmd *cmd = pl_cli_commands[i];
		char name[128], *argv[16], *out = NULL, expect[160];
		int n = build_argv(argv, 16, cmd, name, sizeof(name));
		int rc;

		argv[n++] = "--help";
		argv[n] = NULL;
		rc = pl_test_run_capture(argv, &out, NULL);
		snprintf(expect, sizeof(expect), "usage: patchlab %s", cmd->name);
		if (rc != 0 || strncmp(out, expect, strlen(expect)) != 0)
			fail_msg("'%s --help': exit %d, output:\n%s", cmd->name, rc,
				 out);
		assert_non_null(strstr(out, cmd->help));
		free(out);
	}
}

static void each_command_rejects_missing_arguments_with_64(void **state)
{
	int checked = 0;

	(void)state;
	for (size_t i = 0; pl_cli_commands[i]; i++) {
		const struct pl_cli_cmd *cmd = pl_cli_commands[i];
		char name[128], *argv[16], *err = NULL;
		int n, rc;

		if (cmd->min_args == 0)
			continue;
		n = build_argv(argv, 16, cmd, name, sizeof(name));
		argv[n] = NULL;
		rc = pl_test_run_capture(argv, NULL, &err);
		if (rc != PL_EXIT_USAGE || !strstr(err, "missing argument") ||
		    !strstr(err, "usage: patchlab"))
			fail_msg("'%s' without arguments: exit %d, stderr:\n%s",
				 cmd->name, rc, err);
		free(err);
		checked++;
	}
	print_message("%d commands take required arguments\n", checked);
}

static void each_command_rejects_extra_arguments_with_64(void **state)
{
	(void)state;
	for (size_t i = 0; pl_cli_commands[i]; i++) {
		const struct pl_cli_cmd *cmd = pl_cli_commands[i];
		char name[128], *argv[48], *err = NULL;
		int n, rc;

		if (cmd->max_args < 0 || cmd->max_args > 30)
			continue;
		n = build_argv(argv, 48, cmd, name, sizeof(name));
		for (int k = 0; k <= cmd->max_args; k++)
			argv[n++] = "extra-arg";
		argv[n] = NULL;
		rc = pl_test_run_capture(argv, NULL, &err);
		if (rc != PL_EXIT_USAGE || !strstr(err, "too many arguments"))
			fail_msg("'%s' with %d arguments: exit %d, stderr:\n%s",
				 cmd->name, cmd->max_args + 1, rc, err);
		free(err);
	}
}

static void each_command_rejects_an_unknown_option_with_64(void **state)
{
	(void)state;
	for (size_t i = 0; pl_cli_commands[i]; i++) {
		const struct pl_cli_cmd *cmd = pl_cli_commands[i];
		char name[128], *argv[16], *err = NULL;
		int n = build_argv(argv, 16, cmd, name, sizeof(name));
		int rc;

		argv[n++] = "--no-such-option";
		argv[n] = NULL;
		rc = pl_test_run_capture(argv, NULL, &err);
		if (rc != PL_EXIT_USAGE ||
		    !strstr(err, "unknown option '--no-such-option'"))
			fail_msg("'%s --no-such-option': exit %d, stderr:\n%s",
				 cmd->name, rc, err);
		free(err);
	}
}

struct global_case {
	const char *args[4];
	int rc;
	const char *needle;  /* in stdout for rc 0, stderr otherwise */
};

static void global_forms_answer_as_documented(void **state)
{
	static const struct global_case cases[] = {
		{ { NULL }, PL_EXIT_USAGE, "usage: patchlab COMMAND" },
		{ { "--help", NULL }, 0, "exit codes:" },
		{ { "-h", NULL }, 0, "usage: patchlab COMMAND" },
		{ { "help", NULL }, 0, "commands:" },
		{ { "help", "drivers", NULL }, 0, "usage: patchlab drivers" },
		{ { "help", "no-such", NULL }, PL_EXIT_USAGE, "no command 'no-such'" },
		{ { "--version", NULL }, 0, "patchlab " PL_VERSION },
		{ { "--version", "x", NULL }, PL_EXIT_USAGE, "too many arguments" },
		{ { "no-such", NULL }, PL_EXIT_USAGE, "unknown command 'no-such'" },
		{ { "drivers", "--no-such", NULL }, PL_EXIT_USAGE, "unknown option" },
		{ { "drivers", "pumps", NULL }, PL_EXIT_USAGE, "no fixture class 'pumps'" },
		{ { "serve", "--listen", "nowhere", NULL }, PL_EXIT_USAGE,
		  "--listen takes HOST:PORT" },
		{ { "serve", "--listen", "::1:80", NULL }, PL_EXIT_USAGE,
		  "--listen takes HOST:PORT" },
		{ { "serve", "--token-file", "/nonexistent/token", NULL },
		  PL_EXIT_CONFIG, "token file /nonexistent/token" },
		{ { "serve", "--lab", "/nonexistent/lab.yaml", NULL },
		  PL_EXIT_CONFIG, "lab.yaml" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *argv[6], *out = NULL, *err = NULL;
		int n = 0, rc;

		argv[n++] = (char *)pl_test_patchlab();
		for (int k = 0; cases[i].args[k]; k++)
			argv[n++] = (char *)cases[i].args[k];
		argv[n] = NULL;
		rc = pl_test_run_capture(argv, &out, &err);
		if (rc != cases[i].rc ||
		    !strstr(cases[i].rc == 0 ? out : err, cases[i].needle))
			fail_msg("case %zu (%s): exit %d (want %d), stdout:\n%s\nstderr:\n%s",
				 i, cases[i].args[0] ? cases[i].args[0] : "(none)",
				 rc, cases[i].rc, out, err);
		free(out);
		free(err);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(each_command_prints_help_and_exits_0),
		cmocka_unit_test(each_command_rejects_missing_arguments_with_64),
		cmocka_unit_test(each_command_rejects_extra_arguments_with_64),
		cmocka_unit_test(each_command_rejects_an_unknown_option_with_64),
		cmocka_unit_test(global_forms_answer_as_documented),
	};

	return cmocka_run_group_tests_name("/pl/cli", tests, NULL, NULL);
}
