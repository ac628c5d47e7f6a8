/*
 * http: the libmicrohttpd glue; see http.h.
 */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <sodium.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "api.h"
#include "fence.h"
#include "web.h"
#include "log.h"
#include "util.h"
#include "banned.h"

const char *http_header(const struct http_req *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

/* addr (text) as bytes for comparison: 4 or 16, 0 when not an address. */
static size_t addr_bytes(const char *addr, size_t len, unsigned char out[16])
{
	char text[INET6_ADDRSTRLEN + 1];
	while (len && (*addr == ' ' || *addr == '\t'))
		addr++, len--;
	while (len && (addr[len - 1] == ' ' || addr[len - 1] == '\t'))
		len--;
	if (len == 0 || len >= sizeof text)
		return 0;
	memcpy(text, addr, len);
	text[len] = '\0';
	if (inet_pton(AF_INET, text, out) == 1)
		return 4;
	if (inet_pton(AF_INET6, text, out) == 1)
		return 16;
	return 0;
}

/* Whether addr is one of the comma-separated addresses of list. */
static bool addr_listed(const char *list, const char *addr, size_t len)
{
	unsigned char a[16], b[16];
	size_t n = addr_bytes(addr, len, a);
	if (!n || !list)
		return false;
	for (const char *p = list; *p;) {
		size_t l = strcspn(p, ",");
		if (addr_bytes(p, l, b) == n && memcmp(a, b, n) == 0)
			return true;
		p += l;
		if (*p == ',')
			p++;
	}
	return false;
}

bool http_addr_list_valid(const char *list, struct buf *bad)
{
	unsigned char b[16];
	for (const char *p = list ? list : ""; *p;) {
		size_t l = strcspn(p, ",");
		if (!addr_bytes(p, l, b)) {
			buf_add(bad, p, l);
			return false;
		}
		p += l;
		if (*p == ',')
			p++;
	}
	return true;
}

static void peer_addr(const struct http_req *req, char *out, size_t outlen)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	out[0] = '\0';
	if (!ci || !ci->client_addr)
		return;
	const struct sockaddr *sa = ci->client_addr;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
			  (socklen_t)outlen);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
			  (socklen_t)outlen);
}

void http_client_addr(const struct http_req *req, char *out, size_t outlen)
{
	const char *proxies = req->cfg->http_trusted_proxies;
	peer_addr(req, out, outlen);
	if (!proxies || !*proxies || !addr_listed(proxies, out, strlen(out)))
		return;
	/* from the right: each hop was added by the proxy before it; the
	 * first address no trusted proxy claims is the client */
	const char *xff = http_header(req, "X-Forwarded-For");
	if (!xff)
		return;
	size_t end = strlen(xff);
	while (end > 0) {
		size_t start = end;
		while (start > 0 && xff[start - 1] != ',')
			start--;
		unsigned char b[16];
		if (!addr_bytes(xff + start, end - start, b))
			return;	/* garbage: keep the last trusted hop */
		const char *a = xff + start;
		size_t len = end - start;
		while (len && (*a == ' ' || *a == '\t'))
			a++, len--;
		while (len && (a[len - 1] == ' ' || a[len - 1] == '\t'))
			len--;
		if (len < outlen) {
			memcpy(out, a, len);
			out[len] = '\0';
		}
		if (!addr_listed(proxies, a, len))
			return;
		end = start ? start - 1 : 0;
	}
}

void http_resp_header(struct http_resp *resp, const char *name, const char *value)
{
	if (resp->nhdr == HTTP_MAX_HEADERS)
		return;
	resp->hdr_name[resp->nhdr] = name;
	resp->hdr_value[resp->nhdr] = strdup(value);
	if (!resp->hdr_value[resp->nhdr])
		abort();
	resp->nhdr++;
}

/*
 * Per-connection state: the request libmicrohttpd has not yet handed to
 * handler().  uri_logger() allocates a request's state before libmicrohttpd
 * has parsed its headers; when it then refuses the request itself (431: more
 * header fields than its per-connection pool holds), it never calls
 * completed(), so the state is freed here, when the connection closes
 * (MHD_OPTION_NOTIFY_CONNECTION), or when the next request on it starts.
 */
struct http_conn {
	struct http_req *pending;	/* uri_logger's request, until completed() */
};

static void request_free(struct http_req *req);

