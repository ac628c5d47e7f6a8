/*
 * route: request-target and form parsing; see route.h.
 */
#include "route.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"
#include "banned.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode s[0..len) into out (which has room for len + 1); returns the
 * decoded length or -1 for a bad escape. */
static long decode(const char *s, size_t len, char *out, bool plus_is_space)
{
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '%') {
			if (i + 2 >= len)
				return -1;
			int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			out[o++] = (char)(hi * 16 + lo);
			i += 2;
		} else if (c == '+' && plus_is_space)
			out[o++] = ' ';
		else
			out[o++] = c;
	}
	out[o] = '\0';
	return (long)o;
}

enum route_status route_parse_params(const char *s, size_t len, struct route_params *out)
{
	memset(out, 0, sizeof *out);
	if (len == 0)
		return ROUTE_OK;
	/* decoded text is never longer than the input; +1 NUL per key and value */
	out->storage = malloc(len * 2 + 2 * ROUTE_MAX_PARAMS + 2);
	if (!out->storage)
		abort();
	char *w = out->storage;
	size_t i = 0;
	while (i <= len) {
		size_t end = i;
		while (end < len && s[end] != '&')
			end++;
		if (end > i) {
			size_t eq = i;
			while (eq < end && s[eq] != '=')
				eq++;
			if (out->n == ROUTE_MAX_PARAMS)
				goto too_many;
			struct route_param *p = &out->p[out->n];
			long kl = decode(s + i, eq - i, w, true);
			if (kl < 0)
				goto bad_escape;
			if (!utf8_valid(w, (size_t)kl))
				goto bad_utf8;
			p->key = w;
			w += kl + 1;
			size_t vstart = eq < end ? eq + 1 : end;
			long vl = decode(s + vstart, end - vstart, w, true);
			if (vl < 0)
				goto bad_escape;
			if (!utf8_valid(w, (size_t)vl))
				goto bad_utf8;
			p->value = w;
			p->value_len = (size_t)vl;
			w += vl + 1;
			out->n++;
		}
		i = end + 1;
	}
	return ROUTE_OK;
bad_escape:
	route_params_release(out);
	return ROUTE_BAD_ESCAPE;
bad_utf8:
	route_params_release(out);
	return ROUTE_BAD_UTF8;
too_many:
	route_params_release(out);
	return ROUTE_TOO_MANY;
}

void route_params_release(struct route_params *p)
{
	free(p->storage);
	memset(p, 0, sizeof *p);
}

const char *route_param(const struct route_params *p, const char *key)
{
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->p[i].key, key) == 0)
			return p->p[i].value;
	return NULL;
}

enum route_status route_parse_target(const char *raw, struct route_target *t)
{
	memset(t, 0, sizeof *t);
	const char *frag = strchr(raw, '#');
	const char *q = strchr(raw, '?');
	if (q && frag && frag < q)
		q = NULL;	/* a '?' inside the fragment starts no query */
	size_t plen = q ? (size_t)(q - raw) : frag ? (size_t)(frag - raw) : strlen(raw);
	t->path = malloc(plen + 1);
	if (!t->path)
		abort();
	long n = decode(raw, plen, t->path, false);
	if (n < 0) {
		route_target_release(t);
		return ROUTE_BAD_ESCAPE;
	}
	if (!utf8_valid(t->path, (size_t)n)) {
		route_target_release(t);
		return ROUTE_BAD_UTF8;
	}
	t->path_len = (size_t)n;
	if (q) {
		size_t qlen = strcspn(q + 1, "#");
		enum route_status st = route_parse_params(q + 1, qlen, &t->query);
		if (st != ROUTE_OK) {
			route_target_release(t);
			return st;
		}
	}
	return ROUTE_OK;
}

void route_target_release(struct route_target *t)
{
	free(t->path);
	route_params_release(&t->query);
	t->path = NULL;
	t->path_len = 0;
}

const char *route_tail(const char *path, const char *prefix)
{
	size_t n = strlen(prefix);
	if (strncmp(path, prefix, n) != 0)
		return NULL;
	const char *tail = path + n;
	if (!*tail || strchr(tail, '/'))
		return NULL;
	return tail;
}

bool route_parse_int(const char *s, int64_t *out)
{
	if (!s)
		return false;
	while (*s == ' ' || *s == '\t')
		s++;
	const char *d = s;
	if (*d == '+' || *d == '-')
		d++;
	if (*d < '0' || *d > '9')
		return false;
	errno = 0;
	char *end;
	long long v = strtoll(s, &end, 10);
	if (errno == ERANGE)
		return false;
	while (*end == ' ' || *end == '\t')
		end++;
	if (*end)
		return false;
	*out = v;
	return true;
}

bool route_match(const char *pattern, const char *path, struct buf *arg)
{
	const char *p = pattern, *s = path, *cap = NULL;
	size_t caplen = 0;
	while (*p) {
		if (*p == '<') {
			const char *close = strchr(p, '>');
			size_t n = strcspn(s, "/");
			if (!close || n == 0)
				return false;
			cap = s;
			caplen = n;
			s += n;
			p = close + 1;
		} else if (*p++ != *s++) {
			return false;
		}
	}
	if (*s)
		return false;
	if (cap && arg)
		buf_add(arg, cap, caplen);
	return true;
}

bool route_claims(const struct route_entry *t, size_t n, const char *raw_target,
		  const struct http_req *req)
{
	size_t len = strcspn(raw_target, "?#");
	for (size_t i = 0; i < n; i++) {
		const char *pat = t[i].pattern;
		size_t lit = strcspn(pat, "<");
		bool claimed;
		if (!pat[lit])
			claimed = len == lit && strncmp(raw_target, pat, len) == 0;
		else
			claimed = (len >= lit && strncmp(raw_target, pat, lit) == 0) ||
				  (lit > 1 && pat[lit - 1] == '/' && len == lit - 1 &&
				   strncmp(raw_target, pat, len) == 0);
		if (claimed && (!t[i].wants || t[i].wants(req)))
			return true;
	}
	return false;
}

void route_find(const struct route_entry *t, size_t n, const char *path, unsigned method,
		const struct http_req *req, struct buf *arg, struct route_found *found)
{
	memset(found, 0, sizeof *found);
	for (size_t i = 0; i < n; i++) {
		if (found->group ? strcmp(t[i].pattern, found->group->pattern) != 0
				 : !route_match(t[i].pattern, path, NULL))
			continue;
		if (t[i].wants && !t[i].wants(req))
			continue;
		if (!found->group) {
			found->group = &t[i];
			(void)route_match(t[i].pattern, path, arg);	/* matched above: take the argument */
		}
		found->allow |= t[i].methods;
		if (!found->route && (t[i].methods & method))
			found->route = &t[i];
	}
}

bool route_latest(const struct route_params *query, int64_t *n)
{
	return route_parse_int(route_param(query, "latest"), n) && *n != -1;
}

bool route_holds(const struct route_entry *r, const struct route_params *query)
{
	int64_t n;
	switch (r->hold) {
	case ROUTE_WRITE:
		return true;
	case ROUTE_WRITE_IF_LATEST:
		return route_latest(query, &n);
	case ROUTE_READ:
	case ROUTE_CONTROL:
		break;
	}
	return false;
}
