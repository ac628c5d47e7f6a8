/*
 * fence: following a moved database; see fence.h.
 */
#include "fence.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dsn.h"
#include "log.h"
#include "schema.h"
#include "banned.h"

static pthread_mutex_t switch_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *allowed_hosts, *allowed_base_dsn;

void fence_set_allowed_hosts(const char *allowed, const char *base_dsn)
{
	allowed_hosts = allowed;
	allowed_base_dsn = base_dsn;
}

/* The text of [p, p+n) without surrounding blanks into out (NUL-ended). */
static void trimmed(const char *p, size_t n, struct buf *out)
{
	while (n && (*p == ' ' || *p == '\t'))
		p++, n--;
	while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	buf_reset(out);
	buf_add(out, p, n);
}

/* Whether two host entries name the same host: addresses by their bytes,
 * names and socket directories by their text (names without case). */
static bool same_host(const char *a, const char *b)
{
	unsigned char x[16], y[16];
	if (inet_pton(AF_INET, a, x) == 1)
		return inet_pton(AF_INET, b, y) == 1 && memcmp(x, y, 4) == 0;
	if (inet_pton(AF_INET6, a, x) == 1)
		return inet_pton(AF_INET6, b, y) == 1 && memcmp(x, y, 16) == 0;
	return strcasecmp(a, b) == 0;
}

/* Whether host is one of the comma-separated entries of list. */
static bool host_listed(const char *list, const char *host)
{
	struct buf e = BUF_INIT;
	bool found = false;
	for (const char *p = list; !found;) {
		size_t l = strcspn(p, ",");
		trimmed(p, l, &e);
		found = same_host(buf_str(&e), host);
		if (!p[l])
			break;
		p += l + 1;
	}
	buf_release(&e);
	return found;
}

/* The hosts a DSN reaches, comma-separated, into out: its host and
 * hostaddr lists, else libpq's defaults (PGHOST, PGHOSTADDR), else ""
 * (the local socket); a service (pg_service.conf, which may name any host)
 * is one more entry, "service=<name>", that must be allowed too.  false
 * with why filled for a DSN libpq refuses. */
static bool dsn_hosts(const char *dsn, struct buf *out, struct buf *why)
{
	char *err = NULL;
	PQconninfoOption *opts = PQconninfoParse(dsn, &err);
	if (!opts) {
		buf_addf(why, "invalid DSN: %s", err ? err : "out of memory");
		PQfreemem(err);
		return false;
	}
	const char *service = getenv("PGSERVICE");
	for (PQconninfoOption *o = opts; o->keyword; o++) {
		if ((strcmp(o->keyword, "host") == 0 || strcmp(o->keyword, "hostaddr") == 0) &&
		    o->val && *o->val) {
			if (out->len)
				buf_addc(out, ',');
			buf_adds(out, o->val);
		}
	}
	const char *env[] = { "PGHOST", "PGHOSTADDR" };
	for (size_t i = 0; !out->len && i < 2; i++)
		if (getenv(env[i]) && *getenv(env[i]))
			buf_adds(out, getenv(env[i]));
	for (PQconninfoOption *o = opts; o->keyword; o++)
		if (strcmp(o->keyword, "service") == 0 && o->val && *o->val)
			service = o->val;
	if (service && *service)
		buf_addf(out, "%sservice=%s", out->len ? "," : "", service);
	PQconninfoFree(opts);
	return true;
}

bool fence_host_allowed(const char *dsn, struct buf *why)
{
	struct buf hosts = BUF_INIT, base = BUF_INIT, e = BUF_INIT, masked = BUF_INIT;
	const char *list = allowed_hosts;
	bool ok = false;
	if (!dsn_hosts(dsn, &hosts, why))
		goto out;
	if (!list || !*list) {
		if (!allowed_base_dsn) {
			ok = true;	/* never configured (tools, tests): no limit */
			goto out;
		}
		if (!dsn_hosts(allowed_base_dsn, &base, why))
			goto out;
		list = buf_str(&base);
	}
	for (const char *p = buf_str(&hosts);;) {
		size_t l = strcspn(p, ",");
		trimmed(p, l, &e);
		if (!host_listed(list, buf_str(&e))) {
			pgx_mask_dsn(dsn, &masked);
			buf_addf(why, "database \"%s\" is on host \"%s\", which database.allowed_hosts "
				      "does not list (%s)\nhint: add the host to database.allowed_hosts "
				      "if minitwitd may move there",
				 buf_str(&masked), e.len ? buf_str(&e) : "the local socket",
				 allowed_hosts && *allowed_hosts ? "it allows only the hosts listed"
								 : "by default only the host of database.dsn");
			goto out;
		}
		if (!p[l])
			break;
		p += l + 1;
	}
	ok = true;
out:
	buf_release(&hosts);
	buf_release(&base);
	buf_release(&e);
	buf_release(&masked);
	return ok;
}

