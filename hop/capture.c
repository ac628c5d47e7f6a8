/*
 * capture: change log and triggers on the source; see capture.h.
 */
#include "capture.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "link.h"
#include "log.h"
#include "md5.h"
#include "pgx.h"
#include "sqlgen.h"
#include "banned.h"

enum sqlgen_capture_mode capture_mode(const struct hop_config *cfg)
{
	if (strcmp(cfg->s.capture_triggers, "statement") == 0)
		return SQLGEN_CAPTURE_STATEMENT;
	return strcmp(cfg->s.capture_function, "plpgsql") == 0 ? SQLGEN_CAPTURE_ROW : SQLGEN_CAPTURE_C;
}

const char *capture_mode_name(enum sqlgen_capture_mode mode)
{
	switch (mode) {
	case SQLGEN_CAPTURE_STATEMENT:
		return "statement-level triggers (PL/pgSQL)";
	case SQLGEN_CAPTURE_C:
		return "row-level triggers in C (extension sync_fdw_capture)";
	default:
		return "row-level triggers (PL/pgSQL)";
	}
}

/*
 * Inside the install's transaction: the C trigger function, when the
 * configuration asks for it (capture.function c, or auto) and this
 * database's host has the extension.  *mode becomes what will be installed.
 */
static bool capture_extension(PGconn *db, const struct hop_config *cfg, enum sqlgen_capture_mode *mode)
{
	if (*mode != SQLGEN_CAPTURE_C)
		return true;
	bool required = strcmp(cfg->s.capture_function, "c") == 0;
	PGresult *r = PQexec(db, "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_available_extensions"
				 " WHERE name = 'sync_fdw_capture')");
	bool ok = pgx_check(r, PGRES_TUPLES_OK, 1, 1, "look for the extension sync_fdw_capture");
	bool available = ok && PQgetvalue(r, 0, 0)[0] == 't';
	PQclear(r);
	if (!ok)
		return false;
	if (!available) {
		if (required) {
			log_error("capture.function is c, but the extension sync_fdw_capture is not installed "
				  "on this database's host (%s:%s)\nhint: install it there (make install-ext, "
				  "as root, from a build against the same PostgreSQL major version), or set "
				  "capture.function to auto or plpgsql", PQhost(db), PQport(db));
			return false;
		}
		log_info("the extension sync_fdw_capture is not installed on %s:%s: capturing with "
			 "PL/pgSQL triggers (about three times its cost per write; see capture.function)",
			 PQhost(db), PQport(db));
		*mode = SQLGEN_CAPTURE_ROW;
		return true;
	}
	/* a role that may not create it (no CREATE on the database) falls back
	 * under auto, without losing the transaction */
	if (!hop_exec(db, "SAVEPOINT sync_fdw_extension", "savepoint"))
		return false;
	r = PQexec(db, "CREATE EXTENSION IF NOT EXISTS sync_fdw_capture SCHEMA sync_fdw_src");
	ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok) {
		const char *m = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
		if (required)
			log_error("could not create the extension sync_fdw_capture: %s", m ? m : "?");
		else
			log_warn("could not create the extension sync_fdw_capture (%s): capturing with "
				 "PL/pgSQL triggers", m ? m : "?");
	}
	PQclear(r);
	if (!ok && (required || !hop_exec(db, "ROLLBACK TO SAVEPOINT sync_fdw_extension", "rollback")))
		return false;
	if (!ok)
		*mode = SQLGEN_CAPTURE_ROW;
	return true;
}

/* "capture.sql md5 <hex>" */
static void capture_sql_version(char out[64])
{
	const char *sql = hop_sql_text("capture.sql");
	char hex[2 * MD5_BYTES + 1];
	md5_hex(sql, strlen(sql), hex);
	snprintf(out, 64, "capture.sql md5 %s", hex);
}

