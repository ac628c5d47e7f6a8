/*
 * hold: holding write requests during a cutover (the admin API's pause,
 * switch and resume; admin.h).
 *
 * A paused server suspends each new write request with
 * MHD_suspend_connection before it touches the database: a held request
 * holds no database connection and no worker thread, and is not refused.
 * Reads go on.  Writes already running are counted (in flight) so that a
 * pause can wait until none is left.  Releasing (switch, resume, or the
 * max_hold timer, which resumes a server paused too long so that a crashed
 * migrate cannot hang the service) resumes every held connection:
 * libmicrohttpd calls the access handler again, which asks hold_begin again
 * and runs the request.
 *
 * Shutdown: hold_stop releases the held requests marked refused (they are
 * answered 503 and never run: a server stopping in the middle of a cutover
 * must not start writes), so that no suspended connection is left when the
 * daemon stops.
 */
#ifndef HOLD_H
#define HOLD_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "util.h"

struct MHD_Connection;

/* One held request (embedded in the request: no allocation). */
struct hold_waiter {
	struct MHD_Connection *conn;
	struct hold_waiter *next;
	bool refused;		/* released by hold_stop: answer 503, do not run */
};

enum hold_decision {
	HOLD_RUN,		/* go on (counted in flight when asked) */
	HOLD_HELD,		/* suspended: return MHD_YES, the handler is called again */
	HOLD_REFUSED,		/* shutting down during a pause: answer 503 */
};

struct hold {
	pthread_mutex_t lock;
	pthread_cond_t changed;		/* in-flight count, pause state, quit */
	bool paused;
	bool stopping;
	bool refuse_new;		/* stopped while paused: new writes get 503 */
	bool quit;			/* the timer thread ends */
	int64_t paused_at_ms;		/* monotonic */
	int64_t max_hold_ms;		/* of the current pause */
	struct hold_waiter *head, *tail;
	unsigned nheld;
	unsigned inflight;
	uint64_t held_total, pauses, auto_resumes;
	uint64_t dropped;		/* released, but the client had closed its connection */
	pthread_t timer;
	bool timer_started;
};

struct hold_status {
	bool paused;
	unsigned held;
	unsigned inflight;
	int64_t paused_ms;		/* how long the current pause has lasted; 0 when not paused */
	int64_t max_hold_ms;
};

/* Set up and start the max_hold timer thread; false (logged) on failure. */
MUST_CHECK bool hold_init(struct hold *h);
/* Stop the timer thread; call hold_stop and stop the daemons first. */
void hold_release(struct hold *h);

/*
 * A write request (count: counted in flight) or a request that hit the old
 * database's fence wants to run: HOLD_HELD when paused (conn was suspended
 * and w queued; must be called from the access handler), HOLD_REFUSED
 * during a shutdown that found the server paused, else HOLD_RUN.
 */
enum hold_decision hold_begin(struct hold *h, struct hold_waiter *w, struct MHD_Connection *conn,
			      bool count);
/* A counted write finished. */
void hold_end(struct hold *h);
/* A released request was not run: its client had gone (counted). */
void hold_dropped(struct hold *h);

/*
 * Pause: hold new writes from now on (for at most max_hold_ms, then the
 * timer resumes), then wait up to wait_ms for the writes in flight.  Fills
 * *st after the wait and *waited_ms.  false when shutting down.
 */
bool hold_pause(struct hold *h, int64_t max_hold_ms, int64_t wait_ms, struct hold_status *st,
		int64_t *waited_ms);
/* Unpause and resume every held request: how many; *held_ms the length of
 * the pause (0 when there was none). */
unsigned hold_resume(struct hold *h, int64_t *held_ms);
/* Shutdown: release every held request as refused; no more holding. */
void hold_stop(struct hold *h);

void hold_get_status(struct hold *h, struct hold_status *st);
/* Append the Prometheus gauges and counters. */
void hold_metrics(struct hold *h, struct buf *out);

#endif
