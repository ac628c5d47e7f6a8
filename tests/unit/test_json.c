/*
 * Unit tests for minitwitd/api_json.c (links only it, lib/buf.c, lib/utf8.c
 * and jansson).
 *
 * Request parsing must be strict (a body the reference would choke on is a
 * 400 with a reason, never a half-filled struct); responses must be the
 * bytes Flask's jsonify writes: compact, keys sorted, \uXXXX for non-ASCII,
 * a trailing newline.  Parsed strings live in a heap-allocated state that
 * teardown frees, so a failing assertion leaks nothing under ASan/valgrind.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_json.h"
#include "buf.h"
#include "banned.h"

/* A string literal and its length, embedded NULs included. */
#define LIT(s) s, sizeof(s) - 1

struct jstate {
	struct apijson_register reg;
	char *content;
	char *name;
	struct buf err;
	struct buf out;
};

static int js_setup(void **state)
{
	struct jstate *s = calloc(1, sizeof *s);
	if (!s)
		return -1;
	*state = s;
	return 0;
}

static int js_teardown(void **state)
{
	struct jstate *s = *state;
	apijson_register_release(&s->reg);
	free(s->content);
	free(s->name);
	buf_release(&s->err);
	buf_release(&s->out);
	free(s);
	return 0;
}

#define TEST(fn) cmocka_unit_test_setup_teardown(fn, js_setup, js_teardown)

static const char MSG_NOT_OBJECT[] = "request body must be a JSON object";
static const char INVALID_PREFIX[] = "invalid JSON: ";

/* Forget what the previous case left behind. */
static void js_reset(struct jstate *s)
{
	apijson_register_release(&s->reg);
	free(s->content);
	s->content = NULL;
	free(s->name);
	s->name = NULL;
	buf_reset(&s->err);
	buf_reset(&s->out);
}

static void check_bytes(const struct buf *b, const char *want, size_t n, const char *what)
{
	if (b->len != n || !b->data || memcmp(b->data, want, n) != 0) {
		print_error("%s: got (%zu bytes) \"%s\", want (%zu bytes) \"%s\"\n", what,
			    b->len, buf_str(b), n, want);
		fail();
	}
}

#define check_out(b, lit) check_bytes((b), LIT(lit), #lit)

static void check_err_prefix(const struct buf *err, const char *prefix, const char *body)
{
	if (err->len == 0) {
		print_error("body %s: no reason given in err\n", body);
		fail();
	}
	if (strncmp(buf_str(err), prefix, strlen(prefix)) != 0) {
		print_error("body %s: err \"%s\" does not start with \"%s\"\n", body,
			    buf_str(err), prefix);
		fail();
	}
}

static void check_err(const struct buf *err, const char *want, const char *body)
{
	if (strcmp(buf_str(err), want) != 0) {
		print_error("body %s: err \"%s\", want \"%s\"\n", body, buf_str(err), want);
		fail();
	}
}

static void check_reg_empty(const struct apijson_register *r)
{
	assert_null(r->username);
	assert_null(r->email);
	assert_null(r->pwd);
}

/* Bodies every parser must refuse, with the start of the expected reason. */
struct bad_body {
	const char *body;
	size_t len;
	const char *err_prefix;
};

#define BAD(body, prefix) { LIT(body), prefix }

