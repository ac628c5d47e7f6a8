/*
 * pgx: PostgreSQL helpers every program uses: opening a session for a role
 * (its settings, application_name and search_path in one place), with retry
 * and backoff; DSNs masked for logs; result-shape and SQLSTATE checks.
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
#define PGX_INVALID_SCHEMA	"3F000"

/* The same as dsn_mask (lib/dsn.h), the one masker; new code calls that. */
void pgx_mask_dsn(const char *dsn, struct buf *out);

/* Whether dsn gives a password (password=..., or user:password@ in a URI),
 * as libpq parses it; false also for a DSN libpq cannot parse (connecting
 * then says why). */
bool pgx_dsn_has_password(const char *dsn);

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
 * Sessions.  Every PostgreSQL session the programs open goes through
 * pgx_open (the one exception: PgBouncer's admin console, which takes no
 * startup options and no SET; hop/driver_pgbouncer.c).  A session is opened
 * for a role, and the role's settings are applied here, in one place, on
 * the first session and on every reconnect alike:
 *
 *   PGX_APP         minitwitd (its pool, its start-up, the fence's checks of
 *                   a new database).  Settings go in the startup packet
 *                   ("options", as minitwitd has always sent them):
 *                   search_path = pg_catalog, public; client_encoding UTF8;
 *                   plan_cache_mode force_generic_plan (the pool prepares
 *                   each statement once); TCP keepalives; and when
 *                   o->statement_timeout_ms > 0, statement_timeout and
 *                   tcp_user_timeout (statement + connect timeout), so a
 *                   query to a host that vanished ends.
 *   PGX_HOP_SOURCE  sync-fdw and migrate, on the hop's two ends (link --check
 *   PGX_HOP_TARGET  too).  Settings are set after connecting with one
 *                   SELECT pg_catalog.set_config(...) (no "options": a hop's
 *                   DSN may go through PgBouncer, which refuses them;
 *                   set_config works there in session pooling):
 *                   search_path = '' (only pg_catalog, searched implicitly);
 *                   default_transaction_read_only off and
 *                   minitwit.fence_bypass on (a move back writes to a fenced
 *                   old host, sql/hop/fence.sql); DateStyle ISO, MDY,
 *                   IntervalStyle postgres, extra_float_digits 3 (rows read
 *                   and written as text by copy, apply and verify mean the
 *                   same on both ends whatever the databases' defaults, as
 *                   pg_dump does); standard_conforming_strings on (the
 *                   literals the tools generate mean what they say).
 *
 * The search_path rule (CVE-2018-1058, as PostgreSQL's own client tools
 * since): no session of ours looks a name up in a schema another role can
 * create objects in before pg_catalog, and none uses "$user".  The hop's
 * SQL names every object outside pg_catalog with its schema (public.t,
 * sync_fdw.hop, sync_fdw_src.changes), so its sessions search nothing
 * else; minitwitd's queries name their tables unqualified, so its path is
 * pg_catalog first, then the application's schema.
 *
 * application_name: the DSN's own application_name wins; otherwise
 * (fallback_application_name) the program set with pgx_set_program, once
 * from main ("migrate", "sync-fdw", "minitwitd"; "minitwit" when unset).
 */
enum pgx_role {
	PGX_APP,		/* "database" in messages */
	PGX_HOP_SOURCE,		/* "source" */
	PGX_HOP_TARGET,		/* "target" */
};

struct pgx_open_opts {
	int connect_timeout_ms;		/* per attempt, rounded up to seconds; 0 = libpq default */
	int attempts;			/* <= 1: one */
	int backoff_ms;			/* first delay, doubled per attempt, capped at 5 s */
	int statement_timeout_ms;	/* PGX_APP only: 0 = the server's */
	bool *auth_failed;		/* optional: set when the server refused the login */
	struct buf *why;		/* optional: the failure is appended here, not logged */
};

/* The program sessions are named after (application_name); name is kept,
 * not copied.  Call once from main, before any pgx_open. */
void pgx_set_program(const char *name);

/*
 * Open a session to conninfo for role, retrying with exponential backoff,
 * and apply the role's settings (above).  Returns a connection in
 * CONNECTION_OK state, or NULL after logging the last error with the DSN
 * masked ("could not connect to target \"...\": ..."), or appending it to
 * o->why.  A refused login (pgx_auth_failure_text) is not retried.  A
 * session whose settings cannot be applied is closed, and that failure
 * (logged: "prepare the source session failed: ...") is not retried.  The
 * caller owns the connection (PQfinish).
 */
MUST_CHECK PGconn *pgx_open(enum pgx_role role, const char *conninfo, const struct pgx_open_opts *o);

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
/* The statement named a table, or a table's schema, that does not exist
 * (undefined_table or invalid_schema_name): "not there yet", not a failure. */
bool pgx_undefined(const PGresult *r);

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
