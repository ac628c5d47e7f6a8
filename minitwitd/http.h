/*
 * http: minitwitd's HTTP layer on libmicrohttpd.
 *
 * Threading model: libmicrohttpd's internal thread pool with epoll
 * (http.threads workers).  Handlers run on a worker and make blocking libpq
 * calls there; that is correct in this model (it only delays the other
 * connections of the same worker, which is why the database pool has at
 * least as many connections as there are workers, and why every database
 * wait is bounded: acquire, connect and statement timeouts).  Requests that
 * must wait without a bound (held writes during a cutover) are suspended
 * with MHD_suspend_connection instead, never blocked.
 *
 * The layer owns request bodies (bounded by http.max_body: 413 beyond), the
 * raw request target (decoded by route.c, never by libmicrohttpd), metrics
 * and logging of each request, and dispatch: from the front ends' route
 * tables (struct http_frontend, route.h), which say what it holds during a
 * cutover; it names no route itself.  Handlers see struct http_req and
 * fill struct http_resp.
 */
#ifndef HTTP_H
#define HTTP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "db.h"
#include "dbreq.h"
#include "hashq.h"
#include "hold.h"
#include "metrics.h"
#include "ratelimit.h"
#include "route.h"
#include "settings.h"
#include "util.h"

struct MHD_Connection;
struct MHD_Daemon;
struct http_frontend;
struct http_resp;

struct app {
	_Atomic(struct settings *) cfg;	/* current settings; replaced whole on SIGHUP */
	struct db_pool pool;
	struct MHD_Daemon *daemon;
	atomic_uint active;		/* requests being handled */
	unsigned short port;		/* bound port (http.listen may say 0) */
	struct ratelimit login_by_pair;	/* web sign-in failures per (client, user name) */
	struct ratelimit login_by_addr;	/* ... and per client address */
	struct hold hold;		/* write requests held during a cutover */
	struct hashq hashq;		/* sign-up passwords hashed off the workers */
	struct ratelimit signup_by_addr; /* web sign-ups per client address */
	struct MHD_Daemon *metrics;	/* metrics.listen's listener; NULL when /metrics is public */
	unsigned short metrics_port;
	struct MHD_Daemon *admin;	/* the admin listener (admin.h); NULL when off */
	unsigned short admin_port;
	unsigned char admin_auth[32];	/* hash of "Bearer <token>" */
	struct ratelimit admin_fails;	/* wrong admin tokens per client address */
	pthread_mutex_t admin_lock;	/* one pause/switch/resume at a time (static init) */
};

enum http_method { HTTP_GET, HTTP_HEAD, HTTP_POST, HTTP_OTHER };

struct http_req {
	struct app *app;
	const struct settings *cfg;	/* snapshot for this request */
	struct MHD_Connection *conn;
	char *raw_target;
	enum http_method method;
	const char *method_name;
	struct route_target target;
	enum route_status target_status;
	struct buf body;
	bool too_large;
	size_t discarded;	/* body bytes dropped after too_large */
	const char *bad_framing;	/* why the request is answered 400 unread */
	bool started;
	bool counted;
	int64_t t0_ns;
	enum metrics_route mroute;
	unsigned status;
	/* the front end and row answering it (route.h), decided once its
	 * headers are in; none when answered before routing (413, bad target) */
	const struct http_frontend *fe;
	struct route_found found;
	struct buf route_arg;	/* the row's "<name>" segment */
	/* cutover (hold.h, fence.h) */
	char *prehash;		/* a register's password hash, made by hashq before it ran */
	struct hashq_job hashjob;
	int64_t signup_wait_ms;	/* > 0: a web sign-up over its client's limit (429) */
	bool classified;	/* routed and is_write decided (once the body is in) */
	bool is_write;		/* held while paused, counted in flight */
	bool gated;		/* asks hold_begin before running */
	bool in_flight;		/* counted in app->hold's writes in flight */
	unsigned runs;		/* extra runs after hitting the old host's fence */
	bool was_held;		/* suspended by a pause; its client may have gone since */
	struct hold_waiter waiter;
	struct dbreq_fence fence;
};

/* Field limits of a sign-up, the web form's and the API's (characters;
 * the password in bytes).  Longer input is refused with 400 and a message
 * before anything is hashed or stored, never truncated. */
#define HTTP_MAX_USERNAME 100
#define HTTP_MAX_EMAIL 254
#define HTTP_MAX_PASSWORD 1024

/* the web UI sends up to: Set-Cookie, Location, Cache-Control, Retry-After
 * or Allow, and its security headers */
#define HTTP_MAX_HEADERS 12

/*
 * A front end of the main listener (the simulator API, the web UI): its
 * route table and how it answers.  A request belongs to the first front
 * end whose table claims its target (route_claims), else to the one that
 * is the catch-all.
 */
struct http_frontend {
	const struct route_entry *routes;
	size_t nroutes;
	bool catch_all;				/* answers every target the others do not claim */
	enum metrics_route metric;		/* of its answers no row names */
	/* Answer req from route (its ctx is the front end's own), or, with
	 * route NULL, 405 (allow: the path's methods) or 404 (allow 0). */
	void (*serve)(struct http_req *req, struct http_resp *resp,
		      const struct route_entry *route, const char *arg, unsigned allow);
	/* An error every route shares (413, a bad target, 503) in its shape. */
	void (*error)(struct http_req *req, struct http_resp *resp, unsigned status,
		      const char *msg);
};

/*
 * A counted write about to spend long without the database (hashing a
 * password) stops counting in flight, so that a pause need not wait for
 * it: its next statement lands before the old host's fence (and is
 * drained) or meets it, is held and runs on the new host (dbreq.h).
 */
void http_leave_in_flight(struct http_req *req);

struct http_resp {
	unsigned status;
	const char *content_type;	/* static string */
	struct buf body;
	const char *hdr_name[HTTP_MAX_HEADERS];
	char *hdr_value[HTTP_MAX_HEADERS];	/* malloc'd */
	unsigned nhdr;
};

/* Value of a request header, or NULL. */
const char *http_header(const struct http_req *req, const char *name);
/*
 * The client's address as text ("127.0.0.1", "::1") into out; "" when
 * unknown.  When the peer is one of http.trusted_proxies, the address its
 * X-Forwarded-For names instead: the rightmost one no trusted proxy claims.
 */
void http_client_addr(const struct http_req *req, char *out, size_t outlen);
/* Whether list is comma-separated IP addresses; else the first bad one into bad. */
bool http_addr_list_valid(const char *list, struct buf *bad);
/* Add a response header (value copied). */
void http_resp_header(struct http_resp *resp, const char *name, const char *value);

/* "host:port" or "[v6]:port" into ss; false (logged, naming key) when unusable. */
struct sockaddr_storage;
MUST_CHECK bool http_resolve_listen(const char *key, const char *listen,
							     struct sockaddr_storage *ss,
							     unsigned *len);

/* Start listening on cfg->http_listen; false (logged) when it cannot. */
MUST_CHECK bool http_start(struct app *app);
/* Stop accepting, wait up to grace_ms for running requests, stop. */
void http_stop(struct app *app, int grace_ms);

/* Serve /metrics on metrics.listen when it is set (else nothing to do);
 * false (logged) when it cannot listen. */
MUST_CHECK bool http_metrics_start(struct app *app);
void http_metrics_stop(struct app *app);


#endif
