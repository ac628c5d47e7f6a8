/*
 * seqs: the target's sequences behind the hop's columns, measured against
 * the ids the target holds, and set above them at the cutover.
 *
 * A sequence belongs to the hop when a column of one of the hop's tables
 * draws from it on the target (catalog.h: an identity sequence, one the
 * column owns, or one its default names).  It is measured against every
 * integer column of the schema that draws from it, moved or not: a
 * sequence shared by two tables must clear the ids of both, and a table the
 * application created keeps its own rows above or below the moved ones.
 * A sequence with a negative increment must stay below the smallest id.
 */
#ifndef SEQS_H
#define SEQS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hop.h"

struct seqs_state {
	char *sequence;		/* quoted and qualified */
	int64_t increment;
	int64_t min, max;	/* the sequence's bounds */
	bool has_ids;		/* some column drawing from it holds a row */
	int64_t extreme;	/* largest id (increment > 0) or smallest (< 0) */
	char *column;		/* "table.column" holding it; NULL without ids */
	bool exhausted;		/* nextval would fail: at its bound */
	int64_t next;		/* what nextval returns next (unless exhausted) */
	bool clear;		/* next is beyond every id (or there are none) */
};

struct seqs {
	struct seqs_state *s;
	size_t n;
};

/* Read every sequence of the hop on the target; false (logged) on error. */
MUST_CHECK bool seqs_read(struct hop *h, struct seqs *out);
void seqs_release(struct seqs *seqs);

/*
 * Move every sequence of the hop beyond the ids its columns hold on the
 * target (never back: one already beyond is left alone).  *count gets the
 * number of sequences of the hop, *moved those set.  Refuses, naming the
 * sequence, one whose bound leaves no value beyond the ids.
 */
MUST_CHECK bool seqs_set(struct hop *h, int *count, int *moved);

#endif
