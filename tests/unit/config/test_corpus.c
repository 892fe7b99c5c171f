/* SPDX-License-Identifier: MIT */
/*
 * /pl/config/corpus: every file of tests/data/bad-config/ is one mistake,
 * and says on its first lines which errors it must produce:
 *
 *   # expect: 7:5 unknown key 'chanel' in power (did you mean 'channel'?)
 *   -- expect: 3 unexpected symbol near '*'          (Lua: no column)
 *
 * A message ending in "..." is matched as a prefix (for the part that names
 * a machine's absolute paths or the list of drivers built in). Each file is
 * checked in-process (exact FILE:LINE:COL, message, and no other error) and
 * through `patchlab check` (exit 65, the same lines on stderr). Support
 * files the broken ones reference live in bad-config/support/.
 *
 * Also fuzz-readiness: every prefix of a good file, and seeded byte
 * mutations, load without a crash and end in success or diagnostics.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pl_test.h"
#include "patchlab/config.h"
#include "patchlab/error.h"
#include "patchlab/exit.h"
#include "test_config.h"

extern char **environ;

#define MAX_FILES 256
#define MAX_EXPECT 8

struct expect {
	unsigned line, col;
	char msg[400];
	bool prefix;
};

struct corpus_file {
	char *path;
	struct expect e[MAX_EXPECT];
	size_t n;
};

struct corpus {
	struct corpus_file f[MAX_FILES];
	size_t n;
};

/* ${PL_TEST_*} are undefined on purpose; board types come from the tree. */
static const char *corpus_env(void *ud, const char *name)
{
	(void)ud;
	if (strncmp(name, "PL_TEST_", 8) == 0 || strcmp(name, "PL_BOARDS_PATH") == 0)
		return NULL;
	return getenv(name);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void parse_expectations(struct corpus_file *cf)
{
	size_t len;
	char *text = slurp(cf->path, &len), *line, *save = NULL;

	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		struct expect *e = &cf->e[cf->n];
		const char *p;
		char *end;
		size_t mlen;

		if (strncmp(line, "# expect: ", 10) == 0)
			p = line + 10;
		else if (strncmp(line, "-- expect: ", 11) == 0)
			p = line + 11;
		else
			break;
		assert_true(cf->n < MAX_EXPECT);
		e->line = (unsigned)strtoul(p, &end, 10);
		e->col = 0;
		if (*end == ':')
			e->col = (unsigned)strtoul(end + 1, &end, 10);
		assert_true(*end == ' ');
		mlen = strlen(end + 1);
		assert_true(mlen < sizeof(e->msg));
		memcpy(e->msg, end + 1, mlen + 1);
		if (mlen > 3 && strcmp(e->msg + mlen - 3, "...") == 0) {
			e->prefix = true;
			e->msg[mlen - 3] = '\0';
		}
		cf->n++;
	}
	free(text);
	if (cf->n == 0)
		fail_msg("%s: no '# expect: LINE:COL message' first line", cf->path);
}

static int cmp_files(const void *a, const void *b)
{
	return strcmp(((const struct corpus_file *)a)->path,
		      ((const struct corpus_file *)b)->path);
}

static void collect(struct corpus *c, const char *dir)
{
	static const char *const subdirs[] = { "labs", "boards", "suites", "scripts" };

	for (size_t s = 0; s < sizeof(subdirs) / sizeof(subdirs[0]); s++) {
		struct dirent *de;
		char *sub;
		DIR *d;

		assert_true(asprintf(&sub, "%s/%s", dir, subdirs[s]) > 0);
		d = opendir(sub);
		assert_non_null(d);
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			assert_true(c->n < MAX_FILES);
			assert_true(asprintf(&c->f[c->n].path, "%s/%s", sub,
					     de->d_name) > 0);
			parse_expectations(&c->f[c->n]);
			c->n++;
		}
		closedir(d);
		free(sub);
	}
	qsort(c->f, c->n, sizeof(c->f[0]), cmp_files);
}

