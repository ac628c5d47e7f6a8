/*
 * dsn: masking and secret checks on libpq connection strings; see dsn.h.
 */
#include "dsn.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "banned.h"

/* libpq's own test (conninfo.c recognized_connection_string): a URI or
 * anything with "=" is a connection string, the rest a database name. */
static bool is_uri(const char *s)
{
	return strncmp(s, "postgresql://", 13) == 0 || strncmp(s, "postgres://", 11) == 0;
}

static bool is_conninfo(const char *s)
{
	return is_uri(s) || strchr(s, '=') != NULL;
}

static bool is_secret(const PQconninfoOption *o)
{
	return o->dispchar && o->dispchar[0] == '*';
}

/* Append v as a keyword/value value libpq reads back as v: bare when it
 * can be, else single-quoted with ' and \ escaped. */
static void add_value(struct buf *out, const char *v)
{
	bool bare = *v != '\0';
	for (const char *p = v; *p && bare; p++)
		if (isspace((unsigned char)*p) || *p == '\'' || *p == '\\')
			bare = false;
	if (bare) {
		buf_adds(out, v);
		return;
	}
	buf_addc(out, '\'');
	for (const char *p = v; *p; p++) {
		if (*p == '\'' || *p == '\\')
			buf_addc(out, '\\');
		buf_addc(out, *p);
	}
	buf_addc(out, '\'');
}

enum dsn_secret dsn_find_secret(const char *dsn, char **key)
{
	char *err = NULL;
	enum dsn_secret ret = DSN_NO_SECRET;
	*key = NULL;
	if (!dsn || !is_conninfo(dsn))
		return DSN_NO_SECRET;
	PQconninfoOption *opts = PQconninfoParse(dsn, &err);
	PQfreemem(err);
	if (!opts)
		return DSN_INVALID;
	for (PQconninfoOption *o = opts; o->keyword; o++)
		if (is_secret(o) && o->val && *o->val) {
			*key = strdup(o->keyword);
			ret = DSN_HAS_SECRET;
			break;
		}
	PQconninfoFree(opts);
	return ret;
}

void dsn_mask(const char *dsn, struct buf *out)
{
	char *err = NULL;
	if (!dsn)
		return;
	if (!is_conninfo(dsn)) {
		buf_adds(out, dsn);
		return;
	}
	PQconninfoOption *opts = PQconninfoParse(dsn, &err);
	PQfreemem(err);	/* may quote part of the string: never shown */
	if (!opts) {
		buf_adds(out, "(invalid connection string)");
		return;
	}
	bool secret = false;
	for (PQconninfoOption *o = opts; o->keyword; o++)
		if (is_secret(o) && o->val && *o->val)
			secret = true;
	if (!secret) {
		buf_adds(out, dsn);
		goto out;
	}
	bool first = true;
	for (PQconninfoOption *o = opts; o->keyword; o++) {
		if (!o->val)
			continue;
		if (!first)
			buf_addc(out, ' ');
		first = false;
		buf_adds(out, o->keyword);
		buf_addc(out, '=');
		if (is_secret(o))
			buf_adds(out, DSN_MASK);
		else
			add_value(out, o->val);
	}
out:
	PQconninfoFree(opts);
}

/* Append a query ("a=1&b") with every value hidden, and a parameter
 * without '=' (a bare token) hidden whole. */
static void mask_query(const char *q, size_t len, struct buf *out)
{
	size_t i = 0;
	while (i < len) {
		size_t end = i;
		while (end < len && q[end] != '&' && q[end] != ';')
			end++;
		const char *eq = memchr(q + i, '=', end - i);
		if (eq) {
			buf_add(out, q + i, (size_t)(eq + 1 - (q + i)));
			if (eq + 1 < q + end)
				buf_adds(out, DSN_MASK);
		} else if (end > i) {
			buf_adds(out, DSN_MASK);
		}
		if (end < len)
			buf_addc(out, q[end]);
		i = end + 1;
	}
}

void dsn_mask_url(const char *url, struct buf *out)
{
	const char *sep = url ? strstr(url, "://") : NULL;
	if (!sep) {
		if (url)
			buf_adds(out, url);
		return;
	}
	const char *auth = sep + 3;
	size_t alen = strcspn(auth, "/?#");
	const char *at = NULL, *colon = NULL;
	for (size_t i = 0; i < alen; i++)
		if (auth[i] == '@')
			at = auth + i;	/* the last one: mask more, not less */
	for (const char *p = auth; at && p < at; p++)
		if (*p == ':') {
			colon = p;
			break;
		}
	if (colon) {	/* user:secret@: the user name stays */
		buf_add(out, url, (size_t)(colon + 1 - url));
		buf_adds(out, DSN_MASK);
	} else if (at) {	/* token@: all of it may be the secret */
		buf_add(out, url, (size_t)(auth - url));
		buf_adds(out, DSN_MASK);
	} else {
		buf_add(out, url, (size_t)(auth - url));
	}
	const char *host = at ? at : auth;	/* from the '@', when there is one */
	size_t plen = strcspn(host, "?#");
	buf_add(out, host, plen);
	const char *rest = host + plen;
	if (*rest == '?') {
		size_t qlen = strcspn(rest + 1, "#");
		buf_addc(out, '?');
		mask_query(rest + 1, qlen, out);
		rest += 1 + qlen;
	}
	if (*rest == '#')
		buf_adds(out, rest[1] ? "#" DSN_MASK : "#");
}

/* "scheme://" with an RFC 3986 scheme at the start of s */
static bool is_url(const char *s)
{
	if (!isalpha((unsigned char)*s))
		return false;
	while (isalnum((unsigned char)*s) || *s == '+' || *s == '-' || *s == '.')
		s++;
	return strncmp(s, "://", 3) == 0;
}

void dsn_mask_text(const char *s, struct buf *out)
{
	if (!s)
		return;
	if (is_uri(s) || (!is_url(s) && strchr(s, '=')))
		dsn_mask(s, out);
	else if (is_url(s))
		dsn_mask_url(s, out);
	else
		buf_adds(out, s);
}

bool dsn_storable(const char *dsn, struct buf *why)
{
	char *key = NULL;
	switch (dsn_find_secret(dsn, &key)) {
	case DSN_NO_SECRET:
		return true;
	case DSN_HAS_SECRET:
		buf_addf(why, "it sets \"%s\"", key);
		free(key);
		return false;
	case DSN_INVALID:
		break;
	}
	buf_adds(why, "libpq cannot parse it");
	return false;
}