static struct http_conn *conn_state(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci ? ci->socket_context : NULL;
}

static void conn_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
			enum MHD_ConnectionNotificationCode code)
{
	struct http_conn *hc = *socket_context;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		/* NULL when out of memory: requests then run untracked */
		*socket_context = calloc(1, sizeof(struct http_conn));
		return;
	}
	if (!hc)
		return;
	if (hc->pending)
		request_free(hc->pending);
	free(hc);
	*socket_context = NULL;
}

/* libmicrohttpd hands us the raw request target here, before it decodes
 * anything; what we return becomes the connection's request context. */
static void *uri_logger(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct app *app = cls;
	struct http_conn *hc = conn_state(conn);
	if (hc && hc->pending) {
		request_free(hc->pending);	/* refused before it reached handler() */
		hc->pending = NULL;
	}
	struct http_req *req = calloc(1, sizeof *req);
	if (!req)
		return NULL;
	req->app = app;
	req->conn = conn;
	req->raw_target = strdup(uri ? uri : "/");
	if (!req->raw_target) {
		free(req);
		return NULL;
	}
	req->t0_ns = mono_ns();
	req->mroute = MR_OTHER;
	if (hc)
		hc->pending = req;
	/*
	 * minitwitd parses the query from its own copy (route.h, which refuses
	 * more than ROUTE_MAX_PARAMS parameters with 414) and never asks
	 * libmicrohttpd for one.  libmicrohttpd would otherwise store every
	 * `&`-separated argument in the connection's fixed memory pool right
	 * after this call; a target with thousands of them exhausts the pool,
	 * and libmicrohttpd then closes the connection without an answer.  So
	 * its view of the query is cut to nothing: the text after the `?` in
	 * its buffer (the request line, which it owns and writes into itself
	 * right after this call) is ended at once.
	 */
	char *q = uri ? strchr(uri, '?') : NULL;
	if (q && q[1])
		q[1] = '\0';
	return req;
}

static void request_free(struct http_req *req)
{
	if (req->prehash)
		sodium_memzero(req->prehash, strlen(req->prehash));
	free(req->prehash);
	hashq_job_release(&req->hashjob);
	dbreq_fence_clear(&req->fence);
	route_target_release(&req->target);
	buf_release(&req->route_arg);
	buf_release(&req->body);
	free(req->raw_target);
	free(req);
}

static enum MHD_Result send_resp(struct http_req *req, struct http_resp *resp)
{
	struct MHD_Response *r;
	size_t len = resp->body.len;
	if (len)
		r = MHD_create_response_from_buffer_with_free_callback(len, buf_detach(&resp->body),
								       free);
	else
		r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	if (!r)
		return MHD_NO;
	if (resp->content_type && resp->status != 204)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, resp->content_type);
	for (unsigned i = 0; i < resp->nhdr; i++) {
		MHD_add_response_header(r, resp->hdr_name[i], resp->hdr_value[i]);
		free(resp->hdr_value[i]);
	}
	resp->nhdr = 0;
	req->status = resp->status;
	enum MHD_Result ret = MHD_queue_response(req->conn, resp->status, r);
	MHD_destroy_response(r);
	buf_release(&resp->body);
	return ret;
}

/* Drop an answer that will not be sent (the request runs again). */
static void resp_discard(struct http_resp *resp)
{
	for (unsigned i = 0; i < resp->nhdr; i++)
		free(resp->hdr_value[i]);
	resp->nhdr = 0;
	buf_release(&resp->body);
	*resp = (struct http_resp){ .status = 500, .content_type = "application/json" };
}

/* The front ends of the main listener, in the order they claim targets. */
static const struct http_frontend *const frontends[] = { &api_frontend, &web_frontend };
#define NFRONTENDS (sizeof frontends / sizeof frontends[0])

/* Answered before routing: a body too large, bad framing, a bad target. */
static bool answered_early(const struct http_req *req)
{
	return req->too_large || req->bad_framing || req->target_status != ROUTE_OK;
}

static unsigned method_bit(enum http_method m)
{
	switch (m) {
	case HTTP_GET: return ROUTE_GET;
	case HTTP_HEAD: return ROUTE_HEAD;
	case HTTP_POST: return ROUTE_POST;
	case HTTP_OTHER: break;
	}
	return ROUTE_OTHER;
}

