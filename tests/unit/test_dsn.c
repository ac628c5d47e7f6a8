/*
 * Unit tests for lib/dsn.c: masking secrets in libpq connection strings and
 * URLs, and finding them (links lib/dsn.c, lib/buf.c and libpq).
 *
 * Each case names an input and the text that must not appear in the masked
 * output; the masked output must also still parse (where the input did) and
 * carry the non-secret options unchanged, so masking never loses the host
 * or database a message is about.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "buf.h"
#include "dsn.h"
#include "banned.h"

/* The masked form of s (caller frees). */
static char *masked(const char *s)
{
	struct buf b = BUF_INIT;
	dsn_mask(s, &b);
	return buf_detach(&b);
}

/* The value libpq parses for keyword in dsn (caller frees), NULL when unset. */
static char *parsed(const char *dsn, const char *keyword)
{
	char *err = NULL, *v = NULL;
	PQconninfoOption *o = PQconninfoParse(dsn, &err);
	assert_non_null(o);
	for (PQconninfoOption *p = o; p->keyword; p++)
		if (!strcmp(p->keyword, keyword) && p->val)
			v = strdup(p->val);
	PQconninfoFree(o);
	return v;
}

static void expect_hidden(const char *dsn, const char *secret)
{
	char *m = masked(dsn);
	if (strstr(m, secret))
		fail_msg("\"%s\" masked as \"%s\" still shows \"%s\"", dsn, m, secret);
	/* still a connection string, naming the same host and database */
	char *h1 = parsed(dsn, "host"), *h2 = parsed(m, "host");
	char *d1 = parsed(dsn, "dbname"), *d2 = parsed(m, "dbname");
	assert_string_equal(h1 ? h1 : "", h2 ? h2 : "");
	assert_string_equal(d1 ? d1 : "", d2 ? d2 : "");
	char *pw = parsed(m, "password"), *sslpw = parsed(m, "sslpassword");
	if (pw)
		assert_string_equal(pw, DSN_MASK);
	if (sslpw)
		assert_string_equal(sslpw, DSN_MASK);
	free(sslpw);
	char *key = NULL;
	assert_int_equal(dsn_find_secret(dsn, &key), DSN_HAS_SECRET);
	free(key);
	/* masking a masked DSN changes nothing (found by tests/fuzz/fuzz_dsn.c:
	 * "password=******** host=db=m" is its own masked form) */
	char *again = masked(m);
	assert_string_equal(again, m);
	free(again);
	free(m);
	free(h1);
	free(h2);
	free(d1);
	free(d2);
	free(pw);
}

static void test_keyword_value(void **state)
{
	expect_hidden("host=db dbname=minitwit password=hunter2", "hunter2");
	expect_hidden("host=db password = hunter2 dbname=minitwit", "hunter2");
	expect_hidden("password='hunter 2' host=db", "hunter");
	/* an escaped blank in a bare value: the whole "a b" is the password */
	expect_hidden("host=db password=hunter\\ two dbname=x", "two");
	expect_hidden("host=db password='it\\'s \\\\ secret' dbname=x", "secret");
	expect_hidden("host=db password='x' password=second", "second");
	expect_hidden("host=db sslpassword=keypass sslmode=require", "keypass");
	expect_hidden("dbname='password=nothere' password=hunter2", "hunter2");
}

static void test_uri(void **state)
{
	expect_hidden("postgresql://u:hunter2@db/minitwit", "hunter2");
	expect_hidden("postgres://u:hunter2@db:5432/minitwit", "hunter2");
	expect_hidden("postgresql://u@db/minitwit?password=hunter2", "hunter2");
	expect_hidden("postgresql://db/minitwit?sslmode=disable&password=hunter2", "hunter2");
	/* libpq decodes keys and values */
	expect_hidden("postgresql://db/minitwit?%70assword=hunter2", "hunter2");
	expect_hidden("postgresql://db/minitwit?pass%77ord=hunter%32", "hunter");
	expect_hidden("postgresql://db/minitwit?sslpassword=keypass", "keypass");
	expect_hidden("postgresql://u:a%20b%27c@db/minitwit", "a%20b");
	expect_hidden("postgresql://u:pq1@ss@db/minitwit", "pq1");
}

