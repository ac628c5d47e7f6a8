/*
 * admin: the cutover admin API; see admin.h.
 *
 * The listener runs a thread per connection: a pause waits (bounded) for
 * the writes in flight and a switch connects to the new database, and
 * neither should delay a status request.  Mutating requests take
 * app->admin_lock, so a pause, a switch and a resume never interleave.
 */
#include "admin.h"

#include <jansson.h>
#include <microhttpd.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "fence.h"
#include "http.h"
#include "ratelimit.h"
#include "dsn.h"
#include "log.h"
#include "pgx.h"
#include "util.h"
#include "banned.h"

#define ADMIN_MAX_BODY 65536
/* A shorter token is refused at start: guessable, however limited. */
#define ADMIN_MIN_TOKEN 32
/* Wrong tokens: a few a second per client address, then 429 until the
 * second is over.  Right ones are uncounted. */
static const struct rl_rule admin_fail_rule = { .limit = 5, .window_ms = 1000 };
/* Connections one client address may hold: a slow client (or many) from
 * one address cannot take the listener's 32. */
#define ADMIN_PER_IP_CONNECTIONS 4u
#define ADMIN_MAX_HOLD_MS 3600000

struct admin_req {
	struct buf body;
	bool too_large;
	unsigned status;
	enum metrics_route mroute;
	int64_t t0_ns;
	int64_t retry_s;	/* Retry-After of a 429 */
};

static void token_hash(const char *text, size_t len, unsigned char out[32])
{
	crypto_generichash(out, 32, (const unsigned char *)text, len, NULL, 0);
}

/* Constant time, and the length of the token does not show either: both
 * sides are hashed to 32 bytes first. */
static bool authorized(struct app *app, struct MHD_Connection *conn)
{
	const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						    MHD_HTTP_HEADER_AUTHORIZATION);
	unsigned char got[32];
	if (!h)
		return false;
	token_hash(h, strlen(h), got);
	return sodium_memcmp(got, app->admin_auth, sizeof got) == 0;
}

/* The client's address as text ("127.0.0.1", "::1"); "?" when unknown. */
static void client_addr(struct MHD_Connection *conn, char *out, size_t outsz)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;
	snprintf(out, outsz, "?");
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
			  (socklen_t)outsz);
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
			  (socklen_t)outsz);
}

/* A request being answered: a route's ctx (route.h). */
struct admin_call {
	struct app *app;
	struct MHD_Connection *conn;
	struct admin_req *ar;
	enum MHD_Result ret;
};

/* Send obj (taken) as the JSON answer. */
static enum MHD_Result reply(struct MHD_Connection *conn, struct admin_req *ar, unsigned status,
			     json_t *obj)
{
	char *text = obj ? json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(obj);
	if (!text)
		return MHD_NO;
	struct buf b = BUF_INIT;
	buf_adds(&b, text);
	buf_addc(&b, '\n');
	free(text);
	size_t blen = b.len;
	struct MHD_Response *r =
		MHD_create_response_from_buffer_with_free_callback(blen, buf_detach(&b), free);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (status == 401)
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"minitwitd\"");
	if (status == 429) {
		char retry[24];
		snprintf(retry, sizeof retry, "%lld", (long long)ar->retry_s);
		MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, retry);
	}
	ar->status = status;
	enum MHD_Result ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* {"error": ...} from a problem's one text form (log.h: "msg\nhint: ..."),
 * with "detail" and "hint" when it has them */
static json_t *error_object(const char *text)
{
	struct problem p;
	problem_parse(&p, text, strlen(text));
	json_t *o = json_pack("{s:s}", "error", p.msg);
	if (p.detail)
		json_object_set_new(o, "detail", json_string(p.detail));
	if (p.hint)
		json_object_set_new(o, "hint", json_string(p.hint));
	problem_release(&p);
	return o;
}

static enum MHD_Result reply_error(struct MHD_Connection *conn, struct admin_req *ar,
				   unsigned status, const char *msg)
{
	return reply(conn, ar, status, error_object(msg));
}

/* The body as a JSON object; an empty body is {} when empty_ok.  NULL
 * with msg filled when it is not an object. */
static json_t *body_object(struct admin_req *ar, bool empty_ok, struct buf *msg)
{
	if (ar->body.len == 0) {
		if (empty_ok)
			return json_object();
		buf_adds(msg, "expected a JSON object body");
		return NULL;
	}
	json_error_t e;
	json_t *o = json_loadb(ar->body.data, ar->body.len, 0, &e);
	if (!o) {
		buf_addf(msg, "malformed JSON body: %s", e.text);
		return NULL;
	}
	if (!json_is_object(o)) {
		json_decref(o);
		buf_adds(msg, "expected a JSON object body");
		return NULL;
	}
	return o;
}

