/*
 * link: postgres_fdw link from the target to the source; see link.h.
 */
#include "link.h"

#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "dsn.h"
#include "hop_queries.h"
#include "log.h"
#include "pgx.h"
#include "report.h"
#include "sqlgen.h"
#include "banned.h"

/* Server options from the source DSN; user and password go to the mapping. */
static bool server_options(struct hop *h, struct buf *sql)
{
	static const char *const pass[] = { "host", "hostaddr", "port", "dbname", "sslmode",
					    "sslrootcert", "sslcert", "sslkey", "sslcrl",
					    "connect_timeout", "keepalives", "keepalives_idle",
					    "keepalives_interval", "keepalives_count",
					    "target_session_attrs", NULL };
	char *err = NULL;
	PQconninfoOption *opts = PQconninfoParse(h->cfg->s.source_dsn, &err);
	if (!opts) {
		log_error("invalid source.dsn: %s", err ? err : "out of memory");
		PQfreemem(err);
		return false;
	}
	buf_adds(sql, " OPTIONS (");
	bool any = false;
	for (PQconninfoOption *o = opts; o->keyword; o++) {
		if (!o->val || !*o->val)
			continue;
		for (size_t i = 0; pass[i]; i++)
			if (strcmp(o->keyword, pass[i]) == 0) {
				buf_adds(sql, any ? ", " : "");
				buf_adds(sql, o->keyword);
				buf_addc(sql, ' ');
				sqlgen_literal(sql, o->val);
				any = true;
			}
	}
	PQconninfoFree(opts);
	buf_addf(sql, "%sfetch_size '%lld', application_name 'sync-fdw')", any ? ", " : "",
		 (long long)h->cfg->s.fetch_size);
	return true;
}

/*
 * CREATE USER MAPPING with the user and password libpq used for the source.
 * postgres_fdw takes a password only as the mapping's option, so it travels
 * as SQL text and stays in the target's catalog (pg_user_mapping, readable by
 * superusers and the mapping's user) until finish or unlink drop the server.
 * Where the session may (a superuser), the statement is kept out of the
 * server log (log_statement, log_min_duration_statement and
 * log_min_error_statement are superuser settings), for this transaction only.
 */
static bool user_mapping(struct hop *h)
{
	struct buf sql = BUF_INIT;
	bool ok = false;
	PGresult *r = PQexec(h->tgt, "SELECT current_setting('is_superuser')");
	bool super = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
		     strcmp(PQgetvalue(r, 0, 0), "on") == 0;
	PQclear(r);
	if (super && !hop_exec(h->tgt, "SET LOCAL log_statement = 'none'; SET LOCAL log_min_duration_statement = -1;"
				       " SET LOCAL log_min_error_statement = 'panic'",
			       "keep the user mapping out of the server log"))
		return false;
	if (!super && PQpass(h->src) && *PQpass(h->src))
		log_warn("the target's user is no superuser: the statement creating the user mapping, "
			 "which holds the source's password, may appear in the target's server log "
			 "(log_statement = ddl or all)");
	char *user = PQescapeLiteral(h->tgt, PQuser(h->src), strlen(PQuser(h->src)));
	const char *pw = PQpass(h->src);
	char *pass = pw && *pw ? PQescapeLiteral(h->tgt, pw, strlen(pw)) : NULL;
	if (!user || (pw && *pw && !pass))
		goto out;
	buf_adds(&sql, "CREATE USER MAPPING FOR CURRENT_USER SERVER ");
	sqlgen_ident(&sql, h->server);
	buf_addf(&sql, " OPTIONS (user %s", user);
	if (pass)
		buf_addf(&sql, ", password %s", pass);
	buf_adds(&sql, ")");
	/* the statement holds the password: pgx logs only what and the error */
	ok = hop_exec(h->tgt, sql.data, "create the user mapping for the source");
	if (super)
		ok = hop_exec(h->tgt, "RESET log_statement; RESET log_min_duration_statement;"
				      " RESET log_min_error_statement", "reset the log settings") && ok;
out:
	if (sql.data)
		memset(sql.data, 0, sql.len);
	buf_release(&sql);
	PQfreemem(user);
	if (pass) {
		memset(pass, 0, strlen(pass));
		PQfreemem(pass);
	}
	return ok;
}

