/*
 * indexes: the copy's index deferral.  Loading an empty table without its
 * indexes and building each once afterwards is faster than maintaining
 * them row by row, so before the copy loads an empty target table its
 * indexes are dropped (plain ones, and the primary key and unique
 * constraints unless a foreign key depends on them, they are deferrable
 * or exclusion constraints) and recorded in sync_fdw.copy_index; once the
 * table's rows are in, each is built again, its constraint attached, and
 * the row forgotten.  Kept on the target, the record survives a killed
 * copy: the next run rebuilds what it finds there (link warns about it).
 * The copy (copy.c) schedules these steps on its workers.
 */
#ifndef INDEXES_H
#define INDEXES_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "hop.h"

/* A row of sync_fdw.copy_index: an index to build once its table is in. */
struct copy_index {
	char *name, *def, *tbl;		/* tbl: "" when the row has none */
	char kind;			/* 'i' plain, 'p' primary key, 'u' unique constraint */
	size_t width;			/* key columns: a guess at the build's cost */
};

struct copy_indexes {
	struct copy_index *v;
	size_t n;
};

/* Drop the indexes of table t (empty on the target), recording each
 * first, one transaction per index; false (logged) on error. */
MUST_CHECK bool indexes_defer(struct hop *h, const struct plan_table *t);

/* The hop's recorded indexes, widest first (the longest builds should not
 * start last); false (logged) on error.  Release with indexes_release. */
MUST_CHECK bool indexes_read(struct hop *h, struct copy_indexes *out);
void indexes_release(struct copy_indexes *ix);

/* Build one recorded index on tgt (unless it exists); a plain one is
 * forgotten in the same transaction, a constraint's by indexes_finish. */
MUST_CHECK bool indexes_build(struct hop *h, PGconn *tgt, const struct copy_index *d);

/* Table's rows and indexes are in: attach its constraints to their
 * indexes (forgetting them), then analyse the table. */
MUST_CHECK bool indexes_finish(struct hop *h, PGconn *tgt, const struct copy_indexes *ix, const char *table);

#endif
