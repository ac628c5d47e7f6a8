/*
 * Unit tests for hop/remap.c (links only hop/remap.c): the id arithmetic a
 * hop relies on to refuse offsets that cannot work before anything is
 * written.  Every expectation is an exact value worked out by hand next to
 * the call; the INT64 edges are tested on purpose, since bigint keys reach
 * them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>

#include "remap.h"
#include "banned.h"

/* A value no test expects, to see whether an out parameter was written. */
#define UNTOUCHED ((int64_t)0x5a5a5a5a5a5a5a5a)

/* ---- remap_type_range ---------------------------------------------------- */

static void test_type_range_integers(void **state)
{
	int64_t min = 0, max = 0;

	assert_true(remap_type_range("smallint", &min, &max));
	assert_int_equal(min, -32768);
	assert_int_equal(max, 32767);

	assert_true(remap_type_range("integer", &min, &max));
	assert_int_equal(min, -2147483648LL);
	assert_int_equal(max, 2147483647LL);

	assert_true(remap_type_range("bigint", &min, &max));
	assert_true(min == INT64_MIN);
	assert_true(max == INT64_MAX);
}

static void test_type_range_unknown(void **state)
{
	/* format_type() names only: aliases, other types and near misses are not integer keys */
	static const char *const others[] = {
		"numeric", "text", "int", "int4", "int8", "serial", "Integer", "BIGINT",
		"integer[]", "character varying(20)", "double precision", "", "smallint ",
	};
	for (size_t i = 0; i < sizeof others / sizeof *others; i++) {
		int64_t min = UNTOUCHED, max = UNTOUCHED;
		assert_false(remap_type_range(others[i], &min, &max));
	}
}

/* ---- remap_add ----------------------------------------------------------- */

static void test_add(void **state)
{
	int64_t r = UNTOUCHED;

	assert_true(remap_add(1, 2, &r));
	assert_int_equal(r, 3);
	assert_true(remap_add(-5, 3, &r));
	assert_int_equal(r, -2);
	assert_true(remap_add(INT64_MAX, 0, &r));
	assert_true(r == INT64_MAX);
	assert_true(remap_add(INT64_MAX - 1, 1, &r));
	assert_true(r == INT64_MAX);
	assert_true(remap_add(INT64_MIN, 0, &r));
	assert_true(r == INT64_MIN);
	assert_true(remap_add(INT64_MIN + 1, -1, &r));
	assert_true(r == INT64_MIN);
	assert_true(remap_add(INT64_MIN, INT64_MAX, &r));
	assert_int_equal(r, -1);
	assert_true(remap_add(INT64_MAX, INT64_MIN, &r));
	assert_int_equal(r, -1);
}

static void test_add_overflow(void **state)
{
	int64_t r;

	assert_false(remap_add(INT64_MAX, 1, &r));
	assert_false(remap_add(1, INT64_MAX, &r));
	assert_false(remap_add(INT64_MAX, INT64_MAX, &r));
	assert_false(remap_add(INT64_MIN, -1, &r));
	assert_false(remap_add(-1, INT64_MIN, &r));
	assert_false(remap_add(INT64_MIN, INT64_MIN, &r));
	assert_false(remap_add(INT64_MAX / 2 + 1, INT64_MAX / 2 + 1, &r));
}

/* ---- remap_fits ---------------------------------------------------------- */

