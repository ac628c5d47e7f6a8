/*
 * capture: change log and triggers on the source; see capture.h.
 */
#include "capture.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hop_queries.h"
#include "link.h"
#include "log.h"
#include "md5.h"
#include "pgx.h"
#include "sqlgen.h"
#include "stage.h"
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
	PGresult *r = PQexec(db, hq_capture_extension_available);
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

/* "public"."name": how messages name a captured table. */
static void table_quoted(struct buf *b, const char *nspname, const char *relname)
{
	buf_addf(b, "\"%s\".\"%s\"", nspname, relname);
}

/*
 * The registry rows (sync_fdw_src.tables) for the plan's tables, numbered
 * as the plan numbers them, with each table's oid, the column lists as
 * the database describes them now (a later change stops the apply, see
 * sync_fdw_src.table_columns), and capture_epoch bumped: an applier running
 * meanwhile checks its table list again (capture_check).
 */
static void registry_sql(struct buf *sql, const struct hop_plan *plan)
{
	buf_adds(sql, "DELETE FROM sync_fdw_src.tables;\n");
	for (size_t i = 0; i < plan->n; i++) {
		buf_addf(sql, "INSERT INTO sync_fdw_src.tables (id, name, columns, nspname, relid) VALUES (%d, ",
			 plan->t[i].id);
		sqlgen_literal(sql, plan->t[i].src->name);
		buf_adds(sql, ", '', 'public', (SELECT c.oid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n"
			      " ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relname = ");
		sqlgen_literal(sql, plan->t[i].src->name);
		buf_adds(sql, "));\n");
	}
	buf_adds(sql, hq_capture_registry_columns);
	buf_addc(sql, '\n');
}

/*
 * Register the plan's tables and make their triggers.  When the registry
 * already numbers the same tables the same way (or is empty), the
 * triggers are made one table at a time, never stalling a live
 * application.  Otherwise (tables reordered, added or removed in the
 * configuration, or a table made again since) the numbers change, and
 * pending changes carry the old ones: then everything happens in one
 * transaction that first takes SHARE ROW EXCLUSIVE on every captured table
 * (it waits for each writer that still holds uncommitted changes of them,
 * and keeps new ones out, under lock_timeout with retries), renumbers the
 * pending changes, drops the triggers of the tables no longer captured
 * (their pending changes are discarded: the target's copy of them stays
 * as it was), rewrites the registry and makes every trigger.  An applier
 * sees the old numbering or the new one, never a mix.
 */
