/*
 * copy: the bulk copy of the source's existing rows into the target,
 * through the link, ids remapped, consistent with the change capture.
 *
 * Each piece (a key range of batch_rows ids, or a whole keyless table) is
 * one target transaction that reads the source's snapshot and the rows in
 * the same remote snapshot and records both in sync_fdw.copied: a killed
 * copy resumes at the first missing piece and never copies a row twice,
 * and the apply skips exactly the captured changes a piece already holds
 * (those visible in its snapshot).  Capture must be installed first.
 *
 * Secondary indexes of an empty target table are dropped before its first
 * piece and rebuilt after the last (recorded in sync_fdw.copy_index, so a
 * resumed copy rebuilds them too): loading without them and building each
 * once is faster than maintaining them row by row.
 */
#ifndef COPY_H
#define COPY_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "hop.h"

struct copy_opts {
	bool progress;			/* progress on stderr (\r on a terminal) */
	bool json;			/* JSON progress lines on stdout */
	volatile sig_atomic_t *stop;
};

struct copy_result {
	int64_t rows;			/* copied in this run */
	int64_t pieces;			/* copied in this run */
	int64_t pieces_skipped;		/* already copied by an earlier run */
	double seconds;
	double index_seconds;
};

MUST_CHECK bool copy_run(struct hop *h, const struct copy_opts *o, struct copy_result *res);

#endif
