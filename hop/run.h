/*
 * run: what migrate asks of a hop between the stages: make it ready for
 * the copy (target schema, link, capture, each only if missing), whether
 * the copy is done (migrate run skips it then), whether finish may go
 * ahead and as what, and the hop's state for status.  Like all of hop/, it
 * never prints and never exits; errors are logged once, here or below.
 */
#ifndef HOP_RUN_H
#define HOP_RUN_H

#include <stdbool.h>

#include "hop.h"
#include "stage.h"

/*
 * hop_open for a program's command; when it fails, *source_failed says
 * whether the source was the end that failed (the target is connected
 * first: a missing source means the target answered).  The hop is closed
 * on failure.
 */
MUST_CHECK bool run_open(struct hop *h, const struct hop_config *cfg, int need, bool *source_failed);

/*
 * Target schema, link and capture, each only if missing (all idempotent).
 * A capture that was there already must number the tables as this
 * configuration does (refused before anything is copied: a plan problem),
 * and the target must read it as this version imports it (an older link
 * lacks "captured": imported again).  A catalog that could not be read
 * stops it: never taken for a missing capture.  false (logged) on error.
 */
MUST_CHECK bool run_prepare(struct hop *h);

/* *done: the hop's bulk copy finished (false when the target has no hop
 * state); false (logged) when it could not be read. */
MUST_CHECK bool run_copy_done(struct hop *h, bool *done);

/*
 * Whether finish may go ahead, and as what (*as: finished or abandoned):
 * after a cutover (switched, or finished: run again); before one only
 * with abandon, never while one is in progress (stage cutover: the source
 * may be fenced; "migrate cutover" run again finishes or rolls it back).
 * An abandoned hop stays abandoned.  No hop on the target but capture on
 * the source: never cut over either.  No hop and no capture: nothing to
 * do (finished).  false (logged, with the fix) when refused or when the
 * state could not be read.
 */
MUST_CHECK bool run_finish_allowed(struct hop *h, bool abandon, enum hop_stage *as);

/*
 * The hop's recorded state (sql/hop/status.sql) as one JSON object's text,
 * *json malloc'd for the caller to free.  false (logged, with a hint when
 * the target has no such hop) otherwise.
 */
MUST_CHECK bool run_status(struct hop *h, char **json);

#endif
