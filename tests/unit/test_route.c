/*
 * Unit tests for minitwitd/route.c (links only it, lib/buf.c and lib/utf8.c).
 *
 * Request targets are the raw bytes a client sends, so the cases lean on
 * what a hostile or sloppy client can write: bad or truncated escapes,
 * escapes that decode to invalid UTF-8 or NUL, too many parameters,
 * fragments.  Each test that parses keeps its result in a heap-allocated
 * state released by teardown, so a failing assertion leaks nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "route.h"
#include "banned.h"

struct rstate {
	struct route_target t;
	struct route_params p;
	struct buf b;
};

static int rs_setup(void **state)
{
	struct rstate *s = calloc(1, sizeof *s);
	if (!s)
		return -1;
	*state = s;
	return 0;
}

static int rs_teardown(void **state)
{
	struct rstate *s = *state;
	route_target_release(&s->t);
	route_params_release(&s->p);
	buf_release(&s->b);
	free(s);
	return 0;
}

#define TEST(fn) cmocka_unit_test_setup_teardown(fn, rs_setup, rs_teardown)

static const char *status_name(enum route_status st)
{
	switch (st) {
	case ROUTE_OK: return "ROUTE_OK";
	case ROUTE_BAD_ESCAPE: return "ROUTE_BAD_ESCAPE";
	case ROUTE_BAD_UTF8: return "ROUTE_BAD_UTF8";
	case ROUTE_TOO_MANY: return "ROUTE_TOO_MANY";
	}
	return "?";
}

static void check_status(const char *raw, enum route_status got, enum route_status want)
{
	if (got != want) {
		print_error("\"%s\": got %s, want %s\n", raw, status_name(got), status_name(want));
		fail();
	}
}

/* A target that failed to parse is left empty and can be released. */
static void check_empty_target(const struct route_target *t)
{
	assert_null(t->path);
	assert_int_equal(t->path_len, 0);
	assert_int_equal(t->query.n, 0);
	assert_null(t->query.storage);
}

static void check_param(const struct route_params *p, size_t i, const char *key,
			const char *value)
{
	assert_true(i < p->n);
	assert_string_equal(p->p[i].key, key);
	assert_string_equal(p->p[i].value, value);
	assert_int_equal(p->p[i].value_len, strlen(value));
}

/* ---- route_parse_target ------------------------------------------------ */

static void test_target_basic(void **state)
{
	struct rstate *s = *state;
	const char *raw = "/msgs/Roger%20Histand?no=20&latest=3";
	check_status(raw, route_parse_target(raw, &s->t), ROUTE_OK);
	assert_string_equal(s->t.path, "/msgs/Roger Histand");
	assert_int_equal(s->t.path_len, strlen("/msgs/Roger Histand"));
	assert_int_equal(s->t.query.n, 2);
	check_param(&s->t.query, 0, "no", "20");
	check_param(&s->t.query, 1, "latest", "3");
	assert_string_equal(route_param(&s->t.query, "no"), "20");
	assert_string_equal(route_param(&s->t.query, "latest"), "3");
	assert_null(route_param(&s->t.query, "missing"));
	assert_null(route_param(&s->t.query, "No"));	/* keys are case-sensitive */
	assert_string_equal(route_tail(s->t.path, "/msgs/"), "Roger Histand");
}

static void test_target_no_query(void **state)
{
	struct rstate *s = *state;
	check_status("/public", route_parse_target("/public", &s->t), ROUTE_OK);
	assert_string_equal(s->t.path, "/public");
	assert_int_equal(s->t.path_len, 7);
	assert_int_equal(s->t.query.n, 0);
	assert_null(route_param(&s->t.query, "latest"));
	route_target_release(&s->t);

	check_status("/", route_parse_target("/", &s->t), ROUTE_OK);
	assert_string_equal(s->t.path, "/");
	assert_int_equal(s->t.path_len, 1);
	route_target_release(&s->t);

	check_status("", route_parse_target("", &s->t), ROUTE_OK);
	assert_non_null(s->t.path);
	assert_string_equal(s->t.path, "");
	assert_int_equal(s->t.path_len, 0);
	assert_int_equal(s->t.query.n, 0);
}

static void test_target_empty_query(void **state)
{
	struct rstate *s = *state;
	check_status("/x?", route_parse_target("/x?", &s->t), ROUTE_OK);
	assert_string_equal(s->t.path, "/x");
	assert_int_equal(s->t.query.n, 0);
	route_target_release(&s->t);

	check_status("/x?&&", route_parse_target("/x?&&", &s->t), ROUTE_OK);
	assert_string_equal(s->t.path, "/x");
	assert_int_equal(s->t.query.n, 0);
}

