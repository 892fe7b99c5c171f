/* SPDX-License-Identifier: MIT */
/*
 * /pl/results/html: the HTML report rendered by a real browser (headless
 * Chromium): the DOM it builds has the gate, the verdict matrix and exactly
 * one cut-map mark per cut, and the screenshot is a real picture.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "child.h"
#include "pl_test.h"
#include "pl_test_store.h"
#include "patchlab/report.h"
#include "results_fixture.h"

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

/* chromium --headless ... MODE URL; returns its stdout (free()). */
static char *chromium(const char *profile, const char *mode, const char *url)
{
	char *ud, *argv[] = {
		"chromium", "--headless", "--no-sandbox", "--disable-gpu",
		"--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update",
		"--disable-sync", NULL, (char *)mode, "--window-size=1280,2000",
		(char *)url, NULL
	};
	struct child c;
	uv_loop_t loop;
	char *out;

	assert_true(asprintf(&ud, "--user-data-dir=%s", profile) > 0);
	argv[9] = ud;
	uv_loop_init(&loop);
	assert_int_equal(child_start(&loop, &c, argv), 0);
	assert_int_equal(child_wait(&loop, &c, 90000), 0);
	assert_int_equal(c.status, 0);
	pl_test_loop_drain(&loop);
	free(ud);
	out = pl_strbuf_steal(&c.buf);
	pl_strbuf_free(&c.buf);
	return out;
}

static void browser_renders_gate_matrix_and_one_mark_per_cut(void **state)
{
	char *dir = pl_test_tmpdir("html"), *db, *html, *png, *url, *profile,
	     *dom, *shot, *keep = getenv("PL_KEEP_REPORT");
	unsigned char sig[24];
	struct results_fixture fx;
	struct pl_store *st;
	struct stat sb;
	FILE *f;

	(void)state;
	PL_TEST_SKIP_IF(!pl_test_have_program("chromium"),
			"chromium not installed (scripts/install-deps)");
	db = pl_test_store_target(dir, "p.db");
	assert_non_null(db);
	assert_true(asprintf(&html, "%s/report.html", dir) > 0);
	assert_true(asprintf(&png, "%s/report.png", dir) > 0);
	assert_true(asprintf(&profile, "%s/profile", dir) > 0);
	assert_true(asprintf(&url, "file://%s", html) > 0);
	assert_int_equal(pl_store_open(&st, db, NULL), 0);
	assert_int_equal(results_fixture_populate(st, dir, &fx), 0);
	assert_int_equal(pl_report_write(st, fx.suite_id, NULL, PL_REPORT_HTML,
					 html), 0);

	dom = chromium(profile, "--dump-dom", url);
	assert_non_null(strstr(dom, "id=\"gate\""));
	assert_non_null(strstr(dom, "data-gate=\"fail\""));
	assert_non_null(strstr(dom, "id=\"verdict-matrix\""));
	assert_int_equal(count(dom, "<figure class=\"cutmap\""),
			 fx.board_types);
	assert_int_equal(count(dom, "class=\"cut v-"), fx.cuts);
	assert_int_equal(count(dom, "class=\"cut v-bricked\""), 10);
	assert_non_null(strstr(dom, "class=\"brick-band\""));
	/* the suite name arrived as text, not markup */
	assert_non_null(strstr(dom, "nightly &lt;swap&gt; &amp; co"));
	free(dom);

	assert_true(asprintf(&shot, "--screenshot=%s", png) > 0);
	free(chromium(profile, shot, url));
	free(shot);
	assert_int_equal(stat(png, &sb), 0);
	assert_true(sb.st_size > 20000); /* not a blank page */
	f = fopen(png, "rb");
	assert_non_null(f);
	assert_int_equal(fread(sig, 1, sizeof(sig), f), sizeof(sig));
	fclose(f);
	assert_memory_equal(sig, "\x89PNG\r\n\x1a\n", 8);
	/* IHDR: 1280 x 2000 as asked */
	assert_int_equal((sig[16] << 24) | (sig[17] << 16) | (sig[18] << 8) |
			 sig[19], 1280);
	assert_int_equal((sig[20] << 24) | (sig[21] << 16) | (sig[22] << 8) |
			 sig[23], 2000);

	pl_store_close(st);
	if (keep)
		fprintf(stderr, "report kept in %s\n", dir);
	else
		pl_test_rmrf(dir);
	free(dir);
	free(db);
	free(html);
	free(png);
	free(profile);
	free(url);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		browser_renders_gate_matrix_and_one_mark_per_cut),
	};
	pl_test_store_init();
	return cmocka_run_group_tests_name("/pl/results/html", tests, NULL,
					   NULL);
}
