/*
 * sqlgen: SQL text for the hop, built from a plan.  Identifiers are always
 * quoted ("user", "UserProfile").  The values that appear in the text are
 * the plan's own, never user input: offsets and table numbers as integer
 * literals, and catalog names (a table's, the link's server name) as
 * literals quoted by sqlgen_literal; the rows' values and key ranges are
 * parameters at execution.  No I/O: it links only remap.c (for the
 * offsets) and buf, and is unit-tested without a database or libpq.
 *
 * Names used on the target:
 *   <staging>.<table>       foreign tables of the source's tables
 *   <staging>_cdc.changes   the source's change log, through the link
 * A row image is the record text of a source row; "(img)::<staging>.<t>"
 * turns it back into a row of the foreign table's type (a column added on
 * the source makes that cast fail: the apply stops rather than drop data).
 */
#ifndef SQLGEN_H
#define SQLGEN_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"

struct hop_plan;
struct plan_table;

/* "name" with embedded quotes doubled. */
void sqlgen_ident(struct buf *b, const char *name);
/* "schema"."name" */
void sqlgen_qualified(struct buf *b, const char *schema, const char *name);
/* 'text' with embedded quotes doubled (for catalog text that is not user input);
 * with a backslash  E'a\\b'  (PQescapeLiteral's form, with its leading blank),
 * read the same whatever standard_conforming_strings says. */
void sqlgen_literal(struct buf *b, const char *text);

/* "c1", "c2", ... in source column order. */
void sqlgen_columns(struct buf *b, const struct plan_table *t);

/*
 * The source columns of the row expression rowexpr, remapped:
 * (rowexpr)."id" + 1000, (rowexpr)."author_id" + 0 ... (offset 0 is left out).
 */
void sqlgen_remapped(struct buf *b, const struct hop_plan *p, const struct plan_table *t,
		     const char *rowexpr);

/* How inserts and deletes are captured (capture.triggers; see sql/hop/capture.sql). */
enum sqlgen_capture_mode {
	SQLGEN_CAPTURE_ROW,		/* "row": FOR EACH ROW */
	SQLGEN_CAPTURE_STATEMENT,	/* "statement": FOR EACH STATEMENT, transition tables */
	SQLGEN_CAPTURE_C,		/* FOR EACH ROW, calling the sync_fdw_capture extension's
					 * sync_fdw_src.capture_row(id [, 'settings']) */
};

/*
 * Triggers capturing table t on the source, and their functions
 * sync_fdw_src.capture_<id>_insert/update/delete() (the table's number
 * baked in); in SQLGEN_CAPTURE_C the triggers call the extension's C
 * function with the table's number (and 'settings' when its images need
 * fixed DateStyle/IntervalStyle/extra_float_digits).  Idempotent: the four
 * triggers (same names in every mode) are dropped and created, the
 * functions replaced, so running it in another mode replaces what the
 * first made; run it in one transaction.
 */
void sqlgen_capture_triggers(struct buf *b, const struct plan_table *t, enum sqlgen_capture_mode mode);
/* Dropping them. */
void sqlgen_capture_drop(struct buf *b, const char *table);

/*
 * Copy one piece of a table through the link:
 *   INSERT INTO public.t (cols) SELECT remapped FROM <staging>.t s
 *   [WHERE key >= $1 AND key < $2] [ON CONFLICT (pk) DO UPDATE ...]
 * ranged: with the key range condition ($1, $2 are bigint parameters).
 */
void sqlgen_copy(struct buf *b, const struct hop_plan *p, const struct plan_table *t,
		 const char *staging, bool ranged);

/*
 * The set-based apply of one table's changes in the batch table
 * pg_temp.sync_batch(change_id, xid, tbl, op, img, old):
 *   keyed tables: the last image of each key wins; keys whose last change
 *   removes them are deleted, the others upserted;
 *   keyless tables: the net count of each whole row is inserted or deleted
 *   (one copy per unit, by ctid).
 * Emits two statements: sqlgen_apply_delete (run children first) and
 * sqlgen_apply_upsert (run parents first).
 */
void sqlgen_apply_delete(struct buf *b, const struct hop_plan *p, const struct plan_table *t,
			 const char *staging);
void sqlgen_apply_upsert(struct buf *b, const struct hop_plan *p, const struct plan_table *t,
			 const char *staging);

/*
 * Both halves of a keyed table's set-based apply in one statement, for a
 * target table that no foreign key ties to another and whose only unique
 * index is its primary key (so nothing orders its rows against other
 * tables' or among themselves):
 *   MERGE INTO public.t USING <last change per key> ON key
 *   WHEN MATCHED AND NOT present THEN DELETE
 *   WHEN MATCHED THEN UPDATE SET ... WHEN NOT MATCHED AND present THEN INSERT
 * The images are parsed and sorted once instead of twice, and a new key is
 * a plain insert instead of a speculative one (ON CONFLICT).  Keyless
 * tables: sqlgen_apply_upsert.
 */
void sqlgen_apply_merge(struct buf *b, const struct hop_plan *p, const struct plan_table *t,
			const char *staging);

/*
 * One change at a time (the exact-order fallback), for prepared statements
 * with $1 = the image (new for I/U, old for D) and, for U, $2 = old image.
 */
void sqlgen_apply_one(struct buf *b, const struct hop_plan *p, const struct plan_table *t,
		      const char *staging, char op);

/*
 * Split the batch's updates that change the key into a delete of the old
 * key and an insert of the new one (same change id), so that each half is
 * checked against the copy piece that holds its own key.
 */
void sqlgen_split_key_updates(struct buf *b, const struct plan_table *t, const char *staging);

/* Skip the batch's changes already contained in a copy piece's snapshot. */
void sqlgen_skip_copied(struct buf *b, const struct plan_table *t, const char *staging,
			const char *server_literal);

#endif