static const struct bad_body bad_bodies[] = {
	{ "", 0, MSG_NOT_OBJECT },
	/* not an object */
	BAD("[]", MSG_NOT_OBJECT),
	BAD("[{\"username\":\"a\"}]", MSG_NOT_OBJECT),
	/* a scalar at the top: jansson itself refuses it (no JSON_DECODE_ANY),
	 * so either reason will do, as long as there is one */
	BAD("\"x\"", ""),
	BAD("1", ""),
	BAD("null", ""),
	BAD("true", ""),
	/* not JSON */
	BAD(" ", INVALID_PREFIX),
	BAD("{", INVALID_PREFIX),
	BAD("}", INVALID_PREFIX),
	BAD("{\"a\":}", INVALID_PREFIX),
	BAD("{\"a\" 1}", INVALID_PREFIX),
	BAD("{'a':'b'}", INVALID_PREFIX),
	BAD("{a:1}", INVALID_PREFIX),
	BAD("{\"a\":1,}", INVALID_PREFIX),
	BAD("{\"a\":01}", INVALID_PREFIX),
	BAD("{\"a\":NaN}", INVALID_PREFIX),
	BAD("{} x", INVALID_PREFIX),
	BAD("{}{}", INVALID_PREFIX),
	BAD("{\"a\":\"unterminated}", INVALID_PREFIX),
	BAD("{\"a\":\"\\x41\"}", INVALID_PREFIX),
	BAD("{\"a\":\"tab\there\"}", INVALID_PREFIX),	/* raw control char */
	BAD("username=a&pwd=b", INVALID_PREFIX),
	/* invalid UTF-8, in values and keys */
	BAD("{\"username\":\"\xff\"}", INVALID_PREFIX),
	BAD("{\"content\":\"\xc0\xaf\"}", INVALID_PREFIX),
	BAD("{\"follow\":\"\xed\xa0\x80\"}", INVALID_PREFIX),
	BAD("{\"follow\":\"\xf4\x90\x80\x80\"}", INVALID_PREFIX),
	BAD("{\"follow\":\"\xe2\x82\"}", INVALID_PREFIX),
	BAD("{\"\xff\":\"a\"}", INVALID_PREFIX),
	/* NUL inside a string, escaped or raw */
	BAD("{\"username\":\"a\\u0000b\"}", INVALID_PREFIX),
	BAD("{\"content\":\"\\u0000\"}", INVALID_PREFIX),
	BAD("{\"follow\":\"a\\u0000\"}", INVALID_PREFIX),
	BAD("{\"unfollow\":\"\\u0000\"}", INVALID_PREFIX),
	BAD("{\"a\\u0000\":1}", INVALID_PREFIX),
	BAD("{\"content\":\"a\0b\"}", INVALID_PREFIX),
	BAD("{}\0", INVALID_PREFIX),
	/* lone surrogate escapes are not Unicode */
	BAD("{\"content\":\"\\ud800\"}", INVALID_PREFIX),
	BAD("{\"content\":\"\\udc00\"}", INVALID_PREFIX),
	/* duplicate keys, used or not */
	BAD("{\"username\":\"a\",\"username\":\"b\"}", INVALID_PREFIX),
	BAD("{\"content\":\"a\",\"content\":\"b\"}", INVALID_PREFIX),
	BAD("{\"follow\":\"a\",\"follow\":\"b\"}", INVALID_PREFIX),
	BAD("{\"unfollow\":\"a\",\"unfollow\":\"a\"}", INVALID_PREFIX),
	BAD("{\"x\":1,\"x\":1}", INVALID_PREFIX),
};
#define NBAD (sizeof bad_bodies / sizeof *bad_bodies)

/* ---- apijson_parse_register -------------------------------------------- */

static void test_register_good(void **state)
{
	struct jstate *s = *state;
	const char body[] = "{\"username\": \"Roger Histand\", \"email\": \"r@h.dk\", "
			    "\"pwd\": \"s3cr\\\"et\"}";
	assert_true(apijson_parse_register(LIT(body), &s->reg, &s->err));
	assert_string_equal(s->reg.username, "Roger Histand");
	assert_string_equal(s->reg.email, "r@h.dk");
	assert_string_equal(s->reg.pwd, "s3cr\"et");
	assert_int_equal(s->err.len, 0);
}

static void test_register_unicode(void **state)
{
	struct jstate *s = *state;
	const char body[] = "{\"username\":\"caf\\u00e9\",\"email\":\"\xc3\xa9@x\","
			    "\"pwd\":\"\\ud83d\\ude00\\n\\\\\"}";
	assert_true(apijson_parse_register(LIT(body), &s->reg, &s->err));
	assert_string_equal(s->reg.username, "caf\xc3\xa9");
	assert_string_equal(s->reg.email, "\xc3\xa9@x");
	assert_string_equal(s->reg.pwd, "\xf0\x9f\x98\x80\n\\");
}