static void do_pause(void *ctx, const char *arg)
{
	struct admin_call *c = ctx;
	struct app *app = c->app;
	struct MHD_Connection *conn = c->conn;
	struct admin_req *ar = c->ar;
	struct buf msg = BUF_INIT;
	json_t *in = body_object(ar, true, &msg);
	enum MHD_Result ret;
	int64_t max_hold = atomic_load(&app->cfg)->admin_max_hold_ms;
	if (!in) {
		ret = reply_error(conn, ar, 400, buf_str(&msg));
		goto out;
	}
	json_t *mh = json_object_get(in, "max_hold_ms");
	if (mh) {
		if (!json_is_integer(mh) || json_integer_value(mh) < 1 ||
		    json_integer_value(mh) > ADMIN_MAX_HOLD_MS) {
			buf_addf(&msg, "max_hold_ms must be an integer from 1 to %d", ADMIN_MAX_HOLD_MS);
			ret = reply_error(conn, ar, 400, buf_str(&msg));
			goto out;
		}
		/* admin.max_hold bounds every pause: a caller cannot hold the
		 * service's writes longer than its operator allows */
		if ((int64_t)json_integer_value(mh) > max_hold)
			log_info("max_hold_ms %lld capped at admin.max_hold (%lld ms)",
				 (long long)json_integer_value(mh), (long long)max_hold);
		else
			max_hold = (int64_t)json_integer_value(mh);
	}
	struct hold_status st;
	int64_t waited;
	pthread_mutex_lock(&app->admin_lock);
	bool ok = hold_pause(&app->hold, max_hold, max_hold, &st, &waited);
	pthread_mutex_unlock(&app->admin_lock);
	if (!ok) {
		ret = reply_error(conn, ar, 503, "the server is shutting down");
		goto out;
	}
	log_info("writes paused (max_hold %lld ms): %u held, %u in flight after %lld ms",
		 (long long)max_hold, st.held, st.inflight, (long long)waited);
	json_t *o = json_pack("{s:b,s:I,s:I,s:I,s:I}", "paused", st.paused, "held",
			      (json_int_t)st.held, "inflight", (json_int_t)st.inflight, "waited_ms",
			      (json_int_t)waited, "max_hold_ms", (json_int_t)max_hold);
	if (st.inflight) {
		buf_addf(&msg, "%u writes were still running after %lld ms", st.inflight,
			 (long long)waited);
		json_object_set_new(o, "error", json_string(buf_str(&msg)));
	}
	ret = reply(conn, ar, st.inflight ? 504 : 200, o);
out:
	json_decref(in);
	buf_release(&msg);
	c->ret = ret;
}

static void do_switch(void *ctx, const char *arg)
{
	struct admin_call *c = ctx;
	struct app *app = c->app;
	struct MHD_Connection *conn = c->conn;
	struct admin_req *ar = c->ar;
	struct buf msg = BUF_INIT, masked = BUF_INIT;
	json_t *in = body_object(ar, false, &msg);
	char *secret = NULL;
	enum MHD_Result ret;
	if (!in) {
		ret = reply_error(conn, ar, 400, buf_str(&msg));
		goto out;
	}
	const char *dsn = json_string_value(json_object_get(in, "dsn"));
	if (!dsn || !*dsn) {
		ret = reply_error(conn, ar, 400, "expected {\"dsn\": \"<libpq connection string>\"}");
		goto out;
	}
	switch (dsn_find_secret(dsn, &secret)) {
	case DSN_HAS_SECRET:
		buf_addf(&msg, "the DSN sets \"%s\", which would be stored on the old "
			       "database for every server to read\nhint: give the password to minitwitd "
			       "in a pgpass line for that host", secret);
		ret = reply_error(conn, ar, 400, buf_str(&msg));
		goto out;
	case DSN_INVALID:
		ret = reply_error(conn, ar, 400, "invalid DSN: libpq cannot parse it");
		goto out;
	case DSN_NO_SECRET:
		break;
	}
	dsn_mask(dsn, &masked);
	pthread_mutex_lock(&app->admin_lock);
	enum fence_result fr = fence_switch(&app->pool, dsn, 0, false,
					    (int)atomic_load(&app->cfg)->db_connect_timeout_ms, &msg);
	int64_t held_ms = 0;
	unsigned released = 0;
	if (fr == FENCE_SWITCHED)
		released = hold_resume(&app->hold, &held_ms);
	pthread_mutex_unlock(&app->admin_lock);
	if (fr != FENCE_SWITCHED) {
		struct hold_status st;
		hold_get_status(&app->hold, &st);
		json_t *o = error_object(buf_str(&msg));
		json_object_set_new(o, "switched", json_false());
		json_object_set_new(o, "paused", json_boolean(st.paused));
		ret = reply(conn, ar, fr == FENCE_FORBIDDEN ? 403 : fr == FENCE_UNREACHABLE ? 502 : 503, o);
		goto out;
	}
	log_info("switched to database \"%s\": released %u held requests after %lld ms",
		 buf_str(&masked), released, (long long)held_ms);
	ret = reply(conn, ar, 200,
		    json_pack("{s:b,s:s,s:I,s:I}", "switched", 1, "database", buf_str(&masked),
			      "released", (json_int_t)released, "held_ms", (json_int_t)held_ms));
out:
	free(secret);
	json_decref(in);
	buf_release(&msg);
	buf_release(&masked);
	c->ret = ret;
}

