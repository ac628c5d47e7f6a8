/*
 * api_json: the simulator API's request bodies and response documents.
 *
 * Responses are written the way the reference (Flask's jsonify) writes them:
 * compact, keys sorted, non-ASCII as \uXXXX, a trailing newline, so the
 * course simulator and any byte-level comparison see the same text.
 * Parsing is strict: not JSON, not an object, invalid UTF-8, a NUL inside a
 * string or a field of the wrong type are errors with a message for the
 * client (status 400).
 */
#ifndef API_JSON_H
#define API_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "util.h"


struct apijson_register {
	char *username;		/* NULL when missing or null: "" semantics */
	char *email;
	char *pwd;
};

enum apijson_follow_op { APIJSON_FOLLOW, APIJSON_UNFOLLOW };

/* Each parser fills *out (owned by the caller: free the strings with the
 * matching _release) or returns false with a client-facing reason in err. */
MUST_CHECK bool apijson_parse_register(const char *body, size_t len,
				       struct apijson_register *out, struct buf *err);
void apijson_register_release(struct apijson_register *r);

MUST_CHECK bool apijson_parse_message(const char *body, size_t len, char **content,
				      struct buf *err);

MUST_CHECK bool apijson_parse_follow(const char *body, size_t len,
				     enum apijson_follow_op *op, char **name, struct buf *err);

/* {"error_msg":"...","status":N}\n */
void apijson_error(struct buf *out, int status, const char *msg);
/* {"latest":N}\n */
void apijson_latest(struct buf *out, int64_t latest);

/* A message list is written incrementally: begin, item..., end. */
void apijson_msgs_begin(struct buf *out);
void apijson_msgs_item(struct buf *out, bool first, const char *content, size_t content_len,
		       const char *pub_date, const char *user, size_t user_len);
void apijson_msgs_end(struct buf *out);

/* {"follows":[...]}\n, likewise */
void apijson_follows_begin(struct buf *out);
void apijson_follows_item(struct buf *out, bool first, const char *name, size_t len);
void apijson_follows_end(struct buf *out);

#endif
