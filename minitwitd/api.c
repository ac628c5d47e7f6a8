/*
 * api: simulator API handlers; see api.h.
 *
 * Order of checks, as the reference: store ?latest=, then authorization
 * (403), then the request's own validation (400), then lookups (404).
 * Every statement is prepared and takes its values as parameters.
 */
#include "api.h"

#include <inttypes.h>
#include <strings.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api_json.h"
#include "dbreq.h"
#include "hold.h"
#include "log.h"
#include "pgx.h"
#include "pw.h"
#include "queries.h"
#include "utf8.h"
#include "banned.h"

static const char json_type[] = "application/json";

void apijson_error_resp(struct http_resp *resp, unsigned status, const char *msg)
{
	resp->status = status;
	resp->content_type = json_type;
	buf_reset(&resp->body);
	apijson_error(&resp->body, (int)status, msg);
}

/* A request's database session: the pool connection and where to answer. */
struct session {
	struct http_req *req;
	struct http_resp *resp;
	struct dbreq db;
};

static void db_error_resp(struct session *s)
{
	if (s->db.err == DBREQ_INTERNAL) {
		apijson_error_resp(s->resp, 500, "internal error");
		return;
	}
	apijson_error_resp(s->resp, 503,
			   s->db.err == DBREQ_BUSY ? "the server is busy, try again"
						   : "the database is unavailable, try again");
	http_resp_header(s->resp, "Retry-After", "1");
}

static void session_close(struct session *s)
{
	dbreq_close(&s->db);
}

/*
 * Run a statement and check its status; on failure answer 503 (connection
 * or server gone, statement timeout) or 500 and return NULL.  23505 is
 * returned to the caller as a result, for "already taken" handling.
 */
static PGresult *session_run(struct session *s, unsigned stmt, const char *const *params,
			     const int *lengths)
{
	PGresult *r = dbreq_run(&s->db, stmt, params, lengths);
	if (!r)
		db_error_resp(s);
	return r;
}

/* ?latest=N: stored before anything else, whatever the request's fate. */
static bool store_latest(struct session *s)
{
	int64_t n;
	if (!route_latest(&s->req->target.query, &n))
		return true;	/* absent or not an integer: ignored, as the reference */
	char text[24];
	snprintf(text, sizeof text, "%" PRId64, n);
	const char *params[] = { text };
	PGresult *r = session_run(s, Q_SET_LATEST, params, NULL);
	PQclear(r);
	return r != NULL;
}

static bool authorized(struct session *s)
{
	const char *auth = http_header(s->req, "Authorization");
	const char *want = s->req->cfg->api_auth;
	if (auth && want && strlen(auth) == strlen(want) &&
	    sodium_memcmp(auth, want, strlen(want)) == 0)
		return true;
	apijson_error_resp(s->resp, 403, "You are not authorized to use this resource!");
	return false;
}

/* ?no=N (default 100): false with 400 for anything but a non-negative integer */
static bool parse_no(struct session *s, char out[24])
{
	const char *v = route_param(&s->req->target.query, "no");
	int64_t n = 100;
	if (v && (!route_parse_int(v, &n) || n < 0)) {
		apijson_error_resp(s->resp, 400, "no must be a non-negative integer");
		return false;
	}
	if (n > s->req->cfg->api_max_no)
		n = s->req->cfg->api_max_no;
	snprintf(out, 24, "%" PRId64, n);
	return true;
}

static void not_found_user(struct session *s, const char *name)
{
	struct buf msg = BUF_INIT;
	buf_addf(&msg, "user \"%s\" not found", name);
	apijson_error_resp(s->resp, 404, msg.data);
	buf_release(&msg);
}

static void answer_204(struct http_resp *resp)
{
	resp->status = 204;
	buf_reset(&resp->body);
}

