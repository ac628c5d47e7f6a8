/*
 * cutover: the move itself; see cutover.h for the protocol.
 */
#include "cutover.h"

#include <signal.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "apply.h"
#include "capture.h"
#include "driver.h"
#include "dsn.h"
#include "hop_queries.h"
#include "log.h"
#include "pgx.h"
#include "seqs.h"
#include "stage.h"
#include "sqlgen.h"
#include "util.h"
#include "banned.h"

/*
 * cutover.servers checked before anything is written (migrate plan, copy,
 * run): the admin token is set where a minitwitd entry needs it, and every
 * entry's preflight passes (drivers_check: contacts each, changes nothing).
 * Problems go into the plan.
 */
void cutover_check_servers(struct hop *h)
{
	const struct hop_config *cfg = h->cfg;
	size_t n = cfg->nservers, admin = 0;
	if (!n)
		return;
	for (size_t i = 0; i < n; i++)
		if (cfg->servers[i].admin_url || cfg->servers[i].admin_dns)
			admin++;
	const char *token = getenv(cfg->s.cutover_token_env);
	if (admin && (!token || !*token)) {
		struct buf hint = BUF_INIT;
		buf_addf(&hint, "export %s with the servers' admin token (cutover.token_env names the "
				"variable)", cfg->s.cutover_token_env);
		plan_problem(&h->plan, hint.data, "cutover.servers lists %zu server%s, but the admin token "
			     "variable %s is not set: the cutover could not pause them", admin,
			     admin == 1 ? "" : "s", cfg->s.cutover_token_env);
		buf_release(&hint);
		return;
	}
	struct buf why = BUF_INIT;
	if (!drivers_check(cfg, &why)) {
		while (why.len && (why.data[why.len - 1] == ' ' || why.data[why.len - 1] == ';'))
			why.data[--why.len] = '\0';
		plan_problem(&h->plan, "start each server listed, or correct its entry in cutover.servers "
				       "(an HTTP status 401 or 403: check the admin token)",
			     "cutover.servers would fail at the cutover: %s", buf_str(&why));
	}
	buf_release(&why);
}

/* ---- steps on the databases ---- */

/* Ask a follower of the hop to stop (sync_fdw.hop.stop_requested), or clear the request. */
static bool request_stop(struct hop *h, bool stop)
{
	const char *p[] = { h->server, stop ? "true" : "false" };
	PGresult *r = PQexecParams(h->tgt, "UPDATE sync_fdw.hop SET stop_requested = $2 WHERE server = $1", 2,
				   NULL, p, NULL, NULL, 0);
	bool ok = pgx_check(r, PGRES_COMMAND_OK, -1, -1, "record the cutover's state");
	PQclear(r);
	return ok;
}

/* Ask a follower to stop and take the hop's applier lock (bounded wait). */
static bool take_over(struct hop *h)
{
	if (!request_stop(h, true))
		return false;
	const char *p[] = { h->server };
	for (int i = 0; i < 300; i++) {
		PGresult *r = PQexecParams(h->tgt, "SELECT pg_try_advisory_lock(hashtextextended('sync_fdw:' || $1, 0))",
					   1, NULL, p, NULL, NULL, 0);
		bool got = pgx_check(r, PGRES_TUPLES_OK, 1, 1, "take the applier's lock") &&
			   PQgetvalue(r, 0, 0)[0] == 't';
		PQclear(r);
		if (got)
			return request_stop(h, false);
		struct timespec ts = { 0, 50 * 1000000L };
		nanosleep(&ts, NULL);
	}
	log_error("the applier of hop \"%s\" did not stop within 15 s\nhint: stop \"sync-fdw run\" by hand",
		  h->server);
	(void)request_stop(h, false);
	return false;
}

/* Apply everything committed on the source so far, in this process. */
static bool catch_up(struct hop *h, int64_t *applied)
{
	struct apply_opts o = { .follow = false, .batch_size = h->cfg->s.sync_batch_size,
				.interval_ms = 5 };
	struct apply_result res;
	bool ok = apply_run(h, &o, &res);
	*applied = res.applied;
	return ok;
}

