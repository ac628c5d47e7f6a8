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
 */
#ifndef DB_H
#define DB_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define MUST_CHECK __attribute__((warn_unused_result))

struct db_stmt {
	const char *name;
	const char *sql;
	int nparams;
};

struct db_conn {
	PGconn *pg;
	unsigned generation;	/* pool generation it was opened for */
	bool in_use;
};

struct db_stats {
	unsigned in_use, waiting, size;
	uint64_t connects, connect_failures, acquire_timeouts;
};

struct db_pool {
	pthread_mutex_t lock;
	pthread_cond_t freed;
	struct db_conn *conns;
	unsigned size;
	unsigned in_use, waiting;
	unsigned generation;
	char *dsn;			/* current target (no password) */
	const struct db_stmt *stmts;
	unsigned nstmts;
	int connect_timeout_ms;
	int acquire_timeout_ms;
	int statement_timeout_ms;
	int64_t down_until_ms;		/* monotonic; fail fast until then */
	int backoff_ms;
	uint64_t connects, connect_failures, acquire_timeouts;
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

#endif
