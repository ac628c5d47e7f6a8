/*
 * route: pure request-target parsing, no I/O (unit-tested without a server).
 *
 * libmicrohttpd percent-decodes paths in place, which turns "%00" into a
 * truncated string and "%2F" into a path separator; minitwitd therefore takes
 * the raw request target and decodes it here, rejecting what it cannot
 * represent instead of guessing.
 */
#ifndef ROUTE_H
#define ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "metrics.h"

#define ROUTE_MAX_PARAMS 32

enum route_status {
	ROUTE_OK = 0,
	ROUTE_BAD_ESCAPE,	/* "%zz" or a truncated "%4" */
	ROUTE_BAD_UTF8,		/* decodes to invalid UTF-8 or contains NUL */
	ROUTE_TOO_MANY,		/* more than ROUTE_MAX_PARAMS parameters */
};

struct route_param {
	char *key;		/* decoded, NUL-terminated, valid UTF-8 */
	char *value;
	size_t value_len;
};

/* Decoded key=value pairs of a query string or form body. */
struct route_params {
	struct route_param p[ROUTE_MAX_PARAMS];
	size_t n;
	char *storage;		/* one allocation holding every key and value */
};

struct route_target {
	char *path;		/* decoded path: "/msgs/Roger Histand" */
	size_t path_len;
	struct route_params query;
};

/*
 * Parse a raw request target ("/msgs/Roger%20Histand?no=20&latest=3").
 * The path is percent-decoded ('+' stays '+' in paths), the query parsed as
 * form text.  On error *t is left empty (route_target_release is still safe).
 */
enum route_status route_parse_target(const char *raw, struct route_target *t);
void route_target_release(struct route_target *t);

/* Parse application/x-www-form-urlencoded text ('+' is a space). */
enum route_status route_parse_params(const char *s, size_t len, struct route_params *out);
void route_params_release(struct route_params *p);

/* First value for key, or NULL. */
const char *route_param(const struct route_params *p, const char *key);

/*
 * When path is prefix followed by exactly one non-empty segment (no further
 * '/'), return that segment; else NULL.  route_tail("/msgs/bob", "/msgs/")
 * is "bob"; route_tail("/msgs/", "/msgs/") and route_tail("/msgs/a/b", ...)
 * are NULL.  Paths are decoded first, so a name holding an encoded '/'
 * ("%2F") does not match: no MiniTwit user name can contain one.
 */
const char *route_tail(const char *path, const char *prefix);

/*
 * Parse an integer the way Python's int() reads a query value: optional
 * surrounding blanks, optional sign, decimal digits; nothing else.
 */
bool route_parse_int(const char *s, int64_t *out);

/* ---- route tables ------------------------------------------------------
 *
 * Each front end (the API, the web UI, the admin API) lists its routes in
 * one table of struct route_entry: what answers a path and method, whether
 * a cutover holds it, its metrics name, whether it claims its path, whether
 * its password is hashed before it runs.  The HTTP layer dispatches from
 * the tables and knows no route by name, so a new endpoint is a new row,
 * and a row that writes without saying so fails tests/unit/test_routes.c.
 */

/* Methods, as bits of struct route_entry.methods. */
enum route_method_bit { ROUTE_GET = 1, ROUTE_HEAD = 2, ROUTE_POST = 4, ROUTE_OTHER = 8 };
#define ROUTE_READS (ROUTE_GET | ROUTE_HEAD)
#define ROUTE_ANY (ROUTE_GET | ROUTE_HEAD | ROUTE_POST | ROUTE_OTHER)

/* What a cutover's pause does with a request of the route (hold.h). */
enum route_hold {
	ROUTE_READ,		/* runs: it writes nothing */
	ROUTE_WRITE,		/* held while paused, counted in flight */
	ROUTE_WRITE_IF_LATEST,	/* a write when it stores ?latest=N (N an integer, not -1) */
	ROUTE_CONTROL,		/* the admin API's: runs during a pause, which it controls */
};

struct http_req;

struct route_entry {
	/*
	 * "/latest", "/msgs/<user>", "/<user>/follow": literal segments, and
	 * one "<name>" segment at most, which matches one non-empty segment
	 * (no '/') and is the handler's argument.  The first row whose pattern
	 * matches the path is the resource; the rows with the same pattern
	 * are its methods.
	 */
	const char *pattern;
	unsigned methods;		/* ROUTE_GET | ... */
	enum route_hold hold;
	enum metrics_route metric;	/* also of its 405 answers (its pattern's first row) */
	/* NULL, or whether the row is the request's: POST /register is the
	 * API's unless the body is a form.  Decided on headers only. */
	bool (*wants)(const struct http_req *req);
	/* NULL, or the password of a sign-up to hash off the workers before
	 * the request runs (hashq.h): true with it in pwd when it needs one. */
	bool (*password)(struct http_req *req, struct buf *pwd);
	/* ctx: the front end's own per-request state; arg: the "<name>"
	 * segment, decoded, or NULL */
	void (*handle)(void *ctx, const char *arg);
	unsigned flags;			/* the front end's own (api.c: authorization, ?latest=) */
};

/*
 * The ?latest=N the simulator API stores before anything else, into *n:
 * false when absent, not an integer, or -1 (ignored, as the reference).
 */
bool route_latest(const struct route_params *query, int64_t *n);

/*
 * Whether a request answered by r is held during a cutover's pause (a
 * write): ROUTE_WRITE, or ROUTE_WRITE_IF_LATEST with a ?latest= to store
 * (route_latest).
 */
bool route_holds(const struct route_entry *r, const struct route_params *query);

/*
 * Whether path matches pattern; the "<name>" segment, when there is one,
 * into arg (appended: reset it first).
 */
bool route_match(const char *pattern, const char *path, struct buf *arg);

/*
 * Whether the request target (raw: before decoding, the query and fragment
 * ignored) is in the table's part of the path space, so that even a
 * malformed target gets the table's error shape.  A pattern claims its own
 * path; one with a "<name>" claims everything below its literal start too
 * ("/msgs/<user>": "/msgs/..." and "/msgs").  Rows whose wants refuses req
 * do not claim.
 */
bool route_claims(const struct route_entry *t, size_t n, const char *raw_target,
		  const struct http_req *req);

struct route_found {
	const struct route_entry *route;	/* the row answering, or NULL */
	const struct route_entry *group;	/* the first row matching the path, or NULL */
	unsigned allow;				/* methods of the path (405's Allow) */
};

/*
 * The row of t answering path with method (one ROUTE_ bit): found->route,
 * its "<name>" segment in arg.  When the path matches but no row takes the
 * method, route is NULL and allow says which methods would do (405); when
 * no row matches the path, group is NULL too (404).
 */
void route_find(const struct route_entry *t, size_t n, const char *path, unsigned method,
		const struct http_req *req, struct buf *arg, struct route_found *found);

#endif