static bool fence(struct hop *h)
{
	struct buf sql = BUF_INIT;
	/* writes are held meanwhile: a lock the fence cannot get within a
	 * second fails the cutover (rolled back) rather than stretch the hold */
	buf_adds(&sql, "BEGIN READ WRITE; SET LOCAL lock_timeout = '1s';\n");
	buf_adds(&sql, hop_sql_text("fence.sql"));
	for (size_t i = 0; i < h->plan.n; i++) {
		buf_adds(&sql, "\nCREATE OR REPLACE TRIGGER minitwit_fence BEFORE INSERT OR UPDATE OR DELETE "
			       "OR TRUNCATE ON public.");
		sqlgen_ident(&sql, h->plan.t[i].src->name);
		buf_adds(&sql, " FOR EACH STATEMENT EXECUTE FUNCTION minitwit_fence.refuse();");
	}
	buf_adds(&sql, "\nDO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET default_transaction_read_only = on',"
		       " current_database()); END $$;\nCOMMIT");
	bool ok = hop_exec(h->src, sql.data, "fence the source");
	buf_release(&sql);
	if (!ok && PQtransactionStatus(h->src) != PQTRANS_IDLE) {
		PGresult *r = PQexec(h->src, "ROLLBACK");
		PQclear(r);
	}
	return ok;
}

bool cutover_unfence(PGconn *src)
{
	PGresult *r = PQexec(src, hq_cutover_fenced_tables);
	bool ok = pgx_check(r, PGRES_TUPLES_OK, -1, 1, "look for the fence");
	struct buf sql = BUF_INIT;
	buf_adds(&sql, "BEGIN READ WRITE;\n");
	for (int i = 0; ok && i < PQntuples(r); i++) {
		buf_adds(&sql, "DROP TRIGGER IF EXISTS minitwit_fence ON public.");
		sqlgen_ident(&sql, PQgetvalue(r, i, 0));
		buf_adds(&sql, ";\n");
	}
	PQclear(r);
	buf_adds(&sql, "DROP SCHEMA IF EXISTS minitwit_fence CASCADE;\n"
		       "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I RESET default_transaction_read_only',"
		       " current_database()); END $$;\nCOMMIT");
	ok = ok && hop_exec(src, sql.data, "remove the fence from the source");
	buf_release(&sql);
	if (!ok && PQtransactionStatus(src) != PQTRANS_IDLE) {
		r = PQexec(src, "ROLLBACK");
		PQclear(r);
	}
	return ok;
}

/* Remove a fence from the target (a move back to an old host). */
static bool target_unfence(struct hop *h)
{
	PGresult *r = PQexec(h->tgt, "SELECT to_regnamespace('minitwit_fence') IS NOT NULL");
	bool ok = pgx_check(r, PGRES_TUPLES_OK, 1, 1, "look for a fence on the target");
	bool fenced = ok && PQgetvalue(r, 0, 0)[0] == 't';
	PQclear(r);
	if (!ok || !fenced)
		return ok;
	log_info("the target was fenced by an earlier cutover: removing that fence (moving back)");
	return cutover_unfence(h->tgt);
}

/* Wait until every transaction running when the fence was raised has
 * ended: one that wrote before the fence and commits after it would
 * otherwise be missed by the drain. */
static bool wait_fenced(struct hop *h, double *waited_ms)
{
	double t0 = mono_ms_f();
	PGresult *r = PQexec(h->src, hq_cutover_running_xids);
	if (!pgx_check(r, PGRES_TUPLES_OK, 1, 1, "read the transactions running at the fence")) {
		PQclear(r);
		return false;
	}
	char *xip = strdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	bool ok = false;
	for (int i = 0; i < 200; i++) {
		const char *p[] = { xip };
		r = PQexecParams(h->src, hq_cutover_still_running, 1, NULL, p, NULL, NULL, 0);
		bool q = pgx_check(r, PGRES_TUPLES_OK, 1, 2, "wait for transactions older than the fence");
		bool done = q && strcmp(PQgetvalue(r, 0, 0), "0") == 0;
		if (!q || done) {
			ok = done;
			PQclear(r);
			break;
		}
		if (i == 199)
			log_error("transaction %s on the source was still running 10 s after the fence"
				  "\nhint: find it in pg_stat_activity (backend_xid) and end it",
				  PQgetvalue(r, 0, 1));
		PQclear(r);
		struct timespec ts = { 0, 50 * 1000000L };
		nanosleep(&ts, NULL);
	}
	free(xip);
	*waited_ms = mono_ms_f() - t0;
	return ok;
}