static void test_register_extra_and_order(void **state)
{
	/* unknown fields are ignored; order does not matter */
	struct jstate *s = *state;
	const char body[] = "{\"pwd\":\"p\",\"extra\":[1,{\"a\":null}],\"email\":\"e\","
			    "\"username\":\"u\",\"latest\":5}";
	assert_true(apijson_parse_register(LIT(body), &s->reg, &s->err));
	assert_string_equal(s->reg.username, "u");
	assert_string_equal(s->reg.email, "e");
	assert_string_equal(s->reg.pwd, "p");
}

static void test_register_missing_and_null(void **state)
{
	struct jstate *s = *state;

	assert_true(apijson_parse_register(LIT("{}"), &s->reg, &s->err));
	check_reg_empty(&s->reg);
	js_reset(s);

	assert_true(apijson_parse_register(LIT(" { } \n"), &s->reg, &s->err));
	check_reg_empty(&s->reg);
	js_reset(s);

	assert_true(apijson_parse_register(LIT("{\"username\":null,\"email\":null,\"pwd\":null}"),
					   &s->reg, &s->err));
	check_reg_empty(&s->reg);
	js_reset(s);

	assert_true(apijson_parse_register(LIT("{\"username\":\"u\",\"pwd\":null}"), &s->reg,
					   &s->err));
	assert_string_equal(s->reg.username, "u");
	assert_null(s->reg.email);
	assert_null(s->reg.pwd);
	js_reset(s);

	assert_true(apijson_parse_register(LIT("{\"username\":\"\",\"email\":\"\",\"pwd\":\"\"}"),
					   &s->reg, &s->err));
	assert_string_equal(s->reg.username, "");
	assert_string_equal(s->reg.email, "");
	assert_string_equal(s->reg.pwd, "");
}

static void test_register_wrong_types(void **state)
{
	static const struct {
		const char *body;
		const char *err;
	} cases[] = {
		{ "{\"username\":1}", "\"username\" must be a string" },
		{ "{\"username\":1.5}", "\"username\" must be a string" },
		{ "{\"username\":true}", "\"username\" must be a string" },
		{ "{\"username\":false}", "\"username\" must be a string" },
		{ "{\"username\":[]}", "\"username\" must be a string" },
		{ "{\"username\":[\"a\"]}", "\"username\" must be a string" },
		{ "{\"username\":{}}", "\"username\" must be a string" },
		{ "{\"username\":\"u\",\"email\":5}", "\"email\" must be a string" },
		{ "{\"username\":\"u\",\"email\":\"e\",\"pwd\":0}", "\"pwd\" must be a string" },
		{ "{\"email\":\"e\",\"pwd\":{\"x\":\"y\"}}", "\"pwd\" must be a string" },
		{ "{\"username\":\"u\",\"email\":\"e\",\"pwd\":[]}", "\"pwd\" must be a string" },
	};
	struct jstate *s = *state;
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		js_reset(s);
		bool ok = apijson_parse_register(cases[i].body, strlen(cases[i].body), &s->reg,
						 &s->err);
		if (ok) {
			print_error("body %s: accepted\n", cases[i].body);
			fail();
		}
		check_err(&s->err, cases[i].err, cases[i].body);
		check_reg_empty(&s->reg);	/* nothing half-filled */
	}
}

static void test_register_bad_bodies(void **state)
{
	struct jstate *s = *state;
	for (size_t i = 0; i < NBAD; i++) {
		js_reset(s);
		bool ok = apijson_parse_register(bad_bodies[i].body, bad_bodies[i].len, &s->reg,
						 &s->err);
		if (ok) {
			print_error("bad body %zu %s: accepted\n", i, bad_bodies[i].body);
			fail();
		}
		check_err_prefix(&s->err, bad_bodies[i].err_prefix, bad_bodies[i].body);
		check_reg_empty(&s->reg);
	}
}

static void test_register_len_bound(void **state)
{
	/* only body[0..len) is read: trailing bytes past len do not count */
	struct jstate *s = *state;
	const char body[] = "{\"username\":\"a\"}garbage";
	assert_true(apijson_parse_register(body, strlen("{\"username\":\"a\"}"), &s->reg,
					   &s->err));
	assert_string_equal(s->reg.username, "a");
	js_reset(s);

	/* and a body cut short is invalid even if the buffer goes on */
	assert_false(apijson_parse_register(body, 10, &s->reg, &s->err));
	check_err_prefix(&s->err, INVALID_PREFIX, "cut short");
	check_reg_empty(&s->reg);
}