static void corpus_free(struct corpus *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->f[i].path);
	free(c);
}

static struct corpus *load_corpus(void)
{
	char *dir = pl_test_source_path("tests/data/bad-config");
	struct corpus *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	collect(c, dir);
	free(dir);
	return c;
}

static bool msg_matches(const struct expect *e, const char *msg)
{
	if (e->prefix)
		return strncmp(msg, e->msg, strlen(e->msg)) == 0;
	return strcmp(msg, e->msg) == 0;
}

static void print_diags(const char *path, const struct pl_diags *d)
{
	fprintf(stderr, "  %s produced:\n", path);
	pl_diags_print(d, stderr);
}

static void every_bad_config_gives_its_expected_errors(void **state)
{
	struct pl_config_opts o = { .getenv = corpus_env };
	struct corpus *c = load_corpus();
	size_t bad = 0;

	(void)state;
	/* The acceptance bar: at least 40 different mistakes. */
	assert_true(c->n >= 40);
	for (size_t i = 0; i < c->n; i++) {
		struct corpus_file *cf = &c->f[i];
		struct pl_diags *d;
		bool ok;
		int rc;

		assert_int_equal(pl_diags_new(&d), 0);
		rc = pl_config_check_file(cf->path, PL_CONFIG_AUTO, &o, d, NULL);
		ok = rc == -PL_ECONFIG && pl_diags_count(d) == cf->n;
		for (size_t j = 0; ok && j < cf->n; j++) {
			const struct pl_diag *g = pl_diags_at(d, j);
			const struct expect *e = &cf->e[j];

			ok = g->file && strcmp(g->file, cf->path) == 0 &&
			     g->line == e->line && g->col == e->col &&
			     msg_matches(e, g->msg);
			if (!ok)
				fprintf(stderr, "  expected %u:%u %s%s\n", e->line,
					e->col, e->msg, e->prefix ? "..." : "");
		}
		if (!ok) {
			print_diags(cf->path, d);
			bad++;
		}
		pl_diags_free(d);
	}
	corpus_free(c);
	assert_int_equal(bad, 0);
}

/* Run `patchlab ARGS...`, its stderr into errfile; returns the exit
 * status (or -1). The child is always reaped. */
static int run_patchlab(char **argv, const char *errfile)
{
	const char *pl = pl_test_patchlab();
	posix_spawn_file_actions_t fa;
	int status, rc;
	pid_t pid;

	assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, errfile,
					 O_WRONLY | O_CREAT | O_TRUNC, 0600);
	argv[0] = (char *)pl;
	rc = posix_spawn(&pid, pl, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0) {
		fprintf(stderr, "  cannot run %s: %s\n", pl, strerror(rc));
		return -1;
	}
	while (waitpid(pid, &status, 0) < 0)
		assert_int_equal(errno, EINTR);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void patchlab_check_exits_65_and_lists_the_errors(void **state)
{
	struct corpus *c = load_corpus();
	char *dir = pl_test_tmpdir("check"), *errfile;
	size_t bad = 0;

	(void)state;
	PL_TEST_SKIP_IF(access(pl_test_patchlab(), X_OK) != 0,
			"no patchlab binary at $PATCHLAB");
	assert_true(asprintf(&errfile, "%s/stderr", dir) > 0);
	for (size_t i = 0; i < c->n; i++) {
		struct corpus_file *cf = &c->f[i];
		char *argv[] = { NULL, "check", cf->path, NULL };
		int code = run_patchlab(argv, errfile);
		size_t len;
		char *out = slurp(errfile, &len);
		bool ok = code == PL_EXIT_CONFIG;

		for (size_t j = 0; ok && j < cf->n; j++) {
			char *want;

			if (cf->e[j].col)
				assert_true(asprintf(&want, "%s:%u:%u: error: %s", cf->path,
						     cf->e[j].line, cf->e[j].col,
						     cf->e[j].msg) > 0);
			else
				assert_true(asprintf(&want, "%s:%u: error: %s", cf->path,
						     cf->e[j].line, cf->e[j].msg) > 0);
			ok = strstr(out, want) != NULL;
			if (!ok)
				fprintf(stderr, "  missing: %s\n", want);
			free(want);
		}
		if (!ok) {
			fprintf(stderr, "  patchlab check %s: exit %d\n%s", cf->path,
				code, out);
			bad++;
		}
		free(out);
	}
	free(errfile);
	pl_test_rmrf(dir);
	free(dir);
	corpus_free(c);
	assert_int_equal(bad, 0);
}