static void get_latest(void *ctx, const char *arg)
{
	struct session *s = ctx;
	PGresult *r = session_run(s, Q_GET_LATEST, NULL, NULL);
	if (!r)
		return;
	int64_t v = -1;
	if (PQntuples(r) == 1)
		v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	s->resp->status = 200;
	apijson_latest(&s->resp->body, v);
}

static bool too_long(const char *s, size_t max_chars)
{
	size_t n = strlen(s);
	return n > max_chars && utf8_len(s, n) > max_chars;
}

/* Why a register is refused before the database (400), or NULL. */
static const char *register_error(const struct apijson_register *in)
{
	if (!in->username || !*in->username)
		return "You have to enter a username";
	if (!in->email || !*in->email || !strchr(in->email, '@'))
		return "You have to enter a valid email address";
	if (!in->pwd || !*in->pwd)
		return "You have to enter a password";
	if (too_long(in->username, HTTP_MAX_USERNAME))
		return "The username is too long (at most 100 characters)";
	if (too_long(in->email, HTTP_MAX_EMAIL))
		return "The email address is too long (at most 254 characters)";
	if (strlen(in->pwd) > HTTP_MAX_PASSWORD)
		return "The password is too long (at most 1024 bytes)";
	return NULL;
}

static void post_register(void *ctx, const char *arg)
{
	struct session *s = ctx;
	struct apijson_register in;
	struct buf err = BUF_INIT;
	PGresult *r = NULL;
	char hash[crypto_pwhash_STRBYTES];

	if (!apijson_parse_register(s->req->body.data, s->req->body.len, &in, &err)) {
		apijson_error_resp(s->resp, 400, err.data);
		goto out;
	}
	const char *error = register_error(&in);
	if (error) {
		apijson_error_resp(s->resp, 400, error);
		goto out;
	}
	const char *p1[] = { in.username };
	r = session_run(s, Q_USER_EXISTS, p1, NULL);
	if (!r)
		goto out;
	if (PQntuples(r) > 0) {
		apijson_error_resp(s->resp, 400, "The username is already taken");
		goto out;
	}
	PQclear(r);
	r = NULL;
	/* no connection is held while hashing: it takes tens of milliseconds;
	 * nor does a pause wait for it: the request leaves the writes in
	 * flight meanwhile (its INSERT then lands before a fence and is
	 * drained, or meets the fence, is held and runs on the new host) */
	session_close(s);
	http_leave_in_flight(s->req);
	if (s->req->prehash && strlen(s->req->prehash) < sizeof hash)
		memcpy(hash, s->req->prehash, strlen(s->req->prehash) + 1);
	else if (!pw_hash(in.pwd, strlen(in.pwd), hash, sizeof hash)) {
		apijson_error_resp(s->resp, 503, "the server is out of memory, try again");
		goto out;
	}
	const char *p3[] = { in.username, in.email, hash };
	r = session_run(s, Q_REGISTER, p3, NULL);
	if (!r)
		goto out;
	if (pgx_sqlstate_is(r, PGX_UNIQUE_VIOLATION))	/* lost a race with another register */
		apijson_error_resp(s->resp, 400, "The username is already taken");
	else
		answer_204(s->resp);
out:
	sodium_memzero(hash, sizeof hash);
	PQclear(r);
	apijson_register_release(&in);
	buf_release(&err);
}

/* Write a message list from rows (text, pub_date, username); a NULL text
 * row (a user without messages) is skipped. */
static void write_msgs(struct http_resp *resp, PGresult *r)
{
	apijson_msgs_begin(&resp->body);
	bool first = true;
	for (int i = 0; i < PQntuples(r); i++) {
		if (PQgetisnull(r, i, 0))
			continue;
		apijson_msgs_item(&resp->body, first, PQgetvalue(r, i, 0),
				  (size_t)PQgetlength(r, i, 0), PQgetvalue(r, i, 1),
				  PQgetvalue(r, i, 2), (size_t)PQgetlength(r, i, 2));
		first = false;
	}
	apijson_msgs_end(&resp->body);
	resp->status = 200;
}

