/*
 * web: the MiniTwit web UI (the reference minitwit.py and its templates),
 * served by the same listener as the simulator API: every path the API does
 * not claim (api.h) is the web UI's.
 *
 *   GET  /                    my timeline (signed out: redirect to /public)
 *   GET  /public              public timeline
 *   GET  /<user>              a user's timeline with the follow box
 *   GET  /<user>/follow       /unfollow: signed out 401, unknown 404
 *   POST /add_message         signed out 401
 *   GET|POST /login, /register
 *   GET  /logout
 *   GET  /static/<file>       the stylesheet (static.h)
 *
 * Timelines show 30 messages per page with an "older messages" link
 * (?before=<pub_date>:<message_id>).  State-changing requests check the
 * session's CSRF token (websess.h); failed sign-ins are rate-limited per
 * user name and per client address (ratelimit.h, 429).  Errors are pages
 * with the right status: 400 bad input, 401, 403 CSRF, 404, 405, 429,
 * 503/500 from the database.
 */
#ifndef WEB_H
#define WEB_H

#include <stdbool.h>

#include "http.h"
#include "util.h"

/* Per-process state (the sign-in rate limiters); false when out of memory. */
MUST_CHECK bool web_init(struct app *app);
void web_release(struct app *app);

/* The web UI's part of the main listener: every target the API does not
 * claim (its 404 page included).  Its table is web.c's web_routes. */
extern const struct http_frontend web_frontend;

#endif
