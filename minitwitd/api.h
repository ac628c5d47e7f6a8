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

/* Answer req when its path is an API route; false (resp untouched) when
 * the path belongs to someone else (the web UI, or nobody: 404). */
bool api_handle(struct http_req *req, struct http_resp *resp);

/* True when the request target is in the API's part of the path space
 * (/latest, /msgs..., /fllws..., /healthz, /metrics, a non-form POST
 * /register), decided on the raw target so that even a malformed one gets
 * the API's error shape.  Everything else is the web UI's. */
bool api_claims(const struct http_req *req);

/* True when answering req writes to the database: a POST, or ?latest=N
 * (an integer other than -1) on any route but /latest.  The target must
 * have parsed. */
bool api_writes(const struct http_req *req);

/*
 * The password of an API register whose fields pass the checks that come
 * before hashing, into pwd: true when it needs a hash (hashq.h); false for
 * anything that will be answered without one.
 */
bool api_register_password(const struct http_req *req, struct buf *pwd);

/* POST /register is the API's unless the body is a form (the web UI's). */
bool api_wants_register(const struct http_req *req);

/* Fill resp with the JSON error shape. */
void apijson_error_resp(struct http_resp *resp, unsigned status, const char *msg);

#endif
