/*
 * run: what migrate asks of a hop between the stages; see run.h.
 */
#include "run.h"

#include <stdlib.h>

#include "capture.h"
#include "link.h"
#include "log.h"
#include "pgx.h"
#include "tschema.h"
#include "util.h"
#include "banned.h"

bool run_open(struct hop *h, const struct hop_config *cfg, int need, bool *source_failed)
{
	*source_failed = false;
	if (hop_open(h, cfg, need))
		return true;
	*source_failed = (need & (HOP_SOURCE | HOP_PLAN)) && !h->src && h->tgt;
	hop_close(h);
	return false;
}

bool run_prepare(struct hop *h)
{
	int created = 0;
	bool exists;
	if (!hop_plan_ok(h) || !tschema_create(h, &created) || (created && !hop_replan(h)))
		return false;
	if (!hop_exists(h, &exists))
		return false;
	if (!exists && !link_create(h))
		return false;
	switch (capture_present(h, CAPTURE_ON_SOURCE)) {
	case CAPTURE_ERROR:
		return false;
	case CAPTURE_NO:
		return capture_install(h);
	case CAPTURE_YES:
		break;
	}
	if (!capture_check(h, h->src, "sync_fdw_src"))
		return false;
	switch (capture_present(h, CAPTURE_LINKED)) {
	case CAPTURE_ERROR:
		return false;
	case CAPTURE_NO:
		return link_import_cdc(h);
	case CAPTURE_YES:
		break;
	}
	return true;
}

bool run_copy_done(struct hop *h, bool *done)
{
	const char *p[] = { h->server };
	PGresult *r = PQexecParams(h->tgt, "SELECT copy_finished_at IS NOT NULL FROM sync_fdw.hop WHERE server = $1",
				   1, NULL, p, NULL, NULL, 0);
	bool ok = true;
	*done = false;
	if (!pgx_undefined(r)) {
		ok = pgx_check(r, PGRES_TUPLES_OK, -1, 1, "read whether the copy finished");
		*done = ok && PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't';
	}
	PQclear(r);
	return ok;
}

static void never_cut_over(struct hop *h, const char *stage)
{
	log_error("hop \"%s\" was never cut over (stage \"%s\"): finishing it would remove its capture and link "
		  "and leave the target behind the source\nhint: run \"migrate cutover\" first, or give the hop "
		  "up with \"migrate finish --abandon\" (link and capture removed, the hop recorded as "
		  "abandoned)", h->server, stage);
}

bool run_finish_allowed(struct hop *h, bool abandon, enum hop_stage *as)
{
	bool exists;
	enum hop_stage at = HOP_STAGE_LINKED;
	*as = HOP_STAGE_FINISHED;
	if (!hop_stage_read(h, &exists, &at))
		return false;
	if (!exists) {
		/* not linked: capture on the source still means a hop begun */
		switch (capture_present(h, CAPTURE_ON_SOURCE)) {
		case CAPTURE_ERROR:
			return false;
		case CAPTURE_NO:
			return true;
		case CAPTURE_YES:
			break;
		}
		if (!abandon) {
			never_cut_over(h, "not linked");
			return false;
		}
		*as = HOP_STAGE_ABANDONED;
		return true;
	}
	if (hop_stage_allowed(at, HOP_STAGE_FINISHED))
		return true;
	if (at == HOP_STAGE_ABANDONED || (abandon && hop_stage_allowed(at, HOP_STAGE_ABANDONED))) {
		*as = HOP_STAGE_ABANDONED;	/* run again: it stays abandoned */
		return true;
	}
	if (at == HOP_STAGE_CUTOVER)
		log_error("a cutover of hop \"%s\" is in progress (the source may be fenced)\nhint: run "
			  "\"migrate cutover\" again, which finishes it or rolls it back", h->server);
	else
		never_cut_over(h, hop_stage_name(at));
	return false;
}

bool run_status(struct hop *h, char **json)
{
	const char *p[] = { h->server };
	PGresult *r = PQexecParams(h->tgt, hop_sql_text("status.sql"), 1, NULL, p, NULL, NULL, 0);
	bool ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
	*json = NULL;
	if (ok)
		*json = xstrdup(PQgetvalue(r, 0, 0));
	else if (PQresultStatus(r) == PGRES_TUPLES_OK || pgx_undefined(r))
		log_error("no hop \"%s\" recorded on the target\nhint: migrate plan, then migrate run", h->server);
	else
		pgx_log_failure(r, "read the hop's state");
	PQclear(r);
	return ok;
}
