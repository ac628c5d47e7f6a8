/*
 * webpage: the web UI's HTML, written into a struct buf; no I/O, no
 * database (unit-tested on its own).
 *
 * The pages have the structure of the original MiniTwit templates
 * (layout.html, timeline.html, login.html, register.html): the same
 * headings, navigation, class names (page, navigation, flashes, body,
 * followstatus, twitbox, messages, error, footer) and texts, so that the
 * original's look and tests carry over.  Every string that comes from a
 * user or the database is HTML-escaped here, by the functions that take it
 * as (pointer, length) or plain text; callers never pass pre-built HTML.
 */
#ifndef WEBPAGE_H
#define WEBPAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* What the layout shows around every page. */
struct webpage {
	const char *user;		/* signed-in user's name, NULL when signed out */
	const char *const *flashes;	/* shown once, in ul.flashes */
	size_t nflashes;
	const char *css_href;		/* the stylesheet's versioned URL */
	const char *icon_href;		/* the favicon's, or NULL */
};

/* The document up to the start of div.body; title is text ("Sign In"). */
void webpage_begin(struct buf *b, const struct webpage *p, const char *title);
/* Close div.body, the footer and the document. */
void webpage_end(struct buf *b);

/* A heading h2 with text. */
void webpage_h2(struct buf *b, const char *text);

/* One message of a timeline (call between messages_begin and _end). */
struct webpage_msg {
	const char *username;
	size_t username_len;
	const char *text;
	size_t text_len;
	int64_t pub_date;	/* epoch seconds */
	const char *email;
	size_t email_len;
};
void webpage_messages_begin(struct buf *b);
void webpage_message(struct buf *b, const struct webpage_msg *m);
/* Close ul.messages; with no message, "There's no message so far." */
void webpage_messages_end(struct buf *b, size_t count);
/* The link to the next (older) page: base is a path ("/public", "/" or a
 * user's page, already URL-encoded), then ?before=<pub_date>:<message_id>. */
void webpage_older_link(struct buf *b, const char *base, int64_t pub_date, int64_t message_id);

/* "What's on your mind <user>?" and the form posting to /add_message. */
void webpage_twitbox(struct buf *b, const char *user, const char *csrf, int64_t maxlen);

enum webpage_follow { WEBPAGE_SELF, WEBPAGE_FOLLOWING, WEBPAGE_NOT_FOLLOWING };
/* The follow box of a user's page; links carry the CSRF token. */
void webpage_followstatus(struct buf *b, enum webpage_follow st, const char *profile,
			  const char *csrf);

/* The sign-in / sign-up forms; error may be NULL; values refill the fields. */
void webpage_login_form(struct buf *b, const char *csrf, const char *error, const char *username);
void webpage_register_form(struct buf *b, const char *csrf, const char *error,
			   const char *username, const char *email);

/* A paragraph of text (error pages). */
void webpage_para(struct buf *b, const char *text);

/* ---- pieces, exported for the unit tests and the handlers ---- */

/* Percent-encode s as one path segment (everything but unreserved chars). */
void webpage_add_url_segment(struct buf *b, const char *s, size_t len);
/* "2009-01-30 @ 14:04" (UTC), as the original's datetimeformat. */
void webpage_add_date(struct buf *b, int64_t epoch);
/* https://www.gravatar.com/avatar/<md5 of trimmed, lower-cased email>?d=identicon&s=<size>
 * (HTML-escaped: &amp;). */
void webpage_add_gravatar(struct buf *b, const char *email, size_t len, int size);

#endif
