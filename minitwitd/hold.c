/*
 * hold: held write requests; see hold.h.
 */
#include "hold.h"

#include <errno.h>
#include <microhttpd.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "util.h"
#include "banned.h"

static struct timespec abs_time(int64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
	return ts;
}

/* Under the lock: unpause and take the held list. */
static struct hold_waiter *take_all(struct hold *h, unsigned *n, int64_t *held_ms)
{
	struct hold_waiter *list = h->head;
	*n = h->nheld;
	*held_ms = h->paused ? mono_ms() - h->paused_at_ms : 0;
	h->head = h->tail = NULL;
	h->nheld = 0;
	h->paused = false;
	pthread_cond_broadcast(&h->changed);
	return list;
}

/* Without the lock: resume each connection.  Once resumed, a request may
 * finish (and its waiter be freed) at once: read next first. */
static void resume_list(struct hold_waiter *w)
{
	while (w) {
		struct hold_waiter *next = w->next;
		MHD_resume_connection(w->conn);
		w = next;
	}
}

static void *timer_main(void *arg)
{
	struct hold *h = arg;
	pthread_mutex_lock(&h->lock);
	while (!h->quit) {
		if (!h->paused) {
			pthread_cond_wait(&h->changed, &h->lock);
			continue;
		}
		int64_t deadline = h->paused_at_ms + h->max_hold_ms;
		if (mono_ms() < deadline) {
			struct timespec ts = abs_time(deadline);
			pthread_cond_timedwait(&h->changed, &h->lock, &ts);
			continue;
		}
		unsigned n;
		int64_t held_ms;
		int64_t max = h->max_hold_ms;
		struct hold_waiter *list = take_all(h, &n, &held_ms);
		h->auto_resumes++;
		pthread_mutex_unlock(&h->lock);
		log_warn("writes were held for %lld ms, longer than max_hold (%lld ms): resuming on the "
			 "current database and releasing %u held requests",
			 (long long)held_ms, (long long)max, n);
		resume_list(list);
		pthread_mutex_lock(&h->lock);
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

bool hold_init(struct hold *h)
{
	memset(h, 0, sizeof *h);
	pthread_mutex_init(&h->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&h->changed, &ca);
	pthread_condattr_destroy(&ca);
	int rc = pthread_create(&h->timer, NULL, timer_main, h);
	if (rc != 0) {
		log_error("could not start the max_hold timer thread: %s", strerror(rc));
		pthread_cond_destroy(&h->changed);
		pthread_mutex_destroy(&h->lock);
		return false;
	}
	h->timer_started = true;
	return true;
}

void hold_release(struct hold *h)
{
	if (!h->timer_started)
		return;
	pthread_mutex_lock(&h->lock);
	h->quit = true;
	pthread_cond_broadcast(&h->changed);
	pthread_mutex_unlock(&h->lock);
	pthread_join(h->timer, NULL);
	pthread_cond_destroy(&h->changed);
	pthread_mutex_destroy(&h->lock);
	h->timer_started = false;
}

enum hold_decision hold_begin(struct hold *h, struct hold_waiter *w, struct MHD_Connection *conn,
			      bool count)
{
	enum hold_decision d = HOLD_RUN;
	pthread_mutex_lock(&h->lock);
	if (w->refused || h->refuse_new) {
		d = HOLD_REFUSED;
	} else if (h->paused) {
		/* suspended under the lock, before it is on the list: a release
		 * (which resumes what it takes from the list) can never resume a
		 * connection that is not suspended yet */
		MHD_suspend_connection(conn);
		w->conn = conn;
		w->next = NULL;
		if (h->tail)
			h->tail->next = w;
		else
			h->head = w;
		h->tail = w;
		h->nheld++;
		h->held_total++;
		d = HOLD_HELD;
	} else if (count) {
		h->inflight++;
	}
	pthread_mutex_unlock(&h->lock);
	return d;
}

void hold_end(struct hold *h)
{
	pthread_mutex_lock(&h->lock);
	if (h->inflight && --h->inflight == 0)
		pthread_cond_broadcast(&h->changed);
	pthread_mutex_unlock(&h->lock);
}

void hold_dropped(struct hold *h)
{
	pthread_mutex_lock(&h->lock);
	h->dropped++;
	pthread_mutex_unlock(&h->lock);
}

static void status_locked(struct hold *h, struct hold_status *st)
{
	st->paused = h->paused;
	st->held = h->nheld;
	st->inflight = h->inflight;
	st->paused_ms = h->paused ? mono_ms() - h->paused_at_ms : 0;
	st->max_hold_ms = h->max_hold_ms;
}

bool hold_pause(struct hold *h, int64_t max_hold_ms, int64_t wait_ms, struct hold_status *st,
		int64_t *waited_ms)
{
	int64_t t0 = mono_ms();
	pthread_mutex_lock(&h->lock);
	if (h->stopping) {
		pthread_mutex_unlock(&h->lock);
		return false;
	}
	if (!h->paused) {
		h->paused = true;
		h->paused_at_ms = t0;
		h->pauses++;
	}
	h->max_hold_ms = max_hold_ms;	/* a second pause sets a new bound from the first */
	pthread_cond_broadcast(&h->changed);	/* the timer learns the deadline */
	struct timespec deadline = abs_time(t0 + wait_ms);
	while (h->inflight > 0 && h->paused && !h->stopping) {
		if (pthread_cond_timedwait(&h->changed, &h->lock, &deadline) == ETIMEDOUT)
			break;
	}
	status_locked(h, st);
	pthread_mutex_unlock(&h->lock);
	*waited_ms = mono_ms() - t0;
	return true;
}

unsigned hold_resume(struct hold *h, int64_t *held_ms)
{
	unsigned n;
	pthread_mutex_lock(&h->lock);
	struct hold_waiter *list = take_all(h, &n, held_ms);
	pthread_mutex_unlock(&h->lock);
	resume_list(list);
	return n;
}

void hold_stop(struct hold *h)
{
	unsigned n;
	int64_t held_ms;
	pthread_mutex_lock(&h->lock);
	h->stopping = true;
	h->refuse_new = h->paused;
	for (struct hold_waiter *w = h->head; w; w = w->next)
		w->refused = true;
	struct hold_waiter *list = take_all(h, &n, &held_ms);
	pthread_mutex_unlock(&h->lock);
	if (n)
		log_warn("shutting down while writes are held: answering the %u held requests 503", n);
	resume_list(list);
}

void hold_get_status(struct hold *h, struct hold_status *st)
{
	pthread_mutex_lock(&h->lock);
	status_locked(h, st);
	pthread_mutex_unlock(&h->lock);
}

void hold_metrics(struct hold *h, struct buf *out)
{
	pthread_mutex_lock(&h->lock);
	bool paused = h->paused;
	unsigned held = h->nheld, inflight = h->inflight;
	uint64_t total = h->held_total, pauses = h->pauses, autos = h->auto_resumes;
	uint64_t dropped = h->dropped;
	pthread_mutex_unlock(&h->lock);
	buf_addf(out,
		 "# HELP minitwit_writes_paused 1 while write requests are held (cutover pause).\n"
		 "# TYPE minitwit_writes_paused gauge\n"
		 "minitwit_writes_paused %d\n"
		 "# HELP minitwit_held_requests Requests held now.\n"
		 "# TYPE minitwit_held_requests gauge\n"
		 "minitwit_held_requests %u\n"
		 "# HELP minitwit_inflight_writes Write requests running now.\n"
		 "# TYPE minitwit_inflight_writes gauge\n"
		 "minitwit_inflight_writes %u\n"
		 "# HELP minitwit_held_requests_total Requests held by a pause.\n"
		 "# TYPE minitwit_held_requests_total counter\n"
		 "minitwit_held_requests_total %llu\n"
		 "# HELP minitwit_pauses_total Pauses (POST /admin/pause while not paused).\n"
		 "# TYPE minitwit_pauses_total counter\n"
		 "minitwit_pauses_total %llu\n"
		 "# HELP minitwit_auto_resumes_total Pauses ended by admin.max_hold.\n"
		 "# TYPE minitwit_auto_resumes_total counter\n"
		 "minitwit_auto_resumes_total %llu\n"
		 "# HELP minitwit_held_dropped_total Held requests not run on release: their client "
		 "had closed the connection.\n"
		 "# TYPE minitwit_held_dropped_total counter\n"
		 "minitwit_held_dropped_total %llu\n",
		 paused ? 1 : 0, held, inflight, (unsigned long long)total, (unsigned long long)pauses,
		 (unsigned long long)autos, (unsigned long long)dropped);
}