bool fence_moved_to(PGconn *c, char **dsn)
{
	*dsn = NULL;
	PGresult *r = PQexec(c, "SELECT dsn FROM minitwit_fence.moved_to ORDER BY at DESC LIMIT 1");
	bool ok = false;
	if (pgx_undefined(r)) {
		ok = true;	/* never fenced */
		goto out;
	}
	if (!pgx_check(r, PGRES_TUPLES_OK, -1, 1, "read minitwit_fence.moved_to"))
		goto out;
	ok = true;
	if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0) && *PQgetvalue(r, 0, 0)) {
		*dsn = strdup(PQgetvalue(r, 0, 0));
		if (!*dsn) {
			log_error("read minitwit_fence.moved_to: out of memory");
			ok = false;
		}
	}
out:
	PQclear(r);
	return ok;
}

static void log_moved(const char *from, const char *to)
{
	struct buf a = BUF_INIT, b = BUF_INIT;
	dsn_mask(from, &a);
	dsn_mask(to, &b);
	log_warn("database \"%s\" has moved to \"%s\"", buf_str(&a), buf_str(&b));
	buf_release(&a);
	buf_release(&b);
}

/* The DSNs of a chain of moves, to refuse a loop. */
struct chain {
	char *dsn[FENCE_MAX_HOPS + 1];
	unsigned n;
};

static bool chain_has(const struct chain *ch, const char *dsn)
{
	for (unsigned i = 0; i < ch->n; i++)
		if (strcmp(ch->dsn[i], dsn) == 0)
			return true;
	return false;
}

static void chain_release(struct chain *ch)
{
	for (unsigned i = 0; i < ch->n; i++)
		free(ch->dsn[i]);
	ch->n = 0;
}

/* Add a hop to dsn (taken); false (why filled) for a loop or too many hops. */
static bool chain_add(struct chain *ch, char *dsn, struct buf *why)
{
	struct buf masked = BUF_INIT;
	bool ok = false;
	dsn_mask(dsn, &masked);
	if (chain_has(ch, dsn))
		buf_addf(why, "the moves of the database loop back to \"%s\"", buf_str(&masked));
	else if (ch->n == FENCE_MAX_HOPS + 1)
		buf_addf(why, "the database moved more than %d times (last to \"%s\")", FENCE_MAX_HOPS,
			 buf_str(&masked));
	else {
		ch->dsn[ch->n++] = dsn;
		dsn = NULL;
		ok = true;
	}
	free(dsn);
	buf_release(&masked);
	return ok;
}

PGconn *fence_follow(PGconn *c, const char *dsn, const struct pgx_open_opts *co,
		     char **final_dsn)
{
	struct chain ch = { .n = 0 };
	struct buf why = BUF_INIT;
	char *first = strdup(dsn), *to = NULL;

	*final_dsn = NULL;
	if (!first || !chain_add(&ch, first, &why))
		goto fail;
	for (;;) {
		if (!fence_moved_to(c, &to))
			goto fail;
		if (!to)
			break;
		log_moved(ch.dsn[ch.n - 1], to);
		char *next = to;
		to = NULL;
		if (!chain_add(&ch, next, &why) || !fence_host_allowed(ch.dsn[ch.n - 1], &why))
			goto fail;
		PQfinish(c);
		c = pgx_open(PGX_APP, ch.dsn[ch.n - 1], co);
		if (!c)
			goto fail;
	}
	*final_dsn = ch.dsn[ch.n - 1];
	ch.dsn[--ch.n] = NULL;
	chain_release(&ch);
	return c;
fail:
	if (why.len)
		log_error("could not follow the database's moves: %s", buf_str(&why));
	free(to);
	chain_release(&ch);
	buf_release(&why);
	PQfinish(c);
	return NULL;
}

