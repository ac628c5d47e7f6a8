/*
 * ratelimit: fixed-window failure counters; see ratelimit.h.
 */
#include "ratelimit.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

#define WAYS 4

bool rl_init(struct ratelimit *rl, size_t capacity)
{
	memset(rl, 0, sizeof *rl);
	rl->nsets = capacity < WAYS ? 1 : (capacity + WAYS - 1) / WAYS;
	rl->e = calloc(rl->nsets * WAYS, sizeof *rl->e);
	if (!rl->e)
		return false;
	randombytes_buf(rl->hashkey, sizeof rl->hashkey);
	pthread_mutex_init(&rl->lock, NULL);
	return true;
}

void rl_release(struct ratelimit *rl)
{
	if (!rl->e)
		return;
	free(rl->e);
	pthread_mutex_destroy(&rl->lock);
	memset(rl, 0, sizeof *rl);
}

static uint64_t rl_hash(const struct ratelimit *rl, const char *key, size_t len)
{
	unsigned char h[crypto_shorthash_siphash24_BYTES];
	crypto_shorthash_siphash24(h, (const unsigned char *)key, len, rl->hashkey);
	uint64_t v;
	memcpy(&v, h, sizeof v);
	return v ? v : 1;	/* 0 marks a free entry */
}

/* The entry of key in its set, or NULL; called with the lock held. */
static struct rl_entry *rl_find(struct ratelimit *rl, uint64_t k)
{
	struct rl_entry *set = &rl->e[(k % rl->nsets) * WAYS];
	for (int i = 0; i < WAYS; i++)
		if (set[i].key == k)
			return &set[i];
	return NULL;
}

int64_t rl_blocked(struct ratelimit *rl, const char *key, size_t len, uint32_t limit,
		   int64_t window_ms, int64_t now_ms)
{
	uint64_t k = rl_hash(rl, key, len);
	int64_t wait = 0;
	pthread_mutex_lock(&rl->lock);
	struct rl_entry *e = rl_find(rl, k);
	if (e && now_ms - e->start_ms < window_ms && e->count >= limit)
		wait = e->start_ms + window_ms - now_ms;
	pthread_mutex_unlock(&rl->lock);
	return wait;
}

void rl_fail(struct ratelimit *rl, const char *key, size_t len, int64_t window_ms, int64_t now_ms)
{
	uint64_t k = rl_hash(rl, key, len);
	pthread_mutex_lock(&rl->lock);
	struct rl_entry *e = rl_find(rl, k);
	if (!e) {
		/* a free entry, else the one whose window started first */
		struct rl_entry *set = &rl->e[(k % rl->nsets) * WAYS];
		e = &set[0];
		for (int i = 0; i < WAYS; i++) {
			if (!set[i].key) {
				e = &set[i];
				break;
			}
			if (set[i].start_ms < e->start_ms)
				e = &set[i];
		}
		e->key = k;
		e->count = 0;
		e->start_ms = now_ms;
	}
	if (now_ms - e->start_ms >= window_ms) {
		e->start_ms = now_ms;
		e->count = 0;
	}
	if (e->count < UINT32_MAX)
		e->count++;
	pthread_mutex_unlock(&rl->lock);
}
