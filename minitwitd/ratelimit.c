/*
 * ratelimit: attempt counters with a fixed window or growing delays; see
 * ratelimit.h.
 */
#include "ratelimit.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

#define WAYS 4
#define MAX_DOUBLINGS 40	/* delay_ms << 40 is beyond any max_delay_ms */

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

/* A fresh entry for k: a free one of its set, else the one whose last
 * attempt is oldest; called with the lock held. */
static struct rl_entry *rl_claim(struct ratelimit *rl, uint64_t k)
{
	struct rl_entry *set = &rl->e[(k % rl->nsets) * WAYS], *e = &set[0];
	for (int i = 0; i < WAYS; i++) {
		if (!set[i].key) {
			e = &set[i];
			break;
		}
		if (set[i].last_ms < e->last_ms)
			e = &set[i];
	}
	memset(e, 0, sizeof *e);
	e->key = k;
	return e;
}

/* The wait after count failures under a growing-delay rule. */
static int64_t rl_delay(const struct rl_rule *r, uint32_t count)
{
	uint32_t n = count - r->limit;
	int64_t d = r->delay_ms;
	for (uint32_t i = 0; i < n && i < MAX_DOUBLINGS && d < r->max_delay_ms; i++)
		d *= 2;
	return d < r->max_delay_ms ? d : r->max_delay_ms;
}

/* Whether e's counts are over (window ended, or quiet long enough). */
static bool rl_expired(const struct rl_entry *e, const struct rl_rule *r, int64_t now)
{
	if (!r->delay_ms)
		return now - e->start_ms >= r->window_ms;
	int64_t quiet = r->window_ms;
	if (e->count >= r->limit && rl_delay(r, e->count) > quiet)
		quiet = rl_delay(r, e->count);
	return now - e->last_ms >= quiet;
}

/* Milliseconds e must still wait; 0 when it may try. */
static int64_t rl_wait(const struct rl_entry *e, const struct rl_rule *r, int64_t now)
{
	if (e->count < r->limit)
		return 0;
	int64_t until = r->delay_ms ? e->last_ms + rl_delay(r, e->count)
				    : e->start_ms + r->window_ms;
	return until > now ? until - now : 0;
}

int64_t rl_attempt(struct ratelimit *rl, const char *key, size_t len, const struct rl_rule *rule,
		   int64_t now_ms)
{
	uint64_t k = rl_hash(rl, key, len);
	int64_t wait = 0;
	pthread_mutex_lock(&rl->lock);
	struct rl_entry *e = rl_find(rl, k);
	if (e && rl_expired(e, rule, now_ms))
		e->count = 0;
	if (e)
		wait = rl_wait(e, rule, now_ms);
	if (!wait) {
		if (!e)
			e = rl_claim(rl, k);
		if (e->count == 0)
			e->start_ms = now_ms;
		e->last_ms = now_ms;
		if (e->count < UINT32_MAX)
			e->count++;
	}
	pthread_mutex_unlock(&rl->lock);
	return wait;
}

void rl_refund(struct ratelimit *rl, const char *key, size_t len)
{
	uint64_t k = rl_hash(rl, key, len);
	pthread_mutex_lock(&rl->lock);
	struct rl_entry *e = rl_find(rl, k);
	if (e && e->count > 0)
		e->count--;
	pthread_mutex_unlock(&rl->lock);
}

void rl_forget(struct ratelimit *rl, const char *key, size_t len)
{
	uint64_t k = rl_hash(rl, key, len);
	pthread_mutex_lock(&rl->lock);
	struct rl_entry *e = rl_find(rl, k);
	if (e)
		memset(e, 0, sizeof *e);
	pthread_mutex_unlock(&rl->lock);
}
