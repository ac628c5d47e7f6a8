/*
 * dbreq: one request's use of the database pool.
 *
 * A request takes a pooled connection lazily (the first statement it runs),
 * can give it back early (before hashing a password, which takes tens of
 * milliseconds) and gives it back once at the end.  A statement that fails
 * says why in d->err, so that the API answers with its JSON error shape and
 * the web UI with a page, each with the same status:
 *   DBREQ_BUSY, DBREQ_UNAVAILABLE -> 503 with Retry-After
 *   DBREQ_INTERNAL                -> 500 (logged with the statement's name)
 *
 * The old host's fence (cutover): a statement refused with SQLSTATE MT001
 * (the fence trigger) or 25006 (the fenced database is read-only) fails as
 * DBREQ_UNAVAILABLE (503), and, when the request gave a struct dbreq_fence,
 * records there where the database says it moved (read from
 * minitwit_fence.moved_to through the same connection) and whether the
 * request had already written something a re-run would write again.  The
 * HTTP layer then holds the request (server paused) or switches the pool
 * and runs the request again on the new host (http.c).
 */
#ifndef DBREQ_H
#define DBREQ_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "db.h"

enum dbreq_error {
	DBREQ_OK,
	DBREQ_BUSY,		/* every connection was in use for the acquire timeout */
	DBREQ_UNAVAILABLE,	/* PostgreSQL cannot be reached, or a statement timed out */
	DBREQ_INTERNAL,		/* any other failure of a statement */
};

/* SQLSTATE the fence trigger raises (minitwit_fence, see fence.h) */
#define DBREQ_FENCE_SQLSTATE "MT001"

struct dbreq_fence {
	bool hit;		/* a statement hit the fence */
	bool wrote;		/* a DB_STMT_WRITE succeeded before (or without) it */
	unsigned epoch;		/* pool epoch of the fenced connection */
	char *moved_to;		/* malloc'd; NULL when the database names no new host */
};

struct dbreq {
	struct db_pool *pool;
	struct db_conn *conn;	/* NULL until the first statement */
	bool broken;
	enum dbreq_error err;
	struct dbreq_fence *fence;	/* optional: where a fence hit is recorded */
};

/* Take a connection unless one is held; false with d->err set. */
MUST_CHECK bool dbreq_open(struct dbreq *d);

/*
 * Run statement number stmt of the pool's table.  Returns a result that
 * succeeded, or one that failed with unique_violation (23505: the caller's
 * "already taken"); otherwise NULL with d->err set (logged once here).
 * The caller PQclear()s the result.
 */
PGresult *dbreq_run(struct dbreq *d, unsigned stmt, const char *const *params, const int *lengths);

/* Give the connection back (safe when none is held; may be opened again). */
void dbreq_close(struct dbreq *d);

/* HTTP status for d->err: 503 or 500. */
unsigned dbreq_status(const struct dbreq *d);

/* Forget a recorded fence hit (frees moved_to). */
void dbreq_fence_clear(struct dbreq_fence *f);

#endif