static void test_fits_in_range(void **state)
{
	int64_t limit = UNTOUCHED;

	/* ids 1..1000 in an integer column, moved by 40, by 0, down to 1 */
	assert_true(remap_fits(1, 1000, 40, INT32_MIN, INT32_MAX, &limit));
	assert_true(remap_fits(1, 1000, 0, INT32_MIN, INT32_MAX, &limit));
	assert_true(remap_fits(1, 1000, -1, INT32_MIN, INT32_MAX, &limit));
	/* a smallint column right up to its edges */
	assert_true(remap_fits(1, 32000, 767, INT16_MIN, INT16_MAX, &limit));
	assert_true(remap_fits(-32000, -1, -768, INT16_MIN, INT16_MAX, &limit));
	/* a bigint column at both ends */
	assert_true(remap_fits(1, INT64_MAX - 10, 10, INT64_MIN, INT64_MAX, &limit));
	assert_true(remap_fits(INT64_MIN + 10, 0, -10, INT64_MIN, INT64_MAX, &limit));
	/* limit is only written when it does not fit */
	assert_true(limit == UNTOUCHED);
}

static void test_fits_overflow_up(void **state)
{
	int64_t limit = UNTOUCHED;

	/* 1000 + 2147483000 = 2147484000 > 2^31-1; at most 2147483647 - 1000 */
	assert_false(remap_fits(1, 1000, 2147483000, INT32_MIN, INT32_MAX, &limit));
	assert_int_equal(limit, 2147482647);
	/* the limit itself fits, one more does not */
	limit = UNTOUCHED;
	assert_true(remap_fits(1, 1000, 2147482647, INT32_MIN, INT32_MAX, &limit));
	assert_true(limit == UNTOUCHED);
	assert_false(remap_fits(1, 1000, 2147482648, INT32_MIN, INT32_MAX, &limit));
	assert_int_equal(limit, 2147482647);

	/* smallint: ids 1..32000 leave room for 767 */
	assert_false(remap_fits(1, 32000, 768, INT16_MIN, INT16_MAX, &limit));
	assert_int_equal(limit, 767);

	/* bigint: the shifted id overflows int64 itself; the limit is still exact */
	assert_false(remap_fits(1, INT64_MAX - 5, 10, INT64_MIN, INT64_MAX, &limit));
	assert_int_equal(limit, 5);
	assert_false(remap_fits(1, 10, INT64_MAX, INT64_MIN, INT64_MAX, &limit));
	assert_true(limit == INT64_MAX - 10);
}

static void test_fits_overflow_down(void **state)
{
	int64_t limit = UNTOUCHED;

	/* 1 - 2147483650 = -2147483649 < -2^31; at least -2^31 - 1 */
	assert_false(remap_fits(1, 10, -2147483650LL, INT32_MIN, INT32_MAX, &limit));
	assert_int_equal(limit, -2147483649LL);
	limit = UNTOUCHED;
	assert_true(remap_fits(1, 10, -2147483649LL, INT32_MIN, INT32_MAX, &limit));
	assert_true(limit == UNTOUCHED);

	/* smallint: ids -32000..-1 leave room for -768 */
	assert_false(remap_fits(-32000, -1, -769, INT16_MIN, INT16_MAX, &limit));
	assert_int_equal(limit, -768);

	/* bigint: int64 underflow while shifting */
	assert_false(remap_fits(INT64_MIN + 5, 0, -10, INT64_MIN, INT64_MAX, &limit));
	assert_int_equal(limit, -5);
	assert_false(remap_fits(-10, 10, INT64_MIN, INT64_MIN, INT64_MAX, &limit));
	assert_true(limit == INT64_MIN + 10);
}

static void test_fits_empty_range(void **state)
{
	int64_t limit = UNTOUCHED;

	/* lo > hi: a table without rows fits any offset */
	assert_true(remap_fits(1, 0, INT64_MAX, INT32_MIN, INT32_MAX, &limit));
	assert_true(remap_fits(1, 0, INT64_MIN, INT32_MIN, INT32_MAX, &limit));
	assert_true(remap_fits(INT64_MAX, INT64_MIN, 5, INT16_MIN, INT16_MAX, &limit));
	assert_true(limit == UNTOUCHED);
	/* a single id is not empty */
	assert_false(remap_fits(7, 7, 32761, INT16_MIN, INT16_MAX, &limit));
	assert_int_equal(limit, 32760);
}

