/*
 * remap: id arithmetic of a hop, pure (unit-tested without a database).
 *
 * A table's key column gets an offset; every column referring to that table
 * is shifted by the same offset.  These functions decide offsets and refuse
 * what cannot work before anything is written: an offset that would push an
 * id out of its column's type, or source ids landing on ids the target
 * already holds.  remap_column_offset reads a plan's structs (plan.h) but
 * calls nothing of plan.c: linking this file needs no database library.
 */
#ifndef REMAP_H
#define REMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* An integer column type's range; false for a type that is not one. */
bool remap_type_range(const char *type, int64_t *min, int64_t *max);

/* a + b, false on int64 overflow. */
bool remap_add(int64_t a, int64_t b, int64_t *out);

/*
 * Whether [lo, hi] shifted by offset stays inside [tmin, tmax]; when not,
 * *limit is the largest (or smallest, for negative offsets) offset that
 * would fit.  An empty range (lo > hi) always fits.
 */
bool remap_fits(int64_t lo, int64_t hi, int64_t offset, int64_t tmin, int64_t tmax,
		int64_t *limit);

/* The smallest "round" number (d * 10^k, d in 1..9) that is >= n (n >= 0);
 * INT64_MAX when none fits in 64 bits. */
int64_t remap_round_up(int64_t n);

/*
 * The offset "auto" picks: 0 when the target holds no ids (tlo > thi) or
 * the source has none; otherwise the smallest round offset that puts every
 * shifted source id above the target's largest id.
 */
int64_t remap_auto_offset(int64_t slo, int64_t shi, int64_t tlo, int64_t thi);

/* Whether [slo+off, shi+off] and [tlo, thi] overlap (empty ranges never do). */
bool remap_overlaps(int64_t slo, int64_t shi, int64_t off, int64_t tlo, int64_t thi);

/*
 * Headroom: how many more ids the source may hand out, upwards from its
 * largest id, before one, shifted, meets a target id or passes the
 * column's type.  base is the largest shifted source id (the source's
 * largest id, or 0 when it has none, plus the offset); next, when has_next,
 * is the smallest id the target holds above base; tmax the type's maximum.
 * 0 when base is already at the limit; INT64_MAX when the room does not
 * fit in 64 bits.
 */
int64_t remap_headroom(int64_t base, bool has_next, int64_t next, int64_t tmax);

/* The headroom an explicit offset must leave: min_headroom, but at most half
 * the key type's maximum (a smallint key could never leave 1000000). */
int64_t remap_headroom_bound(int64_t min_headroom, int64_t tmax);

struct hop_plan;
struct plan_table;

/* The offset applied to column col of table t of plan: its key's, its
 * reference's (the referenced table's), or 0. */
int64_t remap_column_offset(const struct hop_plan *plan, const struct plan_table *t, size_t col);

#endif