static void test_register_err_appends(void **state)
{
	/* err is appended to, not replaced */
	struct jstate *s = *state;
	buf_adds(&s->err, "ctx: ");
	assert_false(apijson_parse_register(LIT("[]"), &s->reg, &s->err));
	check_err(&s->err, "ctx: request body must be a JSON object", "[]");
}

static void test_register_release_twice(void **state)
{
	struct jstate *s = *state;
	assert_true(apijson_parse_register(LIT("{\"username\":\"u\",\"email\":\"e\",\"pwd\":\"p\"}"),
					   &s->reg, &s->err));
	apijson_register_release(&s->reg);
	check_reg_empty(&s->reg);
	apijson_register_release(&s->reg);
	check_reg_empty(&s->reg);

	struct apijson_register zero;
	memset(&zero, 0, sizeof zero);
	apijson_register_release(&zero);
	apijson_register_release(&zero);
}

/* ---- apijson_parse_message --------------------------------------------- */

static void test_message_good(void **state)
{
	struct jstate *s = *state;
	assert_true(apijson_parse_message(LIT("{\"content\":\"hello\"}"), &s->content, &s->err));
	assert_string_equal(s->content, "hello");
	assert_int_equal(s->err.len, 0);
	js_reset(s);

	assert_true(apijson_parse_message(LIT("{\"content\":\"<b>caf\\u00e9</b> \\ud83d\\ude00\","
					      "\"latest\":3}"),
					  &s->content, &s->err));
	assert_string_equal(s->content, "<b>caf\xc3\xa9</b> \xf0\x9f\x98\x80");
	js_reset(s);

	assert_true(apijson_parse_message(LIT("{\"content\":\"\"}"), &s->content, &s->err));
	assert_string_equal(s->content, "");
}

static void test_message_missing_null_wrong(void **state)
{
	static const struct {
		const char *body;
		const char *err;
	} cases[] = {
		{ "{}", "\"content\" is required" },
		{ "{\"contents\":\"x\"}", "\"content\" is required" },
		{ "{\"Content\":\"x\"}", "\"content\" is required" },
		{ "{\"content\":null}", "\"content\" is required" },
		{ "{\"content\":5}", "\"content\" must be a string" },
		{ "{\"content\":true}", "\"content\" must be a string" },
		{ "{\"content\":[\"x\"]}", "\"content\" must be a string" },
		{ "{\"content\":{\"text\":\"x\"}}", "\"content\" must be a string" },
	};
	struct jstate *s = *state;
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		js_reset(s);
		bool ok = apijson_parse_message(cases[i].body, strlen(cases[i].body), &s->content,
						&s->err);
		if (ok) {
			print_error("body %s: accepted\n", cases[i].body);
			fail();
		}
		check_err(&s->err, cases[i].err, cases[i].body);
		assert_null(s->content);
	}
}

static void test_message_bad_bodies(void **state)
{
	struct jstate *s = *state;
	for (size_t i = 0; i < NBAD; i++) {
		js_reset(s);
		bool ok = apijson_parse_message(bad_bodies[i].body, bad_bodies[i].len, &s->content,
						&s->err);
		if (ok) {
			print_error("bad body %zu %s: accepted\n", i, bad_bodies[i].body);
			fail();
		}
		check_err_prefix(&s->err, bad_bodies[i].err_prefix, bad_bodies[i].body);
		assert_null(s->content);
	}
}

/* ---- apijson_parse_follow ---------------------------------------------- */