/* ---- remap_round_up ------------------------------------------------------ */

static void test_round_up(void **state)
{
	static const struct { int64_t n, want; } cases[] = {
		{ 0, 0 }, { 1, 1 }, { 2, 2 }, { 9, 9 }, { 10, 10 }, { 11, 20 }, { 19, 20 },
		{ 20, 20 }, { 21, 30 }, { 37, 40 }, { 90, 90 }, { 91, 100 }, { 99, 100 },
		{ 100, 100 }, { 101, 200 }, { 120, 200 }, { 999, 1000 }, { 1000, 1000 },
		{ 1001, 2000 }, { 8999, 9000 }, { 9001, 10000 }, { 2147482647, 3000000000LL },
		{ 1000000000000000000LL, 1000000000000000000LL },
		{ 1000000000000000001LL, 2000000000000000000LL },
		{ 7000000000000000001LL, 8000000000000000000LL },
		{ 8000000000000000000LL, 8000000000000000000LL },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		int64_t got = remap_round_up(cases[i].n);
		if (got != cases[i].want)
			print_message("remap_round_up(%lld) = %lld\n", (long long)cases[i].n,
				      (long long)got);
		assert_int_equal(got, cases[i].want);
	}
}

static void test_round_up_negative(void **state)
{
	/* n >= 0 is the contract; the code answers 0 below it */
	assert_int_equal(remap_round_up(-1), 0);
	assert_int_equal(remap_round_up(-1000), 0);
	assert_int_equal(remap_round_up(INT64_MIN), 0);
}

/*
 * The top decade of int64 (p = 10^18): 9 * 10^18 is the largest round
 * number there is.  Everything above 8223372036854775808 makes n + p - 1
 * overflow inside remap_round_up.
 */
static void test_round_up_near_int64_max(void **state)
{
	/* 8.5e18: the smallest round number >= n is 9e18 */
	assert_int_equal(remap_round_up(8500000000000000000LL), 9000000000000000000LL);
	/* 9e18 is round itself */
	assert_int_equal(remap_round_up(9000000000000000000LL), 9000000000000000000LL);
	/* above 9e18 no round number is representable: never an answer below n */
	int64_t r = remap_round_up(9000000000000000001LL);
	print_message("remap_round_up(9000000000000000001) = %lld\n", (long long)r);
	assert_true(r >= 9000000000000000001LL);
	r = remap_round_up(INT64_MAX);
	print_message("remap_round_up(INT64_MAX) = %lld\n", (long long)r);
	assert_true(r == INT64_MAX);
}

/* ---- remap_auto_offset --------------------------------------------------- */

static void test_auto_offset(void **state)
{
	/* target empty (tlo > thi): 0 whatever the source holds */
	assert_int_equal(remap_auto_offset(1, 1000, 1, 0), 0);
	assert_int_equal(remap_auto_offset(1, 1000, INT64_MAX, INT64_MIN), 0);
	/* source empty: 0 */
	assert_int_equal(remap_auto_offset(1, 0, 1, 37), 0);
	/* source already above the target: 0 */
	assert_int_equal(remap_auto_offset(38, 100, 1, 37), 0);
	assert_int_equal(remap_auto_offset(1000, 1000, 1, 999), 0);
	/* 37 target ids, source from 1: 1 + off > 37, off >= 37, round: 40 */
	assert_int_equal(remap_auto_offset(1, 5, 1, 37), 40);
	assert_int_equal(remap_auto_offset(1, 100000, 1, 37), 40);
	/* source 1..5, target 1..3: off >= 3, already round */
	assert_int_equal(remap_auto_offset(1, 5, 1, 3), 3);
	/* source starting inside the target: 5 + off > 37, off >= 33 -> 40 */
	assert_int_equal(remap_auto_offset(5, 10, 1, 37), 40);
	/* touching: source 37.., target ..37: off >= 1 */
	assert_int_equal(remap_auto_offset(37, 50, 1, 37), 1);
	/* the source below the target: 1 + off > 5000, off >= 5000 */
	assert_int_equal(remap_auto_offset(1, 10, 4000, 5000), 5000);
	assert_int_equal(remap_auto_offset(1, 10, 4000, 5001), 6000);
	/* negative source ids: -10 + off > 100, off >= 111 -> 200 */
	assert_int_equal(remap_auto_offset(-10, 5, 1, 100), 200);
	/* integer-sized: 1 + off > 2147483000 -> 3000000000 (the fit check refuses it) */
	assert_int_equal(remap_auto_offset(1, 10, 1, 2147483000), 3000000000LL);
}

