/*
 * Unit tests for minitwitd/ratelimit.c: a fixed window (the per-client
 * limit) and growing delays (per client and user name), attempts counted
 * when taken and uncounted on success, keys independent of each other,
 * concurrent attempts never getting more than the limit through, and
 * bounded memory under a flood of distinct keys.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "ratelimit.h"
#include "banned.h"

#define W 60000	/* window, ms */

static const struct rl_rule fixed3 = { .limit = 3, .window_ms = W };
/* 2 failures, then 1s, 2s, 4s, 8s, capped at 5s; forgotten after 60s of quiet */
static const struct rl_rule grow2 = { .limit = 2, .window_ms = W, .delay_ms = 1000,
				      .max_delay_ms = 5000 };

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

static int64_t try(struct ratelimit *rl, const char *key, const struct rl_rule *r, int64_t t)
{
	return rl_attempt(rl, key, strlen(key), r, t);
}

static void test_fixed_window(void **state)
{
	struct ratelimit *rl = *state;
	int64_t t = 1000000;
	for (int i = 0; i < 3; i++)
		assert_int_equal(try(rl, "alice", &fixed3, t + i), 0);
	/* blocked until the window that began at t ends; refusals count nothing */
	assert_int_equal(try(rl, "alice", &fixed3, t + 10), W - 10);
	assert_int_equal(try(rl, "alice", &fixed3, t + W - 1), 1);
	/* a higher limit (reloaded configuration) lets it through at once */
	const struct rl_rule fixed4 = { .limit = 4, .window_ms = W };
	assert_int_equal(try(rl, "alice", &fixed4, t + 20), 0);
	assert_true(try(rl, "alice", &fixed4, t + 21) > 0);
	/* others are not affected; a prefix is another key */
	assert_int_equal(try(rl, "bob", &fixed3, t + 10), 0);
	assert_int_equal(try(rl, "alic", &fixed3, t + 10), 0);
	/* the window ends: a new one starts with this attempt */
	assert_int_equal(try(rl, "alice", &fixed3, t + W), 0);
	assert_int_equal(try(rl, "alice", &fixed3, t + W + 1), 0);
	assert_int_equal(try(rl, "alice", &fixed3, t + W + 2), 0);
	assert_int_equal(try(rl, "alice", &fixed3, t + W + 3), W - 3);
}

static void test_refund_and_forget(void **state)
{
	struct ratelimit *rl = *state;
	int64_t t = 2000000;
	/* successes refunded never add up to a block */
	for (int i = 0; i < 10; i++) {
		assert_int_equal(try(rl, "carol", &fixed3, t + i), 0);
		rl_refund(rl, "carol", 5);
	}
	/* two failures and a success: one more failure is still allowed */
	assert_int_equal(try(rl, "carol", &fixed3, t + 20), 0);
	assert_int_equal(try(rl, "carol", &fixed3, t + 21), 0);
	assert_int_equal(try(rl, "carol", &fixed3, t + 22), 0);
	rl_refund(rl, "carol", 5);
	assert_int_equal(try(rl, "carol", &fixed3, t + 23), 0);
	assert_true(try(rl, "carol", &fixed3, t + 24) > 0);
	/* forgetting clears everything; refunding an unknown key is harmless */
	rl_forget(rl, "carol", 5);
	assert_int_equal(try(rl, "carol", &fixed3, t + 25), 0);
	rl_refund(rl, "nobody", 6);
	rl_forget(rl, "nobody", 6);
	assert_int_equal(try(rl, "nobody", &fixed3, t + 26), 0);
}

