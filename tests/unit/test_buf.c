/*
 * Unit tests for lib/buf.c and lib/utf8.c (links only those two).
 *
 * Every test gets a fresh heap-allocated struct buf from setup and gives it
 * back in teardown, so a failing assertion (cmocka longjmps out of the test)
 * still leaves nothing behind for ASan or valgrind to report.  Expected
 * outputs are compared byte for byte, lengths included, because the JSON
 * writers must match what Python's json module produces exactly.
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

#include "buf.h"
#include "utf8.h"
#include "banned.h"

/* A string literal and its length, embedded NULs included. */
#define LIT(s) s, sizeof(s) - 1

static int buf_setup(void **state)
{
	struct buf *b = calloc(1, sizeof *b);
	if (!b)
		return -1;
	*state = b;
	return 0;
}

static int buf_teardown(void **state)
{
	struct buf *b = *state;
	buf_release(b);
	free(b);
	return 0;
}

/* Check that b holds exactly want[0..n) and is NUL-terminated after it. */
static void check_bytes(const struct buf *b, const char *want, size_t n, const char *what)
{
	if (b->len != n || !b->data || memcmp(b->data, want, n) != 0) {
		print_error("%s: got (%zu bytes) \"%s\", want (%zu bytes) \"%s\"\n", what,
			    b->len, buf_str(b), n, want);
		fail();
	}
	assert_int_equal(b->data[b->len], '\0');
	assert_true(b->cap > b->len);
}

#define check_buf(b, lit, what) check_bytes((b), LIT(lit), (what))

/* ---- basic buffer operations ------------------------------------------ */

static void test_init_empty(void **state)
{
	struct buf b = BUF_INIT;
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
	assert_string_equal(buf_str(&b), "");
	buf_release(&b);	/* releasing a never-used buffer is fine */
	buf_release(&b);
	assert_null(b.data);
}

static void test_add_basic(void **state)
{
	struct buf *b = *state;
	buf_add(b, "", 0);	/* an empty append still makes a string */
	check_buf(b, "", "empty add");
	buf_add(b, "ab", 2);
	buf_adds(b, "cd");
	buf_addc(b, 'e');
	buf_add(b, "f\0g", 3);	/* embedded NUL is data */
	check_buf(b, "abcdef\0g", "mixed appends");
	assert_string_equal(buf_str(b), "abcdef");
}

static void test_addc_nul(void **state)
{
	struct buf *b = *state;
	buf_addc(b, '\0');
	buf_addc(b, 'x');
	check_buf(b, "\0x", "addc NUL");
}

static void test_grow_large(void **state)
{
	struct buf *b = *state;
	for (int i = 0; i < 10000; i++)
		buf_addc(b, (char)('a' + i % 26));
	assert_int_equal(b->len, 10000);
	assert_true(b->cap > 10000);
	assert_int_equal(b->data[10000], '\0');
	for (int i = 0; i < 10000; i++)
		assert_int_equal(b->data[i], 'a' + i % 26);

	size_t cap = b->cap;
	buf_grow(b, 0);		/* no-op when there is room */
	assert_int_equal(b->cap, cap);
	buf_grow(b, 100000);
	assert_true(b->cap >= 10000 + 100000 + 1);
	assert_int_equal(b->len, 10000);
	assert_int_equal(b->data[9999], 'a' + 9999 % 26);
}

static void test_addf(void **state)
{
	struct buf *b = *state;
	buf_addf(b, "%s=%d", "x", 42);
	check_buf(b, "x=42", "addf");
	buf_addf(b, "%s", "");
	check_buf(b, "x=42", "addf empty");
	buf_addf(b, "[%5.2f|%-3s|%03d]", 1.5, "a", 7);
	check_buf(b, "x=42[ 1.50|a  |007]", "addf widths");
}

static void test_addf_long(void **state)
{
	/* longer than the first guess: exercises the second vsnprintf */
	struct buf *b = *state;
	char big[5001];
	memset(big, 'z', 5000);
	big[5000] = '\0';
	buf_adds(b, "<");
	buf_addf(b, "%s|%s", big, big);
	buf_adds(b, ">");
	assert_int_equal(b->len, 1 + 5000 + 1 + 5000 + 1);
	assert_int_equal(b->data[0], '<');
	assert_int_equal(b->data[5001], '|');
	assert_int_equal(b->data[5000], 'z');
	assert_int_equal(b->data[10002], '>');
	assert_int_equal(b->data[10003], '\0');
	assert_int_equal(strlen(b->data), b->len);
}