static bool register_tables(PGconn *db, const struct hop_plan *plan, enum sqlgen_capture_mode mode)
{
	struct buf sql = BUF_INIT, moves = BUF_INIT, dropped = BUF_INIT, locks = BUF_INIT;
	bool ok = false, same;
	PGresult *r = PQexec(db, hq_capture_captured_tables);
	if (!pgx_check(r, PGRES_TUPLES_OK, -1, 4, "read the captured tables"))
		goto out;
	int n = PQntuples(r);
	same = n == 0 || (size_t)n == plan->n;
	for (int k = 0; k < n; k++) {
		int no = (int)strtol(PQgetvalue(r, k, 0), NULL, 10);
		const char *nsp = PQgetvalue(r, k, 1), *rel = PQgetvalue(r, k, 2);
		bool present = PQgetvalue(r, k, 3)[0] == 't';
		const struct plan_table *t = strcmp(nsp, "public") == 0 ? plan_table(plan, rel) : NULL;
		same = same && present && t && t->id == no;
		if (t && t->id != no)
			buf_addf(&moves, "%s(%d, %d)", moves.len ? ", " : "", no, t->id);
		if (!t) {
			buf_addf(&dropped, "%s%d", dropped.len ? ", " : "", no);
			log_warn("table %s.%s is no longer in the configuration: its capture is removed and its "
				 "pending changes discarded", nsp, rel);
		}
		if (!t && present) {	/* its triggers go */
			buf_addf(&locks, "%spublic.", locks.len ? ", " : "");
			sqlgen_ident(&locks, rel);
			sqlgen_capture_drop(&sql, rel);
		}
	}
	if (same) {
		buf_adds(&sql, "BEGIN READ WRITE;\n");
		registry_sql(&sql, plan);
		buf_adds(&sql, "COMMIT");
		if (!hop_exec(db, sql.data, "register the captured tables"))
			goto out;
		/* the triggers, one table at a time, never stalling a live application */
		for (size_t i = 0; i < plan->n; i++) {
			buf_reset(&sql);
			sqlgen_capture_triggers(&sql, &plan->t[i], mode);
			if (!hop_exec_ddl(db, sql.data, "create the capture triggers"))
				goto out;
		}
		ok = true;
		goto out;
	}
	log_info("the captured tables are numbered differently in this configuration: renumbering the "
		 "pending changes and replacing the triggers of all %zu tables in one transaction", plan->n);
	struct buf all = BUF_INIT;
	for (size_t i = 0; i < plan->n; i++) {
		buf_addf(&locks, "%spublic.", locks.len ? ", " : "");
		sqlgen_ident(&locks, plan->t[i].src->name);
	}
	if (locks.len)
		buf_addf(&all, "LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE;\n", locks.data);
	if (moves.len)
		buf_addf(&all, "UPDATE sync_fdw_src.changes c SET tbl = m.n FROM (VALUES %s) m(o, n)"
			       " WHERE c.tbl = m.o;\n", moves.data);
	if (dropped.len)
		buf_addf(&all, "DELETE FROM sync_fdw_src.changes WHERE tbl IN (%s);\n", dropped.data);
	buf_add(&all, sql.data, sql.len);	/* the triggers of dropped tables */
	registry_sql(&all, plan);
	for (size_t i = 0; i < plan->n; i++)
		sqlgen_capture_triggers(&all, &plan->t[i], mode);
	ok = hop_exec_ddl(db, all.data, "renumber the captured tables");
	buf_release(&all);
out:
	PQclear(r);
	buf_release(&sql);
	buf_release(&moves);
	buf_release(&dropped);
	buf_release(&locks);
	return ok;
}

/* A capture that does not fit the plan: a plan problem, and unless quiet
 * (plan, which writes nothing) logged and recorded as the hop's error. */
static void capture_mismatch(struct hop *h, const char *msg, const char *hint, bool quiet)
{
	plan_problem(&h->plan, hint, "%s", msg);
	if (quiet)
		return;
	log_problem(LOG_ERROR, &h->plan.problems[h->plan.nproblems - 1]);
	hop_record_error(h, msg);
}

/*
 * Compare the registry rows (table_no, nspname, relname, present,
 * relid IS NOT NULL) with the plan; the first difference, with the fix,
 * becomes a plan problem.
 */
