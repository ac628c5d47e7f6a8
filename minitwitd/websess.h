/*
 * websess: the web UI's server-side sessions.
 *
 * A session is a row of web_session (sql/schema/002_web.sql) found by the
 * SHA-256 of a random 256-bit token that only the browser holds, in the
 * cookie "minitwit_session" (HttpOnly, SameSite=Lax, Path=/, Secure when
 * configured).  Rows live in the database so that sessions survive a
 * restart, are shared by every minitwitd on it and move with the data.
 *
 * CSRF: every session has its own random CSRF token, put in every form
 * (and in the follow/unfollow links) and compared in constant time on
 * every state-changing request.  The sign-in and sign-up forms need one
 * before anybody is signed in; showing them stores nothing: the visitor
 * gets a random *nonce* in the same cookie, and the form's token is an
 * HMAC-SHA-256 of the nonce under a random key of this process
 * (websess_init), so a crawler or a flood of GET /login creates no rows.
 * Such a token is only as good as the cookie: one planted from a sibling
 * domain together with its token (fetched by the attacker) would pass, as
 * with any signed double-submit cookie; the browser headers (csrf.h) still
 * refuse such a post from another site unless it carries that token, and
 * the worst it can do is sign the victim in as the attacker.  After a
 * restart, or on another replica, the token no longer matches and the
 * headers alone decide.  An anonymous *row* (user_id NULL, short TTL) is
 * created only to carry a flash across a redirect for a signed-out visitor
 * ("You were logged out").  Signing in replaces the anonymous session or
 * nonce by a new session (new token, new CSRF token), so a token planted
 * before sign-in (session fixation) is worthless afterwards.
 */
#ifndef WEBSESS_H
#define WEBSESS_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "dbreq.h"
#include "util.h"


#define WEBSESS_COOKIE "minitwit_session"
#define WEBSESS_TOKEN_LEN 43	/* 32 random bytes as unpadded base64url */

struct websess {
	int64_t id;		/* session_id; 0: no session */
	int64_t user_id;	/* 0: anonymous */
	char *username;		/* signed-in user's name; NULL when anonymous */
	char csrf[WEBSESS_TOKEN_LEN + 1];
	char *flashes;		/* pending flashes as a JSON array; NULL when none */
	bool nonce;		/* no row: csrf is derived from the cookie's nonce */
};

/* Make this process's key for anonymous form tokens; call once at start. */
void websess_init(void);
/* No row for s: a form token from a nonce (the cookie's value) into s. */
void websess_anonymous(struct websess *s, const char *nonce);

/* ---- pure helpers (unit-tested) ---- */

/* A new random token (the session's or a CSRF token). */
void websess_random_token(char out[WEBSESS_TOKEN_LEN + 1]);
/* The session token in a Cookie header; false when absent or malformed. */
bool websess_cookie_token(const char *cookie_header, char out[WEBSESS_TOKEN_LEN + 1]);
/* The Set-Cookie value for token, kept max_age_s seconds. */
void websess_set_cookie(struct buf *b, const char *token, int64_t max_age_s, bool secure);
/* True when given is the session's CSRF token (constant time). */
bool websess_csrf_ok(const struct websess *s, const char *given);

/* ---- database; each false means d->err says why (nothing changed) ---- */

/* Find the live session of a Cookie header (may be NULL); s->id is 0 when
 * there is none (no cookie, unknown or expired token); for a well-formed
 * cookie without a row, s is anonymous with that nonce (websess_anonymous). */
MUST_CHECK bool websess_load(struct dbreq *d, const char *cookie_header, int64_t now,
			     struct websess *s);
/* Create a session for user_id (0: anonymous) lasting ttl_s, holding flash
 * (may be NULL); fills *s and token_out (for the cookie). */
MUST_CHECK bool websess_create(struct dbreq *d, int64_t user_id, const char *username,
			       const char *flash, int64_t ttl_s, int64_t now, struct websess *s,
			       char token_out[WEBSESS_TOKEN_LEN + 1]);
/* Delete s's row (sign-out, sign-in replacing it); s becomes empty. */
MUST_CHECK bool websess_delete(struct dbreq *d, struct websess *s);
/* Queue a flash message for the next page. */
MUST_CHECK bool websess_flash(struct dbreq *d, const struct websess *s, const char *msg);
/* Take the pending flashes (s->flashes becomes them, or NULL). */
MUST_CHECK bool websess_pop_flashes(struct dbreq *d, struct websess *s);

void websess_release(struct websess *s);

#endif
