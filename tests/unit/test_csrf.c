/*
 * Unit tests for minitwitd/csrf.c: the cross-origin rule of
 * docs/cross-origin.md, one header at a time and in the combinations
 * browsers send, the server's origin from Host or from http.public_origin,
 * and origin parsing (ports, case, IPv6, userinfo, malformed values).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <string.h>

#include "csrf.h"
#include "banned.h"

static enum csrf_verdict check(const char *site, const char *origin, const char *referer,
			       const char *host, const char *pub)
{
	struct csrf_headers h = { .sec_fetch_site = site, .origin = origin, .referer = referer,
				  .host = host };
	return csrf_check(&h, pub);
}

#define HOST "127.0.0.1:8080"

static void test_sec_fetch_site(void **state)
{
	assert_int_equal(check("same-origin", NULL, NULL, HOST, NULL), CSRF_SAME_ORIGIN);
	assert_int_equal(check("none", NULL, NULL, HOST, NULL), CSRF_SAME_ORIGIN);
	assert_int_equal(check("cross-site", NULL, NULL, HOST, NULL), CSRF_CROSS_SITE);
	assert_int_equal(check("same-site", NULL, NULL, HOST, NULL), CSRF_CROSS_SITE);
	assert_int_equal(check("Cross-Site", NULL, NULL, HOST, NULL), CSRF_CROSS_SITE);
	/* Sec-Fetch-Site decides before Origin and Referer ... */
	assert_int_equal(check("same-origin", "http://evil.example", NULL, HOST, NULL),
			 CSRF_SAME_ORIGIN);
	assert_int_equal(check("cross-site", NULL, "http://" HOST "/", HOST, NULL), CSRF_CROSS_SITE);
	/* ... except that our own Origin allows a same-site or cross-site label */
	assert_int_equal(check("same-site", "http://" HOST, NULL, HOST, NULL), CSRF_SAME_ORIGIN);
	assert_int_equal(check("cross-site", "http://" HOST, NULL, HOST, NULL), CSRF_SAME_ORIGIN);
	assert_int_equal(check("cross-site", "null", NULL, HOST, NULL), CSRF_CROSS_SITE);
	/* an unknown value falls through to Origin, then Referer, then "no browser" */
	assert_int_equal(check("bogus", "http://evil.example", NULL, HOST, NULL),
			 CSRF_FOREIGN_ORIGIN);
	assert_int_equal(check("bogus", NULL, NULL, HOST, NULL), CSRF_NO_BROWSER);
}

static void test_origin(void **state)
{
	assert_int_equal(check(NULL, "http://" HOST, NULL, HOST, NULL), CSRF_SAME_ORIGIN);
	assert_int_equal(check(NULL, "http://evil.example", NULL, HOST, NULL), CSRF_FOREIGN_ORIGIN);
	assert_int_equal(check(NULL, "null", NULL, HOST, NULL), CSRF_NULL_ORIGIN);
	/* scheme, host and port all count; case does not; default ports are implied */
	assert_int_equal(check(NULL, "https://" HOST, NULL, HOST, NULL), CSRF_FOREIGN_ORIGIN);
	assert_int_equal(check(NULL, "http://127.0.0.1:8081", NULL, HOST, NULL), CSRF_FOREIGN_ORIGIN);
	assert_int_equal(check(NULL, "http://127.0.0.2:8080", NULL, HOST, NULL), CSRF_FOREIGN_ORIGIN);
	assert_int_equal(check(NULL, "HTTP://Example.COM", NULL, "example.com", NULL),
			 CSRF_SAME_ORIGIN);
	assert_int_equal(check(NULL, "http://example.com:80", NULL, "example.com", NULL),
			 CSRF_SAME_ORIGIN);
	assert_int_equal(check(NULL, "http://example.com", NULL, "example.com:80", NULL),
			 CSRF_SAME_ORIGIN);
	assert_int_equal(check(NULL, "http://[::1]:8080", NULL, "[::1]:8080", NULL),
			 CSRF_SAME_ORIGIN);
	assert_int_equal(check(NULL, "http://[::1]:8081", NULL, "[::1]:8080", NULL),
			 CSRF_FOREIGN_ORIGIN);
	/* a suffix or prefix of our name is another host */
	assert_int_equal(check(NULL, "http://example.com.evil", NULL, "example.com", NULL),
			 CSRF_FOREIGN_ORIGIN);
	assert_int_equal(check(NULL, "http://xexample.com", NULL, "example.com", NULL),
			 CSRF_FOREIGN_ORIGIN);
	/* an Origin is never a URL with a path, userinfo, or malformed */
	assert_int_equal(check(NULL, "http://" HOST "/x", NULL, HOST, NULL), CSRF_FOREIGN_ORIGIN);
	assert_int_equal(check(NULL, "http://a@" HOST, NULL, HOST, NULL), CSRF_FOREIGN_ORIGIN);
	for (const char *bad[] = { "", "garbage", "://" HOST, "http://", "http://:8080",
				   "http://" HOST "x", "http://127.0.0.1:99999", NULL },
	     **b = bad; *b; b++)
		assert_int_equal(check(NULL, *b, NULL, HOST, NULL), CSRF_FOREIGN_ORIGIN);
	/* no Host (HTTP/1.0) and no public origin: nothing is ours */
	assert_int_equal(check(NULL, "http://" HOST, NULL, NULL, NULL), CSRF_FOREIGN_ORIGIN);
	/* Origin decides before Referer */
	assert_int_equal(check(NULL, "http://evil.example", "http://" HOST "/", HOST, NULL),
			 CSRF_FOREIGN_ORIGIN);
}

