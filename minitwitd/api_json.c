/*
 * api_json: request parsing and response writing for the simulator API;
 * see api_json.h.
 */
#include "api_json.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

/* Parse body as a JSON object; NULL with err set otherwise. */
static json_t *load_object(const char *body, size_t len, struct buf *err)
{
	json_error_t je;
	if (len == 0) {
		buf_adds(err, "request body must be a JSON object");
		return NULL;
	}
	/* jansson validates UTF-8 and refuses \u0000 unless JSON_ALLOW_NUL */
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		buf_addf(err, "invalid JSON: %s at line %d column %d", je.text, je.line, je.column);
		return NULL;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		buf_adds(err, "request body must be a JSON object");
		return NULL;
	}
	return root;
}

/* A string field: missing or null gives *out = NULL; any other non-string
 * type is an error. */
static bool get_string(json_t *obj, const char *key, char **out, struct buf *err)
{
	json_t *v = json_object_get(obj, key);
	*out = NULL;
	if (!v || json_is_null(v))
		return true;
	if (!json_is_string(v)) {
		buf_addf(err, "\"%s\" must be a string", key);
		return false;
	}
	*out = strdup(json_string_value(v));
	if (!*out)
		abort();
	return true;
}

bool apijson_parse_register(const char *body, size_t len, struct apijson_register *out,
			    struct buf *err)
{
	memset(out, 0, sizeof *out);
	json_t *root = load_object(body, len, err);
	bool ok = root && get_string(root, "username", &out->username, err) &&
		  get_string(root, "email", &out->email, err) &&
		  get_string(root, "pwd", &out->pwd, err);
	json_decref(root);
	if (!ok)
		apijson_register_release(out);
	return ok;
}

void apijson_register_release(struct apijson_register *r)
{
	free(r->username);
	free(r->email);
	free(r->pwd);
	memset(r, 0, sizeof *r);
}

bool apijson_parse_message(const char *body, size_t len, char **content, struct buf *err)
{
	*content = NULL;
	json_t *root = load_object(body, len, err);
	bool ok = root && get_string(root, "content", content, err);
	if (ok && !*content) {
		buf_adds(err, "\"content\" is required");
		ok = false;
	}
	json_decref(root);
	return ok;
}

bool apijson_parse_follow(const char *body, size_t len, enum apijson_follow_op *op, char **name,
			  struct buf *err)
{
	*name = NULL;
	json_t *root = load_object(body, len, err);
	if (!root)
		return false;
	bool ok = false;
	/* the reference looks at "follow" first */
	if (json_object_get(root, "follow")) {
		*op = APIJSON_FOLLOW;
		ok = get_string(root, "follow", name, err);
	} else if (json_object_get(root, "unfollow")) {
		*op = APIJSON_UNFOLLOW;
		ok = get_string(root, "unfollow", name, err);
	} else {
		buf_adds(err, "expected \"follow\" or \"unfollow\"");
	}
	if (ok && !*name) {
		buf_addf(err, "\"%s\" must be a user name",
			 *op == APIJSON_FOLLOW ? "follow" : "unfollow");
		ok = false;
	}
	json_decref(root);
	return ok;
}

void apijson_error(struct buf *out, int status, const char *msg)
{
	buf_adds(out, "{\"error_msg\":");
	buf_add_json_ascii(out, msg, strlen(msg));
	buf_addf(out, ",\"status\":%d}\n", status);
}

void apijson_latest(struct buf *out, int64_t latest)
{
	buf_adds(out, "{\"latest\":");
	buf_add_int(out, latest);
	buf_adds(out, "}\n");
}

void apijson_msgs_begin(struct buf *out)
{
	buf_addc(out, '[');
}

void apijson_msgs_item(struct buf *out, bool first, const char *content, size_t content_len,
		       const char *pub_date, const char *user, size_t user_len)
{
	if (!first)
		buf_addc(out, ',');
	buf_adds(out, "{\"content\":");
	buf_add_json_ascii(out, content, content_len);
	buf_adds(out, ",\"pub_date\":");
	/* pub_date is an integer column: text form is already a JSON number */
	buf_adds(out, pub_date && *pub_date ? pub_date : "null");
	buf_adds(out, ",\"user\":");
	buf_add_json_ascii(out, user, user_len);
	buf_addc(out, '}');
}

void apijson_msgs_end(struct buf *out)
{
	buf_adds(out, "]\n");
}

void apijson_follows_begin(struct buf *out)
{
	buf_adds(out, "{\"follows\":[");
}

void apijson_follows_item(struct buf *out, bool first, const char *name, size_t len)
{
	if (!first)
		buf_addc(out, ',');
	buf_add_json_ascii(out, name, len);
}

void apijson_follows_end(struct buf *out)
{
	buf_adds(out, "]}\n");
}