static bool point_fence(struct hop *h)
{
	const char *p[] = { h->cfg->s.target_dsn };
	struct buf why = BUF_INIT;
	if (!dsn_storable(p[0], &why)) {	/* preflight says so first: a guard */
		log_error("refusing to store target.dsn in minitwit_fence.moved_to: %s", why.data);
		buf_release(&why);
		return false;
	}
	PGresult *r = PQexecParams(h->src, "BEGIN READ WRITE", 0, NULL, NULL, NULL, NULL, 0);
	PQclear(r);
	r = PQexecParams(h->src, "INSERT INTO minitwit_fence.moved_to (dsn) VALUES ($1)", 1, NULL, p, NULL,
			 NULL, 0);
	bool ok = pgx_check(r, PGRES_COMMAND_OK, -1, -1, "point the fence at the target");
	PQclear(r);
	ok = ok && hop_exec(h->src, "COMMIT", "commit");
	if (!ok && PQtransactionStatus(h->src) != PQTRANS_IDLE) {
		r = PQexec(h->src, "ROLLBACK");
		PQclear(r);
	}
	return ok;
}

/* Test hook: MIGRATE_TEST_KILL_CUTOVER_AT=fenced|drained|pointed SIGKILLs
 * the process right after that step, for the crash tests. */
static void kill_hook(const char *point)
{
	const char *v = getenv("MIGRATE_TEST_KILL_CUTOVER_AT");
	if (v && strcmp(v, point) == 0) {
		log_warn("test hook: killing myself after \"%s\"", point);
		raise(SIGKILL);
	}
}

/* Test hook: MIGRATE_TEST_FAIL_CUTOVER_AT=pointed fails the step after
 * that point as a failure there would (a server must still be released). */
static bool fail_hook(const char *point)
{
	const char *v = getenv("MIGRATE_TEST_FAIL_CUTOVER_AT");
	if (v && strcmp(v, point) == 0) {
		log_warn("test hook: failing after \"%s\"", point);
		return true;
	}
	return false;
}

/* ---- the report ---- */

struct report {
	json_t *root, *steps;
	double t0;
};

static void step(struct report *rep, const char *name, bool ok, double ms, const char *detail)
{
	json_t *s = json_pack("{s:s, s:b, s:f}", "step", name, "ok", ok, "ms", ms);
	if (detail)
		json_object_set_new(s, "detail", json_string(detail));
	json_array_append_new(rep->steps, s);
	log_info("cutover: %s %s (%.1f ms)%s%s", name, ok ? "done" : "FAILED", ms, detail ? ": " : "",
		 detail ? detail : "");
}

