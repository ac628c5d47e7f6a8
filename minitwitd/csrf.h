/*
 * csrf: whether a state-changing request of the web UI may have been forged
 * by another site, decided from the headers browsers send (Sec-Fetch-Site,
 * Origin, Referer) rather than from a token every client must carry.  Pure:
 * no I/O, unit-tested alone (tests/unit/test_csrf.c).  docs/cross-origin.md
 * explains the rule and why; web.c applies it after the form token, which
 * allows a request whatever its headers say.
 */
#ifndef CSRF_H
#define CSRF_H

#include <stdbool.h>
#include <stddef.h>

enum csrf_verdict {
	CSRF_SAME_ORIGIN,	/* allowed: the browser says it comes from our pages */
	CSRF_NO_BROWSER,	/* allowed: none of the browser's headers (a script, curl) */
	CSRF_CROSS_SITE,	/* refused: Sec-Fetch-Site same-site or cross-site */
	CSRF_FOREIGN_ORIGIN,	/* refused: Origin names another origin */
	CSRF_NULL_ORIGIN,	/* refused: Origin: null (sandboxed, file:, privacy redirects) */
	CSRF_FOREIGN_REFERER,	/* refused: no Origin, Referer from another origin */
	CSRF_NVERDICTS
};

/* The request's headers the rule reads; each NULL when absent. */
struct csrf_headers {
	const char *sec_fetch_site;
	const char *origin;
	const char *referer;
	const char *host;
};

/*
 * The verdict for a state-changing request.  The server's own origin is
 * public_origin when it is set and not empty ("https://minitwit.example",
 * behind a proxy), else "http://" followed by the Host header; without
 * either, any Origin or Referer counts as foreign.  Schemes and host names
 * compare case-insensitively, and a missing port is the scheme's default.
 */
enum csrf_verdict csrf_check(const struct csrf_headers *h, const char *public_origin);

static inline bool csrf_allowed(enum csrf_verdict v)
{
	return v == CSRF_SAME_ORIGIN || v == CSRF_NO_BROWSER;
}

/* One sentence for the 403 page saying why the request was refused. */
const char *csrf_reason(enum csrf_verdict v);
/* A short label for metrics and logs: "cross-site", "foreign-origin", ... */
const char *csrf_label(enum csrf_verdict v);

/*
 * Whether text is an origin as http.public_origin needs it: "http" or
 * "https", "://", a host and an optional port, nothing after.  *https is set
 * for https (the session cookie is then Secure).
 */
bool csrf_origin_valid(const char *text, bool *https);

#endif