static void get_msgs(void *ctx, const char *arg)
{
	struct session *s = ctx;
	char no[24];
	if (!parse_no(s, no))
		return;
	const char *params[] = { no };
	PGresult *r = session_run(s, Q_MSGS, params, NULL);
	if (!r)
		return;
	write_msgs(s->resp, r);
	PQclear(r);
}

static void get_msgs_user(void *ctx, const char *user)
{
	struct session *s = ctx;
	char no[24];
	if (!parse_no(s, no))
		return;
	const char *params[] = { user, no };
	PGresult *r = session_run(s, Q_MSGS_USER, params, NULL);
	if (!r)
		return;
	if (PQntuples(r) == 0)
		not_found_user(s, user);
	else
		write_msgs(s->resp, r);
	PQclear(r);
}

static void post_msg(void *ctx, const char *user)
{
	struct session *s = ctx;
	char *content = NULL;
	struct buf err = BUF_INIT;
	if (!apijson_parse_message(s->req->body.data, s->req->body.len, &content, &err)) {
		apijson_error_resp(s->resp, 400, err.data);
		goto out;
	}
	char now[24];
	snprintf(now, sizeof now, "%lld", (long long)time(NULL));
	const char *params[] = { user, content, now };
	PGresult *r = session_run(s, Q_POST_MSG, params, NULL);
	if (!r)
		goto out;
	if (strcmp(PQcmdTuples(r), "0") == 0)
		not_found_user(s, user);
	else
		answer_204(s->resp);
	PQclear(r);
out:
	free(content);
	buf_release(&err);
}

static void post_fllws(void *ctx, const char *user)
{
	struct session *s = ctx;
	char *other = NULL;
	enum apijson_follow_op op;
	struct buf err = BUF_INIT;
	if (!apijson_parse_follow(s->req->body.data, s->req->body.len, &op, &other, &err)) {
		apijson_error_resp(s->resp, 400, err.data);
		goto out;
	}
	const char *params[] = { user, other };
	PGresult *r = session_run(s, op == APIJSON_FOLLOW ? Q_FOLLOW : Q_UNFOLLOW, params, NULL);
	if (!r)
		goto out;
	if (PQntuples(r) != 1 || PQgetisnull(r, 0, 0))
		not_found_user(s, user);
	else if (PQgetisnull(r, 0, 1))
		not_found_user(s, other);
	else
		answer_204(s->resp);
	PQclear(r);
out:
	free(other);
	buf_release(&err);
}

static void get_fllws(void *ctx, const char *user)
{
	struct session *s = ctx;
	char no[24];
	if (!parse_no(s, no))
		return;
	const char *params[] = { user, no };
	PGresult *r = session_run(s, Q_FOLLOWS, params, NULL);
	if (!r)
		return;
	if (PQntuples(r) == 0) {
		not_found_user(s, user);
		PQclear(r);
		return;
	}
	apijson_follows_begin(&s->resp->body);
	bool first = true;
	for (int i = 0; i < PQntuples(r); i++) {
		if (PQgetisnull(r, i, 0))
			continue;
		apijson_follows_item(&s->resp->body, first, PQgetvalue(r, i, 0),
				     (size_t)PQgetlength(r, i, 0));
		first = false;
	}
	apijson_follows_end(&s->resp->body);
	s->resp->status = 200;
	PQclear(r);
}

static void healthz(void *ctx, const char *arg)
{
	struct session *s = ctx;
	PGresult *r = session_run(s, Q_PING, NULL, NULL);
	if (!r)
		return;
	PQclear(r);
	s->resp->status = 200;
	buf_adds(&s->resp->body, "{\"database\":\"ok\",\"status\":\"ok\"}\n");
}

