/*
 * metrics: request counters and latency histograms per route, exposed as
 * Prometheus text on /metrics.  Lock-free (relaxed atomics): recording costs
 * a few increments on the hot path.
 */
#ifndef METRICS_H
#define METRICS_H

#include <stdint.h>

#include "buf.h"

enum metrics_route {
	MR_LATEST, MR_REGISTER, MR_MSGS, MR_MSGS_USER_GET, MR_MSGS_USER_POST,
	MR_FLLWS_GET, MR_FLLWS_POST, MR_HEALTHZ, MR_METRICS, MR_WEB, MR_STATIC, MR_ADMIN,
	MR_OTHER, MR_COUNT
};

void metrics_record(enum metrics_route route, unsigned status, int64_t elapsed_ns);

/* Why the web UI refused a request (403 or 429), counted apart from the
 * per-route status counts so that forged requests and guessing show. */
enum metrics_refusal {
	MREF_CROSS_SITE, MREF_FOREIGN_ORIGIN, MREF_NULL_ORIGIN, MREF_FOREIGN_REFERER,
	MREF_LOGIN_CLIENT, MREF_LOGIN_CLIENT_USER, MREF_SIGNUP_CLIENT, MREF_COUNT
};

void metrics_refused(enum metrics_refusal why);

/* Append the Prometheus exposition; extra gauges are appended by the caller. */
void metrics_render(struct buf *out);

#endif
