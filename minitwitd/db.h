/*
 * db: minitwitd's pool of PostgreSQL connections.
 *
 * Each connection has every statement of the caller's table prepared.  A
 * request takes a connection with db_acquire (waiting at most the acquire
 * timeout), runs prepared statements, and gives it back with db_release.
 *
 * Failure model: a connection found dead before use is replaced, so a
 * restart of PostgreSQL costs no request that was not already running; when
 * the server cannot be reached the pool fails fast (no connection storm) for
 * a short back-off and requests get 503; it recovers by itself.
 *
 * Moving (cutover): db_pool_switch replaces the DSN under the lock and bumps
 * both the generation (every connection is reopened: idle ones are closed
 * at once, those in use when they are released) and the epoch (the number
 * of DSN changes).  A connection remembers the epoch it was opened for, so
 * that requests that all hit the old database's fence switch once.
 */
#ifndef DB_H
#define DB_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "util.h"


/* What a statement does to the database, for retrying a request on another
 * one (dbreq.h): a request whose DB_STMT_WRITE succeeded is never re-run. */
enum db_stmt_kind {
	DB_STMT_READ = 0,
	DB_STMT_IDEMPOTENT,	/* writes, but running it twice is the same as once */
	DB_STMT_WRITE,		/* writes something a second run would write again */
};

struct db_stmt {
	const char *name;
	const char *sql;
	int nparams;
	enum db_stmt_kind kind;
};

struct db_conn {
	PGconn *pg;
	unsigned generation;	/* pool generation it was opened for */
	unsigned epoch;		/* pool epoch (DSN) it was opened for */
	bool in_use;
};

struct db_stats {
	unsigned in_use, waiting, size;
	unsigned generation, epoch;
	uint64_t connects, connect_failures, acquire_timeouts, switches;
};

struct db_pool {
	pthread_mutex_t lock;
	pthread_cond_t freed;
	struct db_conn *conns;
	unsigned size;
	unsigned in_use, waiting;
	unsigned generation;		/* bumped when every connection must reopen */
	unsigned epoch;			/* bumped when the DSN changes */
	char *dsn;			/* current target (no password) */
	const struct db_stmt *stmts;
	unsigned nstmts;
	int connect_timeout_ms;
	int acquire_timeout_ms;
	int statement_timeout_ms;
	int64_t down_until_ms;		/* monotonic; fail fast until then */
	int backoff_ms;
	uint64_t connects, connect_failures, acquire_timeouts, switches;
};

enum db_acquire_status { DB_OK, DB_TIMEOUT, DB_UNAVAILABLE };

struct db_pool_config {
	const char *dsn;
	unsigned size;
	int connect_timeout_ms;
	int acquire_timeout_ms;
	int statement_timeout_ms;
};

/* Set up the pool (opens no connection yet).  stmts must outlive the pool. */
MUST_CHECK bool db_pool_init(struct db_pool *p, const struct db_pool_config *cfg,
			     const struct db_stmt *stmts, unsigned nstmts);
void db_pool_release(struct db_pool *p);

/* Change timeouts (SIGHUP). */
void db_pool_set_timeouts(struct db_pool *p, int connect_ms, int acquire_ms, int statement_ms);

/*
 * Take a live connection with every statement prepared.  Returns NULL with
 * *st = DB_TIMEOUT when all were busy for the acquire timeout, or
 * DB_UNAVAILABLE when PostgreSQL cannot be reached.
 */
MUST_CHECK struct db_conn *db_acquire(struct db_pool *p, enum db_acquire_status *st);

/* Give a connection back; broken = it failed in use and must be reopened. */
void db_release(struct db_pool *p, struct db_conn *c, bool broken);

/* Run prepared statement number i of the table with text parameters. */
PGresult *db_run(struct db_conn *c, const struct db_pool *p, unsigned i, const char *const *params,
		 const int *lengths);

void db_pool_stats(struct db_pool *p, struct db_stats *out);

/*
 * Point the pool at dsn (no password in it), unless if_epoch is not 0 and
 * the pool's epoch is no longer if_epoch (someone switched it already:
 * returns false, nothing changed).  Idle connections are closed now, those
 * in use when released; the next acquire opens on dsn.  true when switched.
 */
bool db_pool_switch(struct db_pool *p, const char *dsn, unsigned if_epoch);

/* The current DSN masked for logs and answers, appended to out. */
void db_pool_masked_dsn(struct db_pool *p, struct buf *out);

/* The current epoch (see db_pool_switch). */
unsigned db_pool_epoch(struct db_pool *p);

#endif
