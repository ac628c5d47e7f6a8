/*
 * stage: the hop's stage machine; see stage.h.
 */
#include "stage.h"

#include <string.h>

#include "hop.h"
#include "log.h"
#include "pgx.h"
#include "banned.h"

static const char *const names[HOP_STAGE_COUNT] = {
	[HOP_STAGE_LINKED] = "linked",
	[HOP_STAGE_CAPTURING] = "capturing",
	[HOP_STAGE_COPYING] = "copying",
	[HOP_STAGE_COPIED] = "copied",
	[HOP_STAGE_SYNCING] = "syncing",
	[HOP_STAGE_CUTOVER] = "cutover",
	[HOP_STAGE_SWITCHED] = "switched",
	[HOP_STAGE_FINISHED] = "finished",
	[HOP_STAGE_ABANDONED] = "abandoned",
};

/* moves[from][to]: 0 refused, Y allowed when asked, A also made by itself */
enum { N = 0, Y = 1, A = 2 };
static const unsigned char moves[HOP_STAGE_COUNT][HOP_STAGE_COUNT] = {
	/*                         lnk cap cpg cpd syn cut swi fin abn */
	[HOP_STAGE_LINKED]    = {  N,  A,  Y,  N,  A,  Y,  N,  N,  Y },
	[HOP_STAGE_CAPTURING] = {  N,  N,  Y,  N,  A,  Y,  N,  N,  Y },
	[HOP_STAGE_COPYING]   = {  N,  N,  Y,  Y,  N,  N,  N,  N,  Y },
	[HOP_STAGE_COPIED]    = {  N,  N,  Y,  N,  A,  Y,  N,  N,  Y },
	[HOP_STAGE_SYNCING]   = {  N,  N,  Y,  N,  N,  Y,  N,  N,  Y },
	[HOP_STAGE_CUTOVER]   = {  N,  N,  N,  N,  Y,  Y,  Y,  N,  N },
	[HOP_STAGE_SWITCHED]  = {  N,  N,  N,  N,  N,  N,  N,  Y,  N },
	[HOP_STAGE_FINISHED]  = {  N,  N,  N,  N,  N,  N,  N,  Y,  N },
	[HOP_STAGE_ABANDONED] = {  N,  N,  N,  N,  N,  N,  N,  N,  Y },
};

/* What the hop row records on entering a stage, besides the stage. */
static const char *const entering[HOP_STAGE_COUNT] = {
	[HOP_STAGE_COPYING] = ", copy_started_at = coalesce(copy_started_at, now()), copy_finished_at = NULL",
	[HOP_STAGE_COPIED] = ", copy_finished_at = now()",
	[HOP_STAGE_SWITCHED] = ", cutover_at = now()",
};

static bool valid(enum hop_stage s)
{
	return (unsigned)s < HOP_STAGE_COUNT;
}

const char *hop_stage_name(enum hop_stage s)
{
	return valid(s) ? names[s] : "?";
}

bool hop_stage_parse(const char *text, enum hop_stage *s)
{
	for (int i = 0; text && i < HOP_STAGE_COUNT; i++)
		if (strcmp(text, names[i]) == 0) {
			*s = (enum hop_stage)i;
			return true;
		}
	return false;
}

bool hop_stage_allowed(enum hop_stage from, enum hop_stage to)
{
	return valid(from) && valid(to) && moves[from][to] != N;
}

bool hop_stage_automatic(enum hop_stage from, enum hop_stage to)
{
	return valid(from) && valid(to) && moves[from][to] == A;
}

void hop_stage_from_array(enum hop_stage to, bool automatic, struct buf *out)
{
	bool any = false;
	buf_addc(out, '{');
	for (int i = 0; valid(to) && i < HOP_STAGE_COUNT; i++)
		if (automatic ? hop_stage_automatic((enum hop_stage)i, to)
			      : hop_stage_allowed((enum hop_stage)i, to)) {
			buf_adds(out, any ? "," : "");
			buf_adds(out, names[i]);
			any = true;
		}
	buf_addc(out, '}');
}

bool hop_stage_read(struct hop *h, bool *exists, enum hop_stage *s)
{
	const char *p[] = { h->server };
	PGresult *r = PQexecParams(h->tgt, "SELECT stage FROM sync_fdw.hop WHERE server = $1", 1, NULL, p, NULL,
				   NULL, 0);
	bool ok = true;
	*exists = false;
	/* no state on the target (never linked): no hop, not an error */
	if (pgx_undefined(r))
		goto out;
	ok = pgx_check(r, PGRES_TUPLES_OK, -1, 1, "read the hop's stage");
	*exists = ok && PQntuples(r) == 1;
	if (*exists && !hop_stage_parse(PQgetvalue(r, 0, 0), s)) {
		log_error("hop \"%s\" is at stage \"%s\", which this program does not know\nhint: use the "
			  "version of sync-fdw and migrate that recorded it", h->server, PQgetvalue(r, 0, 0));
		ok = false;
	}
out:
	PQclear(r);
	return ok;
}

/* Where a hop at from may go, for messages: "copying", "abandoned" */
static void targets(enum hop_stage from, struct buf *out)
{
	for (int i = 0; i < HOP_STAGE_COUNT; i++)
		if (hop_stage_allowed(from, (enum hop_stage)i))
			buf_addf(out, "%s\"%s\"", out->len ? ", " : "", names[i]);
}

/* The UPDATE for a move to to from the stages in from[]; returns the
 * result (1 row when moved). */
static PGresult *update(struct hop *h, enum hop_stage to, bool automatic)
{
	struct buf sql = BUF_INIT, from = BUF_INIT;
	hop_stage_from_array(to, automatic, &from);
	buf_adds(&sql, "UPDATE sync_fdw.hop SET stage = $2");
	if (entering[to])
		buf_adds(&sql, entering[to]);
	buf_adds(&sql, " WHERE server = $1 AND stage = ANY ($3::text[]) RETURNING 1");
	const char *p[] = { h->server, names[to], from.data };
	PGresult *r = PQexecParams(h->tgt, sql.data, 3, NULL, p, NULL, NULL, 0);
	buf_release(&sql);
	buf_release(&from);
	return r;
}

static bool move(struct hop *h, enum hop_stage to, bool automatic)
{
	if (!valid(to))
		return false;
	PGresult *r = update(h, to, automatic);
	bool ok = pgx_check(r, PGRES_TUPLES_OK, -1, 1, "record the hop's stage");
	bool moved = ok && PQntuples(r) == 1;
	PQclear(r);
	if (!ok || moved || automatic)
		return ok;
	/* refused: say from where, and where it could go */
	bool exists = false;
	enum hop_stage at = HOP_STAGE_LINKED;
	if (!hop_stage_read(h, &exists, &at))
		return false;
	if (!exists) {
		log_error("no hop \"%s\" on the target\nhint: run \"sync-fdw link\" (or \"migrate run\") first",
			  h->server);
		return false;
	}
	struct buf can = BUF_INIT;
	targets(at, &can);
	log_error("hop \"%s\" is at stage \"%s\": it cannot move to stage \"%s\"\ndetail: from \"%s\" a hop "
		  "moves to %s%s", h->server, names[at], names[to], names[at], can.len ? "" : "no other stage",
		  can.len ? can.data : "");
	buf_release(&can);
	return false;
}

bool hop_stage_move(struct hop *h, enum hop_stage to)
{
	return move(h, to, false);
}

bool hop_stage_advance(struct hop *h, enum hop_stage to)
{
	return move(h, to, true);
}
