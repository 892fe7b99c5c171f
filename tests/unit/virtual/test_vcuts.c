/* SPDX-License-Identifier: MIT */
/*
 * /pl/virtual/cuts: "cut at every step" (STYLE.md R15) on the simulator.
 *
 * A sweep learns N (flash ops of a clean update), then for every op k of
 * the update and every phase (before, during at several phi, after) builds
 * the same fresh board, cuts there, powers on and judges:
 *   survived  the board runs a valid image, the old or the new one;
 *   anything else (nothing boots, a corrupt or unexpected image runs) is a
 *   brick or a misbehaviour.
 * `good` must survive every point; every defective build must fail at
 * least one point that `good` survives.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pl_test.h"
#include "patchlab/error.h"
#include "vtest.h"

#define OLD "1.0.0"
#define NEW "1.1.0"

struct point {
	uint32_t i;               /* op of the update: 1..N */
	enum pl_vsim_phase phase;
	double phi;
};

static const double phis[] = { 0.03, 0.2, 0.5, 0.97 };

/* Remove a board's files. */
static void drop(struct pl_vsim *sim, char *path)
{
	char side[4096];

	pl_vsim_close(sim);
	snprintf(side, sizeof(side), "%s.ops", path);
	remove(path);
	remove(side);
	free(path);
}

/* A fresh board with OLD in A, running; *base = its op count. With
 * second, NEW is then installed into B, booted and confirmed, so the next
 * update goes into A over trailer records that are live. */
static struct pl_vsim *fresh2(struct vt *t, const char *profile, char **path,
			      uint32_t *base, bool second);

static struct pl_vsim *fresh(struct vt *t, const char *profile, char **path,
			     uint32_t *base)
{
	return fresh2(t, profile, path, base, false);
}

static struct pl_vsim *fresh2(struct vt *t, const char *profile, char **path,
			      uint32_t *base, bool second)
{
	struct pl_vsim *sim = vt_board(t, profile, 1234, path);
	struct pl_vsim_boot b;
	size_t len;
	uint8_t *img = vt_image(t, OLD, 20000, 0, &len);

	assert_int_equal(pl_vsim_provision(sim, img, len), 0);
	free(img);
	assert_int_equal(pl_vsim_power_on(sim, &b), 0);
	assert_true(b.booted);
	if (second) {
		img = vt_image(t, NEW, 9000, 0, &len);
		assert_int_equal(pl_vsim_install(sim, img, len), 0);
		free(img);
		assert_int_equal(pl_vsim_power_on(sim, &b), 0);
		assert_int_equal(b.slot, 1);
		assert_int_equal(pl_vsim_command(sim, "confirm"), 0);
	}
	*base = pl_vflash_op_count(pl_vsim_flash(sim));
	return sim;
}

static uint32_t clean_ops(struct vt *t, const char *profile,
			  const uint8_t *img, size_t len)
{
	uint32_t base, n;
	char *path;
	struct pl_vsim *sim = fresh(t, profile, &path, &base);

	assert_int_equal(pl_vsim_install(sim, img, len), 0);
	n = pl_vflash_op_count(pl_vsim_flash(sim)) - base;
	drop(sim, path);
	return n;
}

/* The versions a board may run after a cut: before and after the update. */
struct expect {
	const char *before;
	const char *after;
};
static const struct expect first_update = { OLD, NEW };

static bool survived_as(const struct pl_vsim_boot *b, const struct expect *e)
{
	return b->booted && b->image_valid &&
	       (!strcmp(b->version, e->before) || !strcmp(b->version, e->after));
}

static bool survived(const struct pl_vsim_boot *b)
{
	return survived_as(b, &first_update);
}

/* Cut the update of img at p, power on; *b gets the outcome. When
 * follow_up, also check the board still takes an update and converges. */
static void run_point(struct vt *t, const char *profile, const uint8_t *img,
		      size_t len, const struct point *p,
		      struct pl_vsim_boot *b, bool follow_up)
{
	struct pl_vsim_cut cut = { 0, p->phase, p->phi };
	uint32_t base;
	char *path;
	struct pl_vsim *sim = fresh(t, profile, &path, &base);
	int err;

