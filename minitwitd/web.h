/*
 * web: the MiniTwit web UI (the reference minitwit.py and its templates),
 * served by the same listener as the simulator API: every path the API does
 * not claim (api_claims) is the web UI's.
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

/* Per-process state (the sign-in rate limiters); false when out of memory. */
__attribute__((warn_unused_result)) bool web_init(struct app *app);
void web_release(struct app *app);

/* Answer any request the API did not claim (404 page for unknown paths). */
void web_handle(struct http_req *req, struct http_resp *resp);

/* True when answering req writes to the database in a way a cutover must
 * hold: a POST, or GET /logout, /<user>/follow, /<user>/unfollow.  (Pages
 * that only create a session or take flashes are not held: if they meet
 * the old host's fence they are held then; http.c.) */
bool web_writes(const struct http_req *req);

/*
 * The password of a web sign-up (a form POST /register) whose fields pass
 * the checks that come before hashing, into pwd: true when it needs a hash
 * (hashq.h).  Counts the sign-up against its client's limit (web.signup_limit
 * per web.signup_window): over it, false with req->signup_wait_ms set, and
 * the form is answered 429.
 */
bool web_register_password(struct http_req *req, struct buf *pwd);

/* An error page without session information (shared errors of http.c). */
void web_error_page(struct http_req *req, struct http_resp *resp, unsigned status,
		    const char *detail);

#endif
