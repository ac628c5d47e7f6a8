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

#endif