static void vaddf_helper(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void vaddf_helper(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	buf_vaddf(b, fmt, ap);
	va_end(ap);
}

static void test_vaddf(void **state)
{
	struct buf *b = *state;
	vaddf_helper(b, "%d-%s", -5, "q");
	check_buf(b, "-5-q", "vaddf");
	char big[300];
	memset(big, 'y', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	vaddf_helper(b, "%s", big);
	assert_int_equal(b->len, 4 + 299);
	assert_int_equal(strlen(b->data), b->len);
}

static void test_add_int(void **state)
{
	static const struct {
		int64_t v;
		const char *want;
	} cases[] = {
		{ 0, "0" },
		{ 1, "1" },
		{ -1, "-1" },
		{ 1337, "1337" },
		{ INT64_MAX, "9223372036854775807" },
		{ INT64_MIN, "-9223372036854775808" },
	};
	struct buf *b = *state;
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		buf_reset(b);
		buf_add_int(b, cases[i].v);
		check_bytes(b, cases[i].want, strlen(cases[i].want), cases[i].want);
	}
}

static void test_reset(void **state)
{
	struct buf *b = *state;
	buf_reset(b);		/* on a never-used buffer */
	assert_int_equal(b->len, 0);
	assert_string_equal(buf_str(b), "");
	buf_adds(b, "hello");
	size_t cap = b->cap;
	char *data = b->data;
	buf_reset(b);
	assert_int_equal(b->len, 0);
	assert_int_equal(b->cap, cap);
	assert_ptr_equal(b->data, data);
	assert_string_equal(buf_str(b), "");
	buf_adds(b, "x");
	check_buf(b, "x", "after reset");
}

static void test_release_twice(void **state)
{
	struct buf *b = *state;
	buf_adds(b, "something");
	buf_release(b);
	assert_null(b->data);
	assert_int_equal(b->len, 0);
	assert_int_equal(b->cap, 0);
	assert_string_equal(buf_str(b), "");
	buf_release(b);
	assert_null(b->data);
	buf_adds(b, "again");	/* reusable after release */
	check_buf(b, "again", "reuse after release");
}

static void test_detach(void **state)
{
	struct buf *b = *state;

	char *s = buf_detach(b);	/* never used: still a real string */
	assert_non_null(s);
	assert_string_equal(s, "");
	assert_null(b->data);
	free(s);

	buf_adds(b, "abc");
	s = buf_detach(b);
	assert_null(b->data);
	assert_int_equal(b->len, 0);
	assert_int_equal(b->cap, 0);
	assert_string_equal(buf_str(b), "");
	assert_string_equal(s, "abc");
	free(s);

	buf_adds(b, "x");	/* after reset: detach gives the empty string */
	buf_reset(b);
	s = buf_detach(b);
	assert_string_equal(s, "");
	free(s);
	assert_null(b->data);
}

/* ---- JSON string writers ---------------------------------------------- */

struct json_case {
	const char *in;
	size_t in_len;
	const char *want;
	size_t want_len;
};

#define JC(in, want) { LIT(in), LIT(want) }

static void run_json_cases(struct buf *b, const struct json_case *cases, size_t n,
			   void (*fn)(struct buf *, const char *, size_t), const char *name)
{
	for (size_t i = 0; i < n; i++) {
		char what[64];
		snprintf(what, sizeof what, "%s case %zu", name, i);
		buf_reset(b);
		fn(b, cases[i].in, cases[i].in_len);
		check_bytes(b, cases[i].want, cases[i].want_len, what);
	}
}

static const struct json_case json_str_cases[] = {
	JC("", "\"\""),
	JC("a", "\"a\""),
	JC("hello, world", "\"hello, world\""),
	JC("\"", "\"\\\"\""),
	JC("\\", "\"\\\\\""),
	JC("a\"b\\c", "\"a\\\"b\\\\c\""),
	JC("\\\"", "\"\\\\\\\"\""),
	JC("/", "\"/\""),		/* Python does not escape the solidus */
	JC("\n\r\t\b\f", "\"\\n\\r\\t\\b\\f\""),
	JC("\x01", "\"\\u0001\""),
	JC("\x1f", "\"\\u001f\""),
	JC("\x0b", "\"\\u000b\""),
	JC("a\0b", "\"a\\u0000b\""),
	JC("\x7f", "\"\x7f\""),	/* ensure_ascii=False leaves DEL alone */
	JC("<>&'", "\"<>&'\""),
	JC("caf\xc3\xa9", "\"caf\xc3\xa9\""),		/* UTF-8 passes through */
	JC("\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\""),
	JC("\xe2\x80\xa8", "\"\xe2\x80\xa8\""),
	JC("x\ny\"z\xc3\xa9", "\"x\\ny\\\"z\xc3\xa9\""),
};

static void test_json_str(void **state)
{
	run_json_cases(*state, json_str_cases, sizeof json_str_cases / sizeof *json_str_cases,
		       buf_add_json_str, "json_str");
}

static const struct json_case json_ascii_cases[] = {
	JC("", "\"\""),
	JC("a", "\"a\""),
	JC(" ~", "\" ~\""),
	JC("\"", "\"\\\"\""),
	JC("\\", "\"\\\\\""),
	JC("a\"b\\c", "\"a\\\"b\\\\c\""),
	JC("/", "\"/\""),
	JC("\n\r\t\b\f", "\"\\n\\r\\t\\b\\f\""),
	JC("\x01\x1f", "\"\\u0001\\u001f\""),
	JC("a\0b", "\"a\\u0000b\""),
	JC("\x7f", "\"\\u007f\""),		/* DEL, as json.dumps writes it */
	JC("a\x7f" "b", "\"a\\u007fb\""),
	JC("\xc2\x80", "\"\\u0080\""),		/* U+0080, first 2-byte */
	JC("\xc3\xa9", "\"\\u00e9\""),		/* é */
	JC("caf\xc3\xa9!", "\"caf\\u00e9!\""),
	JC("\xdf\xbf", "\"\\u07ff\""),		/* last 2-byte */
	JC("\xe0\xa0\x80", "\"\\u0800\""),	/* first 3-byte */
	JC("\xe2\x82\xac", "\"\\u20ac\""),	/* € */
	JC("\xe2\x80\xa8", "\"\\u2028\""),	/* LINE SEPARATOR */
	JC("\xe2\x80\xa9", "\"\\u2029\""),
	JC("\xed\x9f\xbf", "\"\\ud7ff\""),
	JC("\xee\x80\x80", "\"\\ue000\""),
	JC("\xef\xbb\xbf", "\"\\ufeff\""),	/* BOM */
	JC("\xef\xbf\xbf", "\"\\uffff\""),
	JC("\xf0\x90\x80\x80", "\"\\ud800\\udc00\""),	/* U+10000 */
	JC("\xf0\x9f\x98\x80", "\"\\ud83d\\ude00\""),	/* 😀 */
	JC("\xf4\x8f\xbf\xbf", "\"\\udbff\\udfff\""),	/* U+10FFFF */
	JC("\xe6\x97\xa5\xe6\x9c\xac", "\"\\u65e5\\u672c\""),	/* 日本 */
	JC("a\xc3\xa9" "b\xf0\x9f\x98\x80" "c\n\"d",
	   "\"a\\u00e9b\\ud83d\\ude00c\\n\\\"d\""),
	JC("\xf0\x9f\x98\x80\xf0\x9f\x98\x80", "\"\\ud83d\\ude00\\ud83d\\ude00\""),
	JC("<>&'", "\"<>&'\""),
};

static void test_json_ascii(void **state)
{
	run_json_cases(*state, json_ascii_cases,
		       sizeof json_ascii_cases / sizeof *json_ascii_cases, buf_add_json_ascii,
		       "json_ascii");
}

static void test_json_appends(void **state)
{
	/* the writers append; what was there stays */
	struct buf *b = *state;
	buf_adds(b, "[");
	buf_add_json_str(b, LIT("a\"b"));
	buf_addc(b, ',');
	buf_add_json_ascii(b, LIT("\xc3\xa9"));
	buf_addc(b, ',');
	buf_add_json_str(b, "", 0);
	buf_addc(b, ']');
	check_buf(b, "[\"a\\\"b\",\"\\u00e9\",\"\"]", "appends");
}

static void test_json_ascii_long(void **state)
{
	/* many escapes: growth in the middle of a run must keep the bytes */
	struct buf *b = *state;
	struct buf in = BUF_INIT;
	struct buf want = BUF_INIT;
	for (int i = 0; i < 500; i++) {
		buf_adds(&in, "ab\xf0\x9f\x98\x80\"\xc3\xa9\x7f");
		buf_adds(&want, "ab\\ud83d\\ude00\\\"\\u00e9\\u007f");
	}
	buf_add_json_ascii(b, in.data, in.len);
	bool same = b->len == want.len + 2 && b->data[0] == '"' &&
		    memcmp(b->data + 1, want.data, want.len) == 0 &&
		    b->data[b->len - 1] == '"' && b->data[b->len] == '\0';
	buf_release(&in);
	buf_release(&want);
	assert_true(same);
}

/* ---- HTML escaping ----------------------------------------------------- */

static const struct json_case html_cases[] = {
	JC("", ""),
	JC("plain text", "plain text"),
	JC("&", "&amp;"),
	JC("<", "&lt;"),
	JC(">", "&gt;"),
	JC("\"", "&#34;"),
	JC("'", "&#39;"),
	JC("<a href=\"x\">Tom & Jerry's</a>",
	   "&lt;a href=&#34;x&#34;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;"),
	JC("&amp;", "&amp;amp;"),
	JC("<<>>", "&lt;&lt;&gt;&gt;"),
	JC("a\0<b", "a\0&lt;b"),
	JC("caf\xc3\xa9 & \xf0\x9f\x98\x80", "caf\xc3\xa9 &amp; \xf0\x9f\x98\x80"),
	JC("\\/`=\n", "\\/`=\n"),
};

static void test_html(void **state)
{
	run_json_cases(*state, html_cases, sizeof html_cases / sizeof *html_cases, buf_add_html,
		       "html");
}

static void test_html_appends(void **state)
{
	struct buf *b = *state;
	buf_adds(b, "<p>");
	buf_add_html(b, LIT("1 < 2"));
	buf_adds(b, "</p>");
	check_buf(b, "<p>1 &lt; 2</p>", "html appends");
}

static void test_html_empty_fresh(void **state)
{
	/* an empty escape into a never-used buffer still yields a string */
	struct buf *b = *state;
	buf_add_html(b, "", 0);
	assert_int_equal(b->len, 0);
	assert_string_equal(buf_str(b), "");
}

/* ---- UTF-8 validation -------------------------------------------------- */

struct utf8_case {
	const char *s;
	size_t len;
	bool valid;
	size_t cps;	/* code points, for valid input */
};

#define U_OK(s, n) { LIT(s), true, n }
#define U_BAD(s) { LIT(s), false, 0 }

static const struct utf8_case utf8_cases[] = {
	U_OK("", 0),
	U_OK("a", 1),
	U_OK("hello", 5),
	U_OK("\x7f", 1),
	U_OK("\x01", 1),
	U_OK("\xc2\x80", 1),			/* U+0080 */
	U_OK("\xc3\xa9", 1),
	U_OK("\xdf\xbf", 1),			/* U+07FF */
	U_OK("\xe0\xa0\x80", 1),		/* U+0800 */
	U_OK("\xe2\x82\xac", 1),		/* € */
	U_OK("\xe2\x80\xa8", 1),		/* U+2028 */
	U_OK("\xed\x9f\xbf", 1),		/* U+D7FF, last before surrogates */
	U_OK("\xee\x80\x80", 1),		/* U+E000, first after */
	U_OK("\xef\xbf\xbf", 1),		/* U+FFFF */
	U_OK("\xf0\x90\x80\x80", 1),		/* U+10000 */
	U_OK("\xf0\x9f\x98\x80", 1),		/* 😀 */
	U_OK("\xf4\x8f\xbf\xbf", 1),		/* U+10FFFF */
	U_OK("Roger Histand", 13),
	U_OK("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z", 5),

	U_BAD("\0"),
	U_BAD("a\0b"),				/* NUL inside, len 3 */
	U_BAD("abc\0"),
	U_BAD("\x80"),				/* lone continuation */
	U_BAD("\xbf"),
	U_BAD("a\x80" "b"),
	U_BAD("\xc0\xaf"),			/* overlong '/' */
	U_BAD("\xc0\x80"),			/* overlong NUL */
	U_BAD("\xc1\xbf"),			/* overlong */
	U_BAD("\xe0\x80\xaf"),			/* overlong 3-byte */
	U_BAD("\xe0\x9f\xbf"),			/* overlong U+07FF */
	U_BAD("\xf0\x80\x80\xaf"),		/* overlong 4-byte */
	U_BAD("\xf0\x8f\xbf\xbf"),		/* overlong U+FFFF */
	U_BAD("\xed\xa0\x80"),			/* U+D800 surrogate */
	U_BAD("\xed\xbf\xbf"),			/* U+DFFF surrogate */
	U_BAD("\xed\xa0\xbd\xed\xb8\x80"),	/* CESU-8 😀 */
	U_BAD("\xf4\x90\x80\x80"),		/* U+110000 */
	U_BAD("\xf5\x80\x80\x80"),
	U_BAD("\xf7\xbf\xbf\xbf"),
	U_BAD("\xf8\x88\x80\x80\x80"),		/* 5-byte form */
	U_BAD("\xfc\x84\x80\x80\x80\x80"),	/* 6-byte form */
	U_BAD("\xfe"),
	U_BAD("\xff"),
	U_BAD("\xc3"),				/* truncated 2-byte */
	U_BAD("\xe2\x82"),			/* truncated 3-byte */
	U_BAD("\xe2"),
	U_BAD("\xf0\x9f\x98"),			/* truncated 4-byte */
	U_BAD("\xf0\x9f"),
	U_BAD("\xf0"),
	U_BAD("ab\xe2\x82"),			/* truncated at the end */
	U_BAD("\xe2\x82" "a"),			/* interrupted by ASCII */
	U_BAD("\xc3" "a"),
	U_BAD("\xf0\x9f\x98" "a"),
	U_BAD("\xc3\xc3\xa9"),
	U_BAD("\xe2\x82\xac\x80"),		/* extra continuation */
	U_BAD("\xc3\xa9\0"),
};

static void test_utf8_valid(void **state)
{
	int bad = 0;
	for (size_t i = 0; i < sizeof utf8_cases / sizeof *utf8_cases; i++) {
		const struct utf8_case *c = &utf8_cases[i];
		bool got = utf8_valid(c->s, c->len);
		if (got != c->valid) {
			print_error("utf8 case %zu (%zu bytes): got %s, want %s\n", i, c->len,
				    got ? "valid" : "invalid", c->valid ? "valid" : "invalid");
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

static void test_utf8_len_limit(void **state)
{
	/* only s[0..len) is looked at */
	assert_true(utf8_valid("\xc3\xa9\xff", 2));
	assert_false(utf8_valid("\xc3\xa9\xff", 3));
	assert_false(utf8_valid("\xc3\xa9", 1));
	assert_true(utf8_valid("ab\0", 2));
}

static void test_utf8_len(void **state)
{
	for (size_t i = 0; i < sizeof utf8_cases / sizeof *utf8_cases; i++) {
		const struct utf8_case *c = &utf8_cases[i];
		if (!c->valid)
			continue;
		if (utf8_len(c->s, c->len) != c->cps) {
			print_error("utf8_len case %zu: got %zu, want %zu\n", i,
				    utf8_len(c->s, c->len), c->cps);
			fail();
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_empty),
		cmocka_unit_test_setup_teardown(test_add_basic, buf_setup, buf_teardown),
		cmocka_unit_test_setup_teardown(test_addc_nul, buf_setup, buf_teardown),
		cmocka_unit_test_setup_teardown(test_grow_large, buf_setup, buf_teardown),
		cmocka_unit_test_setup_teardown(test_addf, buf_setup, buf_teardown),
		cmocka_unit_test_setup_teardown(test_addf_long, buf_setup, buf_teardown),
		cmocka_unit_test_setup_teardown(test_vaddf, buf_setup, buf_teardown),
		cmocka_unit_test_setup_teardown(test_add_int, buf_setup, buf_teardown),
		cmocka_unit_test_setup_teardown(test_reset, buf_setup, buf_teardown),
		cmocka_unit_test_setup_teardown(test_release_twice, buf_setup, buf_teardown),
		cmocka_unit_test_setup_teardown(test_detach, buf_setup, buf_teardown),
		cmocka_unit_test_setup_teardown(test_json_str, buf_setup, buf_teardown),
		cmocka_unit_test_setup_teardown(test_json_ascii, buf_setup, buf_teardown),
		cmocka_unit_test_setup_teardown(test_json_appends, buf_setup, buf_teardown),
		cmocka_unit_test_setup_teardown(test_json_ascii_long, buf_setup, buf_teardown),
		cmocka_unit_test_setup_teardown(test_html, buf_setup, buf_teardown),
		cmocka_unit_test_setup_teardown(test_html_appends, buf_setup, buf_teardown),
		cmocka_unit_test_setup_teardown(test_html_empty_fresh, buf_setup, buf_teardown),
		cmocka_unit_test(test_utf8_valid),
		cmocka_unit_test(test_utf8_len_limit),
		cmocka_unit_test(test_utf8_len),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
