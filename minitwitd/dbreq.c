/*
 * dbreq: a request's database connection; see dbreq.h.
 */
#include "dbreq.h"

#include <stdlib.h>
#include <string.h>

#include "fence.h"
#include "dsn.h"
#include "log.h"
#include "pgx.h"
#include "banned.h"

/* A statement hit the old host's fence: it raised before writing anything
 * and ran in its own transaction, so the connection is idle; ask it where
 * the data went. */
static void fenced(struct dbreq *d, const char *name, const char *sqlstate)
{
	char *to = NULL;
	if (!fence_moved_to(d->conn->pg, &to))
		to = NULL;	/* logged; answered as a database error */
	struct buf masked = BUF_INIT;
	dsn_mask(to, &masked);
	log_warn("%s: the database is fenced (SQLSTATE %s)%s%s%s", name, sqlstate,
		 to ? ", it has moved to \"" : " and names no new host",
		 to ? buf_str(&masked) : "", to ? "\"" : "");
	buf_release(&masked);
	if (!d->fence || d->fence->hit) {
		free(to);
		return;
	}
	d->fence->hit = true;
	d->fence->epoch = d->conn->epoch;
	d->fence->moved_to = to;
}

void dbreq_fence_clear(struct dbreq_fence *f)
{
	free(f->moved_to);
	memset(f, 0, sizeof *f);
}

bool dbreq_open(struct dbreq *d)
{
	if (d->conn)
		return true;
	enum db_acquire_status st;
	d->conn = db_acquire(d->pool, &st);
	if (d->conn)
		return true;
	d->err = st == DB_TIMEOUT ? DBREQ_BUSY : DBREQ_UNAVAILABLE;
	return false;
}

PGresult *dbreq_run(struct dbreq *d, unsigned stmt, const char *const *params, const int *lengths)
{
	if (!dbreq_open(d))
		return NULL;
	PGresult *r = db_run(d->conn, d->pool, stmt, params, lengths);
	ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
		if (d->fence && d->pool->stmts[stmt].kind == DB_STMT_WRITE)
			d->fence->wrote = true;
		return r;
	}
	if (pgx_sqlstate_is(r, PGX_UNIQUE_VIOLATION))
		return r;
	const char *sqlstate = pgx_sqlstate(r);
	const char *name = d->pool->stmts[stmt].name;
	bool lost = pgx_conn_lost(d->conn->pg, r);
	if (!lost && (strcmp(sqlstate, DBREQ_FENCE_SQLSTATE) == 0 ||
		      strcmp(sqlstate, PGX_READ_ONLY_TXN) == 0)) {
		fenced(d, name, sqlstate);
		d->err = DBREQ_UNAVAILABLE;
	} else if (lost || strcmp(sqlstate, PGX_QUERY_CANCELED) == 0) {
		d->broken = d->broken || lost;
		log_warn("%s: %s (SQLSTATE %s)", name,
			 lost ? "database connection lost" : "statement timed out",
			 *sqlstate ? sqlstate : "none");
		d->err = DBREQ_UNAVAILABLE;
	} else {
		pgx_log_failure(r, name);
		d->err = DBREQ_INTERNAL;
	}
	PQclear(r);
	return NULL;
}

void dbreq_close(struct dbreq *d)
{
	db_release(d->pool, d->conn, d->broken);
	d->conn = NULL;
	d->broken = false;
}

unsigned dbreq_status(const struct dbreq *d)
{
	return d->err == DBREQ_INTERNAL ? 500 : 503;
}