static bool preflight(struct hop *h, struct driver_set *ds, struct report *rep, bool *already)
{
	double t0 = mono_ms_f();
	struct buf why = BUF_INIT, masked = BUF_INIT;	/* masked: why target.dsn is refused */
	*already = false;
	bool ok = hop_plan_ok(h);
	const char *p[] = { h->server };
	PGresult *r = PQexecParams(h->tgt, hq_cutover_hop_state, 1, NULL, p, NULL, NULL, 0);
	if (!pgx_check(r, PGRES_TUPLES_OK, -1, 3, "read the hop") || PQntuples(r) != 1) {
		buf_addf(&why, "no hop \"%s\" on the target (link, capture and copy first); ", h->server);
		ok = false;
	} else {
		enum hop_stage at;
		if (hop_stage_parse(PQgetvalue(r, 0, 0), &at) && at == HOP_STAGE_SWITCHED)
			*already = true;
		if (PQgetvalue(r, 0, 1)[0] == 't') {
			buf_adds(&why, "the copy has not finished; ");
			ok = false;
		}
	}
	PQclear(r);
	if (!dsn_storable(h->cfg->s.target_dsn, &masked)) {
		buf_addf(&why, "target.dsn cannot be stored in minitwit_fence.moved_to, which every "
			       "server reads: %s (give the password with a pgpass file instead); ",
			 masked.data);
		ok = false;
	}
	/* every server can be paused and switched: nothing is held yet */
	if (ok && !drivers_preflight(ds, &why))
		ok = false;
	/* how far behind the sync is: pending changes through the link */
	if (ok && !*already) {
		struct buf sql = BUF_INIT;
		buf_adds(&sql, "SELECT count(*), coalesce(extract(epoch FROM max(now()) - min(c.ts)), 0) FROM ");
		sqlgen_qualified(&sql, h->cdc, "changes");
		buf_adds(&sql, " c, sync_fdw.hop h WHERE h.server = $1 AND c.change_id > h.pos");
		r = PQexecParams(h->tgt, sql.data, 1, NULL, p, NULL, NULL, 0);
		buf_release(&sql);
		if (pgx_check(r, PGRES_TUPLES_OK, 1, 2, "measure the sync's lag")) {
			double lag = strtod(PQgetvalue(r, 0, 1), NULL) * 1000.0;
			json_object_set_new(rep->root, "preflight_pending", json_integer(strtoll(PQgetvalue(r, 0, 0), NULL, 10)));
			json_object_set_new(rep->root, "preflight_lag_ms", json_real(lag));
			if (lag > (double)h->cfg->s.cutover_max_lag_ms)
				buf_addf(&why, "the sync is %.0f ms behind (cutover.max_lag is %lld ms): the "
					       "drain would hold writes too long; ", lag,
					 (long long)h->cfg->s.cutover_max_lag_ms);
			ok = ok && lag <= (double)h->cfg->s.cutover_max_lag_ms;
		} else
			ok = false;
		PQclear(r);
	}
	step(rep, "preflight", ok, mono_ms_f() - t0, why.len ? why.data : NULL);
	buf_release(&why);
	buf_release(&masked);
	return ok;
}