static bool capture_compare(struct hop *h, PGresult *r, bool quiet)
{
	const struct hop_plan *plan = &h->plan;
	struct buf msg = BUF_INIT;
	int n = PQntuples(r);
	bool *seen = calloc(plan->n ? plan->n : 1, sizeof *seen);
	if (!seen)
		abort();
	for (int k = 0; k < n && !msg.len; k++) {
		int no = (int)strtol(PQgetvalue(r, k, 0), NULL, 10);
		const char *nsp = PQgetvalue(r, k, 1), *rel = PQgetvalue(r, k, 2);
		if (PQgetvalue(r, k, 4)[0] != 't') {
			buf_adds(&msg, "the capture on the source records no table identities (installed by an "
				       "older sync-fdw)");
			break;
		}
		if (no < 1 || (size_t)no > plan->n) {
			buf_addf(&msg, "the capture on the source was installed for another table list: table %d ",
				 no);
			table_quoted(&msg, nsp, rel);
			buf_adds(&msg, " is captured there but not in the configuration (its changes would be "
				       "stranded)");
			break;
		}
		const struct plan_table *t = &plan->t[no - 1];
		seen[no - 1] = true;
		if (strcmp(nsp, "public") != 0 || strcmp(rel, t->src->name) != 0) {
			buf_addf(&msg, "the capture on the source was installed for another table list: table %d is ",
				 no);
			table_quoted(&msg, nsp, rel);
			buf_adds(&msg, " there but ");
			table_quoted(&msg, "public", t->src->name);
			buf_adds(&msg, " in the configuration");
		} else if (PQgetvalue(r, k, 3)[0] != 't') {
			buf_addf(&msg, "the capture on the source is not on table %d ", no);
			table_quoted(&msg, nsp, rel);
			buf_adds(&msg, " any more: the table was dropped and created again, or renamed, since "
				       "capture install (its changes are not captured)");
		}
	}
	for (size_t i = 0; i < plan->n && !msg.len; i++) {
		if (seen[i])
			continue;
		buf_addf(&msg, "the capture on the source was installed for another table list: table %zu ", i + 1);
		table_quoted(&msg, "public", plan->t[i].src->name);
		buf_adds(&msg, " in the configuration is not captured there (it has no trigger: its changes "
			       "would be lost)");
	}
	free(seen);
	if (!msg.len)
		return true;
	static const char hint[] = "run \"sync-fdw capture install\" again with this configuration (it renumbers "
				   "the pending changes to match), or restore the \"tables:\" list it was "
				   "installed with";
	capture_mismatch(h, msg.data, hint, quiet);
	buf_release(&msg);
	return false;
}

/* 1: the capture read through c fits the plan; 0: it does not (a plan
 * problem); -1: it could not be read (logged). */
static int check_tables(struct hop *h, PGconn *c, const char *schema, bool quiet)
{
	struct buf sql = BUF_INIT;
	buf_adds(&sql, "SELECT table_no, coalesce(nspname, 'public'), relname, present, relid IS NOT NULL FROM ");
	sqlgen_qualified(&sql, schema, "captured");
	buf_adds(&sql, " ORDER BY table_no");
	PGresult *r = PQexec(c, sql.data);
	buf_release(&sql);
	int rc;
	if (pgx_sqlstate_is(r, "42P01") || pgx_sqlstate_is(r, "42703")) {
		capture_mismatch(h, c == h->src ? "the change log on the source was made by an older sync-fdw, "
						  "which did not record which table each change belongs to"
						: "the target reads the change log as an older sync-fdw imported it, "
						  "without the table each change belongs to",
				 "run \"sync-fdw capture install\" again (it keeps the pending changes)", quiet);
		rc = 0;
	} else if (!pgx_check(r, PGRES_TUPLES_OK, -1, 5, "read the captured tables"))
		rc = -1;
	else
		rc = capture_compare(h, r, quiet) ? 1 : 0;
	PQclear(r);
	return rc;
}

bool capture_check(struct hop *h, PGconn *c, const char *schema)
{
	return check_tables(h, c, schema, false) == 1;
}

/* Whether db has the relation named (schema-qualified); errors logged with what. */
static enum capture_answer lookup(PGconn *db, const char *relation, const char *what)
{
	struct buf sql = BUF_INIT;
	buf_adds(&sql, "SELECT to_regclass(");
	sqlgen_literal(&sql, relation);
	buf_adds(&sql, ") IS NOT NULL");
	PGresult *r = PQexec(db, sql.data);
	enum capture_answer a = !pgx_check(r, PGRES_TUPLES_OK, 1, 1, what) ? CAPTURE_ERROR
				: PQgetvalue(r, 0, 0)[0] == 't'		  ? CAPTURE_YES
									  : CAPTURE_NO;
	PQclear(r);
	buf_release(&sql);
	return a;
}

