/*
 * capture: change log and triggers on the source; see capture.h.
 */
#include "capture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "link.h"
#include "log.h"
#include "pgx.h"
#include "sqlgen.h"
#include "banned.h"

bool capture_install(struct hop *h)
{
	struct buf sql = BUF_INIT;
	bool ok = false;

	if (!hop_plan_ok(h))
		return false;
	if (!hop_exec(h->src, "BEGIN", "begin") ||
	    !hop_exec(h->src, hop_sql_text("capture.sql"), "create the capture schema on the source"))
		goto out;
	const char *p1[] = { h->server };
	PGresult *r = PQexecParams(h->src,
		"INSERT INTO sync_fdw_src.settings VALUES ('sync_name', $1)"
		" ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value", 1, NULL, p1, NULL, NULL, 0);
	bool w = pgx_check(r, PGRES_COMMAND_OK, -1, -1, "record the sync's name");
	PQclear(r);
	if (!w)
		goto out;
	for (size_t i = 0; i < h->plan.n; i++) {
		const struct plan_table *t = &h->plan.t[i];
		char id[16];
		snprintf(id, sizeof id, "%d", t->id);
		const char *p[] = { id, t->src->name };
		r = PQexecParams(h->src,
			"INSERT INTO sync_fdw_src.tables (id, name, columns) VALUES ($1, $2, '')"
			" ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name",
			2, NULL, p, NULL, NULL, 0);
		w = pgx_check(r, PGRES_COMMAND_OK, -1, -1, "register a captured table");
		PQclear(r);
		if (!w)
			goto out;
		buf_reset(&sql);
		sqlgen_capture_triggers(&sql, t);
		if (!hop_exec(h->src, sql.data, "create the capture triggers"))
			goto out;
	}
	/* the column lists as the source describes them now: a later change
	 * stops the apply (see sync_fdw_src.table_columns) */
	if (!hop_exec(h->src, "UPDATE sync_fdw_src.tables t SET columns = v.current"
			      " FROM sync_fdw_src.table_columns v WHERE v.id = t.id",
		      "record the captured columns") ||
	    !hop_exec(h->src, "COMMIT", "commit the capture"))
		goto out;
	/* the target reads the change log through the link */
	bool exists;
	if (!hop_exists(h, &exists))
		goto out;
	if (exists && !link_import_cdc(h))
		goto out;
	if (exists) {
		r = PQexecParams(h->tgt, "UPDATE sync_fdw.hop SET stage = 'capturing' WHERE server = $1"
					 " AND stage = 'linked'", 1, NULL, p1, NULL, NULL, 0);
		PQclear(r);
	}
	log_info("capture installed on the source for %zu tables%s", h->plan.n,
		 exists ? "" : " (link the target to read it: sync-fdw link)");
	ok = true;
out:
	if (!ok && PQtransactionStatus(h->src) != PQTRANS_IDLE) {
		r = PQexec(h->src, "ROLLBACK");
		PQclear(r);
		log_error("capture not installed: nothing was changed on the source");
	}
	buf_release(&sql);
	return ok;
}

bool capture_remove(struct hop *h)
{
	struct buf sql = BUF_INIT;
	bool ok = false;
	PGresult *r = PQexec(h->src, "SELECT to_regclass('sync_fdw_src.tables') IS NOT NULL");
	if (!pgx_check(r, PGRES_TUPLES_OK, 1, 1, "look for capture on the source"))
		goto out;
	bool present = PQgetvalue(r, 0, 0)[0] == 't';
	PQclear(r);
	r = NULL;
	if (present) {
		r = PQexec(h->src, "SELECT name FROM sync_fdw_src.tables WHERE to_regclass(format('public.%I', name)) IS NOT NULL");
		if (!pgx_check(r, PGRES_TUPLES_OK, -1, 1, "read the captured tables"))
			goto out;
		buf_adds(&sql, "BEGIN;\n");
		for (int i = 0; i < PQntuples(r); i++)
			sqlgen_capture_drop(&sql, PQgetvalue(r, i, 0));
		buf_adds(&sql, "DROP SCHEMA sync_fdw_src CASCADE;\nCOMMIT");
		if (!hop_exec(h->src, sql.data, "remove capture from the source"))
			goto out;
	}
	if (h->tgt) {
		buf_reset(&sql);
		buf_adds(&sql, "DROP SCHEMA IF EXISTS ");
		sqlgen_ident(&sql, h->cdc);
		buf_adds(&sql, " CASCADE");
		if (!hop_exec(h->tgt, sql.data, "remove the change log's foreign tables"))
			goto out;
	}
	log_info(present ? "capture removed from the source" : "no capture installed on the source");
	ok = true;
out:
	PQclear(r);
	if (!ok && h->src && PQtransactionStatus(h->src) != PQTRANS_IDLE) {
		r = PQexec(h->src, "ROLLBACK");
		PQclear(r);
	}
	buf_release(&sql);
	return ok;
}
