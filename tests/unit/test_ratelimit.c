/*
 * Unit tests for minitwitd/ratelimit.c: the limit per key and window, keys
 * independent of each other, the window ending, and bounded memory under a
 * flood of distinct keys (the oldest windows are the ones forgotten).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "ratelimit.h"
#include "banned.h"

#define W 60000	/* window, ms */

static int rl_setup(void **state)
{
	static struct ratelimit rl;
	if (!rl_init(&rl, 64))
		return -1;
	*state = &rl;
	return 0;
}

static int rl_teardown(void **state)
{
	rl_release(*state);
	return 0;
}

static void test_limit_and_window(void **state)
{
	struct ratelimit *rl = *state;
	int64_t t = 1000000;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(rl_blocked(rl, "alice", 5, 3, W, t + i), 0);
		rl_fail(rl, "alice", 5, W, t + i);
	}
	/* blocked until the window that began at t ends */
	assert_int_equal(rl_blocked(rl, "alice", 5, 3, W, t + 10), W - 10);
	assert_int_equal(rl_blocked(rl, "alice", 5, 3, W, t + W - 1), 1);
	assert_int_equal(rl_blocked(rl, "alice", 5, 3, W, t + W), 0);
	/* a higher limit (reloaded configuration) lets it through */
	assert_int_equal(rl_blocked(rl, "alice", 5, 4, W, t + 10), 0);
	/* others are not affected; a prefix is another key */
	assert_int_equal(rl_blocked(rl, "bob", 3, 3, W, t + 10), 0);
	assert_int_equal(rl_blocked(rl, "alic", 4, 3, W, t + 10), 0);
	/* a failure after the window starts a new one */
	rl_fail(rl, "alice", 5, W, t + W + 5);
	assert_int_equal(rl_blocked(rl, "alice", 5, 1, W, t + W + 6), W - 1);
	assert_int_equal(rl_blocked(rl, "alice", 5, 2, W, t + W + 6), 0);
}

static void test_bounded_under_flood(void **state)
{
	struct ratelimit *rl = *state;
	int64_t t = 5000000;
	for (int i = 0; i < 3; i++)
		rl_fail(rl, "victim", 6, W, t);
	assert_true(rl_blocked(rl, "victim", 6, 3, W, t + 1) > 0);
	/* many distinct keys later: the table (64 entries) forgets the oldest */
	char key[32];
	for (int i = 0; i < 10000; i++) {
		int n = snprintf(key, sizeof key, "flood-%d", i);
		rl_fail(rl, key, (size_t)n, W, t + 100 + i);
	}
	/* the most recent keys are still counted */
	int n = snprintf(key, sizeof key, "flood-%d", 9999);
	assert_true(rl_blocked(rl, key, (size_t)n, 1, W, t + 20000) > 0);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_limit_and_window, rl_setup, rl_teardown),
		cmocka_unit_test_setup_teardown(test_bounded_under_flood, rl_setup, rl_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