static void test_referer(void **state)
{
	assert_int_equal(check(NULL, NULL, "http://" HOST "/login?x=1", HOST, NULL),
			 CSRF_SAME_ORIGIN);
	assert_int_equal(check(NULL, NULL, "http://" HOST, HOST, NULL), CSRF_SAME_ORIGIN);
	assert_int_equal(check(NULL, NULL, "http://evil.example/" HOST, HOST, NULL),
			 CSRF_FOREIGN_REFERER);
	assert_int_equal(check(NULL, NULL, "http://" HOST ".evil.example/", HOST, NULL),
			 CSRF_FOREIGN_REFERER);
	assert_int_equal(check(NULL, NULL, "http://user@" HOST "/", HOST, NULL),
			 CSRF_FOREIGN_REFERER);
	assert_int_equal(check(NULL, NULL, "", HOST, NULL), CSRF_FOREIGN_REFERER);
	assert_int_equal(check(NULL, NULL, NULL, HOST, NULL), CSRF_NO_BROWSER);
	assert_int_equal(check(NULL, NULL, NULL, NULL, NULL), CSRF_NO_BROWSER);
}

static void test_public_origin(void **state)
{
	const char *pub = "https://minitwit.example";
	/* behind a proxy the Host header may be the backend's; the public origin is ours */
	assert_int_equal(check(NULL, "https://minitwit.example", NULL, HOST, pub),
			 CSRF_SAME_ORIGIN);
	assert_int_equal(check(NULL, "https://minitwit.example:443", NULL, HOST, pub),
			 CSRF_SAME_ORIGIN);
	assert_int_equal(check(NULL, "http://minitwit.example", NULL, HOST, pub),
			 CSRF_FOREIGN_ORIGIN);
	assert_int_equal(check(NULL, "http://" HOST, NULL, HOST, pub), CSRF_FOREIGN_ORIGIN);
	assert_int_equal(check(NULL, NULL, "https://minitwit.example/bob", HOST, pub),
			 CSRF_SAME_ORIGIN);
	assert_int_equal(check("cross-site", "https://minitwit.example", NULL, HOST, pub),
			 CSRF_SAME_ORIGIN);
	/* an empty public origin means "use Host" */
	assert_int_equal(check(NULL, "http://" HOST, NULL, HOST, ""), CSRF_SAME_ORIGIN);
}

static void test_origin_valid(void **state)
{
	bool https = false;
	assert_true(csrf_origin_valid("https://minitwit.example", &https) && https);
	assert_true(csrf_origin_valid("http://minitwit.example:8080/", &https) && !https);
	assert_true(csrf_origin_valid("HTTPS://[::1]:8443", &https) && https);
	assert_false(csrf_origin_valid("ftp://minitwit.example", &https));
	assert_false(csrf_origin_valid("https://minitwit.example/app", &https));
	assert_false(csrf_origin_valid("minitwit.example", &https));
	assert_false(csrf_origin_valid("https://u:p@minitwit.example", &https));
	assert_false(csrf_origin_valid(NULL, &https));
}

static void test_labels_and_reasons(void **state)
{
	assert_true(csrf_allowed(CSRF_SAME_ORIGIN) && csrf_allowed(CSRF_NO_BROWSER));
	for (int v = CSRF_CROSS_SITE; v < CSRF_NVERDICTS; v++) {
		assert_false(csrf_allowed((enum csrf_verdict)v));
		assert_non_null(strstr(csrf_reason((enum csrf_verdict)v), "refused"));
	}
	assert_string_equal(csrf_label(CSRF_CROSS_SITE), "cross-site");
	assert_string_equal(csrf_label(CSRF_FOREIGN_REFERER), "foreign-referer");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sec_fetch_site),
		cmocka_unit_test(test_origin),
		cmocka_unit_test(test_referer),
		cmocka_unit_test(test_public_origin),
		cmocka_unit_test(test_origin_valid),
		cmocka_unit_test(test_labels_and_reasons),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
