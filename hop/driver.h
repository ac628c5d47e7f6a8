/*
 * driver: what holds an application's writes during a cutover, one per
 * entry of cutover.servers (hopcfg.h), behind one interface so that
 * cutover.c drives the steps and knows no driver:
 *
 *   preflight            can it be done at all (before anything is held)
 *   pause                new writes wait, running ones finish
 *   switch(dsn)          point at dsn with writes still held; reversible:
 *                        a rollback calls switch(source) again
 *   resume               held writes run wherever the driver points now
 *
 * Kinds: admin_url and admin_dns (minitwitd's admin API: driver_minitwitd.c),
 * pgbouncer (its admin console: driver_pgbouncer.c), command (shell hooks:
 * driver_command.c).  The set functions below call every driver at once
 * (a thread each), each call bounded by cutover.max_hold_ms (resume: 10 s),
 * so the hold does not grow with the number of entries.
 *
 * Only DSNs without a password are ever handed to a driver: the target's
 * is refused at preflight when it holds one, the source's is passed with
 * its password removed (the application's pgpass or PgBouncer's auth_file
 * holds it).
 */
#ifndef DRIVER_H
#define DRIVER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "hopcfg.h"
#include "util.h"

#ifndef MUST_CHECK
#endif

/* What every driver of a cutover shares; owned by the driver_set. */
struct driver_ctx {
	char *source_dsn;	/* the source's DSN, password removed */
	const char *target_dsn;	/* the target's (refused at preflight with a password) */
	const char *token;	/* minitwitd's admin token, or NULL */
	const char *token_env;	/* its variable's name, for messages */
	long max_hold_ms;	/* bound of pause and switch */
};

struct driver;

struct driver_ops {
	const char *kind;	/* the config key naming it: "pgbouncer", ... */
	/* false with the reasons appended to why ("...; ") */
	bool (*preflight)(struct driver *d, struct buf *why);
	bool (*pause)(struct driver *d, long timeout_ms);
	/* dsn is ctx->target_dsn, or ctx->source_dsn to go back: tell them
	 * apart with driver_going_back (the two strings may be equal) */
	bool (*switch_to)(struct driver *d, const char *dsn, long timeout_ms);
	bool (*resume)(struct driver *d, long timeout_ms);
	/* append one JSON object per server to arr (kind, name, switched,
	 * held_ms; optionally released and a "note" for the operator);
	 * max_hold: the longest hold so far, raised to this driver's */
	void (*report)(struct driver *d, json_t *arr, double *max_hold);
	void (*close)(struct driver *d);	/* frees priv */
};

struct driver {
	const struct driver_ops *ops;
	const struct hop_server_cfg *cfg;
	const struct driver_ctx *ctx;
	void *priv;
	bool paused;		/* pause was called (even when it failed) */
	bool switched;		/* switch_to(target) succeeded */
	bool ok;		/* result of the last step */
	double pause_at;	/* monotonic ms when pause began */
	double held_ms;		/* pause to the end of resume */
};

/* switch_to's dsn is the source's (a roll-back), not the target's: by
 * identity, as driver.c passes them, so equal strings and a DSN that did
 * not parse (NULL) cannot be mistaken for each other */
static inline bool driver_going_back(const struct driver *d, const char *dsn)
{
	return dsn == d->ctx->source_dsn;
}

struct driver_set {
	struct driver_ctx ctx;
	struct driver *d;
	size_t n;
};

/* The drivers of cfg's cutover.servers; never fails (nothing is contacted). */
void drivers_open(struct driver_set *s, const struct hop_config *cfg);
void drivers_close(struct driver_set *s);

/* Every driver's preflight, concurrently: false with the reasons in why.
 * Contacts each server but changes nothing. */
MUST_CHECK bool drivers_preflight(struct driver_set *s, struct buf *why);

/* The same for a configuration alone (migrate plan): opens, checks, closes. */
MUST_CHECK bool drivers_check(const struct hop_config *cfg, struct buf *why);

/* Steps on every driver at once; false when any failed (each logged). */
MUST_CHECK bool drivers_pause(struct driver_set *s);
MUST_CHECK bool drivers_switch(struct driver_set *s);	/* to ctx.target_dsn */
MUST_CHECK bool drivers_resume(struct driver_set *s);

/* Undo before the point of no return: every switched driver back to the
 * source, then every paused one resumed; failures are logged. */
void drivers_rollback(struct driver_set *s);

/* One object per server in arr; returns the longest hold in ms. */
double drivers_report(struct driver_set *s, json_t *arr);

/* dsn without its password (keyword/value or URI), as keyword=value;
 * malloc'd, NULL when dsn does not parse. */
char *driver_dsn_without_password(const char *dsn);

/* d->priv, allocated zeroed (size bytes) on first use. */
void *driver_priv(struct driver *d, size_t size);

extern const struct driver_ops driver_minitwitd_ops;	/* admin_url and admin_dns */
extern const struct driver_ops driver_pgbouncer_ops;
extern const struct driver_ops driver_command_ops;

#endif
