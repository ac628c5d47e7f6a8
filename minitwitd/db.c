/*
 * db: connection pool with prepared statements; see db.h.
 */
#include "db.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "dsn.h"
#include "log.h"
#include "pgx.h"
#include "util.h"
#include "banned.h"

bool db_pool_init(struct db_pool *p, const struct db_pool_config *cfg,
		  const struct db_stmt *stmts, unsigned nstmts)
{
	memset(p, 0, sizeof *p);
	p->conns = calloc(cfg->size, sizeof *p->conns);
	p->dsn = strdup(cfg->dsn);
	if (!p->conns || !p->dsn) {
		free(p->conns);
		free(p->dsn);
		log_error("could not allocate the connection pool");
		return false;
	}
	p->size = cfg->size;
	p->stmts = stmts;
	p->nstmts = nstmts;
	p->connect_timeout_ms = cfg->connect_timeout_ms;
	p->acquire_timeout_ms = cfg->acquire_timeout_ms;
	p->statement_timeout_ms = cfg->statement_timeout_ms;
	p->generation = 1;
	p->epoch = 1;
	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->freed, &ca);
	pthread_condattr_destroy(&ca);
	return true;
}

void db_pool_release(struct db_pool *p)
{
	if (!p->conns)
		return;
	for (unsigned i = 0; i < p->size; i++)
		PQfinish(p->conns[i].pg);
	free(p->conns);
	free(p->dsn);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->freed);
	memset(p, 0, sizeof *p);
}

void db_pool_set_timeouts(struct db_pool *p, int connect_ms, int acquire_ms, int statement_ms)
{
	pthread_mutex_lock(&p->lock);
	p->connect_timeout_ms = connect_ms;
	p->acquire_timeout_ms = acquire_ms;
	p->statement_timeout_ms = statement_ms;
	p->generation++;	/* reopen connections so statement_timeout applies */
	pthread_mutex_unlock(&p->lock);
}

/* Open a connection for dsn and prepare every statement; NULL on failure
 * (logged).  Called without the pool lock: it blocks on the network. */
static PGconn *open_conn(const char *dsn, const struct db_stmt *stmts, unsigned n,
			 int connect_ms, int statement_ms)
{
	/* statement_timeout bounds a query that runs too long, tcp_user_timeout
	 * one to a host that vanished without a reset; the role's settings
	 * (search_path, plan_cache_mode: pgx.h) come with the session */
	struct pgx_open_opts o = { .connect_timeout_ms = connect_ms, .statement_timeout_ms = statement_ms };
	PGconn *c = pgx_open(PGX_APP, dsn, &o);
	if (!c)
		return NULL;
	for (unsigned i = 0; i < n; i++) {
		PGresult *r = PQprepare(c, stmts[i].name, stmts[i].sql, stmts[i].nparams, NULL);
		bool ok = pgx_check(r, PGRES_COMMAND_OK, -1, -1, stmts[i].name);
		PQclear(r);
		if (!ok) {
			PQfinish(c);
			return NULL;
		}
	}
	return c;
}

struct db_conn *db_acquire(struct db_pool *p, enum db_acquire_status *st)
{
	struct db_conn *c = NULL;
	struct timespec deadline;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += p->acquire_timeout_ms / 1000;
	deadline.tv_nsec += (long)(p->acquire_timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}

	pthread_mutex_lock(&p->lock);
	for (;;) {
		if (mono_ms() < p->down_until_ms) {
			pthread_mutex_unlock(&p->lock);
			*st = DB_UNAVAILABLE;
			return NULL;
		}
		/* prefer a connection that is already open */
		struct db_conn *closed = NULL;
		for (unsigned i = 0; i < p->size; i++) {
			struct db_conn *x = &p->conns[i];
			if (x->in_use)
				continue;
			if (x->pg && x->generation == p->generation) {
				c = x;
				break;
			}
			if (!closed)
				closed = x;
		}
		if (!c)
			c = closed;
		if (c)
			break;
		p->waiting++;
		int rc = pthread_cond_timedwait(&p->freed, &p->lock, &deadline);
		p->waiting--;
		if (rc == ETIMEDOUT) {
			p->acquire_timeouts++;
			pthread_mutex_unlock(&p->lock);
			*st = DB_TIMEOUT;
			return NULL;
		}
	}
	c->in_use = true;
	p->in_use++;
	unsigned gen = p->generation, epoch = p->epoch;
	char *dsn = NULL;
	int connect_ms = p->connect_timeout_ms, statement_ms = p->statement_timeout_ms;
	bool reopen = !c->pg || c->generation != gen;
	if (reopen)
		dsn = strdup(p->dsn);
	pthread_mutex_unlock(&p->lock);