void capture_warn_if_outdated(PGconn *db, const char *where)
{
	if (!db || PQstatus(db) != CONNECTION_OK || PQtransactionStatus(db) != PQTRANS_IDLE)
		return;
	PGresult *r = PQexec(db, "SELECT to_regclass('sync_fdw_src.settings') IS NOT NULL");
	bool present = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
		       PQgetvalue(r, 0, 0)[0] == 't';
	PQclear(r);
	if (!present)
		return;
	r = PQexec(db, "SELECT value FROM sync_fdw_src.settings WHERE key = 'capture_sql'");
	if (PQresultStatus(r) == PGRES_TUPLES_OK) {
		char want[64];
		capture_sql_version(want);
		if (PQntuples(r) != 1 || strcmp(PQgetvalue(r, 0, 0), want) != 0)
			log_warn("the capture objects on the %s come from another version of sync-fdw: "
				 "run \"sync-fdw capture install\" to update them (it keeps the change log "
				 "and its pending changes)", where);
	}
	PQclear(r);
}

bool capture_install_db(PGconn *db, const struct hop_plan *plan, const char *name,
			const struct hop_config *cfg, int64_t above, enum sqlgen_capture_mode *used)
{
	struct buf sql = BUF_INIT;
	bool ok = false;
	PGresult *r;
	enum sqlgen_capture_mode mode = capture_mode(cfg);

	/* the change log and its functions: no lock on the application's tables */
	if (!hop_exec(db, "BEGIN READ WRITE", "begin") ||
	    !hop_exec(db, hop_sql_text("capture.sql"), "create the capture schema") ||
	    !capture_extension(db, cfg, &mode))
		goto out;
	/* the sync's name (for the TRUNCATE error) and the version of the
	 * objects just made (capture_warn_if_outdated) */
	char version[64];
	capture_sql_version(version);
	const char *p1[] = { name, version };
	r = PQexecParams(db, "INSERT INTO sync_fdw_src.settings VALUES ('sync_name', $1), ('capture_sql', $2)"
			     " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value", 2, NULL, p1, NULL, NULL, 0);
	bool w = pgx_check(r, PGRES_COMMAND_OK, -1, -1, "record the sync's name and the capture's version");
	PQclear(r);
	/* a change log made again (capture removed, then installed) starts its
	 * ids above what the reader has seen, or the reader would skip them;
	 * never moved down: that would hand out ids twice.  Not atomic with
	 * the writers' nextval, which only matters when live triggers already
	 * write ids below the reader's: the broken state this repairs */
	if (w && above > 0) {
		char v[24];
		snprintf(v, sizeof v, "%" PRId64, above);
		const char *pa[] = { v };
		/* pg_sequence_last_value: read under the buffer lock (see the
		 * horizon view in sql/hop/capture.sql) */
		r = PQexecParams(db, "SELECT pg_catalog.setval('sync_fdw_src.change_seq', $1::bigint)"
				     " WHERE coalesce(pg_catalog.pg_sequence_last_value("
				     "'sync_fdw_src.change_seq'::pg_catalog.regclass), 0) < $1::bigint",
				 1, NULL, pa, NULL, NULL, 0);
		w = pgx_check(r, PGRES_TUPLES_OK, -1, 1, "move the change sequence above the hop's position");
		if (w && PQntuples(r) == 1)
			log_info("change ids start above %s, the hop's position on the target", v);
		PQclear(r);
	}
	for (size_t i = 0; w && i < plan->n; i++) {
		char id[16];
		snprintf(id, sizeof id, "%d", plan->t[i].id);
		const char *p[] = { id, plan->t[i].src->name };
		r = PQexecParams(db, "INSERT INTO sync_fdw_src.tables (id, name, columns) VALUES ($1, $2, '')"
				     " ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name",
				 2, NULL, p, NULL, NULL, 0);
		w = pgx_check(r, PGRES_COMMAND_OK, -1, -1, "register a captured table");
		PQclear(r);
	}
	/* the column lists as the database describes them now: a later change
	 * stops the apply (see sync_fdw_src.table_columns) */
	if (!w || !hop_exec(db, "UPDATE sync_fdw_src.tables t SET columns = v.current"
				" FROM sync_fdw_src.table_columns v WHERE v.id = t.id",
			    "record the captured columns") ||
	    !hop_exec(db, "COMMIT", "commit the capture schema"))
		goto out;
	/* the triggers, one table at a time, never stalling a live application */
	for (size_t i = 0; i < plan->n; i++) {
		buf_reset(&sql);
		sqlgen_capture_triggers(&sql, &plan->t[i], mode);
		if (!hop_exec_ddl(db, sql.data, "create the capture triggers"))
			goto out;
	}
	ok = true;
	if (used)
		*used = mode;
out:
	if (!ok && PQtransactionStatus(db) != PQTRANS_IDLE) {
		r = PQexec(db, "ROLLBACK");
		PQclear(r);
	}
	if (!ok)
		log_error("capture not installed completely: run the command again, or remove it "
			  "(sync-fdw capture remove)");
	buf_release(&sql);
	return ok;
}