	cut.op = base + p->i;
	pl_vsim_arm(sim, &cut);
	err = pl_vsim_install(sim, img, len);
	assert_true(err == -PL_ECANCELED || err == 0);
	assert_int_equal(pl_vsim_power_on(sim, b), 0);
	if (follow_up && survived(b)) {
		struct pl_vsim_boot again;
		size_t l2;
		uint8_t *next = vt_image(t, "1.2.0", 3000, 0, &l2);

		/* converges: another boot runs the same image */
		assert_int_equal(pl_vsim_power_on(sim, &again), 0);
		assert_true(again.booted);
		/* still updatable */
		assert_int_equal(pl_vsim_command(sim, "confirm"), 0);
		assert_int_equal(pl_vsim_install(sim, next, l2), 0);
		assert_int_equal(pl_vsim_power_on(sim, &again), 0);
		assert_true(again.booted);
		assert_string_equal(again.version, "1.2.0");
		free(next);
	}
	drop(sim, path);
}

static void print_point(const char *profile, const struct point *p,
			const struct pl_vsim_boot *b)
{
	fprintf(stderr, "  %s: cut %s op %u (phi %.2f): %s%s%s slot %d %s\n",
		profile, pl_vsim_phase_name(p->phase), p->i, p->phi,
		b->booted ? "booted " : "", b->booted ? b->version : b->reason,
		b->booted && !b->image_valid ? " (corrupt)" : "", b->slot,
		b->state);
}

/* Every point of the update of img for good: zero bricks. */
static void sweep_good(struct vt *t, const uint8_t *img, size_t len)
{
	uint32_t n = clean_ops(t, "good", img, len), runs = 0, bad = 0;

	for (uint32_t i = 1; i <= n; i++) {
		for (int ph = 0; ph < 3; ph++) {
			size_t nphi = ph == PL_VSIM_DURING ? 4 : 1;

			for (size_t f = 0; f < nphi; f++) {
				struct point p = { i, (enum pl_vsim_phase)ph,
						   phis[f] };
				struct pl_vsim_boot b;

				run_point(t, "good", img, len, &p, &b,
					  i % 16 == 1 || i == n);
				runs++;
				if (!survived(&b)) {
					print_point("good", &p, &b);
					bad++;
				}
			}
		}
	}
	fprintf(stderr, "good: %u ops per update, %u cut points, %u bricked\n",
		n, runs, bad);
	assert_int_equal(bad, 0);
	assert_true(runs >= 6 * n);
}

static void clean_update_of_a_200k_image_counts_its_ops(void **state)
{
	struct vt *t = *state;
	size_t len;
	uint8_t *img = vt_image(t, NEW, 200 * 1024, 0, &len);
	uint32_t n = clean_ops(t, "good", img, len);
	uint32_t sectors = (uint32_t)((len + 4095) / 4096);
	uint32_t pages = (uint32_t)((len + 255) / 256);

	fprintf(stderr, "N = %u flash ops for a %zu-byte image "
		"(1 trailer erase + %u sector erases + %u page programs + "
		"1 trailer record)\n", n, len, sectors, pages);
	assert_int_equal(n, 1 + sectors + pages + 1);
	free(img);
}

static void good_survives_every_cut_of_an_update(void **state)
{
	struct vt *t = *state;
	size_t len;
	uint8_t *img = vt_image(t, NEW, 24 * 1024, 0, &len);

	sweep_good(t, img, len);
	free(img);
}

/* The second update goes into slot A: its trailer sector holds A's old
 * confirmed record while B runs, and half erases of it must not matter. */
static void good_survives_every_cut_of_a_second_update(void **state)
{
	static const struct expect second = { NEW, "1.2.0" };
	struct vt *t = *state;
	size_t len;
	uint8_t *img = vt_image(t, "1.2.0", 16 * 1024, 0, &len);
	uint32_t n, base, runs = 0, bad = 0;
	char *path;
	struct pl_vsim *sim = fresh2(t, "good", &path, &base, true);

	assert_int_equal(pl_vsim_install(sim, img, len), 0);
	assert_true(strstr(pl_vsim_console(sim), "receiving into slot A") != NULL);
	n = pl_vflash_op_count(pl_vsim_flash(sim)) - base;
	drop(sim, path);
	for (uint32_t i = 1; i <= n; i++) {
		for (int ph = 0; ph < 3; ph++) {
			for (size_t f = 0; f < (ph == PL_VSIM_DURING ? 4u : 1u); f++) {
				struct pl_vsim_cut cut = { 0, (enum pl_vsim_phase)ph,
							   phis[f] };
				struct pl_vsim_boot b;

				sim = fresh2(t, "good", &path, &base, true);
				cut.op = base + i;
				pl_vsim_arm(sim, &cut);
				(void)pl_vsim_install(sim, img, len);
				assert_int_equal(pl_vsim_power_on(sim, &b), 0);
				drop(sim, path);
				runs++;
				if (!survived_as(&b, &second)) {
					print_point("good", &(struct point){ i,
						    cut.phase, cut.phi }, &b);
					bad++;
				}
			}
		}
	}
	fprintf(stderr, "good, second update: %u ops, %u cut points, %u "
		"bricked\n", n, runs, bad);
	assert_int_equal(bad, 0);
	free(img);
}

