/*
 * cutover: move the service from the source to the target with writes
 * held, not failed (docs/ARCHITECTURE.md, "The cutover"; docs/change-capture.md,
 * section 6):
 *
 *   1. preflight: copy finished, sync lag small, every server's admin API
 *      answers, the target DSN carries no password;
 *   2. take over the apply (a follower is asked to stop) and catch up;
 *   3. pause every minitwitd: new writes are held, in-flight ones finish;
 *   4. fence the source: every write to the hop's tables fails (SQLSTATE
 *      MT001) and new sessions are read-only; then wait until every
 *      transaction that was running at the fence has ended;
 *   5. drain the last changes;
 *   6. set the target's sequences above every id;
 *   7. point the fence at the target (minitwit_fence.moved_to) and switch
 *      every minitwitd there; held writes run on the target.
 * The servers are called concurrently (libcurl multi), so the hold does not
 * grow with their number.  Any failure before step 7 unfences the source
 * and resumes every server where it was.  Re-running a cutover that was
 * killed finishes it (every step is idempotent); a paused server resumes by
 * itself after max_hold_ms in the meantime, and a write it makes then fails
 * on the fence rather than landing on the old host.
 */
#ifndef CUTOVER_H
#define CUTOVER_H

#include <stdbool.h>

#include "buf.h"
#include "hop.h"

struct cutover_opts {
	bool dry_run;		/* preflight only */
	bool json;
};

/* Appends the report (text or JSON) to out. */
MUST_CHECK bool cutover_run(struct hop *h, const struct cutover_opts *o, struct buf *out);

/* Remove the fence from the source (rollback of a cutover, or finish of a
 * rehearsal that moves back): idempotent. */
MUST_CHECK bool cutover_unfence(PGconn *src);

#endif