static void do_resume(void *ctx, const char *arg)
{
	struct admin_call *c = ctx;
	struct app *app = c->app;
	struct MHD_Connection *conn = c->conn;
	struct admin_req *ar = c->ar;
	int64_t held_ms;
	pthread_mutex_lock(&app->admin_lock);
	unsigned released = hold_resume(&app->hold, &held_ms);
	pthread_mutex_unlock(&app->admin_lock);
	log_info("writes resumed: released %u held requests after %lld ms", released,
		 (long long)held_ms);
	c->ret = reply(conn, ar, 200,
		     json_pack("{s:b,s:I,s:I}", "resumed", 1, "released", (json_int_t)released,
			       "held_ms", (json_int_t)held_ms));
}

static void do_status(void *ctx, const char *arg)
{
	struct admin_call *c = ctx;
	struct app *app = c->app;
	struct MHD_Connection *conn = c->conn;
	struct admin_req *ar = c->ar;
	struct hold_status st;
	struct db_stats ds;
	struct buf masked = BUF_INIT;
	hold_get_status(&app->hold, &st);
	db_pool_stats(&app->pool, &ds);
	db_pool_masked_dsn(&app->pool, &masked);
	int64_t max_hold = st.paused ? st.max_hold_ms : atomic_load(&app->cfg)->admin_max_hold_ms;
	enum MHD_Result ret = reply(
		conn, ar, 200,
		json_pack("{s:s,s:b,s:I,s:I,s:I,s:I,s:I}", "database", buf_str(&masked), "paused",
			  st.paused, "held", (json_int_t)st.held, "inflight_writes",
			  (json_int_t)st.inflight, "paused_ms", (json_int_t)st.paused_ms, "max_hold_ms",
			  (json_int_t)max_hold, "generation", (json_int_t)ds.generation));
	buf_release(&masked);
	c->ret = ret;
}

/*
 * The admin API's routes: control requests, which a pause never holds
 * (they are what ends it).
 */