static void patchlab_check_accepts_the_good_configs(void **state)
{
	char *dir = pl_test_tmpdir("check"), *errfile, *out;
	char *lab = pl_test_source_path("tests/data/good-config/lab.yaml");
	char *suite = pl_test_source_path("tests/data/good-config/suites/full.yaml");
	char *board = pl_test_source_path("boards/virtual-mcu.yaml");
	char *example = pl_test_source_path("examples/labs/example.yaml");
	char *lua = pl_test_source_path("tests/data/good-config/cut.lua");
	char *images = pl_test_source_path("tests/data/good-config/images");
	char *gooddir = pl_test_source_path("tests/data/good-config");
	char *argv[] = { NULL, "check", "--lab", lab, suite, board, example, lua,
			 NULL };
	size_t len;
	int code;

	(void)state;
	PL_TEST_SKIP_IF(access(pl_test_patchlab(), X_OK) != 0,
			"no patchlab binary at $PATCHLAB");
	assert_true(asprintf(&errfile, "%s/stderr", dir) > 0);
	assert_int_equal(setenv("PL_TEST_RACK", "/tmp/rack", 1), 0);
	assert_int_equal(setenv("PL_TEST_IMAGES", images, 1), 0);
	code = run_patchlab(argv, errfile);
	out = slurp(errfile, &len);
	if (code != PL_EXIT_OK)
		fprintf(stderr, "%s", out);
	assert_int_equal(code, PL_EXIT_OK);
	assert_int_equal(len, 0);
	free(out);
	/* a directory stands for every .yaml and .lua file under it */
	argv[2] = gooddir;
	argv[3] = NULL;
	code = run_patchlab(argv, errfile);
	out = slurp(errfile, &len);
	if (code != PL_EXIT_OK)
		fprintf(stderr, "%s", out);
	assert_int_equal(code, PL_EXIT_OK);
	free(out);
	argv[2] = "--lab";
	argv[3] = lab;
	/* without the variable the suite's image path is an error */
	unsetenv("PL_TEST_IMAGES");
	code = run_patchlab(argv, errfile);
	out = slurp(errfile, &len);
	assert_int_equal(code, PL_EXIT_CONFIG);
	assert_non_null(strstr(out, "full.yaml:6:16: error: undefined environment variable 'PL_TEST_IMAGES'"));
	free(out);
	unsetenv("PL_TEST_RACK");
	free(errfile);
	pl_test_rmrf(dir);
	free(dir);
	free(gooddir);
	free(images);
	free(lua);
	free(example);
	free(board);
	free(suite);
	free(lab);
}

/* ------------------------------------------------------------- fuzzing */

static const char *good_env(void *ud, const char *name)
{
	if (strcmp(name, "PL_TEST_RACK") == 0)
		return "/tmp/rack";
	if (strcmp(name, "PL_TEST_IMAGES") == 0)
		return ud;
	if (strcmp(name, "PL_BOARDS_PATH") == 0)
		return NULL;
	return getenv(name);
}

static const char *const good_files[] = {
	"tests/data/good-config/lab.yaml",
	"tests/data/good-config/suites/full.yaml",
	"boards/virtual-mcu.yaml",
	"tests/data/good-config/cut.lua",
};