static void test_follow_good(void **state)
{
	struct jstate *s = *state;
	enum apijson_follow_op op = APIJSON_UNFOLLOW;

	assert_true(apijson_parse_follow(LIT("{\"follow\":\"bob\"}"), &op, &s->name, &s->err));
	assert_int_equal(op, APIJSON_FOLLOW);
	assert_string_equal(s->name, "bob");
	assert_int_equal(s->err.len, 0);
	js_reset(s);

	op = APIJSON_FOLLOW;
	assert_true(apijson_parse_follow(LIT("{\"unfollow\":\"Roger Histand\"}"), &op, &s->name,
					 &s->err));
	assert_int_equal(op, APIJSON_UNFOLLOW);
	assert_string_equal(s->name, "Roger Histand");
	js_reset(s);

	assert_true(apijson_parse_follow(LIT("{\"follow\":\"caf\\u00e9\",\"latest\":1}"), &op,
					 &s->name, &s->err));
	assert_int_equal(op, APIJSON_FOLLOW);
	assert_string_equal(s->name, "caf\xc3\xa9");
}

static void test_follow_precedence(void **state)
{
	/* the reference looks at "follow" first, whatever the key order */
	struct jstate *s = *state;
	enum apijson_follow_op op = APIJSON_UNFOLLOW;

	assert_true(apijson_parse_follow(LIT("{\"follow\":\"a\",\"unfollow\":\"b\"}"), &op,
					 &s->name, &s->err));
	assert_int_equal(op, APIJSON_FOLLOW);
	assert_string_equal(s->name, "a");
	js_reset(s);

	op = APIJSON_UNFOLLOW;
	assert_true(apijson_parse_follow(LIT("{\"unfollow\":\"b\",\"follow\":\"a\"}"), &op,
					 &s->name, &s->err));
	assert_int_equal(op, APIJSON_FOLLOW);
	assert_string_equal(s->name, "a");
	js_reset(s);

	/* "follow" present but null still selects follow, which then has no name */
	assert_false(apijson_parse_follow(LIT("{\"follow\":null,\"unfollow\":\"b\"}"), &op,
					  &s->name, &s->err));
	check_err(&s->err, "\"follow\" must be a user name", "follow null + unfollow");
	assert_null(s->name);
	js_reset(s);

	/* and a bad "unfollow" does not matter when "follow" is good */
	assert_true(apijson_parse_follow(LIT("{\"unfollow\":5,\"follow\":\"a\"}"), &op,
					 &s->name, &s->err));
	assert_int_equal(op, APIJSON_FOLLOW);
	assert_string_equal(s->name, "a");
}

static void test_follow_errors(void **state)
{
	static const struct {
		const char *body;
		const char *err;
	} cases[] = {
		{ "{}", "expected \"follow\" or \"unfollow\"" },
		{ "{\"Follow\":\"a\"}", "expected \"follow\" or \"unfollow\"" },
		{ "{\"follows\":\"a\"}", "expected \"follow\" or \"unfollow\"" },
		{ "{\"latest\":3}", "expected \"follow\" or \"unfollow\"" },
		{ "{\"follow\":null}", "\"follow\" must be a user name" },
		{ "{\"unfollow\":null}", "\"unfollow\" must be a user name" },
		{ "{\"follow\":1}", "\"follow\" must be a string" },
		{ "{\"follow\":true}", "\"follow\" must be a string" },
		{ "{\"follow\":[\"a\"]}", "\"follow\" must be a string" },
		{ "{\"follow\":{}}", "\"follow\" must be a string" },
		{ "{\"unfollow\":1}", "\"unfollow\" must be a string" },
		{ "{\"unfollow\":[]}", "\"unfollow\" must be a string" },
		{ "{\"follow\":5,\"unfollow\":\"b\"}", "\"follow\" must be a string" },
	};
	struct jstate *s = *state;
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		js_reset(s);
		enum apijson_follow_op op = APIJSON_FOLLOW;
		bool ok = apijson_parse_follow(cases[i].body, strlen(cases[i].body), &op, &s->name,
					       &s->err);
		if (ok) {
			print_error("body %s: accepted\n", cases[i].body);
			fail();
		}
		check_err(&s->err, cases[i].err, cases[i].body);
		assert_null(s->name);
	}
}

static void test_follow_bad_bodies(void **state)
{
	struct jstate *s = *state;
	for (size_t i = 0; i < NBAD; i++) {
		js_reset(s);
		enum apijson_follow_op op = APIJSON_FOLLOW;
		bool ok = apijson_parse_follow(bad_bodies[i].body, bad_bodies[i].len, &op,
					       &s->name, &s->err);
		if (ok) {
			print_error("bad body %zu %s: accepted\n", i, bad_bodies[i].body);
			fail();
		}
		check_err_prefix(&s->err, bad_bodies[i].err_prefix, bad_bodies[i].body);
		assert_null(s->name);
	}
}

