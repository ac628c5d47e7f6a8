/*
 * ratelimit: counts failures per key (a user name, a client address) in a
 * fixed window, in bounded memory, for one process.
 *
 * The table has a fixed number of 4-way sets; a key that finds its set full
 * evicts the entry whose window started first.  Keys are hashed with a
 * random per-process SipHash key, so a client cannot aim collisions at
 * another key.  Memory is capacity * 24 bytes whatever the traffic; under a
 * flood of distinct keys the oldest entries are forgotten first, so the
 * limit becomes approximate there, never unbounded memory.
 */
#ifndef RATELIMIT_H
#define RATELIMIT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MUST_CHECK __attribute__((warn_unused_result))

struct rl_entry {
	uint64_t key;		/* 0 = free */
	int64_t start_ms;	/* window start */
	uint32_t count;
};

struct ratelimit {
	pthread_mutex_t lock;
	struct rl_entry *e;
	size_t nsets;
	unsigned char hashkey[16];
};

/* capacity: entries (rounded up to a multiple of 4); false when out of memory. */
MUST_CHECK bool rl_init(struct ratelimit *rl, size_t capacity);
void rl_release(struct ratelimit *rl);

/*
 * 0 when key may try now; otherwise the milliseconds until its window ends
 * (it has failed limit times within window_ms).
 */
int64_t rl_blocked(struct ratelimit *rl, const char *key, size_t len, uint32_t limit,
		   int64_t window_ms, int64_t now_ms);

/* Count one failure of key. */
void rl_fail(struct ratelimit *rl, const char *key, size_t len, int64_t window_ms, int64_t now_ms);

#endif