static void test_clean_copied(void **state)
{
	static const char *const clean[] = {
		"host=/tmp port=5432 dbname=minitwit user=minitwit",
		"postgresql://u@db/minitwit?sslmode=require",
		"postgres://db",
		"minitwit",		/* a bare database name */
		"",
	};
	for (size_t i = 0; i < sizeof clean / sizeof *clean; i++) {
		char *m = masked(clean[i]), *key = NULL;
		assert_string_equal(m, clean[i]);
		assert_int_equal(dsn_find_secret(clean[i], &key), DSN_NO_SECRET);
		assert_null(key);
		free(m);
	}
}

static void test_invalid_not_shown(void **state)
{
	static const char *const bad[] = {
		"host=db password='hunter2",		/* unterminated quote */
		"host=db bogus=1 password=hunter2",	/* unknown keyword */
		"postgresql://u:hunter2@db/x?nosuch=1",
		"host=db hunter2",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		char *m = masked(bad[i]), *key = NULL;
		assert_null(strstr(m, "hunter2"));
		assert_int_equal(dsn_find_secret(bad[i], &key), DSN_INVALID);
		assert_null(key);	/* libpq's message may quote the secret */
		free(m);
	}
	struct buf b = BUF_INIT;
	dsn_mask(NULL, &b);
	assert_int_equal(b.len, 0);
	buf_release(&b);
}

static void test_url(void **state)
{
	static const char *const cases[][2] = {
		{ "http://admin:hunter2@10.0.0.1:8081/", "http://admin:" DSN_MASK "@10.0.0.1:8081/" },
		{ "https://u:p:q@h", "https://u:" DSN_MASK "@h" },
		{ "http://a:b@c@h/x?y=z@w", "http://a:" DSN_MASK "@h/x?y=" DSN_MASK },
		{ "http://10.0.0.1:8081", "http://10.0.0.1:8081" },
		{ "https://minitwit.example", "https://minitwit.example" },
		{ "http://h:8081/admin/", "http://h:8081/admin/" },
		/* a user info without ':' may be a token: hidden whole */
		{ "http://ghp_tok3n@h/", "http://" DSN_MASK "@h/" },
		/* query values, bare parameters and fragments may be tokens */
		{ "http://h:8081/?token=s3cret&x=1", "http://h:8081/?token=" DSN_MASK "&x=" DSN_MASK },
		{ "http://h?s3cret", "http://h?" DSN_MASK },
		{ "http://h/?a=&b", "http://h/?a=&" DSN_MASK },
		{ "http://h/?", "http://h/?" },
		{ "http://u:p@h/p?k=v#fr4g", "http://u:" DSN_MASK "@h/p?k=" DSN_MASK "#" DSN_MASK },
		{ "http://h/#", "http://h/#" },
		{ "http://u:p w'q\"@h", "http://u:" DSN_MASK "@h" },
		{ "not a url", "not a url" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct buf b = BUF_INIT;
		dsn_mask_url(cases[i][0], &b);
		assert_string_equal(buf_str(&b), cases[i][1]);
		buf_reset(&b);
		dsn_mask_text(cases[i][0], &b);
		assert_string_equal(buf_str(&b), cases[i][1]);
		buf_release(&b);
	}
	struct buf b = BUF_INIT;
	dsn_mask_text("postgresql://u:hunter2@db/x", &b);
	assert_null(strstr(buf_str(&b), "hunter2"));
	buf_reset(&b);
	dsn_mask_text("host=db password=hunter2", &b);
	assert_null(strstr(buf_str(&b), "hunter2"));
	buf_reset(&b);
	dsn_mask_text("info", &b);
	assert_string_equal(buf_str(&b), "info");
	buf_release(&b);
}

static void test_find_secret_key(void **state)
{
	char *key = NULL;
	assert_int_equal(dsn_find_secret("host=db sslpassword=x", &key), DSN_HAS_SECRET);
	assert_string_equal(key, "sslpassword");
	free(key);
	assert_int_equal(dsn_find_secret("postgresql://db/x?%70assword=x", &key), DSN_HAS_SECRET);
	assert_string_equal(key, "password");
	free(key);
	assert_int_equal(dsn_find_secret("host=db password=", &key), DSN_NO_SECRET);
	free(key);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keyword_value),
		cmocka_unit_test(test_uri),
		cmocka_unit_test(test_clean_copied),
		cmocka_unit_test(test_invalid_not_shown),
		cmocka_unit_test(test_url),
		cmocka_unit_test(test_find_secret_key),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