static void test_follow_name_cleared(void **state)
{
	/* *name is NULL after a failure even if the caller left junk in it */
	struct jstate *s = *state;
	static char junk[] = "junk";
	enum apijson_follow_op op;
	char *name = junk;
	assert_false(apijson_parse_follow(LIT("nope"), &op, &name, &s->err));
	assert_null(name);
	name = junk;
	assert_false(apijson_parse_follow(LIT("{}"), &op, &name, &s->err));
	assert_null(name);
}

static void test_follow_empty_name(void **state)
{
	/* an empty string is a (nonexistent) user name, not a missing one */
	struct jstate *s = *state;
	enum apijson_follow_op op = APIJSON_UNFOLLOW;
	assert_true(apijson_parse_follow(LIT("{\"follow\":\"\"}"), &op, &s->name, &s->err));
	assert_int_equal(op, APIJSON_FOLLOW);
	assert_string_equal(s->name, "");
}

/* ---- response writers -------------------------------------------------- */

static void test_error_doc(void **state)
{
	struct jstate *s = *state;
	apijson_error(&s->out, 403, "You are not authorized to use this resource!");
	check_out(&s->out,
		  "{\"error_msg\":\"You are not authorized to use this resource!\",\"status\":403}\n");
	buf_reset(&s->out);

	apijson_error(&s->out, 400, "");
	check_out(&s->out, "{\"error_msg\":\"\",\"status\":400}\n");
	buf_reset(&s->out);

	apijson_error(&s->out, 400, "bad \"x\"\\y\n\xc3\xa9\xf0\x9f\x98\x80\x7f");
	check_out(&s->out, "{\"error_msg\":\"bad \\\"x\\\"\\\\y\\n\\u00e9\\ud83d\\ude00\\u007f\","
			   "\"status\":400}\n");
	buf_reset(&s->out);

	apijson_error(&s->out, 404, "<script>&</script>");
	check_out(&s->out, "{\"error_msg\":\"<script>&</script>\",\"status\":404}\n");
}

static void test_latest_doc(void **state)
{
	static const struct {
		int64_t v;
		const char *want;
	} cases[] = {
		{ 1337, "{\"latest\":1337}\n" },
		{ 0, "{\"latest\":0}\n" },
		{ -1, "{\"latest\":-1}\n" },
		{ INT64_MAX, "{\"latest\":9223372036854775807}\n" },
		{ INT64_MIN, "{\"latest\":-9223372036854775808}\n" },
	};
	struct jstate *s = *state;
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		buf_reset(&s->out);
		apijson_latest(&s->out, cases[i].v);
		check_bytes(&s->out, cases[i].want, strlen(cases[i].want), cases[i].want);
	}
}

static void test_msgs_doc(void **state)
{
	struct jstate *s = *state;

	apijson_msgs_begin(&s->out);
	apijson_msgs_end(&s->out);
	check_out(&s->out, "[]\n");
	buf_reset(&s->out);

	apijson_msgs_begin(&s->out);
	apijson_msgs_item(&s->out, true, LIT("x"), "123", LIT("a"));
	apijson_msgs_end(&s->out);
	check_out(&s->out, "[{\"content\":\"x\",\"pub_date\":123,\"user\":\"a\"}]\n");
	buf_reset(&s->out);

	apijson_msgs_begin(&s->out);
	apijson_msgs_item(&s->out, true, LIT("hello \"world\""), "1700000000",
			  LIT("Roger Histand"));
	apijson_msgs_item(&s->out, false, LIT("caf\xc3\xa9 \xf0\x9f\x98\x80\n\\"), "0",
			  LIT("\xc3\xa9mile"));
	apijson_msgs_item(&s->out, false, LIT(""), "-5", LIT(""));
	apijson_msgs_end(&s->out);
	check_out(&s->out,
		  "[{\"content\":\"hello \\\"world\\\"\",\"pub_date\":1700000000,"
		  "\"user\":\"Roger Histand\"},"
		  "{\"content\":\"caf\\u00e9 \\ud83d\\ude00\\n\\\\\",\"pub_date\":0,"
		  "\"user\":\"\\u00e9mile\"},"
		  "{\"content\":\"\",\"pub_date\":-5,\"user\":\"\"}]\n");
}