	/* outside the lock: network work */
	if (!reopen && !pgx_idle_alive(c->pg)) {
		log_info("replacing a database connection that was closed while idle");
		reopen = true;
		pthread_mutex_lock(&p->lock);
		dsn = strdup(p->dsn);
		gen = p->generation;
		epoch = p->epoch;
		pthread_mutex_unlock(&p->lock);
	}
	if (reopen) {
		PQfinish(c->pg);
		c->pg = dsn ? open_conn(dsn, p->stmts, p->nstmts, connect_ms, statement_ms) : NULL;
		c->generation = gen;
		c->epoch = epoch;
		free(dsn);
		pthread_mutex_lock(&p->lock);
		if (c->pg) {
			p->connects++;
			p->backoff_ms = 0;
		} else {
			p->connect_failures++;
			/* fail fast for a while instead of every request paying a
			 * connect timeout; doubles up to 1 s */
			p->backoff_ms = p->backoff_ms ? (p->backoff_ms * 2 > 1000 ? 1000 : p->backoff_ms * 2)
						      : 100;
			p->down_until_ms = mono_ms() + p->backoff_ms;
			c->in_use = false;
			p->in_use--;
			pthread_cond_signal(&p->freed);
			pthread_mutex_unlock(&p->lock);
			*st = DB_UNAVAILABLE;
			return NULL;
		}
		pthread_mutex_unlock(&p->lock);
	}
	*st = DB_OK;
	return c;
}

void db_release(struct db_pool *p, struct db_conn *c, bool broken)
{
	if (!c)
		return;
	PGconn *close = NULL;
	if (broken || PQstatus(c->pg) != CONNECTION_OK ||
	    PQtransactionStatus(c->pg) != PQTRANS_IDLE) {
		close = c->pg;
		c->pg = NULL;
	}
	pthread_mutex_lock(&p->lock);
	if (c->pg && c->generation != p->generation) {
		/* opened for an older generation (the pool switched, or the
		 * timeouts changed): never give it to anyone again */
		close = c->pg;
		c->pg = NULL;
	}
	c->in_use = false;
	p->in_use--;
	pthread_cond_signal(&p->freed);
	pthread_mutex_unlock(&p->lock);
	PQfinish(close);
}

PGresult *db_run(struct db_conn *c, const struct db_pool *p, unsigned i, const char *const *params,
		 const int *lengths)
{
	const struct db_stmt *s = &p->stmts[i];
	return PQexecPrepared(c->pg, s->name, s->nparams, params, lengths, NULL, 0);
}

void db_pool_stats(struct db_pool *p, struct db_stats *out)
{
	pthread_mutex_lock(&p->lock);
	out->in_use = p->in_use;
	out->waiting = p->waiting;
	out->size = p->size;
	out->connects = p->connects;
	out->connect_failures = p->connect_failures;
	out->acquire_timeouts = p->acquire_timeouts;
	out->switches = p->switches;
	out->generation = p->generation;
	out->epoch = p->epoch;
	pthread_mutex_unlock(&p->lock);
}

bool db_pool_switch(struct db_pool *p, const char *dsn, unsigned if_epoch)
{
	char *copy = strdup(dsn);
	PGconn **idle = calloc(p->size ? p->size : 1, sizeof *idle);
	unsigned nidle = 0;
	bool switched = false;
	if (!copy) {
		log_error("could not switch the database pool: out of memory");
		goto out;
	}
	pthread_mutex_lock(&p->lock);
	if (if_epoch && p->epoch != if_epoch) {
		pthread_mutex_unlock(&p->lock);
		goto out;
	}
	free(p->dsn);
	p->dsn = copy;
	copy = NULL;
	p->generation++;
	p->epoch++;
	p->switches++;
	p->down_until_ms = 0;	/* the old host's back-off says nothing of the new one */
	p->backoff_ms = 0;
	/* idle connections to the old host go now (outside the lock: network);
	 * the ones in use are closed by db_release */
	for (unsigned i = 0; idle && i < p->size; i++) {
		struct db_conn *x = &p->conns[i];
		if (!x->in_use && x->pg) {
			idle[nidle++] = x->pg;
			x->pg = NULL;
		}
	}
	switched = true;
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < nidle; i++)
		PQfinish(idle[i]);
out:
	free(copy);
	free(idle);
	return switched;
}

void db_pool_masked_dsn(struct db_pool *p, struct buf *out)
{
	pthread_mutex_lock(&p->lock);
	dsn_mask(p->dsn, out);
	pthread_mutex_unlock(&p->lock);
}

unsigned db_pool_epoch(struct db_pool *p)
{
	pthread_mutex_lock(&p->lock);
	unsigned e = p->epoch;
	pthread_mutex_unlock(&p->lock);
	return e;
}