static void good_survives_every_cut_of_a_crashing_update(void **state)
{
	struct vt *t = *state;
	size_t len;
	uint8_t *img = vt_image(t, NEW, 12 * 1024, 1, &len);

	sweep_good(t, img, len);
	free(img);
}

/* Find the first point where profile fails; good must survive it. */
static void defect_is_caught(struct vt *t, const char *profile, int crash)
{
	size_t len;
	uint8_t *img = vt_image(t, NEW, 12 * 1024, crash, &len);
	uint32_t n = clean_ops(t, profile, img, len);

	for (uint32_t i = 1; i <= n; i++) {
		for (int ph = 0; ph < 3; ph++) {
			size_t nphi = ph == PL_VSIM_DURING ? 4 : 1;

			for (size_t f = 0; f < nphi; f++) {
				struct point p = { i, (enum pl_vsim_phase)ph,
						   phis[f] };
				struct pl_vsim_boot b, g;

				run_point(t, profile, img, len, &p, &b, false);
				if (survived(&b))
					continue;
				print_point(profile, &p, &b);
				run_point(t, "good", img, len, &p, &g, true);
				print_point("good", &p, &g);
				assert_true(survived(&g));
				free(img);
				return;
			}
		}
	}
	fail_msg("no cut point of the update caught profile %s", profile);
}

static void single_slot_bricks_where_good_survives(void **state)
{
	defect_is_caught(*state, "single-slot", 0);
}

static void trailer_first_boots_corrupt_image_where_good_survives(void **state)
{
	defect_is_caught(*state, "trailer-first", 0);
}

static void no_verify_boots_corrupt_image_where_good_survives(void **state)
{
	defect_is_caught(*state, "no-verify", 0);
}

static void no_rollback_bricks_on_crashing_image_where_good_survives(void **state)
{
	defect_is_caught(*state, "no-rollback", 1);
}

static void torn_trailer_bricks_on_torn_record_where_good_survives(void **state)
{
	defect_is_caught(*state, "torn-trailer", 1);
}

static void single_metadata_bricks_where_good_survives(void **state)
{
	defect_is_caught(*state, "single-metadata", 0);
}

/* counter-drain's defect is in normal boots: cut each boot after its first
 * flash op (the attempt count), three times, then boot. */
static void counter_drain_falls_back_on_cut_boots_where_good_survives(void **state)
{
	struct vt *t = *state;
	const char *profiles[] = { "counter-drain", "good" };
	struct pl_vsim_boot b[2];

	for (int p = 0; p < 2; p++) {
		uint32_t base;
		char *path;
		struct pl_vsim *sim = fresh(t, profiles[p], &path, &base);

		for (int i = 0; i < 3; i++) {
			struct pl_vsim_cut cut = { 0, PL_VSIM_AFTER, 0 };

			cut.op = pl_vflash_next_index(pl_vsim_flash(sim));
			pl_vsim_arm(sim, &cut);
			(void)pl_vsim_power_on(sim, NULL);
			pl_vsim_disarm(sim);
		}
		assert_int_equal(pl_vsim_power_on(sim, &b[p]), 0);
		print_point(profiles[p], &(struct point){ 1, PL_VSIM_AFTER, 0 },
			    &b[p]);
		drop(sim, path);
	}
	/* only slot A holds an image: falling back from it leaves nothing */
	assert_false(survived(&b[0]));
	assert_true(survived(&b[1]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(clean_update_of_a_200k_image_counts_its_ops),
		cmocka_unit_test(good_survives_every_cut_of_an_update),
		cmocka_unit_test(good_survives_every_cut_of_a_second_update),
		cmocka_unit_test(good_survives_every_cut_of_a_crashing_update),
		cmocka_unit_test(single_slot_bricks_where_good_survives),
		cmocka_unit_test(trailer_first_boots_corrupt_image_where_good_survives),
		cmocka_unit_test(no_verify_boots_corrupt_image_where_good_survives),
		cmocka_unit_test(no_rollback_bricks_on_crashing_image_where_good_survives),
		cmocka_unit_test(torn_trailer_bricks_on_torn_record_where_good_survives),
		cmocka_unit_test(single_metadata_bricks_where_good_survives),
		cmocka_unit_test(counter_drain_falls_back_on_cut_boots_where_good_survives),
	};

	return cmocka_run_group_tests_name("/pl/virtual/cuts", tests, vt_setup,
					   vt_teardown);
}