static void every_prefix_of_a_good_file_loads_or_fails_cleanly(void **state)
{
	char *images = pl_test_source_path("tests/data/good-config/images");
	struct pl_config_opts o = { .getenv = good_env, .env_user_data = images };
	size_t failed_prefixes = 0;

	(void)state;
	for (size_t f = 0; f < sizeof(good_files) / sizeof(good_files[0]); f++) {
		char *path = pl_test_source_path(good_files[f]);
		size_t len;
		char *text = slurp(path, &len);

		for (size_t n = 0; n <= len; n++) {
			/* an exact-size copy so ASan sees any read past the end */
			char *buf = malloc(n ? n : 1);
			struct pl_diags *d;
			int rc;

			assert_non_null(buf);
			memcpy(buf, text, n);
			assert_int_equal(pl_diags_new(&d), 0);
			rc = pl_config_check_buffer(path, buf, n, PL_CONFIG_AUTO, &o,
						    d, NULL);
			if (rc != 0 && rc != -PL_ECONFIG)
				fail_msg("%s: prefix %zu: %s", path, n, pl_strerror(rc));
			/* a failure always says why, a success never has errors */
			assert_int_equal(rc == 0, pl_diags_count(d) == 0);
			if (n == len && rc != 0)
				print_diags(path, d);
			if (n == len)
				assert_int_equal(rc, 0);
			failed_prefixes += rc != 0;
			pl_diags_free(d);
			free(buf);
		}
		free(text);
		free(path);
	}
	/* most prefixes of a file are broken: prove the check saw them */
	assert_true(failed_prefixes > 100);
	free(images);
}

static void mutated_bytes_never_crash_the_loader(void **state)
{
	char *images = pl_test_source_path("tests/data/good-config/images");
	struct pl_config_opts o = { .getenv = good_env, .env_user_data = images };
	static const char alphabet[] = "{}[]:,-#&*!|>'\"%@`\t\n ${}\\\x01\xff";
	uint64_t x = 0x9e3779b97f4a7c15ull; /* fixed seed: reproducible */

	(void)state;
	for (size_t f = 0; f < 3; f++) {
		char *path = pl_test_source_path(good_files[f]);
		size_t len;
		char *text = slurp(path, &len);

		for (int iter = 0; iter < 400; iter++) {
			char *buf = malloc(len);
			struct pl_diags *d;
			int rc;

			assert_non_null(buf);
			memcpy(buf, text, len);
			for (int k = 0; k < 1 + iter % 4; k++) {
				x ^= x << 13;
				x ^= x >> 7;
				x ^= x << 17;
				buf[x % len] = alphabet[(x >> 32) % (sizeof(alphabet) - 1)];
			}
			assert_int_equal(pl_diags_new(&d), 0);
			rc = pl_config_check_buffer(path, buf, len, PL_CONFIG_AUTO, &o,
						    d, NULL);
			if (rc != 0 && rc != -PL_ECONFIG)
				fail_msg("%s: mutation %d: %s", path, iter, pl_strerror(rc));
			assert_int_equal(rc == 0, pl_diags_count(d) == 0);
			pl_diags_free(d);
			free(buf);
		}
		free(text);
		free(path);
	}
	free(images);
}

const struct CMUnitTest pl_config_corpus_tests[] = {
	cmocka_unit_test(every_bad_config_gives_its_expected_errors),
	cmocka_unit_test(patchlab_check_exits_65_and_lists_the_errors),
	cmocka_unit_test(patchlab_check_accepts_the_good_configs),
	cmocka_unit_test(every_prefix_of_a_good_file_loads_or_fails_cleanly),
	cmocka_unit_test(mutated_bytes_never_crash_the_loader),
};
const size_t pl_config_corpus_ntests =
	sizeof(pl_config_corpus_tests) / sizeof(pl_config_corpus_tests[0]);