static void test_target_plus(void **state)
{
	/* '+' stays '+' in the path, is a space in the query */
	struct rstate *s = *state;
	const char *raw = "/msgs/a+b?x=a+b&y=%2B&z+z=1";
	check_status(raw, route_parse_target(raw, &s->t), ROUTE_OK);
	assert_string_equal(s->t.path, "/msgs/a+b");
	assert_int_equal(s->t.path_len, 9);
	assert_int_equal(s->t.query.n, 3);
	check_param(&s->t.query, 0, "x", "a b");
	check_param(&s->t.query, 1, "y", "+");
	check_param(&s->t.query, 2, "z z", "1");
	assert_string_equal(route_param(&s->t.query, "z z"), "1");
}

static void test_target_path_escapes(void **state)
{
	static const struct {
		const char *raw;
		const char *path;
	} cases[] = {
		{ "/%41%62", "/Ab" },
		{ "/caf%c3%a9", "/caf\xc3\xa9" },
		{ "/caf%C3%A9", "/caf\xc3\xa9" },
		{ "/caf\xc3\xa9", "/caf\xc3\xa9" },	/* raw UTF-8 is fine too */
		{ "/a%2Fb", "/a/b" },
		{ "/a%2fb", "/a/b" },
		{ "/p%23x", "/p#x" },
		{ "/p%3Fx", "/p?x" },
		{ "/%25", "/%" },
		{ "/%2525", "/%25" },			/* decoded once only */
		{ "/a%20", "/a " },			/* escape right at the end */
		{ "%2F", "/" },
		{ "/%f0%9f%98%80", "/\xf0\x9f\x98\x80" },
	};
	struct rstate *s = *state;
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		check_status(cases[i].raw, route_parse_target(cases[i].raw, &s->t), ROUTE_OK);
		assert_string_equal(s->t.path, cases[i].path);
		assert_int_equal(s->t.path_len, strlen(cases[i].path));
		assert_int_equal(s->t.query.n, 0);
		route_target_release(&s->t);
	}
}

static void test_target_errors(void **state)
{
	static const struct {
		const char *raw;
		enum route_status want;
	} cases[] = {
		{ "/%zz", ROUTE_BAD_ESCAPE },
		{ "/%4", ROUTE_BAD_ESCAPE },
		{ "/%", ROUTE_BAD_ESCAPE },
		{ "%", ROUTE_BAD_ESCAPE },
		{ "/a%", ROUTE_BAD_ESCAPE },
		{ "/a%4?x=1", ROUTE_BAD_ESCAPE },	/* truncated before the query */
		{ "/a%?x=1", ROUTE_BAD_ESCAPE },
		{ "/%g0", ROUTE_BAD_ESCAPE },
		{ "/%0g", ROUTE_BAD_ESCAPE },
		{ "/% 1", ROUTE_BAD_ESCAPE },
		{ "/%-1", ROUTE_BAD_ESCAPE },
		{ "/%+1", ROUTE_BAD_ESCAPE },
		{ "/?%zz=1", ROUTE_BAD_ESCAPE },
		{ "/?a=%zz", ROUTE_BAD_ESCAPE },
		{ "/?a=%4", ROUTE_BAD_ESCAPE },
		{ "/?a=%", ROUTE_BAD_ESCAPE },
		{ "/?a=%&b=1", ROUTE_BAD_ESCAPE },
		{ "/?a=%4&b=1", ROUTE_BAD_ESCAPE },
		{ "/?a=1&b=%", ROUTE_BAD_ESCAPE },
		{ "/?a=1&%", ROUTE_BAD_ESCAPE },
		{ "/?a=%4#f", ROUTE_BAD_ESCAPE },
		{ "/%ff", ROUTE_BAD_UTF8 },
		{ "/%FF", ROUTE_BAD_UTF8 },
		{ "/%00", ROUTE_BAD_UTF8 },
		{ "/a%00b", ROUTE_BAD_UTF8 },
		{ "/%c0%af", ROUTE_BAD_UTF8 },		/* overlong '/' */
		{ "/%ed%a0%80", ROUTE_BAD_UTF8 },	/* surrogate */
		{ "/%f4%90%80%80", ROUTE_BAD_UTF8 },	/* above U+10FFFF */
		{ "/%e2%82", ROUTE_BAD_UTF8 },		/* truncated sequence */
		{ "/%c3", ROUTE_BAD_UTF8 },
		{ "/\xff", ROUTE_BAD_UTF8 },		/* raw invalid byte */
		{ "/\xc3", ROUTE_BAD_UTF8 },
		{ "/?a=%ff", ROUTE_BAD_UTF8 },
		{ "/?a=%00", ROUTE_BAD_UTF8 },
		{ "/?%00=1", ROUTE_BAD_UTF8 },
		{ "/?%ff", ROUTE_BAD_UTF8 },
		{ "/?a=1&b=%e2%82", ROUTE_BAD_UTF8 },
		{ "/?a=\xff", ROUTE_BAD_UTF8 },
	};
	struct rstate *s = *state;
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		check_status(cases[i].raw, route_parse_target(cases[i].raw, &s->t), cases[i].want);
		check_empty_target(&s->t);
		route_target_release(&s->t);	/* safe on a failed parse, twice */
		route_target_release(&s->t);
	}
}