const struct route_entry admin_routes[] = {
	{ "/admin/pause", ROUTE_POST, ROUTE_CONTROL, MR_ADMIN, NULL, NULL, do_pause, 0 },
	{ "/admin/switch", ROUTE_POST, ROUTE_CONTROL, MR_ADMIN, NULL, NULL, do_switch, 0 },
	{ "/admin/resume", ROUTE_POST, ROUTE_CONTROL, MR_ADMIN, NULL, NULL, do_resume, 0 },
	{ "/admin/status", ROUTE_GET, ROUTE_CONTROL, MR_ADMIN, NULL, NULL, do_status, 0 },
};
const size_t admin_nroutes = sizeof admin_routes / sizeof admin_routes[0];

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url,
			       const char *method, const char *version, const char *upload_data,
			       size_t *upload_data_size, void **con_cls)
{
	struct app *app = cls;
	struct admin_req *ar = *con_cls;
	if (!ar) {
		ar = calloc(1, sizeof *ar);
		if (!ar)
			return MHD_NO;
		ar->t0_ns = mono_ns();
		ar->mroute = MR_ADMIN;
		*con_cls = ar;
		/* refused before the body is read: nothing changes.  Every
		 * attempt is counted against the client's address until it
		 * proves right, so concurrent guesses cannot pass the limit. */
		char addr[64];
		client_addr(conn, addr, sizeof addr);
		int64_t wait_ms = rl_attempt(&app->admin_fails, addr, strlen(addr), &admin_fail_rule,
					     mono_ns() / 1000000);
		if (wait_ms) {
			ar->retry_s = (wait_ms + 999) / 1000;
			log_warn("admin API: too many wrong tokens from \"%s\"", addr);
			return reply_error(conn, ar, 429, "too many wrong tokens; try again later");
		}
		if (!authorized(app, conn))
			return reply_error(conn, ar, 401, "missing or wrong bearer token");
		rl_refund(&app->admin_fails, addr, strlen(addr));
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (ar->body.len + *upload_data_size > ADMIN_MAX_BODY) {
			ar->too_large = true;
			buf_release(&ar->body);
		} else if (!ar->too_large) {
			buf_add(&ar->body, upload_data, *upload_data_size);
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (ar->too_large)
		return reply_error(conn, ar, 413, "request body too large");

	unsigned bit = strcmp(method, "GET") == 0    ? ROUTE_GET
		       : strcmp(method, "HEAD") == 0 ? ROUTE_HEAD
		       : strcmp(method, "POST") == 0 ? ROUTE_POST
						     : ROUTE_OTHER;
	struct route_found f;
	route_find(admin_routes, admin_nroutes, url, bit, NULL, NULL, &f);
	if (f.group)
		ar->mroute = f.group->metric;
	if (!f.route && f.group)
		return reply_error(conn, ar, 405, f.allow & ROUTE_POST ? "use POST" : "use GET");
	if (!f.route)
		return reply_error(conn, ar, 404, "not found");
	struct admin_call c = { .app = app, .conn = conn, .ar = ar, .ret = MHD_NO };
	f.route->handle(&c, NULL);
	return c.ret;
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct admin_req *ar = *con_cls;
	if (!ar)
		return;
	metrics_record(ar->mroute, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? ar->status : 0,
		       mono_ns() - ar->t0_ns);
	buf_release(&ar->body);
	free(ar);
	*con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct buf b = BUF_INIT;
	buf_vaddf(&b, fmt, ap);
	while (b.len && (b.data[b.len - 1] == '\n'))
		b.data[--b.len] = '\0';
	log_warn("libmicrohttpd (admin): %s", buf_str(&b));
	buf_release(&b);
}

static bool is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)(const void *)ss;
		return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)(const void *)ss;
		return IN6_IS_ADDR_LOOPBACK(&a->sin6_addr);
	}
	return false;
}

bool admin_start(struct app *app)
{
	const struct settings *cfg = atomic_load(&app->cfg);
	const char *token = getenv(ADMIN_TOKEN_ENV);
	struct sockaddr_storage ss;
	unsigned sslen;
	struct buf auth = BUF_INIT;

	if (!token || !*token) {
		log_info("admin API off: %s is not set", ADMIN_TOKEN_ENV);
		return true;
	}
	if (strlen(token) < ADMIN_MIN_TOKEN) {
		log_error("%s is shorter than %d characters\nhint: use a long random token "
			  "(openssl rand -hex 32)", ADMIN_TOKEN_ENV, ADMIN_MIN_TOKEN);
		return false;
	}
	if (!rl_init(&app->admin_fails, 1024)) {
		log_error("admin API: out of memory");
		return false;
	}
	buf_addf(&auth, "Bearer %s", token);
	token_hash(auth.data, auth.len, app->admin_auth);
	sodium_memzero(auth.data, auth.len);
	buf_release(&auth);
	if (!http_resolve_listen("admin.listen", cfg->admin_listen, &ss, &sslen))
		return false;
	if (!is_loopback(&ss))
		log_warn("admin.listen \"%s\" is not a loopback address: the admin API (which can "
			 "stop writes and move the database) is reachable from the network\nhint: keep it "
			 "on 127.0.0.1 or behind a firewall", cfg->admin_listen);
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
			 MHD_USE_ERROR_LOG;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	app->admin = MHD_start_daemon(flags, 0, NULL, NULL, handler, app,
				      MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
				      MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				      MHD_OPTION_CONNECTION_LIMIT, 32u,
				      MHD_OPTION_PER_IP_CONNECTION_LIMIT, ADMIN_PER_IP_CONNECTIONS,
				      MHD_OPTION_CONNECTION_TIMEOUT, 60u,
				      MHD_OPTION_LISTENING_ADDRESS_REUSE, 1,
				      MHD_OPTION_NOTIFY_COMPLETED, completed, app,
				      MHD_OPTION_END);
	if (!app->admin) {
		log_error("could not listen on admin.listen \"%s\"", cfg->admin_listen);
		return false;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(app->admin, MHD_DAEMON_INFO_BIND_PORT);
	app->admin_port = info ? info->port : 0;
	log_info("admin API listening on %s (port %u)", cfg->admin_listen, app->admin_port);
	return true;
}

void admin_stop(struct app *app)
{
	if (app->admin) {
		MHD_stop_daemon(app->admin);
		app->admin = NULL;
	}
}

void admin_release(struct app *app)
{
	admin_stop(app);
	rl_release(&app->admin_fails);
	pthread_mutex_destroy(&app->admin_lock);
}
