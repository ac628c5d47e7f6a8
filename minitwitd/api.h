/*
 * api: the course simulator's API (the reference minitwit_sim_api.py, with
 * its crashes turned into proper 4xx answers), /healthz and /metrics.
 */
#ifndef API_H
#define API_H

#include "db.h"
#include "http.h"

#define API_METRICS_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* The Prometheus text of /metrics, appended to out. */
void api_metrics_text(struct app *app, struct buf *out);

/*
 * The API's part of the main listener: /latest, /register (a POST that is
 * not a form), /msgs..., /fllws..., /healthz, /metrics.  Its table is
 * api.c's api_routes; the web UI answers every other target.
 */
extern const struct http_frontend api_frontend;

/* api_routes' flags (struct route_entry.flags): the row stores ?latest=N
 * before anything else; it needs the simulator's Authorization. */
enum { API_LATEST = 1, API_AUTH = 2 };

/* Fill resp with the JSON error shape. */
void apijson_error_resp(struct http_resp *resp, unsigned status, const char *msg);

#endif