/* "/?k0=0&k1=1&...": n parameters */
static void make_many(struct buf *b, size_t n)
{
	buf_reset(b);
	buf_adds(b, "/m?");
	for (size_t i = 0; i < n; i++)
		buf_addf(b, "%sk%zu=%zu", i ? "&" : "", i, i);
}

static void test_target_too_many(void **state)
{
	struct rstate *s = *state;

	make_many(&s->b, ROUTE_MAX_PARAMS);
	check_status(s->b.data, route_parse_target(s->b.data, &s->t), ROUTE_OK);
	assert_int_equal(s->t.query.n, ROUTE_MAX_PARAMS);
	check_param(&s->t.query, 0, "k0", "0");
	check_param(&s->t.query, ROUTE_MAX_PARAMS - 1, "k31", "31");
	route_target_release(&s->t);

	/* empty pieces are not parameters */
	buf_adds(&s->b, "&&&");
	check_status(s->b.data, route_parse_target(s->b.data, &s->t), ROUTE_OK);
	assert_int_equal(s->t.query.n, ROUTE_MAX_PARAMS);
	route_target_release(&s->t);

	make_many(&s->b, ROUTE_MAX_PARAMS + 1);
	check_status(s->b.data, route_parse_target(s->b.data, &s->t), ROUTE_TOO_MANY);
	check_empty_target(&s->t);

	make_many(&s->b, 200);
	check_status(s->b.data, route_parse_target(s->b.data, &s->t), ROUTE_TOO_MANY);
	check_empty_target(&s->t);
}

static void test_target_fragment(void **state)
{
	struct rstate *s = *state;

	check_status("/p#frag", route_parse_target("/p#frag", &s->t), ROUTE_OK);
	assert_string_equal(s->t.path, "/p");
	assert_int_equal(s->t.path_len, 2);
	assert_int_equal(s->t.query.n, 0);
	route_target_release(&s->t);

	check_status("/p?a=1#frag", route_parse_target("/p?a=1#frag", &s->t), ROUTE_OK);
	assert_string_equal(s->t.path, "/p");
	assert_int_equal(s->t.query.n, 1);
	check_param(&s->t.query, 0, "a", "1");
	route_target_release(&s->t);

	check_status("/p?a=1#x&b=2", route_parse_target("/p?a=1#x&b=2", &s->t), ROUTE_OK);
	assert_int_equal(s->t.query.n, 1);
	check_param(&s->t.query, 0, "a", "1");
	assert_null(route_param(&s->t.query, "b"));
	route_target_release(&s->t);

	/* an invalid escape inside the fragment is not looked at */
	check_status("/p?a=1#%zz", route_parse_target("/p?a=1#%zz", &s->t), ROUTE_OK);
	assert_int_equal(s->t.query.n, 1);
	route_target_release(&s->t);
	check_status("/p#%zz", route_parse_target("/p#%zz", &s->t), ROUTE_OK);
	assert_string_equal(s->t.path, "/p");
	route_target_release(&s->t);

	check_status("/p?#", route_parse_target("/p?#", &s->t), ROUTE_OK);
	assert_int_equal(s->t.query.n, 0);
	route_target_release(&s->t);

	check_status("/p#", route_parse_target("/p#", &s->t), ROUTE_OK);
	assert_string_equal(s->t.path, "/p");
	assert_int_equal(s->t.query.n, 0);
}

static void test_target_fragment_before_query(void **state)
{
	/* RFC 3986: everything after '#' is the fragment, a '?' in it included */
	struct rstate *s = *state;
	const char *raw = "/p#frag?a=1";
	check_status(raw, route_parse_target(raw, &s->t), ROUTE_OK);
	assert_string_equal(s->t.path, "/p");
	assert_null(route_param(&s->t.query, "a"));
	assert_int_equal(s->t.query.n, 0);
}

