/*
 * plan: the hop decided: which tables move, each table's key and offset,
 * which columns refer to which table, the id ranges before and after, and
 * every problem that would make the hop fail or lose data, each with a fix.
 * Nothing is written; sync-fdw refuses to act on a plan with problems and
 * migrate plan prints it.
 */
#ifndef PLAN_H
#define PLAN_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "catalog.h"
#include "hopcfg.h"
#include "log.h"
#include "util.h"

struct plan_ref {
	size_t col;		/* referring column (index into src->cols) */
	size_t table;		/* referenced table (index into plan->t) */
	bool from_fk;		/* declared by a foreign key (else by refs:) */
};

struct plan_table {
	const struct cat_table *src;	/* never NULL */
	const struct cat_table *tgt;	/* NULL when the target lacks the table */
	int id;				/* number in the change log (1-based) */
	int key;			/* remapped key column, -1 for none */
	bool key_given;			/* named by key: (not the primary key's own) */
	bool natural;			/* the key has no sequence: ids are not generated */
	int64_t offset;
	bool offset_auto;
	bool offset_fixed;		/* recorded when the hop was linked */
	bool linked;			/* in the hop's ledger: the target may hold its rows */
	enum hop_conflict conflict;	/* resolved: never HOP_CONFLICT_DEFAULT or _APPEND */
	bool append;			/* conflict: append (no primary key): the target's rows stay */
	struct plan_ref *refs;
	size_t nrefs;
	/* identity used to find a row: the primary key, or the whole row */
	size_t *ident;
	size_t nident;
	int64_t src_min, src_max;	/* key range on the source (min > max: none) */
	int64_t tgt_min, tgt_max;	/* key range already on the target */
	int64_t src_rows, tgt_rows;
	/* new ids the source may hand out before one, shifted, meets a
	 * target id (headroom_target) or its type's maximum; -1: no key */
	int64_t headroom;
	bool headroom_target;
	int64_t min_headroom;		/* an explicit offset must leave this */
	int64_t replaced;		/* target rows a default replace would overwrite */
};

struct hop_plan {
	struct cat src, tgt;
	struct plan_table *t;
	size_t n;
	size_t *order;			/* parents before children */
	struct problem *problems;	/* each with a hint, never a detail (log.h) */
	size_t nproblems;
};

/* An offset already decided for this hop (recorded in the target's ledger
 * when it was linked): used as is, never recomputed, since the target
 * then holds the hop's own rows. */
struct plan_fixed {
	char *table;
	int64_t offset;
};

/*
 * Read both catalogs and decide the hop.  Returns false only when a
 * database could not be read (logged): then *plan is left empty (zeroed,
 * nothing to release).  Problems with the hop itself are collected in
 * plan->problems (nproblems > 0).  source_counts, when not NULL, is an
 * earlier plan of the same source whose id ranges and row counts are taken
 * instead of counting the source's rows again; it may not be plan itself.
 */
MUST_CHECK bool plan_build(const struct hop_config *cfg, PGconn *src,
						    PGconn *tgt, const struct plan_fixed *fixed,
						    size_t nfixed, const struct hop_plan *source_counts,
						    struct hop_plan *plan);
void plan_release(struct hop_plan *plan);

/*
 * Add the problems only a bulk copy has: a table without a primary key
 * whose target table already holds rows, unless conflict: append (or the
 * hop is linked: they may be its own).  migrate asks, since it copies;
 * sync-fdw only applies changes (the way back after a cutover applies
 * them to the old host's own rows), so it does not.
 */
void plan_check_copy(struct hop_plan *plan);

/* Add a problem (message from fmt; hint may be NULL) to the plan. */
void plan_problem(struct hop_plan *plan, const char *hint, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

const struct plan_table *plan_table(const struct hop_plan *plan, const char *name);

/*
 * Decide the hop from catalogs already read (plan->src and plan->tgt
 * filled, the rest zeroed): tables, keys, identities, references and
 * their order, with the problems the configuration alone shows.  No I/O:
 * plan_build's first step, exposed for the unit tests.
 */
void plan_choose(const struct hop_config *cfg, struct hop_plan *plan);

/* The problems in their text form (log.h), one after the other. */
void plan_problems_text(const struct hop_plan *plan, struct buf *out);

/* The plan as a report (report.h): tables (keys, refs, offsets, ranges)
 * in order, then problems ({"problem", "hint"}); a new reference. */
json_t *plan_json(const struct hop_plan *plan);
/* The plan as text for a terminal. */
void plan_text(const struct hop_plan *plan, struct buf *out);

#endif
