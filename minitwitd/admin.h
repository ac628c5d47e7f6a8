/*
 * admin: the cutover admin API, on its own listener (admin.listen,
 * loopback by default), for `migrate` (docs/ARCHITECTURE.md, "The cutover"):
 *
 *   POST /admin/pause   [{"max_hold_ms": N}]  hold new writes (hold.h), wait
 *                       for the running ones: {"paused","held","inflight","waited_ms"}
 *   POST /admin/switch  {"dsn": "..."}  check the new database, move the pool
 *                       there, release the held writes to run there:
 *                       {"switched","database","released","held_ms"}
 *   POST /admin/resume  release the held writes on the current database:
 *                       {"resumed","released","held_ms"}
 *   GET  /admin/status  {"database","paused","held","inflight_writes",
 *                       "paused_ms","max_hold_ms","generation"}
 *
 * Every route needs "Authorization: Bearer <token>" with the token of the
 * environment variable MINITWIT_ADMIN_TOKEN (never a configuration key, so
 * never in a file); compared in constant time.  Without the variable the
 * listener is not started.  Errors are {"error": "..."} with 400 (bad body,
 * a DSN holding a password), 401, 404, 405, 502 (new database unreachable),
 * 503 (new database not ready; shutting down), 504 (writes in flight did
 * not finish within the wait).
 */
#ifndef ADMIN_H
#define ADMIN_H

#include <stdbool.h>

#include "http.h"
#include "util.h"

#define ADMIN_TOKEN_ENV "MINITWIT_ADMIN_TOKEN"

/* The admin listener's routes (route.h), every one ROUTE_CONTROL. */
extern const struct route_entry admin_routes[];
extern const size_t admin_nroutes;

/* Start the admin listener when the token is set; false (logged) when it
 * is set but the listener cannot start.  Call admin_release in any case. */
MUST_CHECK bool admin_start(struct app *app);
/* Stop the listener (after hold_stop: a pause waiting for writes ends). */
void admin_stop(struct app *app);
/* admin_stop, and free what admin_start set up (also when it failed). */
void admin_release(struct app *app);

#endif
