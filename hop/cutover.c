/*
 * cutover: the move itself; see cutover.h for the protocol.
 */
#include "cutover.h"

#include <curl/curl.h>
#include <signal.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "apply.h"
#include "capture.h"
#include "log.h"
#include "pgx.h"
#include "seqs.h"
#include "sqlgen.h"
#include "banned.h"

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ---- the servers' admin APIs, all at once ---- */

struct call {
	const char *url;		/* the server's admin_url */
	struct buf resp;
	long status;
	bool ok;			/* 2xx */
	double ms;
	char err[CURL_ERROR_SIZE];
	json_t *json;			/* parsed answer, or NULL */
};

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;
	if (b->len + size * n > 1 << 20)
		return 0;	/* an admin answer is small: refuse a flood */
	buf_add(b, p, size * n);
	return size * n;
}

/* Run method path on every server concurrently; false when any failed. */
static bool call_all(struct call *calls, size_t n, const char *method, const char *path,
		     const char *body, const char *token, long timeout_ms)
{
	CURLM *m = curl_multi_init();
	CURL **easy = calloc(n ? n : 1, sizeof *easy);
	struct curl_slist *hdrs = NULL;
	struct buf auth = BUF_INIT, url = BUF_INIT;
	bool all = true;
	double t0 = now_ms();

	buf_addf(&auth, "Authorization: Bearer %s", token ? token : "");
	hdrs = curl_slist_append(hdrs, auth.data);
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	for (size_t i = 0; i < n; i++) {
		struct call *c = &calls[i];
		buf_release(&c->resp);
		json_decref(c->json);
		c->json = NULL;
		c->status = 0;
		c->ok = false;
		c->err[0] = '\0';
		buf_reset(&url);
		buf_adds(&url, c->url);
		while (url.len && url.data[url.len - 1] == '/')
			url.data[--url.len] = '\0';
		buf_adds(&url, path);
		CURL *e = easy[i] = curl_easy_init();
		curl_easy_setopt(e, CURLOPT_URL, url.data);
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
		if (body) {
			curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
		}
		curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(e, CURLOPT_WRITEDATA, &c->resp);
		curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->err);
		curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
		curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < 2000 ? timeout_ms : 2000);
		curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(e, CURLOPT_PRIVATE, c);
		curl_multi_add_handle(m, e);
	}
	int running = 1;
	while (running) {
		if (curl_multi_perform(m, &running) != CURLM_OK)
			break;
		if (running)
			curl_multi_poll(m, NULL, 0, 100, NULL);
		CURLMsg *msg;
		int left;
		while ((msg = curl_multi_info_read(m, &left)) != NULL) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			struct call *c;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
			curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &c->status);
			c->ms = now_ms() - t0;
			if (msg->data.result != CURLE_OK && !c->err[0])
				snprintf(c->err, sizeof c->err, "%s", curl_easy_strerror(msg->data.result));
			c->ok = msg->data.result == CURLE_OK && c->status >= 200 && c->status < 300;
			json_error_t je;
			if (c->resp.len)
				c->json = json_loadb(c->resp.data, c->resp.len, 0, &je);
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (!calls[i].ok) {
			all = false;
			const char *why = calls[i].err[0] ? calls[i].err : "";
			const char *msg = calls[i].json ? json_string_value(json_object_get(calls[i].json, "error")) : NULL;
			log_error("%s %s%s on \"%s\" failed: %s%s%s", method, path, "", calls[i].url,
				  calls[i].status ? "HTTP " : why, calls[i].status ? "" : "",
				  msg ? msg : "");
			if (calls[i].status)
				log_error("  (HTTP status %ld)", calls[i].status);
		}
		curl_multi_remove_handle(m, easy[i]);
		curl_easy_cleanup(easy[i]);
	}
	free(easy);
	curl_slist_free_all(hdrs);
	curl_multi_cleanup(m);
	if (auth.data)
		memset(auth.data, 0, auth.len);
	buf_release(&auth);
	buf_release(&url);
	return all;
}

static int64_t json_int(const json_t *j, const char *key)
{
	const json_t *v = j ? json_object_get(j, key) : NULL;
	return json_is_integer(v) ? (int64_t)json_integer_value(v) :
	       json_is_real(v) ? (int64_t)json_real_value(v) : -1;
}

/* ---- steps on the databases ---- */

static bool set_flag(struct hop *h, const char *sql)
{
	const char *p[] = { h->server };
	PGresult *r = PQexecParams(h->tgt, sql, 1, NULL, p, NULL, NULL, 0);
	bool ok = pgx_check(r, PGRES_COMMAND_OK, -1, -1, "record the cutover's state");
	PQclear(r);
	return ok;
}