/* Find the request's front end (on the raw target, so that even a
 * malformed one gets its error shape) and, when its target parsed, the row
 * answering it; the metrics name follows. */
static void route_request(struct http_req *req)
{
	req->fe = frontends[NFRONTENDS - 1];
	for (size_t i = 0; i < NFRONTENDS; i++)
		if (frontends[i]->catch_all ||
		    route_claims(frontends[i]->routes, frontends[i]->nroutes, req->raw_target, req)) {
			req->fe = frontends[i];
			break;
		}
	req->mroute = req->fe->metric;
	if (answered_early(req))
		return;
	route_find(req->fe->routes, req->fe->nroutes, req->target.path, method_bit(req->method),
		   req, &req->route_arg, &req->found);
	if (req->found.group)
		req->mroute = (req->found.route ? req->found.route : req->found.group)->metric;
}

/* Errors every route shares, in the front end's shape; then its row, its
 * 405 or its 404. */
static void dispatch(struct http_req *req, struct http_resp *resp)
{
	const char *err = NULL;
	unsigned status = 400;
	if (req->too_large) {
		status = 413;
		err = "request body too large";
	} else if (req->bad_framing) {
		err = req->bad_framing;
	} else {
		switch (req->target_status) {
		case ROUTE_OK:
			break;
		case ROUTE_BAD_UTF8:
			err = "the request target is not valid UTF-8";
			break;
		case ROUTE_TOO_MANY:
			status = 414;
			err = "too many query parameters";
			break;
		default:
			err = "the request target has a bad percent-escape";
			break;
		}
	}
	if (err) {
		req->fe->error(req, resp, status, err);
		return;
	}
	req->fe->serve(req, resp, req->found.route,
		       req->route_arg.len ? buf_str(&req->route_arg) : NULL, req->found.allow);
}

/*
 * A write, for holding during a cutover pause: what its row says (a write,
 * or one when it stores ?latest=N).  A request no row answers (404, 405)
 * writes nothing, but one whose method may write is held all the same, as
 * the row it missed would be.  Requests answered before routing (413, a
 * bad target) are never held.
 */
static bool is_write(const struct http_req *req)
{
	if (answered_early(req))
		return false;
	if (!req->found.route)
		return req->method != HTTP_GET && req->method != HTTP_HEAD;
	return route_holds(req->found.route, &req->target.query);
}

void http_leave_in_flight(struct http_req *req)
{
	if (req->in_flight) {
		hold_end(&req->app->hold);
		req->in_flight = false;
	}
}

/*
 * Whether the client closed the connection (or reset it) while its request
 * was held: a peek at the socket sees the end of the stream.  A client that
 * only shut down its sending side counts as gone too: an HTTP client
 * waiting for an answer keeps its side open.
 */
static bool client_gone(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	char c;
	if (!ci)
		return false;
	ssize_t n = recv(ci->connect_fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n == 0)
		return true;
	return n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
}

/* Runs of a request after it hit the old host's fence: one on the new host
 * after a switch, and more only after being held by a pause. */
#define MAX_FENCE_RUNS 3

/* The old database is fenced and this request may run again: the pause,
 * if any, holds it (the admin switch or resume decides where it runs);
 * else follow moved_to now.  false when it cannot run again. */
static bool follow_fence(struct app *app, struct http_req *req)
{
	struct hold_status hs;
	hold_get_status(&app->hold, &hs);
	if (hs.paused)
		return true;
	struct buf why = BUF_INIT;
	const struct settings *cfg = req->cfg;
	enum fence_result fr = fence_switch(&app->pool, req->fence.moved_to, req->fence.epoch, true,
					    (int)cfg->db_connect_timeout_ms, &why);
	buf_release(&why);
	return fr == FENCE_SWITCHED;
}

/* 503 with Retry-After, in the front end's shape. */
static void answer_503(struct http_req *req, struct http_resp *resp, const char *msg)
{
	req->fe->error(req, resp, 503, msg);
	http_resp_header(resp, "Retry-After", "1");
}

/*
 * Run a request whose body is in: hold it while paused (writes), dispatch
 * it, and when it hit the old host's fence before writing anything a second
 * run would repeat, run it again on the new host (dbreq.h: the fence
 * raised before the statement wrote, in its own transaction).  Called
 * again by libmicrohttpd after a held request is resumed.
 */
