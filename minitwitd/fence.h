/*
 * fence: following a database that has moved (the cutover of
 * docs/ARCHITECTURE.md).
 *
 * At cutover `migrate` fences the old database: a schema minitwit_fence with
 * a table moved_to (dsn text, at timestamptz) naming the new database (its
 * DSN without a password), BEFORE statement triggers on every table that
 * raise SQLSTATE MT001, and default_transaction_read_only for new sessions
 * (writes there fail with 25006).  minitwitd never writes to a fenced
 * database: it follows moved_to at start, before schema migrations, and
 * when a statement hits the fence at runtime (dbreq.h, http.c).  The same
 * switch serves POST /admin/switch (admin.h).
 */
#ifndef FENCE_H
#define FENCE_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "buf.h"
#include "db.h"
#include "pgx.h"

#define FENCE_MAX_HOPS 8

/*
 * Where the database behind c says it moved: true with *dsn the newest
 * moved_to row (malloc'd), or NULL when it has not moved (no fence schema,
 * or no row); false (logged) when moved_to could not be read.  c must be
 * idle; it stays usable.
 */
MUST_CHECK bool fence_moved_to(PGconn *c, char **dsn);

/*
 * Start-up: c is connected to dsn.  Follow moved_to (up to FENCE_MAX_HOPS,
 * refusing a loop), connecting with co, and return a connection to the
 * final database with *final_dsn its DSN (malloc'd).  Takes c (returned or
 * closed); NULL (logged) on failure.
 */
MUST_CHECK PGconn *fence_follow(PGconn *c, const char *dsn, const struct pgx_open_opts *co,
				char **final_dsn);

/*
 * The hosts minitwitd may follow the database to (database.allowed_hosts):
 * a switch or a moved_to naming any other host is refused before
 * connecting, since libpq answers the new host's password request with
 * whatever PGPASSWORD or pgpass holds.  allowed is a comma-separated list
 * of host names, addresses or socket directories; empty (or NULL) means
 * the hosts of base_dsn (database.dsn) only.  Ports are not checked: a
 * cutover may move to another cluster of the same host.  Both strings must
 * stay valid while switches can happen (they are not copied).
 */
void fence_set_allowed_hosts(const char *allowed, const char *base_dsn);
/*
 * Whether every host dsn names (each of host and hostaddr; libpq's default
 * when none) is allowed; false with why saying which is not.
 */
bool fence_host_allowed(const char *dsn, struct buf *why);

enum fence_result {
	FENCE_SWITCHED,		/* the pool points at the new database */
	FENCE_UNREACHABLE,	/* could not connect to it */
	FENCE_NOT_READY,	/* connected, but its schema is not this build's, or it is read-only */
	FENCE_MOVED,		/* it is fenced too (and follow was false) */
	FENCE_REFUSED,		/* a loop or too many hops */
	FENCE_FORBIDDEN,	/* on a host database.allowed_hosts does not list (not connected) */
};

/*
 * Move the pool to dsn once a connection to it proved it can serve: its
 * schema_migrations match this build (schema_check), it is not read-only
 * and has not moved itself (with follow, its moved_to is followed instead,
 * up to FENCE_MAX_HOPS).  With if_epoch not 0, nothing is done when the
 * pool already left that epoch (another request switched it first:
 * FENCE_SWITCHED).  Switches are serialised.  On failure the pool is
 * unchanged and why says what failed (also logged).
 */
enum fence_result fence_switch(struct db_pool *p, const char *dsn, unsigned if_epoch, bool follow,
			       int connect_timeout_ms, struct buf *why);

#endif