/* Ask a follower to stop and take the hop's applier lock (bounded wait). */
static bool take_over(struct hop *h)
{
	if (!set_flag(h, "UPDATE sync_fdw.hop SET stop_requested = true WHERE server = $1"))
		return false;
	const char *p[] = { h->server };
	for (int i = 0; i < 300; i++) {
		PGresult *r = PQexecParams(h->tgt, "SELECT pg_try_advisory_lock(hashtextextended('sync_fdw:' || $1, 0))",
					   1, NULL, p, NULL, NULL, 0);
		bool got = pgx_check(r, PGRES_TUPLES_OK, 1, 1, "take the applier's lock") &&
			   PQgetvalue(r, 0, 0)[0] == 't';
		PQclear(r);
		if (got)
			return set_flag(h, "UPDATE sync_fdw.hop SET stop_requested = false WHERE server = $1");
		struct timespec ts = { 0, 50 * 1000000L };
		nanosleep(&ts, NULL);
	}
	log_error("the applier of hop \"%s\" did not stop within 15 s\nhint: stop \"sync-fdw run\" by hand",
		  h->server);
	(void)set_flag(h, "UPDATE sync_fdw.hop SET stop_requested = false WHERE server = $1");
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
	PGresult *r = PQexec(src, "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
				  "JOIN pg_namespace n ON n.oid = c.relnamespace "
				  "WHERE t.tgname = 'minitwit_fence' AND n.nspname = 'public'");
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
	double t0 = now_ms();
	PGresult *r = PQexec(h->src, "SELECT coalesce(array_agg(x), '{}')::text FROM "
				     "pg_snapshot_xip(pg_current_snapshot()) x");
	if (!pgx_check(r, PGRES_TUPLES_OK, 1, 1, "read the transactions running at the fence")) {
		PQclear(r);
		return false;
	}
	char *xip = strdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	bool ok = false;
	for (int i = 0; i < 200; i++) {
		const char *p[] = { xip };
		r = PQexecParams(h->src, "SELECT count(*) FILTER (WHERE pg_xact_status(x) = 'in progress'),"
					 " min(x::text) FILTER (WHERE pg_xact_status(x) = 'in progress')"
					 " FROM unnest($1::xid8[]) x", 1, NULL, p, NULL, NULL, 0);
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
	*waited_ms = now_ms() - t0;
	return ok;
}

static bool point_fence(struct hop *h)
{
	const char *p[] = { h->cfg->s.target_dsn };
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

static bool preflight(struct hop *h, const char *token, struct call *calls, struct report *rep,
		      bool *already)
{
	double t0 = now_ms();
	struct buf why = BUF_INIT, masked = BUF_INIT;
	*already = false;
	bool ok = hop_plan_ok(h);
	const char *p[] = { h->server };
	PGresult *r = PQexecParams(h->tgt, "SELECT stage, copy_started_at IS NOT NULL AND copy_finished_at IS NULL,"
					   " extract(epoch FROM now() - last_batch_at) FROM sync_fdw.hop WHERE server = $1",
				   1, NULL, p, NULL, NULL, 0);
	if (!pgx_check(r, PGRES_TUPLES_OK, -1, 3, "read the hop") || PQntuples(r) != 1) {
		buf_addf(&why, "no hop \"%s\" on the target (link, capture and copy first); ", h->server);
		ok = false;
	} else {
		if (strcmp(PQgetvalue(r, 0, 0), "switched") == 0)
			*already = true;
		if (PQgetvalue(r, 0, 1)[0] == 't') {
			buf_adds(&why, "the copy has not finished; ");
			ok = false;
		}
	}
	PQclear(r);
	pgx_mask_dsn(h->cfg->s.target_dsn, &masked);
	if (strcmp(masked.data, h->cfg->s.target_dsn) != 0) {
		buf_adds(&why, "target.dsn holds a password, which would be sent to every server: "
			       "use a pgpass file instead; ");
		ok = false;
	}
	if (h->cfg->nservers && (!token || !*token)) {
		buf_addf(&why, "the admin token is not set (environment variable %s); ",
			 h->cfg->s.cutover_token_env);
		ok = false;
	}
	if (ok && h->cfg->nservers && !call_all(calls, h->cfg->nservers, "GET", "/admin/status", NULL, token, 3000)) {
		buf_adds(&why, "a server's admin API does not answer (see the log); ");
		ok = false;
	}
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
	step(rep, "preflight", ok, now_ms() - t0, why.len ? why.data : NULL);
	buf_release(&why);
	buf_release(&masked);
	return ok;
}

bool cutover_run(struct hop *h, const struct cutover_opts *o, struct buf *out)
{
	size_t n = h->cfg->nservers;
	struct call *calls = calloc(n ? n : 1, sizeof *calls);
	const char *token = getenv(h->cfg->s.cutover_token_env);
	struct report rep = { json_object(), json_array(), now_ms() };
	bool ok = false, paused = false, fenced = false, switched = false, already = false;
	int64_t drained = 0, early = 0;
	double fence_wait = 0, t;
	char *body = NULL;

	if (!calls)
		abort();
	for (size_t i = 0; i < n; i++)
		calls[i].url = h->cfg->servers[i].admin_url;
	json_object_set_new(rep.root, "hop", json_string(h->server));
	json_object_set_new(rep.root, "dry_run", json_boolean(o->dry_run));
	json_object_set_new(rep.root, "steps", rep.steps);

	if (!preflight(h, token, calls, &rep, &already))
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
	t = now_ms();
	if (!take_over(h) || !catch_up(h, &early)) {
		step(&rep, "take over the sync", false, now_ms() - t, NULL);
		goto out;
	}
	step(&rep, "take over the sync", true, now_ms() - t, NULL);
	json_object_set_new(rep.root, "caught_up_changes", json_integer(early));

	/* 3: hold writes */
	t = now_ms();
	json_t *pb = json_pack("{s:I}", "max_hold_ms", (json_int_t)h->cfg->s.cutover_max_hold_ms);
	body = json_dumps(pb, JSON_COMPACT);
	json_decref(pb);
	paused = true;	/* even a partial pause must be undone */
	if (n && !call_all(calls, n, "POST", "/admin/pause", body, token,
			   (long)h->cfg->s.cutover_max_hold_ms)) {
		step(&rep, "pause servers", false, now_ms() - t, NULL);
		goto out;
	}
	if (n)
		step(&rep, "pause servers", true, now_ms() - t, NULL);
	else
		step(&rep, "fence only", true, now_ms() - t,
		     "no servers to pause: applications' writes fail from the fence to the switch");
	double hold_start = now_ms();

	/* 4: fence, then wait out the transactions that began before it */
	t = now_ms();
	fenced = true;
	if (!set_flag(h, "UPDATE sync_fdw.hop SET stage = 'cutover' WHERE server = $1") || !fence(h)) {
		step(&rep, "fence the source", false, now_ms() - t, NULL);
		goto out;
	}
	if (!wait_fenced(h, &fence_wait)) {
		step(&rep, "fence the source", false, now_ms() - t, "a transaction older than the fence did not end");
		goto out;
	}
	step(&rep, "fence the source", true, now_ms() - t, NULL);
	json_object_set_new(rep.root, "fence_wait_ms", json_real(fence_wait));
	kill_hook("fenced");

	/* 5: drain */
	t = now_ms();
	if (!catch_up(h, &drained)) {
		step(&rep, "drain", false, now_ms() - t, NULL);
		goto out;
	}
	step(&rep, "drain", true, now_ms() - t, NULL);
	json_object_set_new(rep.root, "drained_changes", json_integer(drained));
	kill_hook("drained");

	/* 6: sequences */
	t = now_ms();
	int nseq = 0, nseq_moved = 0;
	if (!seqs_set(h, &nseq, &nseq_moved)) {
		step(&rep, "set sequences", false, now_ms() - t, NULL);
		goto out;
	}
	step(&rep, "set sequences", true, now_ms() - t, NULL);
	json_object_set_new(rep.root, "sequences", json_integer(nseq));
	json_object_set_new(rep.root, "sequences_set", json_integer(nseq_moved));

	/* the target records what changes from now on: verify compares the
	 * source with the target as it was at the switch, while the service
	 * already writes there */
	t = now_ms();
	struct buf name = BUF_INIT;
	buf_addf(&name, "%s (since its cutover)", h->server);
	bool rc_ok = capture_install_db(h->tgt, &h->plan, name.data, h->cfg, 0, NULL);
	buf_release(&name);
	step(&rep, "record later changes", rc_ok, now_ms() - t, NULL);
	if (!rc_ok)
		goto out;

	/* 7: the point of no return: writes go to the target from here on */
	t = now_ms();
	if (!point_fence(h)) {
		step(&rep, "switch servers", false, now_ms() - t, NULL);
		goto out;
	}
	switched = true;
	kill_hook("pointed");
	/* moving back to a host an earlier cutover fenced: it takes writes again */
	if (!target_unfence(h)) {
		step(&rep, "switch servers", false, now_ms() - t, "could not remove the target's old fence");
		goto out;
	}
	json_t *sb = json_pack("{s:s}", "dsn", h->cfg->s.target_dsn);
	free(body);
	body = json_dumps(sb, JSON_COMPACT);
	json_decref(sb);
	bool all = !n || call_all(calls, n, "POST", "/admin/switch", body, token, 10000);
	double hold_ms = now_ms() - hold_start;
	step(&rep, "switch servers", all, now_ms() - t,
	     all ? NULL : "a server did not switch: it resumes on the old host after max_hold_ms, "
			  "meets the fence and follows it to the target");
	json_t *servers = json_array();
	double max_hold = 0;
	for (size_t i = 0; i < n; i++) {
		int64_t held = json_int(calls[i].json, "held_ms");
		json_array_append_new(servers, json_pack("{s:s, s:b, s:I, s:I, s:f}", "admin_url",
							 calls[i].url, "switched", calls[i].ok,
							 "held_ms", (json_int_t)held, "released",
							 (json_int_t)json_int(calls[i].json, "released"),
							 "call_ms", calls[i].ms));
		if ((double)held > max_hold)
			max_hold = (double)held;
	}
	json_object_set_new(rep.root, "servers", servers);
	json_object_set_new(rep.root, "hold_ms", json_real(hold_ms));
	json_object_set_new(rep.root, "hold_ms_max_server", json_real(max_hold));
	(void)set_flag(h, "UPDATE sync_fdw.hop SET stage = 'switched', cutover_at = now() WHERE server = $1");
	ok = all;
out:
	if (!ok && !switched) {
		/* undo: unfence the source, resume every server where it was */
		bool had = false;
		if (fenced && !capture_remove_db(h->tgt, &had))
			log_error("could not remove the capture installed on the target");
		if (fenced && !cutover_unfence(h->src))
			log_error("the source is still fenced\nhint: run \"migrate cutover\" again, or remove "
				  "the fence by hand: DROP SCHEMA minitwit_fence CASCADE and the minitwit_fence "
				  "triggers, ALTER DATABASE ... RESET default_transaction_read_only");
		if (fenced)
			(void)set_flag(h, "UPDATE sync_fdw.hop SET stage = 'syncing' WHERE server = $1");
		if (paused && n && !call_all(calls, n, "POST", "/admin/resume", NULL, token, 5000))
			log_error("a server could not be resumed: it resumes by itself after max_hold_ms");
		if (paused)
			step(&rep, "rolled back", true, 0, "source unfenced, servers resumed on the source");
	}
	json_object_set_new(rep.root, "ok", json_boolean(ok));
	json_object_set_new(rep.root, "total_ms", json_real(now_ms() - rep.t0));
	char *text = json_dumps(rep.root, JSON_COMPACT);
	if (h->tgt && !o->dry_run) {
		const char *p[] = { h->server, text };
		PGresult *r = PQexecParams(h->tgt, "UPDATE sync_fdw.hop SET report = $2::jsonb WHERE server = $1",
					   2, NULL, p, NULL, NULL, 0);
		PQclear(r);
	}
	if (o->json) {
		buf_adds(out, text);
		buf_addc(out, '\n');
	} else {
		size_t i;
		json_t *s;
		json_array_foreach(rep.steps, i, s)
			buf_addf(out, "%-22s %-7s %9.1f ms  %s\n", json_string_value(json_object_get(s, "step")),
				 json_is_true(json_object_get(s, "ok")) ? "ok" : "FAILED",
				 json_real_value(json_object_get(s, "ms")),
				 json_string_value(json_object_get(s, "detail")) ?
					 json_string_value(json_object_get(s, "detail")) : "");
		json_t *sv = json_object_get(rep.root, "servers");
		json_array_foreach(sv, i, s)
			buf_addf(out, "server %s: writes held %" JSON_INTEGER_FORMAT " ms, %" JSON_INTEGER_FORMAT
				      " requests released\n", json_string_value(json_object_get(s, "admin_url")),
				 json_integer_value(json_object_get(s, "held_ms")),
				 json_integer_value(json_object_get(s, "released")));
		if (o->dry_run)
			buf_addf(out, "dry run: the cutover %s; nothing was changed\n",
				 ok ? (already ? "was done before" : "would proceed as above")
				    : "would be refused (see the preflight)");
		else
			buf_addf(out, "cutover %s in %.1f ms\n", ok ? "done" : "FAILED", now_ms() - rep.t0);
	}
	free(text);
	free(body);
	for (size_t i = 0; i < n; i++) {
		buf_release(&calls[i].resp);
		json_decref(calls[i].json);
	}
	free(calls);
	json_decref(rep.root);
	return ok;
}
