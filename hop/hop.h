/*
 * hop: one move of data from a source database to a target, the context
 * every stage shares (sync-fdw and migrate drive it): the configuration,
 * direct connections to both ends, the plan, and the names used on the
 * target.  The stages live in plan.c, tschema.c, link.c, capture.c,
 * copy.c, apply.c, cutover.c and verify.c (finish is link.c's link_drop
 * with capture.c's capture_remove); which stage a hop is at, and which may
 * follow, is stage.h's alone.
 */
#ifndef HOP_H
#define HOP_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>

#include "buf.h"
#include "embedded.h"
#include "hopcfg.h"
#include "plan.h"
#include "util.h"


extern const struct embedded_file hop_sql[];
extern const unsigned hop_sql_count;

struct hop {
	const struct hop_config *cfg;
	PGconn *src;			/* NULL when not needed */
	PGconn *tgt;
	struct hop_plan plan;
	bool planned;
	char *staging;			/* link.schema: the source's tables as foreign tables */
	char *cdc;			/* <staging>_cdc: the source's change log, through the link */
	char *server;			/* link.server */
	struct buf server_lit;		/* 'server' as an SQL literal */
	char *source_masked;		/* for the ledger and messages */
	char *target_masked;
};

enum hop_need { HOP_TARGET = 1, HOP_SOURCE = 2, HOP_PLAN = 4 };

/* Connect to what need asks for and build the plan; false (logged) on error. */
MUST_CHECK bool hop_open(struct hop *h, const struct hop_config *cfg, int need);
void hop_close(struct hop *h);

/* Another session to the source (!target) or the target, prepared as
 * hop_open's are (pgx_open's hop roles: settings, search_path, pgx.h);
 * NULL (logged) when it cannot connect. */
MUST_CHECK PGconn *hop_connect(const struct hop *h, bool target);

/* Build the plan again (after the target's schema changed).  false
 * (logged) when a database could not be read: then h->plan is empty and
 * h->planned false. */
MUST_CHECK bool hop_replan(struct hop *h);

/*
 * Load the configuration for a program: path as given (--config), or
 * config/migration.yaml when it exists, else defaults and environment.
 * Sets the log level.  false (logged) on a bad configuration.
 */
MUST_CHECK bool hop_config_load(const char *path, bool given, struct hop_config *cfg);

/* --print-config: load it as hop_config_load does and write the settings
 * in effect to out as YAML, every secret masked (hopcfg_print).  false
 * (logged) on a bad configuration. */
MUST_CHECK bool hop_config_print(const char *path, bool given, FILE *out);

/* Text of an embedded SQL file (sql/hop/NAME); aborts if missing (a build bug). */
const char *hop_sql_text(const char *name);

/* Run SQL on c; false (logged with what) on error. */
MUST_CHECK bool hop_exec(PGconn *c, const char *sql, const char *what);
/* End c's open transaction, if any, with ROLLBACK (c may be NULL). */
void hop_rollback(PGconn *c);

/*
 * Run DDL that locks live tables (CREATE/DROP TRIGGER) in its own
 * transaction with a short lock_timeout, retrying when the lock is not
 * granted or a deadlock is found: a live application keeps running, it is
 * never stalled behind a waiting DDL for more than the timeout.
 */
MUST_CHECK bool hop_exec_ddl(PGconn *c, const char *sql, const char *what);

/* The plan must be free of problems: false with each problem logged (a
 * line saying how many, then each as its own message). */
MUST_CHECK bool hop_plan_ok(const struct hop *h);

/* Create the target's state schema (idempotent). */
MUST_CHECK bool hop_state_init(struct hop *h);

/* Record a problem on the hop row so that status can show it. */
void hop_record_error(struct hop *h, const char *msg);

/* true when the hop row exists on the target. */
MUST_CHECK bool hop_exists(struct hop *h, bool *exists);

#endif