static enum MHD_Result run(struct app *app, struct http_req *req)
{
	struct http_resp resp = { .status = 500, .content_type = "application/json" };
	if (!req->classified) {
		req->classified = true;
		route_request(req);
		req->is_write = is_write(req);
		req->gated = req->is_write;
		/* a sign-up's password is hashed on a hash thread while its
		 * connection is suspended (hashq.h): the workers go on serving,
		 * and a register about to be held does the CPU work while it
		 * waits, not after the switch */
		struct buf pwd = BUF_INIT;
		bool hash = false;
		if (req->is_write && req->found.route && req->found.route->password)
			hash = req->found.route->password(req, &pwd);
		bool queued = hash && hashq_submit(&app->hashq, &req->hashjob, req->conn,
						   buf_str(&pwd), pwd.len);
		if (pwd.data)
			sodium_memzero(pwd.data, pwd.len);
		buf_release(&pwd);
		if (queued)
			return MHD_YES;	/* back here once hashed */
	}
	if (req->hashjob.state == HASHQ_DONE && req->hashjob.hash) {
		req->prehash = req->hashjob.hash;
		req->hashjob.hash = NULL;
	} else if (req->hashjob.state == HASHQ_REFUSED) {
		/* the hash queue was full (or the server stopping) */
		answer_503(req, &resp, "too many sign-ups at once, try again in a moment");
		return send_resp(req, &resp);
	}
	for (;;) {
		if (req->gated) {
			switch (hold_begin(&app->hold, &req->waiter, req->conn, req->is_write)) {
			case HOLD_HELD:
				req->was_held = true;
				return MHD_YES;	/* back here when released */
			case HOLD_REFUSED:
				answer_503(req, &resp, "the server is shutting down, try again");
				return send_resp(req, &resp);
			case HOLD_RUN:
				req->in_flight = req->is_write;
				break;
			}
			if (req->was_held && client_gone(req->conn)) {
				/* it gave up (and may have retried): running it now
				 * would write what nobody waits for, maybe twice */
				if (req->in_flight)
					hold_end(&app->hold);
				req->in_flight = false;
				hold_dropped(&app->hold);
				log_info("dropped a held %s %s: its client closed the connection",
					 req->method_name, req->target.path ? req->target.path : "");
				return MHD_NO;
			}
			req->was_held = false;
		}
		dbreq_fence_clear(&req->fence);
		dispatch(req, &resp);
		if (req->in_flight) {
			hold_end(&app->hold);
			req->in_flight = false;
		}
		if (!req->fence.hit || req->runs == MAX_FENCE_RUNS)
			break;
		if (req->fence.wrote) {
			/* answered 503: what it wrote before the fence is on the
			 * old host (the drain moves it); later requests go to the
			 * new one */
			if (req->fence.moved_to && !follow_fence(app, req))
				log_warn("could not follow the database's move");
			break;
		}
		if (!req->fence.moved_to) {
			/* fenced in the middle of a cutover (the pointer to the new
			 * host comes with the switch): a paused server holds the
			 * request and runs it where the switch leads */
			struct hold_status hs;
			hold_get_status(&app->hold, &hs);
			if (!hs.paused)
				break;	/* the 503 stands */
		} else if (!follow_fence(app, req))
			break;	/* the 503 stands */
		resp_discard(&resp);
		req->runs++;
		req->gated = true;
	}
	return send_resp(req, &resp);
}

#define HTTP_DISCARD_MAX (1024 * 1024)

/* Content-Length headers of a request: conflicting copies, or one beside
 * Transfer-Encoding, make its body's end ambiguous (request smuggling). */
struct framing {
	const char *length;
	bool conflict;
	bool chunked;
};

static enum MHD_Result framing_header(void *cls, enum MHD_ValueKind kind, const char *key,
				      const char *value)
{
	struct framing *f = cls;
	if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0)
		f->chunked = true;
	else if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
		if (f->length && strcmp(f->length, value ? value : "") != 0)
			f->conflict = true;
		f->length = value ? value : "";
	}
	return MHD_YES;
}

