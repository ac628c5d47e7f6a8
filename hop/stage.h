/*
 * stage: the hop's stage machine, the one place that knows the stages, the
 * text each is stored as (sync_fdw.hop.stage: status prints it, scripts and
 * operators read it, so the names are a contract), which stage may follow
 * which, and what the hop row records on entering one.
 *
 *   linked -> capturing -> copying -> copied -> syncing -> cutover -> switched -> finished
 *
 * with these side roads: the copy may start (or start again) from any stage
 * before the cutover; the apply moves linked, capturing and copied on to
 * syncing by itself (a running copy stays copying); a cutover that fails
 * before its switch goes back from cutover to syncing, and one run again
 * after a crash goes from cutover to cutover; any stage before the cutover
 * may be abandoned ("migrate finish --abandon").  finished and abandoned are
 * final.  Every other move is refused.
 */
#ifndef HOP_STAGE_H
#define HOP_STAGE_H

#include <stdbool.h>

#include "buf.h"
#include "util.h"

struct hop;

enum hop_stage {
	HOP_STAGE_LINKED,	/* "linked": sync-fdw link made the hop's row */
	HOP_STAGE_CAPTURING,	/* "capturing": capture installed after the link */
	HOP_STAGE_COPYING,	/* "copying": a bulk copy started and has not finished */
	HOP_STAGE_COPIED,	/* "copied": the bulk copy finished */
	HOP_STAGE_SYNCING,	/* "syncing": the apply has run a batch */
	HOP_STAGE_CUTOVER,	/* "cutover": the source is (or may be) fenced */
	HOP_STAGE_SWITCHED,	/* "switched": the service writes to the target */
	HOP_STAGE_FINISHED,	/* "finished": link and capture removed after the cutover */
	HOP_STAGE_ABANDONED,	/* "abandoned": given up before a cutover */
};
#define HOP_STAGE_COUNT 9

/* The stored text of s ("linked", ...); never NULL for a valid s. */
const char *hop_stage_name(enum hop_stage s);

/* The stage stored as text; false for a text that names none. */
MUST_CHECK bool hop_stage_parse(const char *text, enum hop_stage *s);

/* Whether a hop at stage from may be moved to stage to. */
bool hop_stage_allowed(enum hop_stage from, enum hop_stage to);

/* Whether the move is one an engine step makes by itself when it finds the
 * hop at from (hop_stage_advance), rather than one asked for. */
bool hop_stage_automatic(enum hop_stage from, enum hop_stage to);

/* The stages from which to may be reached (only the automatic moves when
 * automatic), as a PostgreSQL text[] literal: {linked,capturing,copied}. */
void hop_stage_from_array(enum hop_stage to, bool automatic, struct buf *out);

/*
 * The hop's stage as recorded on the target: *exists false (and true
 * returned) when the target has no state or no row for the hop; false
 * (logged) when it could not be read or holds a stage this program does
 * not know.
 */
MUST_CHECK bool hop_stage_read(struct hop *h, bool *exists, enum hop_stage *s);

/*
 * Move the hop to stage to, in one statement on the target that also
 * records what entering it means (copying: copy_started_at kept or set,
 * copy_finished_at cleared; copied: copy_finished_at; switched:
 * cutover_at).  A move the machine does not allow changes nothing and is
 * refused: false, logged with the stage the hop is at and where it can go
 * from there.  false (logged) also when the hop has no row.
 */
MUST_CHECK bool hop_stage_move(struct hop *h, enum hop_stage to);

/* The automatic form: moves the hop to stage to when it is at a stage from
 * which the machine moves there by itself; otherwise leaves it (true).
 * false (logged) only when the target could not be written. */
MUST_CHECK bool hop_stage_advance(struct hop *h, enum hop_stage to);

#endif