static bool import_tables(struct hop *h)
{
	struct buf sql = BUF_INIT;
	buf_adds(&sql, "DROP SCHEMA IF EXISTS ");
	sqlgen_ident(&sql, h->staging);
	buf_adds(&sql, " CASCADE; CREATE SCHEMA ");
	sqlgen_ident(&sql, h->staging);
	buf_adds(&sql, "; IMPORT FOREIGN SCHEMA public LIMIT TO (");
	for (size_t i = 0; i < h->plan.n; i++) {
		buf_adds(&sql, i ? ", " : "");
		sqlgen_ident(&sql, h->plan.t[i].src->name);
	}
	buf_adds(&sql, ") FROM SERVER ");
	sqlgen_ident(&sql, h->server);
	buf_adds(&sql, " INTO ");
	sqlgen_ident(&sql, h->staging);
	bool ok = h->plan.n == 0 || hop_exec(h->tgt, sql.data, "import the source's tables");
	buf_release(&sql);
	return ok;
}

bool link_import_cdc(struct hop *h)
{
	struct buf sql = BUF_INIT;
	buf_adds(&sql, "DROP SCHEMA IF EXISTS ");
	sqlgen_ident(&sql, h->cdc);
	buf_adds(&sql, " CASCADE; CREATE SCHEMA ");
	sqlgen_ident(&sql, h->cdc);
	buf_adds(&sql, "; IMPORT FOREIGN SCHEMA sync_fdw_src LIMIT TO (changes, horizon, table_columns, captured) "
		       "FROM SERVER ");
	sqlgen_ident(&sql, h->server);
	buf_adds(&sql, " INTO ");
	sqlgen_ident(&sql, h->cdc);
	/* on its own (capture install) it may meet a running applier, which
	 * reads these foreign tables: short lock waits, retried, as DDL on
	 * live tables; inside link_create's transaction, as part of it */
	bool ok = PQtransactionStatus(h->tgt) == PQTRANS_IDLE
			  ? hop_exec_ddl(h->tgt, sql.data, "import the source's change log")
			  : hop_exec(h->tgt, sql.data, "import the source's change log");
	buf_release(&sql);
	return ok;
}