static void test_target_fragment_before_bad_query(void **state)
{
	/* likewise, a bad escape after '?' inside the fragment is not an error */
	struct rstate *s = *state;
	const char *raw = "/p#frag?a=%zz";
	check_status(raw, route_parse_target(raw, &s->t), ROUTE_OK);
	assert_string_equal(s->t.path, "/p");
	assert_int_equal(s->t.query.n, 0);
}

static void test_target_release_twice(void **state)
{
	struct rstate *s = *state;
	check_status("/a?b=c", route_parse_target("/a?b=c", &s->t), ROUTE_OK);
	route_target_release(&s->t);
	assert_null(s->t.path);
	assert_int_equal(s->t.path_len, 0);
	assert_int_equal(s->t.query.n, 0);
	assert_null(s->t.query.storage);
	route_target_release(&s->t);

	struct route_target zero;
	memset(&zero, 0, sizeof zero);
	route_target_release(&zero);	/* a zeroed target, never parsed */
}

/* ---- route_parse_params (form bodies) ----------------------------------- */

static void test_params_form(void **state)
{
	struct rstate *s = *state;
	const char *body = "username=Roger+Histand&email=r%40h.dk&pwd=p%26w%3Dx+y";
	check_status(body, route_parse_params(body, strlen(body), &s->p), ROUTE_OK);
	assert_int_equal(s->p.n, 3);
	check_param(&s->p, 0, "username", "Roger Histand");
	check_param(&s->p, 1, "email", "r@h.dk");
	check_param(&s->p, 2, "pwd", "p&w=x y");
	assert_string_equal(route_param(&s->p, "pwd"), "p&w=x y");
}

static void test_params_empty(void **state)
{
	struct rstate *s = *state;
	check_status("", route_parse_params("", 0, &s->p), ROUTE_OK);
	assert_int_equal(s->p.n, 0);
	assert_null(route_param(&s->p, ""));
	assert_null(route_param(&s->p, "a"));
	route_params_release(&s->p);

	check_status("&", route_parse_params("&", 1, &s->p), ROUTE_OK);
	assert_int_equal(s->p.n, 0);
}

static void test_params_blank_values(void **state)
{
	struct rstate *s = *state;
	const char *q = "a=&&b";
	check_status(q, route_parse_params(q, strlen(q), &s->p), ROUTE_OK);
	assert_int_equal(s->p.n, 2);
	check_param(&s->p, 0, "a", "");
	check_param(&s->p, 1, "b", "");
	assert_non_null(route_param(&s->p, "a"));
	assert_string_equal(route_param(&s->p, "a"), "");
	assert_string_equal(route_param(&s->p, "b"), "");
	assert_null(route_param(&s->p, "c"));
	assert_null(route_param(&s->p, ""));
	route_params_release(&s->p);

	q = "&a=1&";
	check_status(q, route_parse_params(q, strlen(q), &s->p), ROUTE_OK);
	assert_int_equal(s->p.n, 1);
	check_param(&s->p, 0, "a", "1");
}

static void test_params_keys_without_eq(void **state)
{
	struct rstate *s = *state;
	const char *q = "flag&a=b=c&=v&x=&%3D=%3D&sp%20ace";
	check_status(q, route_parse_params(q, strlen(q), &s->p), ROUTE_OK);
	assert_int_equal(s->p.n, 6);
	check_param(&s->p, 0, "flag", "");
	check_param(&s->p, 1, "a", "b=c");	/* only the first '=' splits */
	check_param(&s->p, 2, "", "v");
	check_param(&s->p, 3, "x", "");
	check_param(&s->p, 4, "=", "=");
	check_param(&s->p, 5, "sp ace", "");
	assert_string_equal(route_param(&s->p, "flag"), "");
	assert_string_equal(route_param(&s->p, ""), "v");
}

static void test_params_first_wins(void **state)
{
	struct rstate *s = *state;
	const char *q = "a=1&b=x&a=2&a=3";
	check_status(q, route_parse_params(q, strlen(q), &s->p), ROUTE_OK);
	assert_int_equal(s->p.n, 4);
	assert_string_equal(route_param(&s->p, "a"), "1");
	check_param(&s->p, 2, "a", "2");
	check_param(&s->p, 3, "a", "3");
	route_params_release(&s->p);

	q = "a&a=2";
	check_status(q, route_parse_params(q, strlen(q), &s->p), ROUTE_OK);
	assert_string_equal(route_param(&s->p, "a"), "");
}