void api_metrics_text(struct app *app, struct buf *out)
{
	struct db_stats st;
	db_pool_stats(&app->pool, &st);
	metrics_render(out);
	buf_addf(out,
		 "# HELP minitwit_db_pool_connections Database pool connections.\n"
		 "# TYPE minitwit_db_pool_connections gauge\n"
		 "minitwit_db_pool_connections{state=\"in_use\"} %u\n"
		 "minitwit_db_pool_connections{state=\"size\"} %u\n"
		 "# HELP minitwit_db_pool_waiting Requests waiting for a database connection.\n"
		 "# TYPE minitwit_db_pool_waiting gauge\n"
		 "minitwit_db_pool_waiting %u\n"
		 "# HELP minitwit_db_connects_total Database connections opened.\n"
		 "# TYPE minitwit_db_connects_total counter\n"
		 "minitwit_db_connects_total{result=\"ok\"} %llu\n"
		 "minitwit_db_connects_total{result=\"failed\"} %llu\n"
		 "# HELP minitwit_db_acquire_timeouts_total Requests that waited too long for a connection.\n"
		 "# TYPE minitwit_db_acquire_timeouts_total counter\n"
		 "minitwit_db_acquire_timeouts_total %llu\n"
		 "# HELP minitwit_http_active_requests Requests being handled.\n"
		 "# TYPE minitwit_http_active_requests gauge\n"
		 "minitwit_http_active_requests %u\n"
		 "# HELP minitwit_db_switches_total Times the pool moved to another database.\n"
		 "# TYPE minitwit_db_switches_total counter\n"
		 "minitwit_db_switches_total %llu\n",
		 st.in_use, st.size, st.waiting, (unsigned long long)st.connects,
		 (unsigned long long)st.connect_failures, (unsigned long long)st.acquire_timeouts,
		 atomic_load(&app->active), (unsigned long long)st.switches);
	hold_metrics(&app->hold, out);
	hashq_metrics(&app->hashq, out);
	uint64_t hashes, verifications;
	pw_stats(&hashes, &verifications);
	buf_addf(out,
		 "# HELP minitwit_password_hashes_total Passwords hashed (sign-ups, upgrades).\n"
		 "# TYPE minitwit_password_hashes_total counter\n"
		 "minitwit_password_hashes_total %llu\n"
		 "# HELP minitwit_password_verifications_total Passwords checked against a hash "
		 "(sign-ins, unknown users included).\n"
		 "# TYPE minitwit_password_verifications_total counter\n"
		 "minitwit_password_verifications_total %llu\n",
		 (unsigned long long)hashes, (unsigned long long)verifications);
}

static void metrics(void *ctx, const char *arg)
{
	struct session *s = ctx;
	if (*s->req->cfg->metrics_listen) {
		/* served on metrics.listen only */
		apijson_error_resp(s->resp, 404, "not found");
		return;
	}
	api_metrics_text(s->req->app, &s->resp->body);
	s->resp->status = 200;
	s->resp->content_type = API_METRICS_TYPE;
}

static void method_not_allowed(struct http_resp *resp, unsigned allow)
{
	apijson_error_resp(resp, 405, "method not allowed");
	http_resp_header(resp, "Allow",
			 (allow & ROUTE_GET) && (allow & ROUTE_POST) ? "GET, POST"
			 : allow & ROUTE_POST			    ? "POST"
								    : "GET");
}

/* POST /register is the API's unless the body is a form (the web UI's). */
static bool wants_register(const struct http_req *req)
{
	/* the simulator posts JSON; a browser posts a form (the web UI) */
	if (req->method != HTTP_POST)
		return false;
	const char *ct = http_header(req, "Content-Type");
	return !ct || strncasecmp(ct, "application/x-www-form-urlencoded", 33) != 0;
}

/* The password of a register whose fields pass the checks that come
 * before hashing (route.h's password). */
