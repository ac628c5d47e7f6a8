/*
 * remap: id arithmetic; see remap.h.
 */
#include "remap.h"

#include <string.h>

#include "plan.h"
#include "banned.h"

bool remap_type_range(const char *type, int64_t *min, int64_t *max)
{
	if (strcmp(type, "smallint") == 0) {
		*min = INT16_MIN;
		*max = INT16_MAX;
	} else if (strcmp(type, "integer") == 0) {
		*min = INT32_MIN;
		*max = INT32_MAX;
	} else if (strcmp(type, "bigint") == 0) {
		*min = INT64_MIN;
		*max = INT64_MAX;
	} else
		return false;
	return true;
}

bool remap_add(int64_t a, int64_t b, int64_t *out)
{
	return !__builtin_add_overflow(a, b, out);
}

bool remap_fits(int64_t lo, int64_t hi, int64_t offset, int64_t tmin, int64_t tmax, int64_t *limit)
{
	int64_t slo, shi;
	if (lo > hi)
		return true;
	if (remap_add(lo, offset, &slo) && remap_add(hi, offset, &shi) && slo >= tmin && shi <= tmax)
		return true;
	/* the largest offset keeping hi within tmax, or the smallest keeping lo
	 * above tmin: tmax - hi and tmin - lo cannot overflow for in-range ids */
	*limit = offset >= 0 ? tmax - hi : tmin - lo;
	return false;
}

int64_t remap_round_up(int64_t n)
{
	if (n <= 0)
		return 0;
	int64_t p = 1;
	while (p <= INT64_MAX / 10 && p * 10 <= n)
		p *= 10;
	/* p is the largest power of ten <= n; d * p >= n with d in 1..10 */
	int64_t d = n / p + (n % p != 0);
	if (d == 10)
		return p <= INT64_MAX / 10 ? p * 10 : INT64_MAX;
	return d <= INT64_MAX / p ? d * p : INT64_MAX;	/* INT64_MAX: no round number fits */
}

int64_t remap_auto_offset(int64_t slo, int64_t shi, int64_t tlo, int64_t thi)
{
	if (tlo > thi || slo > shi)
		return 0;
	if (slo > thi)
		return 0;	/* already apart */
	/* need slo + off > thi, i.e. off >= thi - slo + 1 */
	int64_t need;
	if (slo == INT64_MIN || !remap_add(thi, -slo, &need) || !remap_add(need, 1, &need))
		return INT64_MAX;	/* cannot be done: the caller's fit check refuses it */
	return remap_round_up(need);
}

bool remap_overlaps(int64_t slo, int64_t shi, int64_t off, int64_t tlo, int64_t thi)
{
	int64_t a, b;
	if (slo > shi || tlo > thi)
		return false;
	if (!remap_add(slo, off, &a) || !remap_add(shi, off, &b))
		return false;	/* out of range anyway: remap_fits reports it */
	return a <= thi && tlo <= b;
}

int64_t remap_headroom(int64_t base, bool has_next, int64_t next, int64_t tmax)
{
	int64_t limit = has_next ? next - 1 : tmax;	/* next > base: no overflow */
	int64_t room;
	if (limit <= base)
		return 0;
	if (__builtin_sub_overflow(limit, base, &room))
		return INT64_MAX;
	return room;
}

int64_t remap_headroom_bound(int64_t min_headroom, int64_t tmax)
{
	return min_headroom < tmax / 2 ? min_headroom : tmax / 2;
}

int64_t remap_column_offset(const struct hop_plan *plan, const struct plan_table *t, size_t col)
{
	if (t->key >= 0 && (size_t)t->key == col)
		return t->offset;
	for (size_t r = 0; r < t->nrefs; r++)
		if (t->refs[r].col == col)
			return plan->t[t->refs[r].table].offset;
	return 0;
}