static void test_params_len_bound(void **state)
{
	/* only s[0..len) is parsed; s need not be NUL-terminated there */
	struct rstate *s = *state;
	const char body[] = { 'a', '=', '1', '&', 'b', '=', '2' };
	check_status("a=1&b", route_parse_params(body, 5, &s->p), ROUTE_OK);
	assert_int_equal(s->p.n, 2);
	check_param(&s->p, 0, "a", "1");
	check_param(&s->p, 1, "b", "");
	route_params_release(&s->p);

	check_status("a=1&b=2", route_parse_params(body, sizeof body, &s->p), ROUTE_OK);
	assert_int_equal(s->p.n, 2);
	check_param(&s->p, 1, "b", "2");
	route_params_release(&s->p);

	/* a '%' whose hex digits lie beyond len is truncated */
	const char esc[] = { 'a', '=', '%', '4', '1' };
	check_status("a=%4", route_parse_params(esc, 4, &s->p), ROUTE_BAD_ESCAPE);
	assert_int_equal(s->p.n, 0);
	assert_null(s->p.storage);
	check_status("a=%41", route_parse_params(esc, 5, &s->p), ROUTE_OK);
	check_param(&s->p, 0, "a", "A");
}

static void test_params_embedded_nul(void **state)
{
	/* a raw NUL byte inside the given length is invalid, like %00 */
	struct rstate *s = *state;
	const char body[] = { 'a', '=', 'x', '\0', 'y' };
	check_status("a=x\\0y", route_parse_params(body, sizeof body, &s->p), ROUTE_BAD_UTF8);
	assert_int_equal(s->p.n, 0);
	assert_null(s->p.storage);
}

static void test_params_errors(void **state)
{
	static const struct {
		const char *q;
		enum route_status want;
	} cases[] = {
		{ "%", ROUTE_BAD_ESCAPE },
		{ "a=%", ROUTE_BAD_ESCAPE },
		{ "a=%4", ROUTE_BAD_ESCAPE },
		{ "a=%zz", ROUTE_BAD_ESCAPE },
		{ "%zz=a", ROUTE_BAD_ESCAPE },
		{ "ok=1&a=%x", ROUTE_BAD_ESCAPE },
		{ "a=%ff", ROUTE_BAD_UTF8 },
		{ "a=%00", ROUTE_BAD_UTF8 },
		{ "%00", ROUTE_BAD_UTF8 },
		{ "a=%c0%af", ROUTE_BAD_UTF8 },
		{ "a=%ed%a0%80", ROUTE_BAD_UTF8 },
		{ "a=%f4%90%80%80", ROUTE_BAD_UTF8 },
		{ "a=%e2%82", ROUTE_BAD_UTF8 },
		{ "a=%e2%82&b=%ac", ROUTE_BAD_UTF8 },	/* a sequence split by '&' */
	};
	struct rstate *s = *state;
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		check_status(cases[i].q,
			     route_parse_params(cases[i].q, strlen(cases[i].q), &s->p),
			     cases[i].want);
		assert_int_equal(s->p.n, 0);
		assert_null(s->p.storage);
		route_params_release(&s->p);
	}
}

static void test_params_too_many(void **state)
{
	struct rstate *s = *state;
	make_many(&s->b, ROUTE_MAX_PARAMS + 1);
	const char *q = s->b.data + 3;		/* skip "/m?" */
	check_status(q, route_parse_params(q, strlen(q), &s->p), ROUTE_TOO_MANY);
	assert_int_equal(s->p.n, 0);
	assert_null(s->p.storage);

	/* 32 one-letter keys with empty values: the smallest storage per param */
	buf_reset(&s->b);
	for (int i = 0; i < ROUTE_MAX_PARAMS; i++)
		buf_adds(&s->b, i ? "&a" : "a");
	check_status(s->b.data, route_parse_params(s->b.data, s->b.len, &s->p), ROUTE_OK);
	assert_int_equal(s->p.n, ROUTE_MAX_PARAMS);
	for (size_t i = 0; i < s->p.n; i++)
		check_param(&s->p, i, "a", "");
	route_params_release(&s->p);

	/* 32 params made only of '=': empty keys and values */
	buf_reset(&s->b);
	for (int i = 0; i < ROUTE_MAX_PARAMS; i++)
		buf_adds(&s->b, i ? "&=" : "=");
	check_status(s->b.data, route_parse_params(s->b.data, s->b.len, &s->p), ROUTE_OK);
	assert_int_equal(s->p.n, ROUTE_MAX_PARAMS);
	check_param(&s->p, 31, "", "");
}

static void test_params_release_twice(void **state)
{
	struct rstate *s = *state;
	check_status("a=1", route_parse_params("a=1", 3, &s->p), ROUTE_OK);
	route_params_release(&s->p);
	assert_int_equal(s->p.n, 0);
	assert_null(s->p.storage);
	route_params_release(&s->p);
	assert_null(route_param(&s->p, "a"));
}

/* ---- route_tail --------------------------------------------------------- */

