/*
 * pgx: PostgreSQL helpers every program uses: connecting with retry and
 * backoff, DSNs masked for logs, result-shape and SQLSTATE checks.
 *
 * Errors are logged once, here, with the DSN masked; callers pass false/NULL up.
 */
#ifndef PGX_H
#define PGX_H

#include <stdbool.h>
#include <libpq-fe.h>

#include "buf.h"
#include "util.h"


/* SQLSTATEs we recognise by code, never by message text (docs/STYLE.md rule 9). */
#define PGX_UNIQUE_VIOLATION	"23505"
#define PGX_FOREIGN_KEY_VIOLATION "23503"
#define PGX_READ_ONLY_TXN	"25006"
#define PGX_QUERY_CANCELED	"57014"
#define PGX_ADMIN_SHUTDOWN	"57P01"
#define PGX_CRASH_SHUTDOWN	"57P02"
#define PGX_CANNOT_CONNECT_NOW	"57P03"
#define PGX_DUPLICATE_OBJECT	"42710"
#define PGX_UNDEFINED_TABLE	"42P01"

/* The same as dsn_mask (lib/dsn.h), the one masker; new code calls that. */
void pgx_mask_dsn(const char *dsn, struct buf *out);

/* Whether dsn gives a password (password=..., or user:password@ in a URI),
 * as libpq parses it; false also for a DSN libpq cannot parse (connecting
 * then says why). */
bool pgx_dsn_has_password(const char *dsn);

struct pgx_connect_opts {
	const char *what;		/* "database", "source", "target": for messages */
	const char *application_name;	/* fallback_application_name */
	int connect_timeout_s;		/* per attempt; 0 = libpq default */
	int attempts;			/* >= 1 */
	int backoff_ms;			/* first delay, doubled per attempt, capped at 5 s */
	bool *auth_failed;		/* optional: set when the server refused the login */
};

/*
 * True when an error message from libpq or a server (also one relayed by
 * postgres_fdw) says the login was refused: wrong or missing password, no
 * pg_hba.conf entry, unknown role.  Such a failure is final: retrying
 * cannot fix it and may lock the role out on a managed service.
 */
bool pgx_auth_failure_text(const char *msg);

/* The same for a result: SQLSTATE 28P01 / 28000, or a relayed login
 * refusal in its message or detail. */
bool pgx_auth_failure(const PGresult *r);

/*
 * Connect to dsn, retrying with exponential backoff.  Returns a connection
 * in CONNECTION_OK state, or NULL after logging the last error (with the DSN
 * masked).  A refused login (pgx_auth_failure_text) is not retried.  The
 * caller owns the connection (PQfinish).
 */
MUST_CHECK PGconn *pgx_connect(const char *dsn, const struct pgx_connect_opts *opts);

/*
 * Check a result's status and shape; NULL r counts as failure.  nrows / ncols
 * of -1 accept any count.  On mismatch logs "<what>: expected 1 row and 2
 * columns, got 0 and 2" or the server's error (with SQLSTATE) and returns false.
 */
MUST_CHECK bool pgx_check(const PGresult *r, ExecStatusType expect, int nrows,
			  int ncols, const char *what);

/* Log a failed result: "<what> failed: <message> (SQLSTATE xxxxx)". */
void pgx_log_failure(const PGresult *r, const char *what);

/* The result's SQLSTATE, "" when none (e.g. NULL result). */
const char *pgx_sqlstate(const PGresult *r);
bool pgx_sqlstate_is(const PGresult *r, const char *code);

/*
 * True when a failed result means the connection (or the server) is gone and
 * the caller should reconnect: CONNECTION_BAD, class 08, 57P01..57P03.
 */
bool pgx_conn_lost(const PGconn *c, const PGresult *r);

/* Send the server's NOTICEs to the debug log instead of stderr. */
void pgx_quiet_notices(PGconn *c);

/* Run a command with no parameters and expect PGRES_COMMAND_OK or TUPLES_OK. */
MUST_CHECK bool pgx_exec(PGconn *c, const char *sql, const char *what);

/*
 * True when the idle connection c is still usable: polls its socket without
 * blocking and consumes anything the server sent (a termination notice after
 * a restart).  A connection found dead this way was never given a query, so
 * retrying on a fresh one cannot run anything twice.
 */
bool pgx_idle_alive(PGconn *c);

#endif