/* How far the hop on the target has read the change log: the larger of its
 * position and the highest change id it has seen. */
static bool hop_read_upto(struct hop *h, int64_t *upto)
{
	const char *p[] = { h->server };
	PGresult *r = PQexecParams(h->tgt, "SELECT greatest(pos, seen_max) FROM sync_fdw.hop WHERE server = $1",
				   1, NULL, p, NULL, NULL, 0);
	bool ok = pgx_check(r, PGRES_TUPLES_OK, 1, 1, "read the hop's position");
	*upto = ok ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : 0;
	PQclear(r);
	return ok;
}

bool capture_install(struct hop *h)
{
	bool exists;
	int64_t upto = 0;
	enum sqlgen_capture_mode used;
	if (!hop_plan_ok(h) || !hop_exists(h, &exists) || (exists && !hop_read_upto(h, &upto)) ||
	    !capture_install_db(h->src, &h->plan, h->server, h->cfg, upto, &used))
		return false;
	/* the target reads the change log through the link */
	if (exists && !link_import_cdc(h))
		return false;
	if (exists) {
		const char *p1[] = { h->server };
		PGresult *r = PQexecParams(h->tgt, "UPDATE sync_fdw.hop SET stage = 'capturing' WHERE server = $1"
						   " AND stage = 'linked'", 1, NULL, p1, NULL, NULL, 0);
		PQclear(r);
	}
	log_info("capture installed on the source for %zu tables, %s%s", h->plan.n, capture_mode_name(used),
		 exists ? "" : " (link the target to read it: sync-fdw link)");
	return true;
}

bool capture_remove_db(PGconn *db, bool *present)
{
	struct buf sql = BUF_INIT;
	bool ok = false;
	PGresult *r = PQexec(db, "SELECT to_regclass('sync_fdw_src.tables') IS NOT NULL");
	if (!pgx_check(r, PGRES_TUPLES_OK, 1, 1, "look for capture"))
		goto out;
	*present = PQgetvalue(r, 0, 0)[0] == 't';
	PQclear(r);
	r = NULL;
	if (*present) {
		r = PQexec(db, "SELECT name FROM sync_fdw_src.tables WHERE to_regclass(format('public.%I', name)) IS NOT NULL");
		if (!pgx_check(r, PGRES_TUPLES_OK, -1, 1, "read the captured tables"))
			goto out;
		/* one table at a time, never stalling a live application; READ
		 * WRITE: a fenced old host is read-only for new sessions */
		for (int i = 0; i < PQntuples(r); i++) {
			buf_reset(&sql);
			sqlgen_capture_drop(&sql, PQgetvalue(r, i, 0));
			if (!hop_exec_ddl(db, sql.data, "remove capture triggers"))
				goto out;
		}
		if (!hop_exec_ddl(db, "DROP SCHEMA sync_fdw_src CASCADE", "remove the capture schema"))
			goto out;
	}
	ok = true;
out:
	PQclear(r);
	if (!ok && PQtransactionStatus(db) != PQTRANS_IDLE) {
		r = PQexec(db, "ROLLBACK");
		PQclear(r);
	}
	buf_release(&sql);
	return ok;
}

bool capture_remove(struct hop *h)
{
	bool present = false, reverse = false;
	if (!capture_remove_db(h->src, &present))
		return false;
	if (h->tgt) {
		struct buf sql = BUF_INIT;
		buf_adds(&sql, "DROP SCHEMA IF EXISTS ");
		sqlgen_ident(&sql, h->cdc);
		buf_adds(&sql, " CASCADE");
		bool ok = hop_exec(h->tgt, sql.data, "remove the change log's foreign tables") &&
			  capture_remove_db(h->tgt, &reverse);
		buf_release(&sql);
		if (!ok)
			return false;
	}
	log_info("%s%s", present ? "capture removed from the source" : "no capture installed on the source",
		 reverse ? "; the target's record of changes since the cutover removed" : "");
	return true;
}