static void test_auto_offset_cannot(void **state)
{
	/* thi - slo + 1 overflows int64: INT64_MAX, for the fit check to refuse */
	assert_true(remap_auto_offset(-INT64_MAX, 0, 0, 10) == INT64_MAX);
	assert_true(remap_auto_offset(-1, 0, 0, INT64_MAX) == INT64_MAX);
	assert_true(remap_auto_offset(0, 0, 0, INT64_MAX) == INT64_MAX);
}

/* The smallest source id at int64's very bottom: thi - slo + 1 = 2^63 + 1. */
static void test_auto_offset_int64_min_source(void **state)
{
	int64_t r = remap_auto_offset(INT64_MIN, 0, 0, 0);
	print_message("remap_auto_offset(INT64_MIN, 0, 0, 0) = %lld\n", (long long)r);
	assert_true(r == INT64_MAX);
}

/* A needed offset in int64's top decade goes through remap_round_up's edge. */
static void test_auto_offset_near_int64_max(void **state)
{
	/* 1 + off > 8500000000000000000: off >= 8.5e18 -> 9e18 */
	assert_int_equal(remap_auto_offset(1, 10, 1, 8500000000000000000LL),
			 9000000000000000000LL);
}

/* ---- remap_overlaps ------------------------------------------------------ */

static void test_overlaps(void **state)
{
	/* source 1..10 against target 5..20 */
	assert_true(remap_overlaps(1, 10, 0, 5, 20));
	assert_true(remap_overlaps(1, 10, 10, 5, 20));	/* 11..20: inside */
	assert_true(remap_overlaps(1, 10, 19, 5, 20));	/* 20..29: touches 20 */
	assert_false(remap_overlaps(1, 10, 20, 5, 20));	/* 21..30: just above */
	assert_true(remap_overlaps(1, 10, -5, 5, 20));	/* -4..5: touches 5 */
	assert_false(remap_overlaps(1, 10, -6, 5, 20));	/* -5..4: just below */
	assert_true(remap_overlaps(1, 100, 0, 5, 20));	/* source covers target */
	assert_true(remap_overlaps(10, 10, 0, 5, 20));	/* single id inside */
	/* a big negative offset: 100..200 - 100 = 0..100 holds 1..3 */
	assert_true(remap_overlaps(100, 200, -100, 1, 3));
	/* the auto offset never overlaps */
	assert_false(remap_overlaps(1, 100000, remap_auto_offset(1, 100000, 1, 37), 1, 37));
}

static void test_overlaps_empty_and_overflow(void **state)
{
	assert_false(remap_overlaps(1, 0, 0, 1, 100));		/* source empty */
	assert_false(remap_overlaps(1, 100, 0, 1, 0));		/* target empty */
	assert_false(remap_overlaps(1, 0, 0, 1, 0));		/* both */
	/* shifting overflows int64: not an overlap (remap_fits reports it) */
	assert_false(remap_overlaps(1, 10, INT64_MAX, INT64_MAX - 5, INT64_MAX));
	assert_false(remap_overlaps(-10, -1, INT64_MIN, INT64_MIN, INT64_MIN + 5));
	/* at the edge without overflow */
	assert_true(remap_overlaps(0, 10, INT64_MAX - 10, INT64_MAX, INT64_MAX));
}

