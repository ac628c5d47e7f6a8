/*
 * verify: compare the source and the target table by table: row counts and
 * an order-independent content checksum (the sum of a 64-bit hash of each
 * row's text), the source's rows remapped as the hop remaps them.  On a
 * mismatch, the first differing keys (or rows, for keyless tables).
 *
 * After the cutover, also each sequence the hop's columns draw from on the
 * target (seqs.h): its next value must be beyond every id of its columns.
 *
 * Rows the target held before the hop (below the offsets, recorded in the
 * ledger) are left out.  Meaningful when nothing writes: after a cutover,
 * or with writes paused; during a live sync it shows the lag.
 */
#ifndef VERIFY_H
#define VERIFY_H

#include <jansson.h>
#include <stdbool.h>

#include "buf.h"
#include "hop.h"

/*
 * Compare; *report (a new reference) is the verification as migrate verify
 * --json prints it:
 *   {"as_of_cutover":B, "tables":[{"table","source_rows","target_rows",
 *    "match","differences":[text...]}...], "sequences":null (before the
 *    cutover) or [{"sequence","increment","next","column","max"|"min","ok"}...],
 *    "match":B}
 * *match tells whether everything matched.  false (logged, *report NULL)
 * when a database could not be read.
 */
MUST_CHECK bool verify_run(struct hop *h, json_t **report, bool *match);

/* The report as text for a terminal. */
void verify_text(const json_t *report, struct buf *out);

#endif