enum capture_answer capture_present(struct hop *h, enum capture_where where)
{
	static const char *const what[] = {
		[CAPTURE_ON_SOURCE] = "look for capture on the source",
		[CAPTURE_ON_TARGET] = "look for changes recorded on the target since the cutover",
		[CAPTURE_LINKED] = "look for the change log on the target",
	};
	struct buf name = BUF_INIT;
	if (where == CAPTURE_LINKED)
		sqlgen_qualified(&name, h->cdc, "captured");
	else
		buf_adds(&name, "sync_fdw_src.changes");
	enum capture_answer a = lookup(where == CAPTURE_ON_SOURCE ? h->src : h->tgt, name.data, what[where]);
	buf_release(&name);
	return a;
}

bool capture_check_plan(struct hop *h)
{
	enum capture_answer a = capture_present(h, CAPTURE_ON_SOURCE);
	return a == CAPTURE_NO || (a == CAPTURE_YES && check_tables(h, h->src, "sync_fdw_src", true) >= 0);
}

bool capture_install_db(PGconn *db, const struct hop_plan *plan, const char *name,
			const struct hop_config *cfg, int64_t above, enum sqlgen_capture_mode *used)
{
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
	r = PQexecParams(db, hq_capture_record_settings, 2, NULL, p1, NULL, NULL, 0);
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
		r = PQexecParams(db, hq_capture_move_sequence, 1, NULL, pa, NULL, NULL, 0);
		w = pgx_check(r, PGRES_TUPLES_OK, -1, 1, "move the change sequence above the hop's position");
		if (w && PQntuples(r) == 1)
			log_info("change ids start above %s, the hop's position on the target", v);
		PQclear(r);
	}
	if (!w || !hop_exec(db, "COMMIT", "commit the capture schema") ||
	    !register_tables(db, plan, mode))
		goto out;
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

/*
 * The copy's pieces on the target carry their table's number as it was at
 * copy time; after install (which may have renumbered the tables) they
 * take the plan's numbers, so that a resumed copy never meets another
 * table's piece under its own number.  Pieces of tables no longer captured
 * keep a negative number.  Readers find pieces by name anyway.
 */
static bool renumber_copied(struct hop *h)
{
	struct buf sql = BUF_INIT;
	buf_adds(&sql, "BEGIN;\nUPDATE sync_fdw.copied SET tbl = -tbl WHERE tbl > 0 AND server = ");
	buf_adds(&sql, h->server_lit.data);
	if (h->plan.n) {
		buf_adds(&sql, ";\nUPDATE sync_fdw.copied c SET tbl = m.n FROM (VALUES ");
		for (size_t i = 0; i < h->plan.n; i++) {
			buf_adds(&sql, i ? ", (" : "(");
			sqlgen_literal(&sql, h->plan.t[i].src->name);
			buf_addf(&sql, ", %d)", h->plan.t[i].id);
		}
		buf_adds(&sql, ") m(name, n) WHERE c.name = m.name AND c.server = ");
		buf_adds(&sql, h->server_lit.data);
	}
	buf_adds(&sql, ";\nCOMMIT");
	bool ok = hop_exec(h->tgt, sql.data, "renumber the copy's pieces");
	buf_release(&sql);
	if (!ok && PQtransactionStatus(h->tgt) != PQTRANS_IDLE) {
		PGresult *r = PQexec(h->tgt, "ROLLBACK");
		PQclear(r);
	}
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
	if (exists && (!link_import_cdc(h) || !renumber_copied(h)))
		return false;
	if (exists && !hop_stage_advance(h, HOP_STAGE_CAPTURING))
		return false;
	log_info("capture installed on the source for %zu tables, %s%s", h->plan.n, capture_mode_name(used),
		 exists ? "" : " (link the target to read it: sync-fdw link)");
	return true;
}

bool capture_remove_db(PGconn *db, bool *present)
{
	struct buf sql = BUF_INIT;
	bool ok = false;
	PGresult *r = NULL;
	enum capture_answer a = lookup(db, "sync_fdw_src.tables", "look for capture");
	if (a == CAPTURE_ERROR)
		goto out;
	*present = a == CAPTURE_YES;
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