bool cutover_run(struct hop *h, const struct cutover_opts *o, json_t **report)
{
	struct driver_set ds;
	struct report rep = { json_object(), json_array(), mono_ms_f() };
	bool ok = false, paused = false, fenced = false, switched = false, resumed = false, already = false;
	int64_t drained = 0, early = 0;
	double fence_wait = 0, t;
	size_t n = h->cfg->nservers;

	drivers_open(&ds, h->cfg);
	json_object_set_new(rep.root, "hop", json_string(h->server));
	json_object_set_new(rep.root, "dry_run", json_boolean(o->dry_run));
	json_object_set_new(rep.root, "steps", rep.steps);

	if (!preflight(h, &ds, &rep, &already))
		goto out;
	if (already) {
		step(&rep, "already switched", true, 0, "this hop's cutover was done before; nothing to do");
		ok = true;
		goto out;
	}
	if (o->dry_run) {
		/* what the cutover would do, step by step; nothing is changed */
		struct buf what = BUF_INIT;
		if (n)
			buf_addf(&what, "take over the sync, pause %zu server%s (writes held), fence the source, "
					"drain, set sequences, switch the servers to the target", n, n == 1 ? "" : "s");
		else
			buf_adds(&what, "take over the sync, fence the source (fence only: applications' writes "
					"fail from the fence to the switch), drain, set sequences, point the fence "
					"at the target");
		json_array_append_new(rep.steps, json_pack("{s:s, s:b, s:f, s:s}", "step", "would cut over",
							   "ok", true, "ms", 0.0, "detail", what.data));
		log_info("cutover --dry-run: nothing changed; a cutover would %s", what.data);
		buf_release(&what);
		ok = true;
		goto out;
	}
	/* 2: this process applies from now on; catch up before holding anything */
	t = mono_ms_f();
	if (!take_over(h) || !catch_up(h, &early)) {
		step(&rep, "take over the sync", false, mono_ms_f() - t, NULL);
		goto out;
	}
	step(&rep, "take over the sync", true, mono_ms_f() - t, NULL);
	json_object_set_new(rep.root, "caught_up_changes", json_integer(early));

	/* 3: hold writes */
	t = mono_ms_f();
	paused = true;	/* even a partial pause must be undone */
	if (!drivers_pause(&ds)) {
		step(&rep, "pause servers", false, mono_ms_f() - t, NULL);
		goto out;
	}
	if (n)
		step(&rep, "pause servers", true, mono_ms_f() - t, NULL);
	else
		step(&rep, "fence only", true, mono_ms_f() - t,
		     "no servers to pause: applications' writes fail from the fence to the switch");
	double hold_start = mono_ms_f();

	/* 4: fence, then wait out the transactions that began before it */
	t = mono_ms_f();
	fenced = true;
	if (!hop_stage_move(h, HOP_STAGE_CUTOVER) || !fence(h)) {
		step(&rep, "fence the source", false, mono_ms_f() - t, NULL);
		goto out;
	}
	if (!wait_fenced(h, &fence_wait)) {
		step(&rep, "fence the source", false, mono_ms_f() - t, "a transaction older than the fence did not end");
		goto out;
	}
	step(&rep, "fence the source", true, mono_ms_f() - t, NULL);
	json_object_set_new(rep.root, "fence_wait_ms", json_real(fence_wait));
	kill_hook("fenced");

	/* 5: drain */
	t = mono_ms_f();
	if (!catch_up(h, &drained)) {
		step(&rep, "drain", false, mono_ms_f() - t, NULL);
		goto out;
	}
	step(&rep, "drain", true, mono_ms_f() - t, NULL);
	json_object_set_new(rep.root, "drained_changes", json_integer(drained));
	kill_hook("drained");

	/* 6: sequences */
	t = mono_ms_f();
	int nseq = 0, nseq_moved = 0;
	if (!seqs_set(h, &nseq, &nseq_moved)) {
		step(&rep, "set sequences", false, mono_ms_f() - t, NULL);
		goto out;
	}
	step(&rep, "set sequences", true, mono_ms_f() - t, NULL);
	json_object_set_new(rep.root, "sequences", json_integer(nseq));
	json_object_set_new(rep.root, "sequences_set", json_integer(nseq_moved));

	/* the target records what changes from now on: verify compares the
	 * source with the target as it was at the switch, while the service
	 * already writes there */
	t = mono_ms_f();
	struct buf name = BUF_INIT;
	buf_addf(&name, "%s (since its cutover)", h->server);
	bool rc_ok = capture_install_db(h->tgt, &h->plan, name.data, h->cfg, 0, NULL);
	buf_release(&name);
	step(&rep, "record later changes", rc_ok, mono_ms_f() - t, NULL);
	if (!rc_ok)
		goto out;

	/* 7: every server points at the target, writes still held (undone by
	 * a rollback); then the point of no return: writes go to the target */
	t = mono_ms_f();
	if (!drivers_switch(&ds)) {
		step(&rep, "switch servers", false, mono_ms_f() - t, "a server could not be pointed at the target");
		goto out;
	}
	if (!point_fence(h)) {
		step(&rep, "switch servers", false, mono_ms_f() - t, NULL);
		goto out;
	}
	switched = true;
	kill_hook("pointed");
	/* moving back to a host an earlier cutover fenced: it takes writes again */
	if (fail_hook("pointed") || !target_unfence(h)) {
		step(&rep, "switch servers", false, mono_ms_f() - t, "could not remove the target's old fence");
		goto out;
	}
	bool all = drivers_resume(&ds);
	resumed = true;
	double hold_ms = mono_ms_f() - hold_start;
	step(&rep, "switch servers", all, mono_ms_f() - t,
	     all ? NULL : "a server did not switch or resume on the target (see the log)");
	json_t *servers = json_array();
	double max_hold = drivers_report(&ds, servers);
	json_object_set_new(rep.root, "servers", servers);
	json_object_set_new(rep.root, "hold_ms", json_real(hold_ms));
	json_object_set_new(rep.root, "hold_ms_max_server", json_real(max_hold));
	if (!hop_stage_move(h, HOP_STAGE_SWITCHED))
		log_warn("the cutover of hop \"%s\" is done, but its stage could not be recorded (see above)",
			 h->server);
	ok = all;
out:
	/* past the point of no return a server must not stay paused (PgBouncer
	 * never resumes by itself): release it on the target, whatever failed */
	if (switched && !resumed && !drivers_resume(&ds))
		log_error("a server could not be resumed on the target (see above)");
	if (!ok && !switched) {
		/* undo: unfence the source, resume every server where it was */
		bool had = false;
		if (fenced && !capture_remove_db(h->tgt, &had))
			log_error("could not remove the capture installed on the target");
		if (fenced && !cutover_unfence(h->src))
			log_error("the source is still fenced\nhint: run \"migrate cutover\" again, or remove "
				  "the fence by hand: DROP SCHEMA minitwit_fence CASCADE and the minitwit_fence "
				  "triggers, ALTER DATABASE ... RESET default_transaction_read_only");
		if (fenced && !hop_stage_move(h, HOP_STAGE_SYNCING))
			log_warn("hop \"%s\" still reads stage \"cutover\"\nhint: run \"migrate cutover\" again",
				 h->server);
		if (paused)
			drivers_rollback(&ds);
		if (paused)
			step(&rep, "rolled back", true, 0, "source unfenced, servers resumed on the source");
	}
	json_object_set_new(rep.root, "ok", json_boolean(ok));
	json_object_set_new(rep.root, "total_ms", json_real(mono_ms_f() - rep.t0));
	char *text = json_dumps(rep.root, JSON_COMPACT);
	if (h->tgt && !o->dry_run) {
		const char *p[] = { h->server, text };
		PGresult *r = PQexecParams(h->tgt, "UPDATE sync_fdw.hop SET report = $2::jsonb WHERE server = $1",
					   2, NULL, p, NULL, NULL, 0);
		PQclear(r);
	}
	free(text);
	drivers_close(&ds);
	*report = rep.root;
	return ok;
}