static bool register_password(struct http_req *req, struct buf *pwd)
{
	struct apijson_register in;
	struct buf err = BUF_INIT;
	bool want = false;
	if (req->body.len && utf8_valid(req->body.data, req->body.len) &&
	    apijson_parse_register(req->body.data, req->body.len, &in, &err)) {
		want = !register_error(&in);
		if (want)
			buf_adds(pwd, in.pwd);
		apijson_register_release(&in);
	}
	buf_release(&err);
	return want;
}

/*
 * The API's routes.  Rows flagged API_LATEST store ?latest=N first (so
 * they are writes when it is there), API_AUTH ones then check the
 * simulator's Authorization.  /healthz and /metrics answer any method, as
 * the reference does; one that is not GET or HEAD is held like a write.
 */
static const struct route_entry api_routes[] = {
	{ "/latest", ROUTE_READS, ROUTE_READ, MR_LATEST, NULL, NULL, get_latest, 0 },
	{ "/register", ROUTE_POST, ROUTE_WRITE, MR_REGISTER, wants_register, register_password,
	  post_register, API_LATEST },
	{ "/msgs", ROUTE_READS, ROUTE_WRITE_IF_LATEST, MR_MSGS, NULL, NULL, get_msgs,
	  API_LATEST | API_AUTH },
	{ "/msgs/<user>", ROUTE_READS, ROUTE_WRITE_IF_LATEST, MR_MSGS_USER_GET, NULL, NULL,
	  get_msgs_user, API_LATEST | API_AUTH },
	{ "/msgs/<user>", ROUTE_POST, ROUTE_WRITE, MR_MSGS_USER_POST, NULL, NULL, post_msg,
	  API_LATEST | API_AUTH },
	{ "/fllws/<user>", ROUTE_READS, ROUTE_WRITE_IF_LATEST, MR_FLLWS_GET, NULL, NULL, get_fllws,
	  API_LATEST | API_AUTH },
	{ "/fllws/<user>", ROUTE_POST, ROUTE_WRITE, MR_FLLWS_POST, NULL, NULL, post_fllws,
	  API_LATEST | API_AUTH },
	{ "/healthz", ROUTE_READS, ROUTE_READ, MR_HEALTHZ, NULL, NULL, healthz, 0 },
	{ "/healthz", ROUTE_POST | ROUTE_OTHER, ROUTE_WRITE, MR_HEALTHZ, NULL, NULL, healthz, 0 },
	{ "/metrics", ROUTE_READS, ROUTE_READ, MR_METRICS, NULL, NULL, metrics, 0 },
	{ "/metrics", ROUTE_POST | ROUTE_OTHER, ROUTE_WRITE, MR_METRICS, NULL, NULL, metrics, 0 },
};

static void serve(struct http_req *req, struct http_resp *resp, const struct route_entry *route,
		  const char *arg, unsigned allow)
{
	struct session s = { .req = req, .resp = resp,
			     .db = { .pool = &req->app->pool, .fence = &req->fence } };
	resp->content_type = json_type;
	if (req->method == HTTP_POST && req->body.len && !utf8_valid(req->body.data, req->body.len))
		/* jansson refuses it too; this gives the clearer message */
		apijson_error_resp(resp, 400, "the request body is not valid UTF-8 text");
	else if (!route && allow)
		method_not_allowed(resp, allow);
	else if (!route)
		apijson_error_resp(resp, 404, "not found");
	else if ((!(route->flags & API_LATEST) || store_latest(&s)) &&
		 (!(route->flags & API_AUTH) || authorized(&s)))
		route->handle(&s, arg);
	session_close(&s);
}

static void error_resp(struct http_req *req, struct http_resp *resp, unsigned status,
		       const char *msg)
{
	apijson_error_resp(resp, status, msg);
}

const struct http_frontend api_frontend = {
	.routes = api_routes, .nroutes = sizeof api_routes / sizeof api_routes[0],
	.catch_all = false, .metric = MR_OTHER, .serve = serve, .error = error_resp,
};
