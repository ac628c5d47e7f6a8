/*
 * metrics: see metrics.h.
 */
#include "metrics.h"

#include <stdatomic.h>

#include "banned.h"

static const char *const route_names[MR_COUNT] = {
	"GET /latest", "POST /register", "GET /msgs", "GET /msgs/<user>", "POST /msgs/<user>",
	"GET /fllws/<user>", "POST /fllws/<user>", "GET /healthz", "GET /metrics", "web", "static",
	"admin", "other",
};

/* status codes counted one by one; anything else lands in "other" */
static const unsigned statuses[] = { 200, 204, 302, 304, 400, 401, 403, 404, 405, 413, 429,
				     500, 503 };
#define NSTATUS (sizeof statuses / sizeof statuses[0] + 1)

static const double bucket_s[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
				   0.25, 0.5, 1, 2.5 };
#define NBUCKET (sizeof bucket_s / sizeof bucket_s[0])

static const char *const refusal_names[MREF_COUNT] = {
	"cross-site", "foreign-origin", "null-origin", "foreign-referer", "login-limit-client",
	"login-delay-client-user", "signup-limit-client",
};

static _Atomic uint64_t refusals[MREF_COUNT];
static _Atomic uint64_t counts[MR_COUNT][NSTATUS];
static _Atomic uint64_t buckets[MR_COUNT][NBUCKET + 1];
static _Atomic uint64_t sum_us[MR_COUNT];

void metrics_record(enum metrics_route route, unsigned status, int64_t elapsed_ns)
{
	size_t s = NSTATUS - 1;
	for (size_t i = 0; i < NSTATUS - 1; i++)
		if (statuses[i] == status) {
			s = i;
			break;
		}
	atomic_fetch_add_explicit(&counts[route][s], 1, memory_order_relaxed);
	double secs = (double)elapsed_ns / 1e9;
	size_t b = NBUCKET;
	for (size_t i = 0; i < NBUCKET; i++)
		if (secs <= bucket_s[i]) {
			b = i;
			break;
		}
	atomic_fetch_add_explicit(&buckets[route][b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&sum_us[route], (uint64_t)(elapsed_ns / 1000), memory_order_relaxed);
}

void metrics_refused(enum metrics_refusal why)
{
	atomic_fetch_add_explicit(&refusals[why], 1, memory_order_relaxed);
}

void metrics_render(struct buf *out)
{
	buf_adds(out, "# HELP minitwit_web_refused_total Web requests refused as forged "
		      "(cross-origin, 403) or over a sign-in limit (429), by reason.\n"
		      "# TYPE minitwit_web_refused_total counter\n");
	for (int i = 0; i < MREF_COUNT; i++)
		buf_addf(out, "minitwit_web_refused_total{reason=\"%s\"} %llu\n", refusal_names[i],
			 (unsigned long long)atomic_load_explicit(&refusals[i], memory_order_relaxed));
	buf_adds(out, "# HELP minitwit_requests_total HTTP requests by route and status.\n"
		      "# TYPE minitwit_requests_total counter\n");
	for (int r = 0; r < MR_COUNT; r++)
		for (size_t s = 0; s < NSTATUS; s++) {
			uint64_t n = atomic_load_explicit(&counts[r][s], memory_order_relaxed);
			if (!n)
				continue;
			if (s == NSTATUS - 1)
				buf_addf(out, "minitwit_requests_total{route=\"%s\",status=\"other\"} %llu\n",
					 route_names[r], (unsigned long long)n);
			else
				buf_addf(out, "minitwit_requests_total{route=\"%s\",status=\"%u\"} %llu\n",
					 route_names[r], statuses[s], (unsigned long long)n);
		}
	buf_adds(out, "# HELP minitwit_request_duration_seconds Request latency by route.\n"
		      "# TYPE minitwit_request_duration_seconds histogram\n");
	for (int r = 0; r < MR_COUNT; r++) {
		uint64_t cum = 0;
		for (size_t b = 0; b <= NBUCKET; b++)
			cum += atomic_load_explicit(&buckets[r][b], memory_order_relaxed);
		if (!cum)
			continue;
		uint64_t total = cum;
		cum = 0;
		for (size_t b = 0; b < NBUCKET; b++) {
			cum += atomic_load_explicit(&buckets[r][b], memory_order_relaxed);
			buf_addf(out, "minitwit_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n",
				 route_names[r], bucket_s[b], (unsigned long long)cum);
		}
		buf_addf(out, "minitwit_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n",
			 route_names[r], (unsigned long long)total);
		buf_addf(out, "minitwit_request_duration_seconds_sum{route=\"%s\"} %.6f\n", route_names[r],
			 (double)atomic_load_explicit(&sum_us[r], memory_order_relaxed) / 1e6);
		buf_addf(out, "minitwit_request_duration_seconds_count{route=\"%s\"} %llu\n",
			 route_names[r], (unsigned long long)total);
	}
}