static void test_msgs_null_date(void **state)
{
	/* a NULL pub_date column (NULL or "" from libpq) is JSON null */
	struct jstate *s = *state;
	apijson_msgs_begin(&s->out);
	apijson_msgs_item(&s->out, true, LIT("a"), NULL, LIT("u"));
	apijson_msgs_item(&s->out, false, LIT("b"), "", LIT("v"));
	apijson_msgs_end(&s->out);
	check_out(&s->out, "[{\"content\":\"a\",\"pub_date\":null,\"user\":\"u\"},"
			   "{\"content\":\"b\",\"pub_date\":null,\"user\":\"v\"}]\n");
}

static void test_msgs_lengths(void **state)
{
	/* content and user are taken by length: NUL and trailing bytes */
	struct jstate *s = *state;
	apijson_msgs_begin(&s->out);
	apijson_msgs_item(&s->out, true, "abcdef", 3, "7", "userXYZ", 4);
	apijson_msgs_end(&s->out);
	check_out(&s->out, "[{\"content\":\"abc\",\"pub_date\":7,\"user\":\"user\"}]\n");
}

static void test_follows_doc(void **state)
{
	struct jstate *s = *state;

	apijson_follows_begin(&s->out);
	apijson_follows_end(&s->out);
	check_out(&s->out, "{\"follows\":[]}\n");
	buf_reset(&s->out);

	apijson_follows_begin(&s->out);
	apijson_follows_item(&s->out, true, LIT("b"));
	apijson_follows_item(&s->out, false, LIT("c"));
	apijson_follows_end(&s->out);
	check_out(&s->out, "{\"follows\":[\"b\",\"c\"]}\n");
	buf_reset(&s->out);

	apijson_follows_begin(&s->out);
	apijson_follows_item(&s->out, true, LIT("Roger Histand"));
	apijson_follows_item(&s->out, false, LIT("\xc3\xa9\"q\\"));
	apijson_follows_item(&s->out, false, LIT("\xf0\x9f\x98\x80"));
	apijson_follows_item(&s->out, false, LIT(""));
	apijson_follows_end(&s->out);
	check_out(&s->out, "{\"follows\":[\"Roger Histand\",\"\\u00e9\\\"q\\\\\","
			   "\"\\ud83d\\ude00\",\"\"]}\n");
	buf_reset(&s->out);

	apijson_follows_begin(&s->out);
	apijson_follows_item(&s->out, true, "bobby", 3);
	apijson_follows_end(&s->out);
	check_out(&s->out, "{\"follows\":[\"bob\"]}\n");
}

static void test_writers_append(void **state)
{
	/* writers append to what the buffer holds */
	struct jstate *s = *state;
	buf_adds(&s->out, "HDR|");
	apijson_latest(&s->out, 7);
	apijson_error(&s->out, 401, "x");
	check_out(&s->out, "HDR|{\"latest\":7}\n{\"error_msg\":\"x\",\"status\":401}\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		TEST(test_register_good),
		TEST(test_register_unicode),
		TEST(test_register_extra_and_order),
		TEST(test_register_missing_and_null),
		TEST(test_register_wrong_types),
		TEST(test_register_bad_bodies),
		TEST(test_register_len_bound),
		TEST(test_register_err_appends),
		TEST(test_register_release_twice),
		TEST(test_message_good),
		TEST(test_message_missing_null_wrong),
		TEST(test_message_bad_bodies),
		TEST(test_follow_good),
		TEST(test_follow_precedence),
		TEST(test_follow_errors),
		TEST(test_follow_bad_bodies),
		TEST(test_follow_name_cleared),
		TEST(test_follow_empty_name),
		TEST(test_error_doc),
		TEST(test_latest_doc),
		TEST(test_msgs_doc),
		TEST(test_msgs_null_date),
		TEST(test_msgs_lengths),
		TEST(test_follows_doc),
		TEST(test_writers_append),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
