/*
 * hop: the shared context of a hop's stages; see hop.h.
 */
#include "hop.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dsn.h"
#include "hop_queries.h"
#include "log.h"
#include "pgx.h"
#include "sqlgen.h"
#include "util.h"
#include "banned.h"

const char *hop_sql_text(const char *name)
{
	for (unsigned i = 0; i < hop_sql_count; i++)
		if (strcmp(hop_sql[i].name, name) == 0)
			return hop_sql[i].text;
	log_error("internal error: no embedded sql/hop/%s", name);
	abort();
}

bool hop_exec(PGconn *c, const char *sql, const char *what)
{
	return pgx_exec(c, sql, what);
}

/* A session to one end of the hop, with the hop's settings (pgx.h). */
static PGconn *connect_end(const struct hop_config *cfg, bool target)
{
	struct pgx_open_opts o = {
		.connect_timeout_ms = 5000, .backoff_ms = 200,
		.attempts = (int)(cfg->s.sync_connect_attempts < 3 ? cfg->s.sync_connect_attempts : 3),
	};
	return pgx_open(target ? PGX_HOP_TARGET : PGX_HOP_SOURCE, target ? cfg->s.target_dsn : cfg->s.source_dsn,
			&o);
}

PGconn *hop_connect(const struct hop *h, bool target)
{
	return connect_end(h->cfg, target);
}

/* Offsets recorded for this hop when it was linked (none before). */
static bool read_fixed(struct hop *h, struct plan_fixed **out, size_t *n)
{
	bool exists;
	*out = NULL;
	*n = 0;
	if (!hop_exists(h, &exists))
		return false;
	if (!exists)
		return true;
	const char *p[] = { h->server };
	PGresult *r = PQexecParams(h->tgt, hq_hop_recorded_offsets, 1, NULL, p, NULL, NULL, 0);
	bool ok = pgx_check(r, PGRES_TUPLES_OK, -1, 2, "read the hop's recorded offsets");
	if (ok && PQntuples(r) > 0) {
		*out = calloc((size_t)PQntuples(r), sizeof **out);
		if (!*out)
			abort();
		for (int i = 0; i < PQntuples(r); i++) {
			(*out)[i].table = xstrdup(PQgetvalue(r, i, 0));
			(*out)[i].offset = strtoll(PQgetvalue(r, i, 1), NULL, 10);
		}
		*n = (size_t)PQntuples(r);
	}
	PQclear(r);
	return ok;
}

bool hop_open(struct hop *h, const struct hop_config *cfg, int need)
{
	memset(h, 0, sizeof *h);
	h->cfg = cfg;
	h->staging = xstrdup(cfg->s.link_schema);
	struct buf b = BUF_INIT;
	buf_addf(&b, "%s_cdc", cfg->s.link_schema);
	h->cdc = buf_detach(&b);
	h->server = xstrdup(cfg->s.link_server);
	sqlgen_literal(&h->server_lit, h->server);
	dsn_mask(cfg->s.source_dsn, &b);
	h->source_masked = buf_detach(&b);
	dsn_mask(cfg->s.target_dsn, &b);
	h->target_masked = buf_detach(&b);

	if ((need & (HOP_TARGET | HOP_PLAN)) && !(h->tgt = connect_end(cfg, true)))
		return false;
	if ((need & (HOP_SOURCE | HOP_PLAN)) && !(h->src = connect_end(cfg, false)))
		return false;
	if (need & HOP_PLAN)
		return hop_replan(h);
	return true;
}

bool hop_replan(struct hop *h)
{
	struct plan_fixed *fixed = NULL;
	size_t nfixed = 0;
	/* the source's ids and counts were read moments ago: the new plan
	 * takes them from the old one (what changes since is captured) */
	struct hop_plan next;
	bool ok = read_fixed(h, &fixed, &nfixed) &&
		  plan_build(h->cfg, h->src, h->tgt, fixed, nfixed, h->planned ? &h->plan : NULL, &next);
	/* on failure no plan stays behind: neither the old one (the target
	 * changed) nor a part of the new one (plan_build leaves none) */
	if (h->planned)
		plan_release(&h->plan);
	h->plan = ok ? next : (struct hop_plan){ 0 };
	for (size_t i = 0; i < nfixed; i++)
		free(fixed[i].table);
	free(fixed);
	h->planned = ok;
	return ok;
}

