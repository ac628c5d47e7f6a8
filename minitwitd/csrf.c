/*
 * csrf: the cross-origin rule of docs/cross-origin.md; see csrf.h.
 */
#include "csrf.h"

#include <string.h>
#include <strings.h>

#include "banned.h"

/* An origin's parts, pointing into the text they came from. */
struct origin {
	const char *scheme, *host;
	size_t scheme_len, host_len;
	long port;		/* explicit, else the scheme's default, else 0 */
};

/* "host[:port]" or "[v6]:port" (len bytes) into o's host and port; false
 * when it is empty, holds userinfo or a bad port. */
static bool parse_authority(const char *a, size_t len, struct origin *o)
{
	const char *end = a + len, *colon = NULL;
	if (len == 0 || memchr(a, '@', len))
		return false;
	if (a[0] == '[') {
		const char *rb = memchr(a, ']', len);
		if (!rb)
			return false;
		if (rb + 1 < end) {
			if (rb[1] != ':')
				return false;
			colon = rb + 1;
		}
	} else {
		for (const char *p = a; p < end; p++)
			if (*p == ':')
				colon = p;
	}
	o->host = a;
	o->host_len = (size_t)((colon ? colon : end) - a);
	if (o->host_len == 0)
		return false;
	if (colon) {
		long port = 0;
		const char *p = colon + 1;
		if (p == end)
			return false;
		for (; p < end; p++) {
			if (*p < '0' || *p > '9' || port > 65535)
				return false;
			port = port * 10 + (*p - '0');
		}
		if (port < 1 || port > 65535)
			return false;
		o->port = port;
	}
	return true;
}

static bool is_scheme(const struct origin *o, const char *s)
{
	return o->scheme_len == strlen(s) && strncasecmp(o->scheme, s, o->scheme_len) == 0;
}

/*
 * "scheme://authority" and then, when rest is not NULL, whatever follows
 * the authority (a Referer's path) into *rest; with rest NULL nothing may
 * follow.  false when text is not shaped so.
 */
static bool parse_origin(const char *text, struct origin *o, const char **rest)
{
	memset(o, 0, sizeof *o);
	const char *sep = strstr(text, "://");
	if (!sep || sep == text)
		return false;
	for (const char *p = text; p < sep; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (p > text && ((*p >= '0' && *p <= '9') || *p == '+' || *p == '-' || *p == '.'))))
			return false;
	o->scheme = text;
	o->scheme_len = (size_t)(sep - text);
	const char *a = sep + 3;
	size_t alen = strcspn(a, "/?#");
	if (!rest && a[alen])
		return false;
	if (rest)
		*rest = a + alen;
	if (!parse_authority(a, alen, o))
		return false;
	if (!o->port)
		o->port = is_scheme(o, "http") ? 80 : is_scheme(o, "https") ? 443 : 0;
	return true;
}

static bool same_origin(const struct origin *a, const struct origin *b)
{
	return a->scheme_len == b->scheme_len &&
	       strncasecmp(a->scheme, b->scheme, a->scheme_len) == 0 &&
	       a->host_len == b->host_len && strncasecmp(a->host, b->host, a->host_len) == 0 &&
	       a->port == b->port;
}

/* The server's own origin; false when it cannot be known (no Host). */
static bool own_origin(const struct csrf_headers *h, const char *public_origin, struct origin *o)
{
	const char *rest;
	if (public_origin && *public_origin)
		return parse_origin(public_origin, o, &rest);
	memset(o, 0, sizeof *o);
	if (!h->host)
		return false;
	o->scheme = "http";
	o->scheme_len = 4;
	o->port = 80;
	return parse_authority(h->host, strlen(h->host), o);
}

/* Whether text (an Origin, or a Referer when url) names our own origin. */
static bool is_own(const char *text, bool url, const struct origin *own, bool have_own)
{
	struct origin o;
	const char *rest;
	return have_own && parse_origin(text, &o, url ? &rest : NULL) && same_origin(&o, own);
}

enum csrf_verdict csrf_check(const struct csrf_headers *h, const char *public_origin)
{
	struct origin own;
	bool have_own = own_origin(h, public_origin, &own);
	const char *site = h->sec_fetch_site;

	if (site) {
		if (strcasecmp(site, "same-origin") == 0 || strcasecmp(site, "none") == 0)
			return CSRF_SAME_ORIGIN;
		if (strcasecmp(site, "same-site") == 0 || strcasecmp(site, "cross-site") == 0) {
			/* the rule's one exception: the browser's Origin says the
			 * page that sent it is ours (a site label can be coarser
			 * than the origin, e.g. after a redirect through another
			 * site) */
			if (h->origin && is_own(h->origin, false, &own, have_own))
				return CSRF_SAME_ORIGIN;
			return CSRF_CROSS_SITE;
		}
		/* an unknown value: decide by Origin and Referer as below */
	}
	if (h->origin) {
		if (strcmp(h->origin, "null") == 0)
			return CSRF_NULL_ORIGIN;
		return is_own(h->origin, false, &own, have_own) ? CSRF_SAME_ORIGIN
								: CSRF_FOREIGN_ORIGIN;
	}
	if (h->referer)
		return is_own(h->referer, true, &own, have_own) ? CSRF_SAME_ORIGIN
								: CSRF_FOREIGN_REFERER;
	return CSRF_NO_BROWSER;
}

const char *csrf_reason(enum csrf_verdict v)
{
	switch (v) {
	case CSRF_CROSS_SITE:
		return "This request was refused: your browser says it was sent by another site "
		       "(Sec-Fetch-Site), not by a page of MiniTwit. If you meant to do this, open "
		       "MiniTwit and try again from its own page.";
	case CSRF_FOREIGN_ORIGIN:
		return "This request was refused: it comes from a page of another site (its Origin "
		       "is not this server). If you meant to do this, open MiniTwit and try again "
		       "from its own page.";
	case CSRF_NULL_ORIGIN:
		return "This request was refused: your browser could not say which site sent it "
		       "(Origin: null). Open MiniTwit and try again from its own page.";
	case CSRF_FOREIGN_REFERER:
		return "This request was refused: it was sent from a page of another site (its "
		       "Referer is not this server). Open MiniTwit and try again from its own page.";
	default:
		return "This request was allowed.";
	}
}

const char *csrf_label(enum csrf_verdict v)
{
	static const char *const labels[CSRF_NVERDICTS] = {
		"same-origin", "no-browser", "cross-site", "foreign-origin", "null-origin",
		"foreign-referer",
	};
	return (unsigned)v < CSRF_NVERDICTS ? labels[v] : "unknown";
}

bool csrf_origin_valid(const char *text, bool *https)
{
	struct origin o;
	const char *rest;
	if (!text || !parse_origin(text, &o, &rest) || (*rest && strcmp(rest, "/") != 0))
		return false;
	if (!is_scheme(&o, "http") && !is_scheme(&o, "https"))
		return false;
	if (https)
		*https = is_scheme(&o, "https");
	return true;
}
