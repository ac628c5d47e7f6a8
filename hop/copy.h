/*
 * copy: the bulk copy of the source's existing rows into the target, ids
 * remapped, consistent with the change capture.
 *
 * Each piece (a key range of batch_rows ids, or a whole keyless table) is
 * one REPEATABLE READ transaction on the source, which reads the source's
 * snapshot (sync_fdw_src.horizon) and streams the piece's rows with
 * COPY (SELECT <remapped columns> ...) TO STDOUT, and one transaction on
 * the target, which loads them with COPY ... FROM STDIN and records the
 * piece with that snapshot in sync_fdw.copied before it commits.  So a
 * killed copy resumes at the first missing piece and never copies a row
 * twice, and the apply skips exactly the captured changes a piece already
 * holds (those visible in its snapshot).  Capture must be installed first.
 * The binary COPY format is used when every column has a built-in type
 * (the same on both ends by the plan's check); text otherwise.
 *
 * Rows go straight into the table when no source row can meet a target
 * row (conflict "refuse", an empty target table, or a table this copy
 * loads alone); a "replace" table that already has rows is loaded into a
 * temporary table first and merged with INSERT ... ON CONFLICT.
 *
 * copy.workers pieces run at once, each worker with its own source and
 * target sessions (one worker when the target declares foreign keys: rows
 * then go parents first).  Every index of an empty target table (its
 * primary key and unique constraints too, unless a foreign key or a
 * deferrable constraint needs them) is dropped before the load and
 * recorded in sync_fdw.copy_index; as soon as a table's last piece is in,
 * its indexes are built, by whichever worker is free, while the other
 * workers go on loading other tables; then the constraints are attached
 * and the table analysed.  Loading without indexes and building each once
 * is faster than maintaining them row by row.  This file schedules those
 * steps and pumps the rows; indexes.c drops, records and rebuilds.
 */
#ifndef COPY_H
#define COPY_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "hop.h"
#include "progress.h"

struct copy_opts {
	progress_fn *progress;		/* each table's rows, a few times a second and at its end */
	void *progress_arg;		/*   (NULL: none) */
	volatile sig_atomic_t *stop;
};

struct copy_result {
	int64_t rows;			/* copied in this run */
	int64_t pieces;			/* copied in this run */
	int64_t pieces_skipped;		/* already copied by an earlier run */
	int workers;			/* pieces copied at once */
	double seconds;
	double index_seconds;		/* summed over the workers */
};

MUST_CHECK bool copy_run(struct hop *h, const struct copy_opts *o, struct copy_result *res);

#endif
