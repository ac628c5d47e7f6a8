/*
 * cutover: move the service from the source to the target with writes
 * held, not failed (docs/ARCHITECTURE.md, "The cutover"; docs/change-capture.md,
 * section 6):
 *
 *   1. preflight: copy finished, sync lag small, the target DSN carries no
 *      password, every server's driver can do its part (driver.h);
 *   2. take over the apply (a follower is asked to stop) and catch up;
 *   3. pause every server (cutover.servers: minitwitd, PgBouncer, command
 *      hooks): new writes are held, in-flight ones finish;
 *   4. fence the source: every write to the hop's tables fails (SQLSTATE
 *      MT001) and new sessions are read-only; then wait until every
 *      transaction that was running at the fence has ended;
 *   5. drain the last changes;
 *   6. set the target's sequences beyond every id (seqs.h);
 *   7. switch every server to the target, writes still held (reversible),
 *      point the fence at the target (minitwit_fence.moved_to: the point of
 *      no return) and resume every server; held writes run on the target.
 * The servers are called concurrently (driver.h), so the hold does not
 * grow with their number; cutover.c knows no driver.  Any failure before
 * the point of no return unfences the source, points every switched server
 * back at it and resumes every server there.  Re-running a cutover that was
 * killed finishes it (every step is idempotent); a paused minitwitd resumes
 * by itself after max_hold_ms in the meantime, and a write it makes then
 * fails on the fence rather than landing on the old host.
 */
#ifndef CUTOVER_H
#define CUTOVER_H

#include <jansson.h>
#include <stdbool.h>

#include "buf.h"
#include "hop.h"

struct cutover_opts {
	bool dry_run;		/* preflight only */
};

/*
 * *report (a new reference) is the cutover's report, also recorded on the
 * target (sync_fdw.hop.report) unless dry_run: {"hop","dry_run","steps":
 * [{"step","ok","ms","detail"?}...], ..., "ok","total_ms"}.
 */
MUST_CHECK bool cutover_run(struct hop *h, const struct cutover_opts *o, json_t **report);

/* The report as text: one line per step and per server, then the outcome. */
void cutover_text(const json_t *report, struct buf *out);

/*
 * The servers the cutover will call, checked long before it (migrate
 * plan, schema, copy, run): with cutover.servers given, the token variable
 * (cutover.token_env) must be set when an entry is admin_url or admin_dns,
 * and every entry's driver preflight must pass (drivers_check, driver.h).
 * A failure becomes a plan problem with its fix; nothing changes on any
 * server.
 */
void cutover_check_servers(struct hop *h);

/* Remove the fence from the source (rollback of a cutover, or finish of a
 * rehearsal that moves back): idempotent. */
MUST_CHECK bool cutover_unfence(PGconn *src);

#endif