static void test_growing_delays(void **state)
{
	struct ratelimit *rl = *state;
	int64_t t = 3000000;
	assert_int_equal(try(rl, "ip\nbob", &grow2, t), 0);
	assert_int_equal(try(rl, "ip\nbob", &grow2, t + 100), 0);
	/* two failures: wait 1s from the last */
	assert_int_equal(try(rl, "ip\nbob", &grow2, t + 100), 1000);
	assert_int_equal(try(rl, "ip\nbob", &grow2, t + 1099), 1);
	/* waiting is not failing: refusals did not make it longer */
	assert_int_equal(try(rl, "ip\nbob", &grow2, t + 1100), 0);
	/* a third failure: 2s, then 4s, then capped at 5s */
	assert_int_equal(try(rl, "ip\nbob", &grow2, t + 1100), 2000);
	assert_int_equal(try(rl, "ip\nbob", &grow2, t + 3100), 0);
	assert_int_equal(try(rl, "ip\nbob", &grow2, t + 3100), 4000);
	assert_int_equal(try(rl, "ip\nbob", &grow2, t + 7100), 0);
	assert_int_equal(try(rl, "ip\nbob", &grow2, t + 7100), 5000);
	assert_int_equal(try(rl, "ip\nbob", &grow2, t + 12100), 0);
	assert_int_equal(try(rl, "ip\nbob", &grow2, t + 12100), 5000);
	/* another client for the same user is not affected */
	assert_int_equal(try(rl, "ip2\nbob", &grow2, t + 12100), 0);
	/* quiet for the window: forgotten, two free failures again */
	int64_t later = t + 12100 + W;
	assert_int_equal(try(rl, "ip\nbob", &grow2, later), 0);
	assert_int_equal(try(rl, "ip\nbob", &grow2, later + 1), 0);
	assert_int_equal(try(rl, "ip\nbob", &grow2, later + 2), 999);
	/* a success forgets the pair's failures */
	rl_forget(rl, "ip\nbob", 6);
	assert_int_equal(try(rl, "ip\nbob", &grow2, later + 3), 0);
	/* a long delay outlives a shorter window of quiet */
	const struct rl_rule longer = { .limit = 1, .window_ms = 1000, .delay_ms = 5000,
					.max_delay_ms = 5000 };
	assert_int_equal(try(rl, "slow", &longer, t), 0);
	assert_int_equal(try(rl, "slow", &longer, t + 2000), 3000);
	assert_int_equal(try(rl, "slow", &longer, t + 5000), 0);
}

/* 30 threads try the same key at the same instant, none succeeding. */
struct race {
	struct ratelimit *rl;
	pthread_barrier_t go;
	atomic_int passed;
};

static void *racer(void *arg)
{
	struct race *r = arg;
	pthread_barrier_wait(&r->go);
	if (try(r->rl, "ip\nvictim", &grow2, 9000000) == 0)
		atomic_fetch_add(&r->passed, 1);
	return NULL;
}

static void test_concurrent_attempts(void **state)
{
	struct race r = { .rl = *state };
	pthread_t th[30];
	pthread_barrier_init(&r.go, NULL, 30);
	for (int i = 0; i < 30; i++)
		assert_int_equal(pthread_create(&th[i], NULL, racer, &r), 0);
	for (int i = 0; i < 30; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&r.go);
	assert_int_equal(atomic_load(&r.passed), (int)grow2.limit);
}

static void test_bounded_under_flood(void **state)
{
	struct ratelimit *rl = *state;
	int64_t t = 5000000;
	for (int i = 0; i < 3; i++)
		assert_int_equal(try(rl, "victim", &fixed3, t), 0);
	assert_true(try(rl, "victim", &fixed3, t + 1) > 0);
	/* many distinct keys later: the table (64 entries) forgets the oldest */
	char key[32];
	for (int i = 0; i < 10000; i++) {
		snprintf(key, sizeof key, "flood-%d", i);
		assert_int_equal(try(rl, key, &fixed3, t + 100 + i), 0);
	}
	/* memory stayed the 64 entries it started with, every one in use */
	size_t used = 0;
	for (size_t i = 0; i < rl->nsets * 4; i++)
		used += rl->e[i].key != 0;
	assert_int_equal(rl->nsets * 4, 64);
	assert_int_equal(used, 64);
	/* the most recent keys are still counted */
	const struct rl_rule one = { .limit = 1, .window_ms = W };
	snprintf(key, sizeof key, "flood-%d", 9999);
	assert_true(try(rl, key, &one, t + 20000) > 0);
	/* the victim, limited for the whole window (W) had it been kept, was
	 * evicted: well within the window it starts afresh */
	for (int i = 0; i < 3; i++)
		assert_int_equal(try(rl, "victim", &fixed3, t + 20000), 0);
	assert_true(try(rl, "victim", &fixed3, t + 20000) > 0);
	/* a new client finds room in the full table (by eviction) and is
	 * counted from its first attempt, not limited by others */
	assert_int_equal(try(rl, "newcomer", &one, t + 20001), 0);
	assert_true(try(rl, "newcomer", &one, t + 20002) > 0);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fixed_window, rl_setup, rl_teardown),
		cmocka_unit_test_setup_teardown(test_refund_and_forget, rl_setup, rl_teardown),
		cmocka_unit_test_setup_teardown(test_growing_delays, rl_setup, rl_teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_attempts, rl_setup, rl_teardown),
		cmocka_unit_test_setup_teardown(test_bounded_under_flood, rl_setup, rl_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