static void test_tail(void **state)
{
	static const struct {
		const char *path;
		const char *prefix;
		const char *want;	/* NULL: no match */
	} cases[] = {
		{ "/msgs/bob", "/msgs/", "bob" },
		{ "/msgs/Roger Histand", "/msgs/", "Roger Histand" },
		{ "/fllws/bob", "/fllws/", "bob" },
		{ "/msgs/b", "/msgs/", "b" },
		{ "/msgs/caf\xc3\xa9", "/msgs/", "caf\xc3\xa9" },
		{ "/msgs/", "/msgs/", NULL },
		{ "/msgs", "/msgs/", NULL },
		{ "/msgs/a/b", "/msgs/", NULL },
		{ "/msgs/bob/", "/msgs/", NULL },
		{ "/msgs//", "/msgs/", NULL },
		{ "/msgs//bob", "/msgs/", NULL },
		{ "/msgsx/bob", "/msgs/", NULL },
		{ "/fllws/bob", "/msgs/", NULL },
		{ "/MSGS/bob", "/msgs/", NULL },
		{ "msgs/bob", "/msgs/", NULL },
		{ "", "/msgs/", NULL },
		{ "/", "/msgs/", NULL },
		{ "/x/msgs/bob", "/msgs/", NULL },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		const char *got = route_tail(cases[i].path, cases[i].prefix);
		if (!cases[i].want) {
			if (got) {
				print_error("route_tail(\"%s\", \"%s\"): got \"%s\", want NULL\n",
					    cases[i].path, cases[i].prefix, got);
				fail();
			}
			continue;
		}
		if (!got || strcmp(got, cases[i].want) != 0) {
			print_error("route_tail(\"%s\", \"%s\"): got %s, want \"%s\"\n",
				    cases[i].path, cases[i].prefix, got ? got : "NULL",
				    cases[i].want);
			fail();
		}
		/* the tail points into path, not a copy */
		assert_ptr_equal(got, cases[i].path + strlen(cases[i].prefix));
	}
}

static void test_tail_encoded_slash(void **state)
{
	/* a decoded "%2F" is a real '/': no user name can hold one */
	struct rstate *s = *state;
	check_status("/msgs/a%2Fb", route_parse_target("/msgs/a%2Fb", &s->t), ROUTE_OK);
	assert_null(route_tail(s->t.path, "/msgs/"));
	route_target_release(&s->t);

	check_status("/msgs/a+b", route_parse_target("/msgs/a+b", &s->t), ROUTE_OK);
	assert_string_equal(route_tail(s->t.path, "/msgs/"), "a+b");
}

/* ---- route_parse_int ---------------------------------------------------- */