/* libpq's error text without its trailing newline, appended to why. */
static void add_pq_error(struct buf *why, const char *e)
{
	size_t n = strlen(e);
	while (n && (e[n - 1] == '\n' || e[n - 1] == ' '))
		n--;
	buf_add(why, e, n);
}

/*
 * Connect to dsn and check it: FENCE_SWITCHED means "ready" here; for
 * FENCE_MOVED *moved_to is where it went.
 */
static enum fence_result check_target(const char *dsn, int connect_timeout_ms, char **moved_to,
				      struct buf *why)
{
	enum fence_result res = FENCE_NOT_READY;
	PGresult *r = NULL;
	struct buf masked = BUF_INIT;

	*moved_to = NULL;
	dsn_mask(dsn, &masked);
	/* the pool's kind of session: what it can read is what the pool will */
	struct pgx_open_opts o = { .connect_timeout_ms = connect_timeout_ms, .why = why };
	PGconn *c = pgx_open(PGX_APP, dsn, &o);
	if (!c) {
		res = FENCE_UNREACHABLE;
		goto out;
	}
	if (!fence_moved_to(c, moved_to)) {
		buf_addf(why, "could not read minitwit_fence.moved_to of database \"%s\"",
			 buf_str(&masked));
		goto out;
	}
	if (*moved_to) {
		struct buf m2 = BUF_INIT;
		dsn_mask(*moved_to, &m2);
		buf_addf(why, "database \"%s\" has moved to \"%s\"", buf_str(&masked), buf_str(&m2));
		buf_release(&m2);
		res = FENCE_MOVED;
		goto out;
	}
	r = PQexec(c, "SELECT current_setting('transaction_read_only')");
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		buf_addf(why, "database \"%s\": ", buf_str(&masked));
		add_pq_error(why, PQresultErrorMessage(r));
		goto out;
	}
	if (strcmp(PQgetvalue(r, 0, 0), "on") == 0) {
		buf_addf(why, "database \"%s\" is read-only (a standby, or fenced without moved_to)",
			 buf_str(&masked));
		goto out;
	}
	struct buf sw = BUF_INIT;
	if (!schema_check(c, &sw)) {
		buf_addf(why, "database \"%s\" is not ready: %s", buf_str(&masked), buf_str(&sw));
		buf_release(&sw);
		goto out;
	}
	buf_release(&sw);
	res = FENCE_SWITCHED;
out:
	PQclear(r);
	PQfinish(c);
	buf_release(&masked);
	return res;
}

enum fence_result fence_switch(struct db_pool *p, const char *dsn, unsigned if_epoch, bool follow,
			       int connect_timeout_ms, struct buf *why)
{
	struct chain ch = { .n = 0 };
	enum fence_result res = FENCE_REFUSED;
	char *cur = strdup(dsn), *to = NULL;

	pthread_mutex_lock(&switch_lock);
	if (if_epoch && db_pool_epoch(p) != if_epoch) {
		res = FENCE_SWITCHED;	/* someone else moved the pool first */
		free(cur);
		goto out;
	}
	if (!cur || !chain_add(&ch, cur, why))
		goto out;
	for (;;) {
		if (!fence_host_allowed(ch.dsn[ch.n - 1], why)) {
			res = FENCE_FORBIDDEN;
			break;
		}
		res = check_target(ch.dsn[ch.n - 1], connect_timeout_ms, &to, why);
		if (res != FENCE_MOVED || !follow)
			break;
		log_moved(ch.dsn[ch.n - 1], to);
		buf_reset(why);
		char *next = to;
		to = NULL;
		if (!chain_add(&ch, next, why)) {
			res = FENCE_REFUSED;
			break;
		}
	}
	if (res != FENCE_SWITCHED)
		goto out;
	struct buf from = BUF_INIT, masked = BUF_INIT;
	db_pool_masked_dsn(p, &from);
	dsn_mask(ch.dsn[ch.n - 1], &masked);
	if (db_pool_switch(p, ch.dsn[ch.n - 1], if_epoch))
		log_warn("database pool switched from \"%s\" to \"%s\"", buf_str(&from), buf_str(&masked));
	buf_release(&from);
	buf_release(&masked);
out:
	pthread_mutex_unlock(&switch_lock);
	if (res != FENCE_SWITCHED)
		log_error("could not switch the database: %s", buf_str(why));
	free(to);
	chain_release(&ch);
	return res;
}
