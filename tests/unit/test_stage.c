/*
 * Unit tests for hop/stage.c's pure part: the stored names (a contract with
 * every database a hop ever recorded) and the transition table, move by
 * move as stage.h describes it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <string.h>

#include "stage.h"
#include "banned.h"

#define L HOP_STAGE_LINKED
#define CAP HOP_STAGE_CAPTURING
#define CPG HOP_STAGE_COPYING
#define CPD HOP_STAGE_COPIED
#define SYN HOP_STAGE_SYNCING
#define CUT HOP_STAGE_CUTOVER
#define SW HOP_STAGE_SWITCHED
#define FIN HOP_STAGE_FINISHED
#define AB HOP_STAGE_ABANDONED

static void test_names_are_the_stored_text(void **state)
{
	static const char *const want[HOP_STAGE_COUNT] = { "linked", "capturing", "copying", "copied", "syncing",
							     "cutover", "switched", "finished", "abandoned" };
	for (int i = 0; i < HOP_STAGE_COUNT; i++) {
		enum hop_stage s = HOP_STAGE_ABANDONED;
		assert_string_equal(hop_stage_name((enum hop_stage)i), want[i]);
		assert_true(hop_stage_parse(want[i], &s));
		assert_int_equal(s, i);
	}
	enum hop_stage s = CUT;
	assert_false(hop_stage_parse("Linked", &s));
	assert_false(hop_stage_parse("", &s));
	assert_false(hop_stage_parse("switched ", &s));
	assert_false(hop_stage_parse(NULL, &s));
	assert_int_equal(s, CUT);	/* untouched */
	assert_string_equal(hop_stage_name((enum hop_stage)HOP_STAGE_COUNT), "?");
}

/* The whole table, written out: a changed move shows here. */
static void test_transition_table(void **state)
{
	static const char *const rows[HOP_STAGE_COUNT] = {
		/* to: lnk cap cpg cpd syn cut swi fin abn */
		[L]   = "-A+-A+--+",
		[CAP] = "--+-A+--+",
		[CPG] = "--++----+",
		[CPD] = "--+-A+--+",
		[SYN] = "--+--+--+",
		[CUT] = "----+++--",
		[SW]  = "-------+-",
		[FIN] = "-------+-",
		[AB]  = "--------+",
	};
	for (int from = 0; from < HOP_STAGE_COUNT; from++)
		for (int to = 0; to < HOP_STAGE_COUNT; to++) {
			char c = rows[from][to];
			bool allowed = hop_stage_allowed((enum hop_stage)from, (enum hop_stage)to);
			bool automatic = hop_stage_automatic((enum hop_stage)from, (enum hop_stage)to);
			if (allowed != (c != '-') || automatic != (c == 'A'))
				fail_msg("%s -> %s: expected %c", hop_stage_name((enum hop_stage)from),
					 hop_stage_name((enum hop_stage)to), c);
		}
}

static void test_the_rules_stage_h_states(void **state)
{
	/* the main road */
	assert_true(hop_stage_allowed(L, CAP));
	assert_true(hop_stage_allowed(CAP, CPG));
	assert_true(hop_stage_allowed(CPG, CPD));
	assert_true(hop_stage_allowed(CPD, SYN));
	assert_true(hop_stage_allowed(SYN, CUT));
	assert_true(hop_stage_allowed(CUT, SW));
	assert_true(hop_stage_allowed(SW, FIN));
	/* a cut-over hop is never copied or synced into again */
	for (int s = CUT; s < HOP_STAGE_COUNT; s++)
		assert_false(hop_stage_allowed((enum hop_stage)s, CPG));
	assert_false(hop_stage_allowed(SW, SYN));
	assert_false(hop_stage_allowed(SW, CUT));
	/* finish only after the switch; abandon only before the cutover */
	for (int s = 0; s < HOP_STAGE_COUNT; s++) {
		assert_int_equal(hop_stage_allowed((enum hop_stage)s, FIN), s == SW || s == FIN);
		assert_int_equal(hop_stage_allowed((enum hop_stage)s, AB), s < CUT || s == AB);
	}
	/* the apply never moves a running copy, nor a cutover, by itself */
	assert_false(hop_stage_automatic(CPG, SYN));
	assert_false(hop_stage_automatic(CUT, SYN));
	assert_true(hop_stage_allowed(CUT, SYN));	/* a rollback asks for it */
	/* out of range */
	assert_false(hop_stage_allowed((enum hop_stage)HOP_STAGE_COUNT, L));
	assert_false(hop_stage_allowed(L, (enum hop_stage)-1));
}

static void test_from_array(void **state)
{
	struct buf b = BUF_INIT;
	hop_stage_from_array(SYN, true, &b);
	assert_string_equal(b.data, "{linked,capturing,copied}");
	buf_reset(&b);
	hop_stage_from_array(SYN, false, &b);
	assert_string_equal(b.data, "{linked,capturing,copied,cutover}");
	buf_reset(&b);
	hop_stage_from_array(CAP, true, &b);
	assert_string_equal(b.data, "{linked}");
	buf_reset(&b);
	hop_stage_from_array(FIN, false, &b);
	assert_string_equal(b.data, "{switched,finished}");
	buf_reset(&b);
	hop_stage_from_array(L, false, &b);
	assert_string_equal(b.data, "{}");
	buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_are_the_stored_text),
		cmocka_unit_test(test_transition_table),
		cmocka_unit_test(test_the_rules_stage_h_states),
		cmocka_unit_test(test_from_array),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