static void test_parse_int(void **state)
{
	static const struct {
		const char *s;
		bool ok;
		int64_t want;
	} cases[] = {
		{ "12", true, 12 },
		{ " 12 ", true, 12 },
		{ "  12", true, 12 },
		{ "12  ", true, 12 },
		{ "\t7\t", true, 7 },
		{ " \t 8 \t ", true, 8 },
		{ "+5", true, 5 },
		{ " +5 ", true, 5 },
		{ "-3", true, -3 },
		{ " -3 ", true, -3 },
		{ "0", true, 0 },
		{ "-0", true, 0 },
		{ "+0", true, 0 },
		{ "007", true, 7 },
		{ "-1", true, -1 },
		{ "1337", true, 1337 },
		{ "9223372036854775807", true, INT64_MAX },
		{ "-9223372036854775808", true, INT64_MIN },
		{ "", false, 0 },
		{ " ", false, 0 },
		{ "\t", false, 0 },
		{ "abc", false, 0 },
		{ "1.5", false, 0 },
		{ "1.", false, 0 },
		{ ".5", false, 0 },
		{ "0x10", false, 0 },
		{ "0X10", false, 0 },
		{ "1e3", false, 0 },
		{ "99999999999999999999", false, 0 },
		{ "-99999999999999999999", false, 0 },
		{ "9223372036854775808", false, 0 },
		{ "-9223372036854775809", false, 0 },
		{ "1 2", false, 0 },
		{ "12abc", false, 0 },
		{ "abc12", false, 0 },
		{ "+", false, 0 },
		{ "-", false, 0 },
		{ "+-5", false, 0 },
		{ "-+5", false, 0 },
		{ "--5", false, 0 },
		{ "- 5", false, 0 },
		{ "+ 5", false, 0 },
		{ "5-", false, 0 },
		{ "1_000", false, 0 },	/* header: decimal digits, nothing else */
		{ "\xd9\xa3", false, 0 },	/* ARABIC-INDIC DIGIT THREE */
		{ "12\x01", false, 0 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		int64_t got = -424242;
		bool ok = route_parse_int(cases[i].s, &got);
		if (ok != cases[i].ok || (ok && got != cases[i].want)) {
			print_error("route_parse_int(\"%s\"): got %s %" PRId64 ", want %s %" PRId64
				    "\n", cases[i].s, ok ? "true" : "false", got,
				    cases[i].ok ? "true" : "false", cases[i].want);
			fail();
		}
	}
}

static void test_parse_int_null(void **state)
{
	int64_t v = 99;
	assert_false(route_parse_int(NULL, &v));
	assert_int_equal(v, 99);
}

static void test_parse_int_from_query(void **state)
{
	/* how minitwitd uses it: ?latest=+12 arrives as " 12" after form decoding */
	struct rstate *s = *state;
	const char *raw = "/msgs?no=+12+&latest=-1&x=%2B5";
	check_status(raw, route_parse_target(raw, &s->t), ROUTE_OK);
	int64_t v = 0;
	assert_true(route_parse_int(route_param(&s->t.query, "no"), &v));
	assert_int_equal(v, 12);
	assert_true(route_parse_int(route_param(&s->t.query, "latest"), &v));
	assert_int_equal(v, -1);
	assert_true(route_parse_int(route_param(&s->t.query, "x"), &v));
	assert_int_equal(v, 5);
	assert_false(route_parse_int(route_param(&s->t.query, "missing"), &v));
}

/* ---- route tables (the matching; the real tables: test_routes.c) ---- */

static void h_noop(void *ctx, const char *arg)
{
}

static bool wants_never(const struct http_req *req)
{
	return false;
}

static const struct route_entry table[] = {
	{ "/latest", ROUTE_READS, ROUTE_READ, MR_LATEST, NULL, NULL, h_noop, 0 },
	{ "/register", ROUTE_POST, ROUTE_WRITE, MR_REGISTER, wants_never, NULL, h_noop, 0 },
	{ "/msgs/<user>", ROUTE_READS, ROUTE_WRITE_IF_LATEST, MR_MSGS_USER_GET, NULL, NULL, h_noop, 0 },
	{ "/msgs/<user>", ROUTE_POST, ROUTE_WRITE, MR_MSGS_USER_POST, NULL, NULL, h_noop, 0 },
	{ "/<user>", ROUTE_READS, ROUTE_READ, MR_WEB, NULL, NULL, h_noop, 0 },
	{ "/<user>/follow", ROUTE_READS, ROUTE_WRITE, MR_WEB, NULL, NULL, h_noop, 0 },
};
#define NTABLE (sizeof table / sizeof table[0])

static void test_match(void **state)
{
	struct rstate *s = *state;
	assert_true(route_match("/latest", "/latest", &s->b));
	assert_int_equal(s->b.len, 0);
	assert_false(route_match("/latest", "/latest/", &s->b));
	assert_false(route_match("/latest", "/late", &s->b));
	assert_false(route_match("/latest", "", &s->b));
	assert_true(route_match("/msgs/<user>", "/msgs/Roger Histand", &s->b));
	assert_string_equal(buf_str(&s->b), "Roger Histand");
	buf_reset(&s->b);
	assert_false(route_match("/msgs/<user>", "/msgs/", &s->b));
	assert_false(route_match("/msgs/<user>", "/msgs/a/b", &s->b));
	assert_false(route_match("/msgs/<user>", "/msgs", &s->b));
	assert_true(route_match("/<user>/follow", "/bob/follow", &s->b));
	assert_string_equal(buf_str(&s->b), "bob");
	buf_reset(&s->b);
	assert_false(route_match("/<user>/follow", "/bob/follows", &s->b));
	assert_false(route_match("/<user>/follow", "//follow", &s->b));
	assert_int_equal(s->b.len, 0);	/* nothing captured from a failed match */
	assert_true(route_match("/<user>", "/public", NULL));
}

static void test_find(void **state)
{
	struct rstate *s = *state;
	struct route_found f;
	route_find(table, NTABLE, "/msgs/bob", ROUTE_POST, NULL, &s->b, &f);
	assert_ptr_equal(f.route, &table[3]);
	assert_ptr_equal(f.group, &table[2]);
	assert_int_equal(f.allow, ROUTE_READS | ROUTE_POST);
	assert_string_equal(buf_str(&s->b), "bob");
	buf_reset(&s->b);
	/* a method no row of the path takes: 405 with the path's methods */
	route_find(table, NTABLE, "/msgs/bob", ROUTE_OTHER, NULL, &s->b, &f);
	assert_null(f.route);
	assert_ptr_equal(f.group, &table[2]);
	assert_int_equal(f.allow, ROUTE_READS | ROUTE_POST);
	buf_reset(&s->b);
	/* the first pattern matching is the resource: "/latest" before "/<user>" */
	route_find(table, NTABLE, "/latest", ROUTE_POST, NULL, &s->b, &f);
	assert_null(f.route);
	assert_int_equal(f.allow, ROUTE_READS);
	/* a row whose wants refuses is not there: "/register" is a user name */
	route_find(table, NTABLE, "/register", ROUTE_POST, NULL, &s->b, &f);
	assert_ptr_equal(f.group, &table[4]);
	assert_null(f.route);
	buf_reset(&s->b);
	route_find(table, NTABLE, "/a/b/c", ROUTE_GET, NULL, &s->b, &f);
	assert_null(f.route);
	assert_null(f.group);
	assert_int_equal(f.allow, 0);
}

static void test_claims(void **state)
{
	static const struct route_entry api[] = {
		{ "/latest", ROUTE_READS, ROUTE_READ, MR_LATEST, NULL, NULL, h_noop, 0 },
		{ "/register", ROUTE_POST, ROUTE_WRITE, MR_REGISTER, wants_never, NULL, h_noop, 0 },
		{ "/fllws/<user>", ROUTE_READS, ROUTE_READ, MR_FLLWS_GET, NULL, NULL, h_noop, 0 },
	};
	size_t n = sizeof api / sizeof api[0];
	assert_true(route_claims(api, n, "/latest", NULL));
	assert_true(route_claims(api, n, "/latest?latest=%zz", NULL));
	assert_true(route_claims(api, n, "/latest#x", NULL));
	assert_false(route_claims(api, n, "/latestx", NULL));
	assert_false(route_claims(api, n, "/register", NULL));	/* wants refuses */
	/* below a "<name>" pattern's literal start, malformed or not, and its bare form */
	assert_true(route_claims(api, n, "/fllws/a/b", NULL));
	assert_true(route_claims(api, n, "/fllws/%zz", NULL));
	assert_true(route_claims(api, n, "/fllws", NULL));
	assert_true(route_claims(api, n, "/fllws/", NULL));
	assert_false(route_claims(api, n, "/fllwsx", NULL));
	assert_false(route_claims(api, n, "/public", NULL));
}

static void test_holds(void **state)
{
	struct rstate *s = *state;
	assert_true(route_holds(&table[3], &s->p));	/* a write */
	assert_false(route_holds(&table[0], &s->p));	/* a read */
	assert_false(route_holds(&table[2], &s->p));	/* no ?latest= */
	static const char *const stores[] = { "latest=5", "latest=0", "latest=%2B7", "no=3&latest=-2" };
	static const char *const not[] = { "latest=-1", "latest=x", "latest=", "latest", "late=5" };
	for (size_t i = 0; i < sizeof stores / sizeof *stores; i++) {
		assert_int_equal(route_parse_params(stores[i], strlen(stores[i]), &s->p), ROUTE_OK);
		assert_true(route_holds(&table[2], &s->p));
		route_params_release(&s->p);
	}
	for (size_t i = 0; i < sizeof not / sizeof *not; i++) {
		assert_int_equal(route_parse_params(not[i], strlen(not[i]), &s->p), ROUTE_OK);
		assert_false(route_holds(&table[2], &s->p));
		route_params_release(&s->p);
	}
	struct route_entry control = table[0];
	control.hold = ROUTE_CONTROL;
	assert_false(route_holds(&control, &s->p));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		TEST(test_target_basic),
		TEST(test_target_no_query),
		TEST(test_target_empty_query),
		TEST(test_target_plus),
		TEST(test_target_path_escapes),
		TEST(test_target_errors),
		TEST(test_target_too_many),
		TEST(test_target_fragment),
		TEST(test_target_fragment_before_query),
		TEST(test_target_fragment_before_bad_query),
		TEST(test_target_release_twice),
		TEST(test_params_form),
		TEST(test_params_empty),
		TEST(test_params_blank_values),
		TEST(test_params_keys_without_eq),
		TEST(test_params_first_wins),
		TEST(test_params_len_bound),
		TEST(test_params_embedded_nul),
		TEST(test_params_errors),
		TEST(test_params_too_many),
		TEST(test_params_release_twice),
		cmocka_unit_test(test_tail),
		TEST(test_tail_encoded_slash),
		cmocka_unit_test(test_parse_int),
		cmocka_unit_test(test_parse_int_null),
		TEST(test_parse_int_from_query),
		TEST(test_match),
		TEST(test_find),
		cmocka_unit_test(test_claims),
		TEST(test_holds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