/* The reason to answer 400 before reading a body, or NULL. */
static const char *framing_error(struct MHD_Connection *conn, const char *version)
{
	/* RFC 9112 3.2: an HTTP/1.1 request without Host is answered 400
	 * (libmicrohttpd lets it through) */
	if (strcmp(version, MHD_HTTP_VERSION_1_1) == 0 &&
	    !MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST))
		return "an HTTP/1.1 request needs a Host header";
	struct framing f = { 0 };
	MHD_get_connection_values(conn, MHD_HEADER_KIND, framing_header, &f);
	if (f.conflict)
		return "conflicting Content-Length headers";
	if (f.length && f.chunked)
		return "both Content-Length and Transfer-Encoding";
	return NULL;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url,
			       const char *method, const char *version, const char *upload_data,
			       size_t *upload_data_size, void **con_cls)
{
	struct app *app = cls;
	struct http_req *req = *con_cls;
	if (!req)
		return MHD_NO;	/* out of memory in uri_logger: drop the connection */

	if (!req->started) {
		req->started = true;
		req->cfg = atomic_load(&app->cfg);
		req->method_name = method;
		if (strcmp(method, "GET") == 0)
			req->method = HTTP_GET;
		else if (strcmp(method, "HEAD") == 0)
			req->method = HTTP_HEAD;
		else if (strcmp(method, "POST") == 0)
			req->method = HTTP_POST;
		else
			req->method = HTTP_OTHER;
		req->target_status = route_parse_target(req->raw_target, &req->target);
		req->bad_framing = framing_error(conn, version);
		atomic_fetch_add(&app->active, 1);
		req->counted = true;
		/* refuse a declared oversized body before reading it */
		const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							     MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl) {
			char *end;
			unsigned long long n = strtoull(cl, &end, 10);
			if (*end == '\0' && n > (unsigned long long)req->cfg->http_max_body)
				req->too_large = true;
		}
		if (!req->too_large && !req->bad_framing)
			return MHD_YES;	/* come back with the body */
	}

	if (*upload_data_size) {
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		if (!req->too_large && req->body.len + n > (size_t)req->cfg->http_max_body) {
			req->too_large = true;
			buf_release(&req->body);
		}
		if (!req->too_large)
			buf_add(&req->body, upload_data, n);
		/*
		 * A body without a declared length (chunked) past the limit is
		 * read and dropped up to HTTP_DISCARD_MAX more, to answer 413;
		 * past that, reading stops and the connection is closed
		 * unanswered (libmicrohttpd 0.9.75 cannot queue an answer in the
		 * middle of an upload).  A declared Content-Length past the
		 * limit is answered 413 before anything is read (above).
		 */
		else if ((req->discarded += n) > HTTP_DISCARD_MAX)
			return MHD_NO;
		return MHD_YES;
	}

	return run(app, req);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct app *app = cls;
	struct http_req *req = *con_cls;
	if (!req)
		return;
	if (req->counted) {
		int64_t dt = mono_ns() - req->t0_ns;
		metrics_record(req->mroute, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? req->status : 0,
			       dt);
		if (log_enabled(LOG_DEBUG))
			log_msg(LOG_DEBUG, "%s %s %u %.3f ms", req->method_name, req->raw_target,
				req->status, (double)dt / 1e6);
		atomic_fetch_sub(&app->active, 1);
	}
	struct http_conn *hc = conn_state(conn);
	if (hc && hc->pending == req)
		hc->pending = NULL;
	request_free(req);
	*con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct buf b = BUF_INIT;
	buf_vaddf(&b, fmt, ap);
	while (b.len && (b.data[b.len - 1] == '\n'))
		b.data[--b.len] = '\0';
	log_warn("libmicrohttpd: %s", buf_str(&b));
	buf_release(&b);
}

bool http_resolve_listen(const char *key, const char *listen, struct sockaddr_storage *ss,
			 unsigned *len)
{
	char host[256];
	const char *colon = strrchr(listen, ':');
	if (!colon || colon == listen || !colon[1]) {
		log_error("invalid %s \"%s\": expected host:port", key, listen);
		return false;
	}
	const char *h = listen;
	size_t hl = (size_t)(colon - listen);
	if (*h == '[' && hl >= 2 && h[hl - 1] == ']') {
		h++;
		hl -= 2;
	}
	if (hl >= sizeof host) {
		log_error("invalid %s \"%s\": host too long", key, listen);
		return false;
	}
	memcpy(host, h, hl);
	host[hl] = '\0';
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV }, *res = NULL;
	int rc = getaddrinfo(host, colon + 1, &hints, &res);
	if (rc != 0) {
		log_error("invalid %s \"%s\": %s", key, listen, gai_strerror(rc));
		return false;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return true;
}