void cutover_text(const json_t *report, struct buf *out)
{
	size_t i;
	json_t *s;
	bool already = false;
	json_array_foreach(json_object_get(report, "steps"), i, s) {
		const char *name = json_string_value(json_object_get(s, "step"));
		const char *detail = json_string_value(json_object_get(s, "detail"));
		already = already || strcmp(name, "already switched") == 0;
		buf_addf(out, "%-22s %-7s %9.1f ms  %s\n", name, json_is_true(json_object_get(s, "ok")) ? "ok" : "FAILED",
			 json_number_value(json_object_get(s, "ms")), detail ? detail : "");
	}
	json_array_foreach(json_object_get(report, "servers"), i, s) {
		json_t *rel = json_object_get(s, "released");
		buf_addf(out, "server %s: writes held %.0f ms", json_string_value(json_object_get(s, "name")),
			 json_number_value(json_object_get(s, "held_ms")));
		const char *note = json_string_value(json_object_get(s, "note"));
		if (rel)
			buf_addf(out, ", %" JSON_INTEGER_FORMAT " requests released", json_integer_value(rel));
		if (note)
			buf_addf(out, " (%s)", note);
		buf_addc(out, '\n');
	}
	bool ok = json_is_true(json_object_get(report, "ok"));
	if (json_is_true(json_object_get(report, "dry_run")))
		buf_addf(out, "dry run: the cutover %s; nothing was changed\n",
			 ok ? (already ? "was done before" : "would proceed as above")
			    : "would be refused (see the preflight)");
	else
		buf_addf(out, "cutover %s in %.1f ms\n", ok ? "done" : "FAILED",
			 json_number_value(json_object_get(report, "total_ms")));
}
