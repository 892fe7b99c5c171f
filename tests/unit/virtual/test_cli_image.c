/* SPDX-License-Identifier: MIT */
/*
 * /pl/cli/image: `patchlab image keygen|pack|mutate|verify` as a user runs
 * them: usage errors exit 64, a bad input file is named, and the images
 * made and broken by the CLI verify (or not) for the right reason.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pl_test.h"
#include "vtest.h"

struct cli {
	char *dir;
	const char *exe;
	char out[8192];
	char err[8192];
};

static int setup(void **state)
{
	struct cli *c = calloc(1, sizeof(*c));

	c->exe = pl_test_patchlab();
	c->dir = pl_test_tmpdir("cli-image");
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct cli *c = *state;

	pl_test_rmrf(c->dir);
	free(c->dir);
	free(c);
	return 0;
}

static void slurp(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "r");
	size_t n = 0;

	if (f) {
		n = fread(buf, 1, cap - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
}

/* Paths in the test directory come from a ring of 4 buffers: copy one
 * that must outlive four more calls. */

/* Run patchlab with args (NULL-terminated); returns its exit code. */
static int run(struct cli *c, ...)
{
	char *argv[32], opath[4096], epath[4096];
	va_list ap;
	int n = 0, status;
	pid_t pid;

	argv[n++] = (char *)c->exe;
	va_start(ap, c);
	while (n < 31 && (argv[n] = va_arg(ap, char *)) != NULL)
		n++;
	va_end(ap);
	argv[n] = NULL;
	snprintf(opath, sizeof(opath), "%s/stdout", c->dir);
	snprintf(epath, sizeof(epath), "%s/stderr", c->dir);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int o = open(opath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int e = open(epath, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		dup2(o, 1);
		dup2(e, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	slurp(opath, c->out, sizeof(c->out));
	slurp(epath, c->err, sizeof(c->err));
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static char *at(struct cli *c, const char *name)
{
	static char buf[4][4096];
	static int k;

	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", c->dir, name);
	return buf[k];
}

static void skip_without_patchlab(struct cli *c)
{
	PL_TEST_SKIP_IF(!c->exe || access(c->exe, X_OK) != 0,
			"patchlab executable not built ($PATCHLAB)");
}

static void image_commands_show_usage_on_help(void **state)
{
	struct cli *c = *state;

	skip_without_patchlab(c);
	assert_int_equal(run(c, "image", "pack", "-h", NULL), 0);
	assert_non_null(strstr(c->out, "usage: patchlab image pack"));
	assert_non_null(strstr(c->out, "--board COMPAT"));
	assert_int_equal(run(c, "image", "mutate", "--help", NULL), 0);
	assert_non_null(strstr(c->out, "--corrupt N"));
	assert_int_equal(run(c, "image", "keygen", "-h", NULL), 0);
	assert_non_null(strstr(c->out, "usage: patchlab image keygen"));
}

static void image_usage_errors_exit_64(void **state)
{
	struct cli *c = *state;

	skip_without_patchlab(c);
	assert_int_equal(run(c, "image", "keygen", NULL), 64);
	assert_non_null(strstr(c->err, "--out is required"));
	assert_int_equal(run(c, "image", "keygen", "--out", at(c, "k"), "extra",
			     NULL), 64);
	assert_non_null(strstr(c->err, "too many arguments"));
	assert_int_equal(run(c, "image", "pack", "--version", "1.0.0", NULL), 64);
	assert_int_equal(run(c, "image", "pack", "--version", "1.0", "--board",
			     "b", "--key", "k", "--in", "i", "--out", "o", NULL),
			 64);
	assert_non_null(strstr(c->err, "'1.0' is not"));
	assert_int_equal(run(c, "image", "mutate", "--in", "a", "--out", "b",
			     NULL), 64);
	assert_int_equal(run(c, "image", "mutate", "--in", "a", "--out", "b",
			     "--corrupt", "1", "--truncate", "5", NULL), 64);
	assert_int_equal(run(c, "image", "mutate", "--in", "a", "--out", "b",
			     "--corrupt", "zero", NULL), 64);
	assert_int_equal(run(c, "image", "pack", "--bogus", NULL), 64);
	assert_int_equal(run(c, "image", "verify", "--key", "k", NULL), 64);
}

static void image_bad_input_files_are_named(void **state)
{
	struct cli *c = *state;
	char keys[4096];

	skip_without_patchlab(c);
	snprintf(keys, sizeof(keys), "%s", at(c, "keys"));
	assert_int_equal(run(c, "image", "keygen", "--out", keys, NULL), 0);
	/* a missing payload */
	assert_int_equal(run(c, "image", "pack", "--version", "1.0.0", "--board",
			     "virtual-mcu", "--key", at(c, "keys/private.pem"),
			     "--in", at(c, "nope.bin"), "--out", at(c, "o.img"),
			     NULL), 65);
	assert_non_null(strstr(c->err, at(c, "nope.bin")));
	/* a key that is not a key */
	vt_write_file(at(c, "junk.pem"), "junk\n", 5);
	vt_write_file(at(c, "payload.bin"), "hello", 5);
	assert_int_equal(run(c, "image", "pack", "--version", "1.0.0", "--board",
			     "virtual-mcu", "--key", at(c, "junk.pem"), "--in",
			     at(c, "payload.bin"), "--out", at(c, "o.img"), NULL),
			 65);
	assert_non_null(strstr(c->err, at(c, "junk.pem")));
	/* signing with the public key */
	assert_int_equal(run(c, "image", "pack", "--version", "1.0.0", "--board",
			     "virtual-mcu", "--key", at(c, "keys/public.pem"),
			     "--in", at(c, "payload.bin"), "--out", at(c, "o.img"),
			     NULL), 65);
	assert_non_null(strstr(c->err, "public key"));
	/* mutating something that is not an image */
	assert_int_equal(run(c, "image", "mutate", "--in", at(c, "payload.bin"),
			     "--out", at(c, "m.img"), "--corrupt", "3", NULL), 65);
	assert_non_null(strstr(c->err, at(c, "payload.bin")));
	assert_non_null(strstr(c->err, "not a patchlab image"));
	/* keygen does not overwrite a key pair */
	assert_int_equal(run(c, "image", "keygen", "--out", keys, NULL), 65);
	assert_non_null(strstr(c->err, "exists"));
}

static void image_pack_and_mutations_verify_for_the_right_reason(void **state)
{
	struct cli *c = *state;
	char payload[3000];

	skip_without_patchlab(c);
	memset(payload, 'p', sizeof(payload));
	vt_write_file(at(c, "fw.bin"), payload, sizeof(payload));
	assert_int_equal(run(c, "image", "keygen", "--out", at(c, "k1"), NULL), 0);
	assert_int_equal(run(c, "image", "keygen", "--out", at(c, "k2"), NULL), 0);
	assert_int_equal(run(c, "image", "pack", "--version", "1.1.0", "--board",
			     "virtual-mcu", "--key", at(c, "k1/private.pem"),
			     "--in", at(c, "fw.bin"), "--out", at(c, "fw.img"),
			     NULL), 0);
	assert_int_equal(run(c, "image", "verify", "--key",
			     at(c, "k1/public.pem"), "--board", "virtual-mcu",
			     at(c, "fw.img"), NULL), 0);
	assert_non_null(strstr(c->out, "ok version 1.1.0 board virtual-mcu"));

	assert_int_equal(run(c, "image", "mutate", "--in", at(c, "fw.img"),
			     "--out", at(c, "c.img"), "--corrupt", "4", "--seed",
			     "9", NULL), 0);
	assert_int_equal(run(c, "image", "verify", "--key",
			     at(c, "k1/public.pem"), at(c, "c.img"), NULL), 1);
	assert_non_null(strstr(c->out, "refused: bad hash"));

	assert_int_equal(run(c, "image", "mutate", "--in", at(c, "fw.img"),
			     "--out", at(c, "t.img"), "--truncate", "1000", NULL), 0);
	assert_int_equal(run(c, "image", "verify", "--key",
			     at(c, "k1/public.pem"), at(c, "t.img"), NULL), 1);
	assert_non_null(strstr(c->out, "refused: truncated"));

	assert_int_equal(run(c, "image", "mutate", "--in", at(c, "fw.img"),
			     "--out", at(c, "r.img"), "--resign",
			     at(c, "k2/private.pem"), NULL), 0);
	assert_int_equal(run(c, "image", "verify", "--key",
			     at(c, "k1/public.pem"), at(c, "r.img"), NULL), 1);
	assert_non_null(strstr(c->out, "refused: bad signature"));

	assert_int_equal(run(c, "image", "mutate", "--in", at(c, "fw.img"),
			     "--out", at(c, "v.img"), "--version", "0.9.0", NULL), 0);
	assert_int_equal(run(c, "image", "verify", "--key",
			     at(c, "k1/public.pem"), at(c, "v.img"), NULL), 1);
	assert_non_null(strstr(c->out, "refused: bad signature"));

	assert_int_equal(run(c, "image", "mutate", "--in", at(c, "fw.img"),
			     "--out", at(c, "d.img"), "--version", "0.9.0",
			     "--resign", at(c, "k1/private.pem"), NULL), 0);
	assert_int_equal(run(c, "image", "verify", "--key",
			     at(c, "k1/public.pem"), "--min-version", "1.0.0",
			     at(c, "d.img"), NULL), 1);
	assert_non_null(strstr(c->out, "refused: downgrade"));

	assert_int_equal(run(c, "image", "verify", "--key",
			     at(c, "k1/public.pem"), "--board", "other-mcu",
			     at(c, "fw.img"), NULL), 1);
	assert_non_null(strstr(c->out, "refused: wrong board"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(image_commands_show_usage_on_help, setup, teardown),
		cmocka_unit_test_setup_teardown(image_usage_errors_exit_64, setup, teardown),
		cmocka_unit_test_setup_teardown(image_bad_input_files_are_named, setup, teardown),
		cmocka_unit_test_setup_teardown(image_pack_and_mutations_verify_for_the_right_reason, setup, teardown),
	};

	return cmocka_run_group_tests_name("/pl/cli/image", tests, NULL, NULL);
}