bool http_start(struct app *app)
{
	const struct settings *cfg = atomic_load(&app->cfg);
	struct sockaddr_storage ss;
	unsigned sslen;
	if (!http_resolve_listen("http.listen", cfg->http_listen, &ss, &sslen))
		return false;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
			 MHD_USE_ERROR_LOG | MHD_USE_TURBO | MHD_USE_ITC;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	app->daemon = MHD_start_daemon(
		flags, 0, NULL, NULL, handler, app,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,	/* must come first */
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
		MHD_OPTION_THREAD_POOL_SIZE, (unsigned)cfg->http_threads,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->http_max_connections,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)((cfg->http_timeout_ms + 999) / 1000),
		MHD_OPTION_LISTENING_ADDRESS_REUSE, 1,
		MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024,
		MHD_OPTION_URI_LOG_CALLBACK, uri_logger, app,
		MHD_OPTION_NOTIFY_COMPLETED, completed, app,
		MHD_OPTION_NOTIFY_CONNECTION, conn_notify, app,
		MHD_OPTION_END);
	if (!app->daemon) {
		log_error("could not listen on \"%s\"", cfg->http_listen);
		return false;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(app->daemon, MHD_DAEMON_INFO_BIND_PORT);
	app->port = info ? info->port : 0;
	return true;
}

void http_stop(struct app *app, int grace_ms)
{
	if (!app->daemon)
		return;
	MHD_quiesce_daemon(app->daemon);	/* stop accepting */
	for (int waited = 0; waited < grace_ms && atomic_load(&app->active) > 0; waited += 10) {
		struct timespec ts = { 0, 10 * 1000000L };
		nanosleep(&ts, NULL);
	}
	MHD_stop_daemon(app->daemon);
	app->daemon = NULL;
}

/* metrics.listen: GET or HEAD /metrics, nothing else. */
static enum MHD_Result metrics_handler(void *cls, struct MHD_Connection *conn, const char *url,
				       const char *method, const char *version,
				       const char *upload_data, size_t *upload_data_size,
				       void **con_cls)
{
	struct app *app = cls;
	if (!*con_cls) {
		*con_cls = app;	/* first call: headers only */
		return MHD_YES;
	}
	if (*upload_data_size) {
		*upload_data_size = 0;	/* a body is ignored */
		return MHD_YES;
	}
	struct buf b = BUF_INIT;
	unsigned status = 200;
	const char *type = API_METRICS_TYPE;
	if (strcmp(url, "/metrics") != 0) {
		status = 404;
		type = "text/plain; charset=utf-8";
		buf_adds(&b, "not found\n");
	} else if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		status = 405;
		type = "text/plain; charset=utf-8";
		buf_adds(&b, "use GET\n");
	} else {
		api_metrics_text(app, &b);
	}
	size_t len = b.len;
	struct MHD_Response *r =
		MHD_create_response_from_buffer_with_free_callback(len, buf_detach(&b), free);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (status == 405)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	enum MHD_Result ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

bool http_metrics_start(struct app *app)
{
	const struct settings *cfg = atomic_load(&app->cfg);
	struct sockaddr_storage ss;
	unsigned sslen;
	if (!*cfg->metrics_listen)
		return true;
	if (!http_resolve_listen("metrics.listen", cfg->metrics_listen, &ss, &sslen))
		return false;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	app->metrics = MHD_start_daemon(flags, 0, NULL, NULL, metrics_handler, app,
					MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
					MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
					MHD_OPTION_CONNECTION_LIMIT, 64u,
					MHD_OPTION_CONNECTION_TIMEOUT, 30u,
					MHD_OPTION_LISTENING_ADDRESS_REUSE, 1,
					MHD_OPTION_END);
	if (!app->metrics) {
		log_error("could not listen on metrics.listen \"%s\"", cfg->metrics_listen);
		return false;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(app->metrics, MHD_DAEMON_INFO_BIND_PORT);
	app->metrics_port = info ? info->port : 0;
	log_info("metrics listening on %s (port %u)", cfg->metrics_listen, app->metrics_port);
	return true;
}

void http_metrics_stop(struct app *app)
{
	if (app->metrics) {
		MHD_stop_daemon(app->metrics);
		app->metrics = NULL;
	}
}
