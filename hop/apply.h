/*
 * apply: the live sync.  Applies the source's captured changes to the
 * target, ids remapped, in batches, exactly once.
 *
 * Why it is exactly once and loses nothing (docs/change-capture.md):
 *
 * - Position.  Change ids come from a sequence without cache, so they grow
 *   in real time, but a transaction may commit after later ones.  A batch
 *   reads, in one remote snapshot S (postgres_fdw gives every foreign scan of
 *   a target transaction the same REPEATABLE READ snapshot):
 *     the changes with  pos < change_id <= U,  and
 *     the changes with  change_id <= pos  of the transactions that were
 *     running in the previous batch's snapshot P (xid in xip(P), or
 *     xid >= xmax(P): a snapshot does not list running transactions at or
 *     above its xmax) and are visible now.
 *   Afterwards pos = U and P = S.  A change at or below pos that was not
 *   seen belonged to a transaction running in P, so it is read as soon as
 *   that transaction commits; every change is read exactly once.
 * - U never passes the change sequence's value read in the previous batch:
 *   an id handed out before S was taken belongs to a transaction that had
 *   an xid before S (the captured row was written first), so it is either
 *   visible in S or listed as running in S.  A value read inside S could
 *   name a change whose transaction S does not list.  The value is read
 *   with pg_sequence_last_value(), under the sequence's buffer lock: a plain
 *   read can catch nextval() writing a value up to 32 ahead in place.  A
 *   value below the last one read means a change log made again (the
 *   reset check), so it must never be an artefact of the read.
 * - Row history.  Two changes of one row are ordered by the row lock: the
 *   later one was written after the earlier one committed, so it has the
 *   larger change id and is visible only if the earlier one is.  A batch
 *   therefore holds a prefix of every row's history, applied in change-id
 *   order (set-based: the last image of each key wins, deleted or written
 *   by one MERGE where no foreign key or second unique index orders the
 *   table's rows against others, else deletes children first, then
 *   upserts parents first; keyless tables by net count of each whole row;
 *   an error there falls back to applying the batch one change at a time,
 *   in order).
 * - Atomicity.  The applied rows and the new (pos, open_xids) commit in the
 *   same target transaction: a crash leaves both or neither.  Deleting
 *   processed changes from the source is a later, idempotent step.
 * - The copy.  Changes visible in the snapshot a copied piece was read in
 *   are already in the copy and are skipped (sync_fdw.copied).
 */
#ifndef APPLY_H
#define APPLY_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "hop.h"
#include "progress.h"

struct apply_opts {
	bool follow;			/* keep applying until stopped */
	int64_t batch_size;
	int64_t interval_ms;		/* --follow: pause when idle */
	volatile sig_atomic_t *stop;	/* set by a signal handler */
	progress_fn *progress;		/* the changes applied, each second and at the end */
	void *progress_arg;		/*   (NULL: none) */
};

struct apply_result {
	int64_t fetched;		/* changes read */
	int64_t applied;
	int64_t skipped;		/* already in the copy */
	int64_t batches;
	int64_t fallbacks;		/* batches applied one change at a time */
};

/* Apply what is pending (once) or keep following; false (logged, and
 * recorded as the hop's last error) when it had to stop. */
MUST_CHECK bool apply_run(struct hop *h, const struct apply_opts *o, struct apply_result *res);

/*
 * Where the sync stands; *report (a new reference) as status --json prints
 * it: {"hop","source","stage","position","pending","lag_seconds","applied",
 * "skipped","batches","rate","open_transactions","last_batch_at",
 * "last_error","last_error_at"}, or for a finished hop {"hop","source",
 * "stage":"finished","finished":true,"cutover_at"}.  false (logged, *report
 * NULL) when there is no hop or the target could not be read.
 */
MUST_CHECK bool apply_status(struct hop *h, json_t **report);

/* The status as text for a terminal. */
void apply_status_text(const json_t *status, struct buf *out);

#endif