/* Copy the source's ledger (earlier hops) and record this hop's lines. */
static bool carry_ledger(struct hop *h)
{
	PGresult *r = PQexec(h->src, hq_link_source_ledger);
	int hop_no = 1;
	bool ok = true;
	if (PQresultStatus(r) == PGRES_TUPLES_OK) {
		for (int i = 0; i < PQntuples(r) && ok; i++) {
			/* every column as the source has it: a carried hop keeps
			 * the time it was recorded, whatever the number of hops */
			const char *v[12];
			for (int k = 0; k < 12; k++)
				v[k] = PQgetisnull(r, i, k) ? NULL : PQgetvalue(r, i, k);
			int n = (int)strtol(v[0], NULL, 10);
			if (n >= hop_no)
				hop_no = n + 1;
			PGresult *w = PQexecParams(h->tgt, hq_link_carry_ledger, 12, NULL, v, NULL, NULL, 0);
			ok = pgx_check(w, PGRES_COMMAND_OK, -1, -1, "carry the source's ledger");
			PQclear(w);
		}
	} else if (!pgx_undefined(r)) {
		ok = pgx_check(r, PGRES_TUPLES_OK, -1, -1, "read the source's ledger");
	}
	PQclear(r);
	/* this hop: the one after the last the source knows of, unless it is
	 * already recorded here (link run again) */
	const char *p1[] = { h->server };
	r = PQexecParams(h->tgt, "SELECT hop FROM sync_fdw.ledger WHERE server = $1 AND NOT carried LIMIT 1",
			 1, NULL, p1, NULL, NULL, 0);
	ok = ok && pgx_check(r, PGRES_TUPLES_OK, -1, 1, "read the ledger");
	if (ok && PQntuples(r) == 1)
		hop_no = (int)strtol(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	for (size_t i = 0; ok && i < h->plan.n; i++) {
		const struct plan_table *t = &h->plan.t[i];
		char hop_s[16], off[24], lo[24], hi[24], tlo[24], thi[24];
		snprintf(hop_s, sizeof hop_s, "%d", hop_no);
		snprintf(off, sizeof off, "%lld", (long long)t->offset);
		snprintf(lo, sizeof lo, "%lld", (long long)t->src_min);
		snprintf(hi, sizeof hi, "%lld", (long long)t->src_max);
		snprintf(tlo, sizeof tlo, "%lld", (long long)t->tgt_min);
		snprintf(thi, sizeof thi, "%lld", (long long)t->tgt_max);
		bool range = t->key >= 0 && t->src_min <= t->src_max;
		bool trange = t->key >= 0 && t->tgt_min <= t->tgt_max && !t->offset_fixed;
		const char *v[] = { hop_s, h->server, h->source_masked, h->target_masked, t->src->name,
				    t->key >= 0 ? t->src->cols[t->key].name : NULL, off,
				    range ? lo : NULL, range ? hi : NULL, trange ? tlo : NULL,
				    trange ? thi : NULL };
		/* a re-link keeps what the first link saw of the target */
		PGresult *w = PQexecParams(h->tgt, hq_link_record_ledger, 11, NULL, v, NULL, NULL, 0);
		ok = pgx_check(w, PGRES_COMMAND_OK, -1, -1, "record the hop in the ledger");
		PQclear(w);
	}
	return ok;
}

/* The DSNs link records on the target (sync_fdw.hop, the ledger, carried to
 * every later hop) must hold no secret: refused, not masked, so that what is
 * recorded is what was configured. */
static bool dsns_storable(const struct hop *h)
{
	const char *name[] = { "source.dsn", "target.dsn" };
	const char *dsn[] = { h->cfg->s.source_dsn, h->cfg->s.target_dsn };
	for (int i = 0; i < 2; i++) {
		struct buf why = BUF_INIT;
		if (!dsn_storable(dsn[i], &why)) {
			log_error("%s cannot be recorded in sync_fdw.hop and the ledger: %s\nhint: give "
				  "the password with PGPASSWORD or a pgpass file", name[i], why.data);
			buf_release(&why);
			return false;
		}
	}
	return true;
}

bool link_create(struct hop *h)
{
	struct buf sql = BUF_INIT;
	bool ok = false;
	enum capture_answer cdc = CAPTURE_ERROR;

	if (!hop_plan_ok(h) || !dsns_storable(h))
		goto out;
	if ((cdc = capture_present(h, CAPTURE_ON_SOURCE)) == CAPTURE_ERROR)
		goto out;
	for (size_t i = 0; i < h->plan.n; i++)
		if (!h->plan.t[i].tgt) {
			log_error("the target has no table \"%s\"\nhint: \"migrate schema\" creates the "
				  "target's tables from the source's definition", h->plan.t[i].src->name);
			goto out;
		}
	/* the extension's functions go where they went before the hop's
	 * sessions searched no schema (pgx.h): public */
	if (!hop_exec(h->tgt, "BEGIN", "begin") || !hop_state_init(h) ||
	    !hop_exec(h->tgt, "CREATE EXTENSION IF NOT EXISTS postgres_fdw SCHEMA public",
		      "create extension postgres_fdw on the target"))
		goto out;
	buf_adds(&sql, "DROP SERVER IF EXISTS ");
	sqlgen_ident(&sql, h->server);
	buf_adds(&sql, " CASCADE; CREATE SERVER ");
	sqlgen_ident(&sql, h->server);
	buf_adds(&sql, " FOREIGN DATA WRAPPER postgres_fdw");
	if (!server_options(h, &sql) || !hop_exec(h->tgt, sql.data, "create the foreign server"))
		goto out;
	if (!user_mapping(h) || !import_tables(h) || (cdc == CAPTURE_YES && !link_import_cdc(h)))
		goto out;
	const char *params[] = { h->server, h->source_masked };
	PGresult *r = PQexecParams(h->tgt, hq_link_record_hop, 2, NULL, params, NULL, NULL, 0);
	ok = pgx_check(r, PGRES_COMMAND_OK, -1, -1, "record the hop");
	PQclear(r);
	ok = ok && carry_ledger(h) && hop_exec(h->tgt, "COMMIT", "commit the link");
	if (ok)
		log_info("linked target to source \"%s\" as server \"%s\": %zu tables in schema \"%s\"",
			 h->source_masked, h->server, h->plan.n, h->staging);
out:
	if (!ok && PQtransactionStatus(h->tgt) != PQTRANS_IDLE) {
		PGresult *rb = PQexec(h->tgt, "ROLLBACK");
		PQclear(rb);
		log_error("link not created: nothing was changed on the target");
	}
	buf_release(&sql);
	return ok;
}

/* Indexes a copy of this hop dropped and has not rebuilt yet: said, since
 * they stay recorded (a later "migrate copy" rebuilds them) but the
 * tables lack them meanwhile. */
static void warn_dropped_indexes(struct hop *h)
{
	const char *p[] = { h->server };
	PGresult *r = PQexecParams(h->tgt, hq_link_dropped_indexes, 1, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
		log_warn("the unfinished copy of hop \"%s\" dropped indexes and keys it has not rebuilt: %s"
			 "\nhint: run \"migrate copy\" again to finish it, or rebuild them from "
			 "sync_fdw.copy_index.def", h->server, PQgetvalue(r, 0, 0));
	PQclear(r);
}

/*
 * The server's name is a parameter here, never text in the SQL: it was once
 * pasted into a DO $$ ... $$ block, where a "$$" in link.server ended it.
 */
bool link_drop(struct hop *h, const char *keep_as)
{
	struct buf sql = BUF_INIT;
	PGresult *r = NULL;
	bool exists = false, ok = false;
	if (hop_exists(h, &exists) && exists)
		warn_dropped_indexes(h);
	buf_adds(&sql, "BEGIN; DROP SCHEMA IF EXISTS ");
	sqlgen_ident(&sql, h->cdc);
	buf_adds(&sql, " CASCADE; DROP SCHEMA IF EXISTS ");
	sqlgen_ident(&sql, h->staging);
	buf_adds(&sql, " CASCADE; DROP SERVER IF EXISTS ");
	sqlgen_ident(&sql, h->server);
	buf_adds(&sql, " CASCADE");
	if (!hop_exec(h->tgt, sql.data, "remove the link"))
		goto out;
	/* the hop's state, where there is any (no sync_fdw schema before link) */
	r = PQexec(h->tgt, "SELECT pg_catalog.to_regclass('sync_fdw.hop') IS NOT NULL");
	if (!pgx_check(r, PGRES_TUPLES_OK, 1, 1, "look for the hop's state"))
		goto out;
	if (PQgetvalue(r, 0, 0)[0] == 't') {
		const char *p[] = { h->server, keep_as };
		PQclear(r);
		r = PQexecParams(h->tgt, "DELETE FROM sync_fdw.copied WHERE server = $1", 1, NULL, p, NULL, NULL, 0);
		if (!pgx_check(r, PGRES_COMMAND_OK, -1, -1, "remove the hop's copied pieces"))
			goto out;
		PQclear(r);
		r = keep_as ? PQexecParams(h->tgt, "UPDATE sync_fdw.hop SET stage = $2 WHERE server = $1", 2, NULL, p,
					   NULL, NULL, 0)
			    : PQexecParams(h->tgt, "DELETE FROM sync_fdw.hop WHERE server = $1", 1, NULL, p, NULL,
					   NULL, 0);
		if (!pgx_check(r, PGRES_COMMAND_OK, -1, -1, keep_as ? "record the hop's stage" : "remove the hop"))
			goto out;
	}
	ok = hop_exec(h->tgt, "COMMIT", "commit the removal of the link");
out:
	PQclear(r);
	if (!ok && PQtransactionStatus(h->tgt) != PQTRANS_IDLE) {
		PGresult *rb = PQexec(h->tgt, "ROLLBACK");
		PQclear(rb);
	}
	if (ok)
		log_info("removed link \"%s\" (the ledger stays)", h->server);
	buf_release(&sql);
	return ok;
}

/* ---- link --check ---- */

struct checks {
	json_t *checks;		/* [{"check", "ok", "hint"}...]: the --json report */
	json_t *notes;		/* lines that are no check: the text report only */
	bool all_ok;
};

static void check(struct checks *c, bool ok, const char *what, const char *hint)
{
	if (!ok)
		c->all_ok = false;
	json_array_append_new(c->checks, json_pack("{s:o, s:b, s:o}", "check", report_string(what), "ok", ok,
						   "hint", report_string(ok ? NULL : hint)));
}

static void note(struct checks *c, const char *what)
{
	json_array_append_new(c->notes, report_string(what));
}

static bool query_bool(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	bool v = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
		 PQgetvalue(r, 0, 0)[0] == 't';
	PQclear(r);
	return v;
}

/* The connection's user and database as quoted identifiers, for the
 * statements the hints give. */
static void conn_names(PGconn *c, struct buf *user, struct buf *db)
{
	sqlgen_ident(user, PQuser(c));
	sqlgen_ident(db, PQdb(c));
}

/* What the target needs for the link; *fdw_ready tells whether the link
 * itself can be tried. */
static void check_target(struct checks *c, PGconn *tgt, PGconn *src, bool *fdw_ready)
{
	struct buf user = BUF_INIT, db = BUF_INIT, hint = BUF_INIT;
	conn_names(tgt, &user, &db);
	bool super = query_bool(tgt, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user");
	bool avail = query_bool(tgt, hq_link_fdw_available);
	check(c, avail, "postgres_fdw is available on the target's host",
	      "install the PostgreSQL contrib modules on the target host (managed services have it)");
	bool installed = query_bool(tgt, hq_link_fdw_installed);
	buf_addf(&hint, "the target's user %s is not a superuser: an administrator (a superuser, or the "
			"provider's admin role: rds_superuser on RDS, cloudsqlsuperuser on Cloud SQL, "
			"doadmin on DigitalOcean) must run, connected to database %s: "
			"CREATE EXTENSION postgres_fdw", user.data, db.data);
	check(c, installed || super, "postgres_fdw is installed in the target's database", hint.data);
	bool usage = super || (installed && query_bool(tgt, hq_link_fdw_usage));
	buf_reset(&hint);
	buf_addf(&hint, "%sthe same administrator must run, connected to database %s: GRANT USAGE ON "
			"FOREIGN DATA WRAPPER postgres_fdw TO %s", installed ? "" : "once postgres_fdw is installed, ",
		 db.data, user.data);
	check(c, usage, "the target's user may use postgres_fdw (USAGE ON FOREIGN DATA WRAPPER postgres_fdw)",
	      hint.data);
	buf_reset(&hint);
	buf_addf(&hint, "the database's owner or an administrator must run: GRANT CREATE ON DATABASE %s TO %s",
		 db.data, user.data);
	check(c, query_bool(tgt, "SELECT has_database_privilege(current_database(), 'CREATE')"),
	      "the target's user can create schemas (CREATE on the target's database)", hint.data);
	bool pw_ok = true;
	if (src && !super) {
		const char *pw = PQpass(src);
		pw_ok = pw && *pw;
		check(c, pw_ok, "a password for the source's user, for the user mapping (postgres_fdw requires "
				"one when the target's user is not a superuser)",
		      "give sync-fdw the source's password in a pgpass file (PGPASSFILE, or ~/.pgpass) or "
		      "PGPASSWORD, never in source.dsn; the source must ask for it (scram-sha-256 in its "
		      "pg_hba.conf for the target's address)");
	}
	*fdw_ready = (installed || super) && usage && pw_ok;
	buf_release(&user);
	buf_release(&db);
	buf_release(&hint);
}

static void check_source(struct checks *c, PGconn *src)
{
	struct buf user = BUF_INIT, db = BUF_INIT, hint = BUF_INIT;
	conn_names(src, &user, &db);
	buf_addf(&hint, "the database's owner or an administrator must run: GRANT CREATE ON DATABASE %s TO %s",
		 db.data, user.data);
	check(c, query_bool(src, "SELECT has_database_privilege(current_database(), 'CREATE')"),
	      "the source's user can create the capture schema (CREATE on the source's database)", hint.data);
	check(c, query_bool(src, hq_link_trigger_privilege),
	      "the source's user may create triggers on every table",
	      "run capture as the tables' owner, or GRANT TRIGGER on them");
	buf_release(&user);
	buf_release(&db);
	buf_release(&hint);
}

bool link_check(const struct hop_config *cfg, json_t **report)
{
	struct checks c = { json_array(), json_array(), true };
	struct hop h;
	bool src_ok, tgt_ok, fdw_ready = false;
	memset(&h, 0, sizeof h);
	struct pgx_open_opts o = { .connect_timeout_ms = 5000, .attempts = 1 };
	h.cfg = cfg;
	/* the sessions the hop itself will have: what they can do is what is checked */
	h.src = pgx_open(PGX_HOP_SOURCE, cfg->s.source_dsn, &o);
	h.tgt = pgx_open(PGX_HOP_TARGET, cfg->s.target_dsn, &o);
	src_ok = h.src != NULL;
	tgt_ok = h.tgt != NULL;
	check(&c, src_ok, "the source accepts connections (source.dsn)",
	      "check host, port, dbname and user, and the password in PGPASSWORD or pgpass");
	check(&c, tgt_ok, "the target accepts connections (target.dsn)",
	      "check host, port, dbname and user, and the password in PGPASSWORD or pgpass");
	if (tgt_ok)
		check_target(&c, h.tgt, h.src, &fdw_ready);
	if (src_ok)
		check_source(&c, h.src);
	/* Whether the target reaches the source through postgres_fdw is not
	 * tried here: it takes a foreign server and a user mapping holding the
	 * source's password, sent as SQL text (into the target's server log
	 * with log_statement = ddl) even in a transaction rolled back.  --check
	 * creates nothing; link tries it, and changes nothing when it fails. */
	if (src_ok && tgt_ok)
		note(&c, fdw_ready ? "the target reaching the source through postgres_fdw is not tried by "
				     "--check (it would send the password to the target); link tries it and "
				     "changes nothing when it fails"
				   : "the target reaching the source through postgres_fdw is tried by link, "
				     "once what is missing above is there");
	PQfinish(h.src);
	PQfinish(h.tgt);
	*report = json_pack("{s:o, s:o}", "checks", c.checks, "notes", c.notes);
	return c.all_ok;
}

void link_check_text(const json_t *report, struct buf *out)
{
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(report, "checks"), i, v) {
		bool ok = json_is_true(json_object_get(v, "ok"));
		const char *hint = json_string_value(json_object_get(v, "hint"));
		buf_addf(out, "%-8s %s\n", ok ? "ok" : "MISSING", json_string_value(json_object_get(v, "check")));
		if (hint)
			buf_addf(out, "         hint: %s\n", hint);
	}
	json_array_foreach(json_object_get(report, "notes"), i, v)
		buf_addf(out, "%-8s %s\n", "note", json_string_value(v));
}
