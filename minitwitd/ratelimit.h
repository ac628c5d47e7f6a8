/*
 * ratelimit: counts failures per key (a client address, a client and user
 * name pair) in bounded memory, for one process, and says how long a key
 * must wait before its next attempt.
 *
 * An attempt is counted when it is taken (rl_attempt), before its outcome
 * is known, and uncounted when it turns out to have succeeded: the check
 * and the count are one step under the lock, so N concurrent attempts can
 * never get more than the limit through (checking first and counting the
 * failure after a password hash of tens of milliseconds let 11 of 30
 * concurrent guesses past a limit of 5).
 *
 * The table has a fixed number of 4-way sets; a key that finds its set full
 * evicts the entry whose last attempt is oldest.  Keys are hashed with a
 * random per-process SipHash key, so a client cannot aim collisions at
 * another key.  Memory is capacity * 32 bytes whatever the traffic; under a
 * flood of distinct keys the oldest entries are forgotten first, so the
 * limit becomes approximate there, never unbounded memory.
 */
#ifndef RATELIMIT_H
#define RATELIMIT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "util.h"


struct rl_entry {
	uint64_t key;		/* 0 = free */
	int64_t start_ms;	/* the first counted attempt of the window */
	int64_t last_ms;	/* the latest counted attempt */
	uint32_t count;		/* attempts counted (failed, or not known yet) */
};

struct ratelimit {
	pthread_mutex_t lock;
	struct rl_entry *e;
	size_t nsets;
	unsigned char hashkey[16];
};

/*
 * How a table limits.  With delay_ms 0, a fixed window: limit attempts
 * within window_ms of the first, then a wait until the window ends.  With
 * delay_ms > 0, growing delays: after limit failures the key waits
 * delay_ms from its last failure, twice that after the next one, and so
 * on up to max_delay_ms; its count is forgotten once it stayed quiet for
 * window_ms (or the current delay, when longer).
 */
struct rl_rule {
	uint32_t limit;
	int64_t window_ms;
	int64_t delay_ms;
	int64_t max_delay_ms;
};

/* capacity: entries (rounded up to a multiple of 4); false when out of memory. */
MUST_CHECK bool rl_init(struct ratelimit *rl, size_t capacity);
void rl_release(struct ratelimit *rl);

/*
 * Take one attempt for key at now_ms: 0 when it may go ahead, and it is
 * then counted as a failure until rl_refund() or rl_forget() says it was
 * not one; otherwise the milliseconds to wait, and nothing is counted.
 * A higher limit (a reloaded configuration) applies at once.
 */
MUST_CHECK int64_t rl_attempt(struct ratelimit *rl, const char *key, size_t len,
			      const struct rl_rule *rule, int64_t now_ms);

/* The attempt rl_attempt() let through was no failure: uncount it. */
void rl_refund(struct ratelimit *rl, const char *key, size_t len);

/* Forget every failure of key (a success that proves the key's owner). */
void rl_forget(struct ratelimit *rl, const char *key, size_t len);

#endif