/* ---- remap_headroom ------------------------------------------------------ */

static void test_headroom_before_a_target_id(void **state)
{
	/* source 1..100 shifted by 1000 (1001..1100); the target's next id
	 * above is 5000: ids 1101..4999 are free */
	assert_int_equal(remap_headroom(1100, true, 5000, INT32_MAX), 3899);
	/* the target's next id right above: no room */
	assert_int_equal(remap_headroom(1100, true, 1101, INT32_MAX), 0);
	assert_int_equal(remap_headroom(1100, true, 1102, INT32_MAX), 1);
	/* negated ids: source 1..100 with offset -1100 lands at -1099..-1000;
	 * the target's own ids start at 1: -999..0 are free */
	assert_int_equal(remap_headroom(100 - 1100, true, 1, INT32_MAX), 1000);
	/* far enough below: source 1..100 with offset -2000100 */
	assert_int_equal(remap_headroom(100 - 2000100, true, 1, INT32_MAX), 2000000);
	/* a source without rows hands out from 1: base is the offset */
	assert_int_equal(remap_headroom(0 + 50, true, 101, INT32_MAX), 50);
}

static void test_headroom_up_to_the_type(void **state)
{
	/* no target id in the way: up to the column type's maximum */
	assert_int_equal(remap_headroom(100, false, 0, INT32_MAX), INT32_MAX - 100);
	assert_int_equal(remap_headroom(INT16_MAX, false, 0, INT16_MAX), 0);
	assert_int_equal(remap_headroom(-1000, false, 0, INT16_MAX), INT16_MAX + 1000);
	/* wider than 64 bits: saturated */
	assert_true(remap_headroom(INT64_MIN, false, 0, INT64_MAX) == INT64_MAX);
	assert_true(remap_headroom(INT64_MIN + 5, true, INT64_MAX, INT64_MAX) == INT64_MAX);
	assert_true(remap_headroom(-1, false, 0, INT64_MAX) == INT64_MAX);
	assert_true(remap_headroom(0, false, 0, INT64_MAX) == INT64_MAX);
	assert_true(remap_headroom(1, true, INT64_MAX, INT64_MAX) == INT64_MAX - 2);
}

static void test_headroom_bound(void **state)
{
	assert_int_equal(remap_headroom_bound(1000000, INT32_MAX), 1000000);
	assert_int_equal(remap_headroom_bound(1000000, INT16_MAX), 16383);
	assert_int_equal(remap_headroom_bound(10, INT16_MAX), 10);
	assert_int_equal(remap_headroom_bound(0, INT64_MAX), 0);
	assert_true(remap_headroom_bound(INT64_MAX, INT64_MAX) == INT64_MAX / 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_type_range_integers),
		cmocka_unit_test(test_type_range_unknown),
		cmocka_unit_test(test_add),
		cmocka_unit_test(test_add_overflow),
		cmocka_unit_test(test_fits_in_range),
		cmocka_unit_test(test_fits_overflow_up),
		cmocka_unit_test(test_fits_overflow_down),
		cmocka_unit_test(test_fits_empty_range),
		cmocka_unit_test(test_round_up),
		cmocka_unit_test(test_round_up_negative),
		cmocka_unit_test(test_round_up_near_int64_max),
		cmocka_unit_test(test_auto_offset),
		cmocka_unit_test(test_auto_offset_cannot),
		cmocka_unit_test(test_auto_offset_int64_min_source),
		cmocka_unit_test(test_auto_offset_near_int64_max),
		cmocka_unit_test(test_overlaps),
		cmocka_unit_test(test_overlaps_empty_and_overflow),
		cmocka_unit_test(test_headroom_before_a_target_id),
		cmocka_unit_test(test_headroom_up_to_the_type),
		cmocka_unit_test(test_headroom_bound),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