bool hop_config_load(const char *path, bool given, struct hop_config *cfg)
{
	struct cfg_error err;
	if (!given && access(path, R_OK) != 0)
		path = NULL;	/* defaults and environment */
	if (!hopcfg_load(path, cfg, &err)) {
		log_error("%s", err.msg);
		return false;
	}
	if (!log_set_level_name(cfg->s.log_level)) {
		log_error("invalid log.level \"%s\": expected debug, info, warn or error", cfg->s.log_level);
		return false;
	}
	struct buf env = BUF_INIT;
	cfg_env_overrides(hopcfg_keys, hopcfg_nkeys, "MINITWIT", &env);
	if (env.len)
		log_info("settings from the environment, over the file: %s", env.data);
	buf_release(&env);
	if (strcmp(cfg->s.capture_triggers, "row") != 0 && strcmp(cfg->s.capture_triggers, "statement") != 0) {
		log_error("invalid capture.triggers \"%s\": expected row or statement", cfg->s.capture_triggers);
		return false;
	}
	const char *fn = cfg->s.capture_function;
	if (strcmp(fn, "auto") != 0 && strcmp(fn, "c") != 0 && strcmp(fn, "plpgsql") != 0) {
		log_error("invalid capture.function \"%s\": expected auto, c or plpgsql", fn);
		return false;
	}
	if (strcmp(fn, "c") == 0 && strcmp(cfg->s.capture_triggers, "row") != 0) {
		log_error("capture.function c needs capture.triggers: row (the C trigger is row-level; "
			  "statement-level triggers are PL/pgSQL)");
		return false;
	}
	return true;
}

bool hop_config_print(const char *path, bool given, FILE *out)
{
	struct hop_config cfg;
	bool ok = hop_config_load(path, given, &cfg);	/* cfg zeroed first: released either way */
	if (ok)
		hopcfg_print(&cfg, out);
	hopcfg_release(&cfg);
	return ok;
}

void hop_close(struct hop *h)
{
	if (h->planned)
		plan_release(&h->plan);
	PQfinish(h->src);
	PQfinish(h->tgt);
	free(h->staging);
	free(h->cdc);
	free(h->server);
	free(h->source_masked);
	free(h->target_masked);
	buf_release(&h->server_lit);
	memset(h, 0, sizeof *h);
}

bool hop_exec_ddl(PGconn *c, const char *sql, const char *what)
{
	struct buf full = BUF_INIT;
	buf_addf(&full, "BEGIN READ WRITE; SET LOCAL lock_timeout = '100ms';\n%s;\nCOMMIT", sql);
	bool ok = false;
	for (int attempt = 1; attempt <= 100 && !ok; attempt++) {
		PGresult *r = PQexec(c, full.data);
		ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
		bool busy = pgx_sqlstate_is(r, "55P03") || pgx_sqlstate_is(r, "40P01");
		if (!ok && (!busy || attempt == 100))
			pgx_log_failure(r, what);
		PQclear(r);
		if (PQtransactionStatus(c) != PQTRANS_IDLE) {
			r = PQexec(c, "ROLLBACK");
			PQclear(r);
		}
		if (!ok && !busy)
			break;
		if (!ok) {
			struct timespec ts = { 0, (long)(attempt < 10 ? attempt : 10) * 10 * 1000000L };
			nanosleep(&ts, NULL);
		}
	}
	buf_release(&full);
	return ok;
}

bool hop_plan_ok(const struct hop *h)
{
	if (!h->plan.nproblems)
		return true;
	log_error("the hop cannot go ahead: %zu problem%s found (run \"migrate plan\" for the whole plan)",
		  h->plan.nproblems, h->plan.nproblems == 1 ? "" : "s");
	for (size_t i = 0; i < h->plan.nproblems; i++)
		log_problem(LOG_ERROR, &h->plan.problems[i]);
	return false;
}

bool hop_state_init(struct hop *h)
{
	return hop_exec(h->tgt, hop_sql_text("target.sql"), "create the hop's state on the target");
}

void hop_record_error(struct hop *h, const char *msg)
{
	if (!h->tgt || PQstatus(h->tgt) != CONNECTION_OK)
		return;
	if (PQtransactionStatus(h->tgt) != PQTRANS_IDLE) {
		PGresult *r = PQexec(h->tgt, "ROLLBACK");
		PQclear(r);
	}
	const char *params[] = { h->server, msg };
	PGresult *r = PQexecParams(h->tgt, hq_hop_record_error, 2, NULL, params, NULL, NULL, 0);
	PQclear(r);
}

bool hop_exists(struct hop *h, bool *exists)
{
	const char *params[] = { h->server };
	PGresult *r = PQexecParams(h->tgt, hq_hop_state_exists, 0, NULL, NULL, NULL, NULL, 0);
	bool ok = pgx_check(r, PGRES_TUPLES_OK, 1, 1, "look for the hop's state");
	bool have_schema = ok && PQgetvalue(r, 0, 0)[0] == 't';
	PQclear(r);
	*exists = false;
	if (!ok || !have_schema)
		return ok;
	r = PQexecParams(h->tgt, "SELECT 1 FROM sync_fdw.hop WHERE server = $1", 1, NULL, params,
			 NULL, NULL, 0);
	ok = pgx_check(r, PGRES_TUPLES_OK, -1, 1, "look for the hop's state");
	*exists = ok && PQntuples(r) == 1;
	PQclear(r);
	return ok;
}

void hop_rollback(PGconn *c)
{
	if (c && PQtransactionStatus(c) != PQTRANS_IDLE) {
		PGresult *r = PQexec(c, "ROLLBACK");
		PQclear(r);
	}
}
