/*
 * Unit tests for lib/cfg.c (links only lib/cfg.c and lib/buf.c).
 *
 * A small key table and settings struct stand in for a program's.  Most
 * YAML is inline, written to a temporary file so cfg_load() reads a real
 * path and the expected "path:line:column" can be read off the literal;
 * tests/fixtures/cfg/ holds a complete config and a migration.yaml-shaped
 * document.  Run from the repository root (as `make unit` does).
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
#include <unistd.h>

#include "cfg.h"
#include "banned.h"

#define FIXTURES "tests/fixtures/cfg"

struct settings {
	char *listen;
	int64_t threads;
	bool debug;
	int64_t timeout;
	int64_t max_body;
	char *dsn;
	char *password;
	char *level;
};

#define KEY(sec, nm, type, def, min, max, secret, field, help) \
	{ sec, nm, type, def, min, max, secret, true, offsetof(struct settings, field), help }
#define FIXED(sec, nm, type, def, min, max, secret, field, help) \
	{ sec, nm, type, def, min, max, secret, false, offsetof(struct settings, field), help }

static const struct cfg_key keys[] = {
	KEY("http", "listen", CFG_STRING, "127.0.0.1:8080", 0, 0, false, listen,
	    "address and port to listen on"),
	KEY("http", "threads", CFG_INT, "4", 1, 256, false, threads, "worker threads"),
	KEY("http", "debug", CFG_BOOL, "false", 0, 0, false, debug, "log every request"),
	KEY("http", "timeout", CFG_MILLIS, "2s", 1, 3600000, false, timeout, "request timeout"),
	KEY("http", "max-body", CFG_INT, "1048576", 0, 0, false, max_body,
	    "largest request body in bytes"),
	KEY("database", "dsn", CFG_STRING, NULL, 0, 0, false, dsn, "libpq connection string"),
	KEY("database", "password", CFG_STRING, NULL, 0, 0, true, password,
	    "password, if not in the DSN"),
	KEY("log", "level", CFG_STRING, "info", 0, 0, false, level,
	    "debug, info, warning or error"),
};
#define NKEYS (sizeof keys / sizeof *keys)

static const char *const env_vars[] = {
	"CFGTEST_HTTP_LISTEN", "CFGTEST_HTTP_THREADS", "CFGTEST_HTTP_DEBUG",
	"CFGTEST_HTTP_TIMEOUT", "CFGTEST_HTTP_MAX_BODY", "CFGTEST_DATABASE_DSN",
	"CFGTEST_DATABASE_PASSWORD", "CFGTEST_LOG_LEVEL",
};

static int clear_env(void **state)
{
	for (size_t i = 0; i < sizeof env_vars / sizeof *env_vars; i++)
		unsetenv(env_vars[i]);
	return 0;
}

/* Write text to a new temporary file; returns its malloc'd path. */
static char *write_temp(const char *text)
{
	char tmpl[] = "/tmp/test_cfg-XXXXXX";
	int fd = mkstemp(tmpl);
	assert_true(fd >= 0);
	size_t len = strlen(text);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
	char *path = strdup(tmpl);
	assert_non_null(path);
	return path;
}

/* Load yaml (as a file) with the CFGTEST environment; *s must be released. */
static bool load_text(const char *yaml, struct settings *s, struct cfg_error *err)
{
	char *path = write_temp(yaml);
	bool ok = cfg_load(keys, NKEYS, path, "CFGTEST", s, err);
	unlink(path);
	free(path);
	return ok;
}

/* Loading yaml fails with "<tmpfile>:" followed by want. */
static void expect_error(const char *yaml, const char *want)
{
	struct settings s = { 0 };
	struct cfg_error err = { { 0 } };
	char *path = write_temp(yaml);
	char full[sizeof err.msg];

	assert_false(cfg_load(keys, NKEYS, path, "CFGTEST", &s, &err));
	snprintf(full, sizeof full, "%s:%s", path, want);
	assert_string_equal(err.msg, full);
	cfg_release(keys, NKEYS, &s);
	unlink(path);
	free(path);
}

static void assert_defaults(const struct settings *s)
{
	assert_string_equal(s->listen, "127.0.0.1:8080");
	assert_int_equal(s->threads, 4);
	assert_false(s->debug);
	assert_int_equal(s->timeout, 2000);
	assert_int_equal(s->max_body, 1048576);
	assert_null(s->dsn);
	assert_null(s->password);
	assert_string_equal(s->level, "info");
}

/* cfg_print() into a malloc'd string. */
static char *print_to_string(const struct cfg_key *k, size_t n, const void *s)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	assert_non_null(f);
	cfg_print(k, n, s, f);
	assert_int_equal(fclose(f), 0);
	return text;
}

/* ---- cfg_load ---------------------------------------------------------- */

static void test_defaults(void **state)
{
	struct settings s = { 0 };
	struct cfg_error err = { { 0 } };

	assert_true(cfg_load(keys, NKEYS, NULL, NULL, &s, &err));
	assert_defaults(&s);
	cfg_release(keys, NKEYS, &s);
	assert_null(s.listen);
	assert_null(s.level);
	cfg_release(keys, NKEYS, &s);	/* twice, and on a zeroed struct: no-op */
}

static void test_empty_files(void **state)
{
	static const char *const texts[] = {
		"", "# nothing but a comment\n", "~\n",
		"http:\n  # listen: commented out\nlog:\n",
	};
	for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
		struct settings s = { 0 };
		struct cfg_error err = { { 0 } };
		assert_true(load_text(texts[i], &s, &err));
		assert_defaults(&s);
		cfg_release(keys, NKEYS, &s);
	}
}

static void test_good_file(void **state)
{
	struct settings s = { 0 };
	struct cfg_error err = { { 0 } };

	assert_true(cfg_load(keys, NKEYS, FIXTURES "/good.yaml", "CFGTEST", &s, &err));
	assert_string_equal(s.listen, "0.0.0.0:9090");
	assert_int_equal(s.threads, 16);
	assert_true(s.debug);
	assert_int_equal(s.timeout, 250);
	assert_int_equal(s.max_body, 2048);
	assert_string_equal(s.dsn, "host=db dbname=minitwit password=hunter2");
	assert_string_equal(s.password, "s3cret");
	assert_string_equal(s.level, "");	/* "level: ~" is the empty string */
	cfg_release(keys, NKEYS, &s);
}

static void test_flow_style_file(void **state)
{
	struct settings s = { 0 };
	struct cfg_error err = { { 0 } };

	assert_true(load_text("{ http: { listen: ':1', threads: 256 }, log: { level: \"\" } }",
			      &s, &err));
	assert_string_equal(s.listen, ":1");
	assert_int_equal(s.threads, 256);
	assert_string_equal(s.level, "");
	cfg_release(keys, NKEYS, &s);
}

static void test_unknown_section(void **state)
{
	expect_error("htp:\n  listen: x\n",
		     "1:1: unknown section \"htp\"\nhint: did you mean \"http\"?");
	expect_error("http:\n  threads: 2\nfoo:\n  a: b\n", "3:1: unknown section \"foo\"");
}

static void test_unknown_key(void **state)
{
	expect_error("http:\n  lisen: x\n",
		     "2:3: unknown key \"http.lisen\"\nhint: did you mean \"http.listen\"?");
	expect_error("http:\n  max_body: 1\n",
		     "2:3: unknown key \"http.max_body\"\nhint: did you mean \"http.max-body\"?");
	expect_error("log:\n  lvl: x\n",
		     "2:3: unknown key \"log.lvl\"\nhint: did you mean \"log.level\"?");
	expect_error("http:\n  dsn: x\n",
		     "2:3: unknown key \"http.dsn\"\nhint: did you mean \"database.dsn\"?");
	expect_error("log:\n  level: x\nhttp:\n  threads: 3\n  workers: 8\n",
		     "5:3: unknown key \"http.workers\"");
}

static void test_invalid_values(void **state)
{
	expect_error("http:\n  threads: abc\n",
		     "2:12: invalid value \"abc\" for \"http.threads\": "
		     "expected an integer between 1 and 256");
	expect_error("http:\n  threads: 2.5\n",
		     "2:12: invalid value \"2.5\" for \"http.threads\": "
		     "expected an integer between 1 and 256");
	expect_error("http: { debug: maybe }",
		     "1:16: invalid value \"maybe\" for \"http.debug\": "
		     "expected a boolean (true/false, yes/no, on/off, 1/0)");
	expect_error("http:\n  timeout: 5x\n",
		     "2:12: invalid value \"5x\" for \"http.timeout\": expected a duration "
		     "between 1ms and 1h such as \"250ms\", \"2s\", \"1m\" or \"1h\"");
	expect_error("http:\n  max-body: lots\n",
		     "2:13: invalid value \"lots\" for \"http.max-body\": expected an integer");
	/* null or empty is an error for everything but strings */
	expect_error("http:\n  threads:\n",
		     "2:11: invalid value \"\" for \"http.threads\": "
		     "expected an integer between 1 and 256");
	expect_error("http:\n  debug: ~\n",
		     "2:10: invalid value \"~\" for \"http.debug\": "
		     "expected a boolean (true/false, yes/no, on/off, 1/0)");
}

static void test_bounds(void **state)
{
	struct settings s = { 0 };
	struct cfg_error err = { { 0 } };

	expect_error("http:\n  threads: 0\n",
		     "2:12: invalid value \"0\" for \"http.threads\": "
		     "expected an integer between 1 and 256");
	expect_error("http:\n  threads: 257\n",
		     "2:12: invalid value \"257\" for \"http.threads\": "
		     "expected an integer between 1 and 256");
	expect_error("http:\n  timeout: 0ms\n",
		     "2:12: invalid value \"0ms\" for \"http.timeout\": expected a duration "
		     "between 1ms and 1h such as \"250ms\", \"2s\", \"1m\" or \"1h\"");
	expect_error("http:\n  timeout: 61m\n",
		     "2:12: invalid value \"61m\" for \"http.timeout\": expected a duration "
		     "between 1ms and 1h such as \"250ms\", \"2s\", \"1m\" or \"1h\"");

	/* both ends are inclusive; min == max == 0 means unbounded */
	assert_true(load_text("http:\n  threads: 1\n  timeout: 1h\n  max-body: -9000000000\n",
			      &s, &err));
	assert_int_equal(s.threads, 1);
	assert_int_equal(s.timeout, 3600000);
	assert_int_equal(s.max_body, -9000000000LL);
	assert_true(load_text("http:\n  threads: 256\n  timeout: 1\n", &s, &err));
	assert_int_equal(s.threads, 256);
	assert_int_equal(s.timeout, 1);
	cfg_release(keys, NKEYS, &s);
}

static void test_not_scalars(void **state)
{
	expect_error("http: 5\n",
		     "1:7: invalid section \"http\": expected a mapping, got a scalar");
	expect_error("http:\n  - listen\n",
		     "2:3: invalid section \"http\": expected a mapping, got a sequence");
	expect_error("http:\n  listen: { a: b }\n",
		     "2:11: invalid value for \"http.listen\": expected a scalar, got a mapping");
	expect_error("http:\n  listen:\n    - a\n    - b\n",
		     "3:5: invalid value for \"http.listen\": expected a scalar, got a sequence");
	expect_error("- http\n",
		     "1:1: invalid configuration: expected a mapping of sections, got a sequence");
	expect_error("just text\n",
		     "1:1: invalid configuration: expected a mapping of sections, got a scalar");
}

/* Names of the variables set, never their values. */
static void test_env_overrides_named(void **state)
{
	struct buf b = BUF_INIT;
	cfg_env_overrides(keys, NKEYS, "CFGTEST", &b);
	assert_int_equal(b.len, 0);
	setenv("CFGTEST_HTTP_THREADS", "32", 1);
	setenv("CFGTEST_DATABASE_PASSWORD", "hunter2", 1);
	cfg_env_overrides(keys, NKEYS, "CFGTEST", &b);
	assert_string_equal(buf_str(&b), "CFGTEST_HTTP_THREADS, CFGTEST_DATABASE_PASSWORD");
	buf_release(&b);
	clear_env(state);
}

/* A file over 1 MiB is refused before it is parsed. */
static void test_file_size_limit(void **state)
{
	struct buf big = BUF_INIT;
	buf_adds(&big, "http:\n  listen: a\n");
	while (big.len <= 1024 * 1024)
		buf_adds(&big, "# padding padding padding padding padding padding padding\n");
	struct settings s = { 0 };
	struct cfg_error err = { { 0 } };
	char *path = write_temp(buf_str(&big));
	char want[sizeof err.msg];
	assert_false(cfg_load(keys, NKEYS, path, "CFGTEST", &s, &err));
	snprintf(want, sizeof want, "configuration file \"%s\" is larger than 1024 KiB"
		 "\nhint: is it the right file?", path);
	assert_string_equal(err.msg, want);
	cfg_release(keys, NKEYS, &s);
	unlink(path);
	free(path);
	struct cfg_doc doc;
	assert_false(cfg_doc_parse_string(big.data, big.len, "x.yaml", &doc, &err));
	assert_string_equal(err.msg, "x.yaml: configuration is larger than 1024 KiB");
	buf_release(&big);
}

/* Duplicates among many keys (a hash set, not a scan per key): found,
 * with where the first one was; near misses are not duplicates. */
static void test_duplicates_many_keys(void **state)
{
	struct buf y = BUF_INIT;
	struct cfg_doc doc;
	struct cfg_error err = { { 0 } };
	buf_adds(&y, "tables:\n");
	for (int i = 0; i < 40000; i++)
		buf_addf(&y, "  t%d: {}\n", i);
	assert_true(cfg_doc_parse_string(y.data, y.len, "m.yaml", &doc, &err));
	assert_int_equal(cfg_node_get(doc.root, "tables")->n, 40000);
	assert_non_null(cfg_node_get(cfg_node_get(doc.root, "tables"), "t39999"));
	cfg_doc_release(&doc);
	buf_adds(&y, "  t1234: {}\n");
	assert_false(cfg_doc_parse_string(y.data, y.len, "m.yaml", &doc, &err));
	assert_string_equal(err.msg, "m.yaml:40002:3: duplicate key \"tables.t1234\" "
				     "(first at line 1236, column 3)");
	buf_release(&y);
}

static void test_duplicates(void **state)
{
	expect_error("http:\n  listen: a\n  listen: b\n",
		     "3:3: duplicate key \"http.listen\" (first at line 2, column 3)");
	expect_error("http:\n  threads: 2\nlog:\n  level: x\nhttp:\n  debug: on\n",
		     "5:1: duplicate key \"http\" (first at line 1, column 1)");
}

static void test_anchors_aliases(void **state)
{
	expect_error("http:\n  listen: &l x\n", "2:11: anchors and aliases are not supported");
	expect_error("http: &h\n  listen: x\n", "1:7: anchors and aliases are not supported");
	expect_error("http:\n  listen: *x\n", "2:11: anchors and aliases are not supported");
}

static void test_syntax_errors(void **state)
{
	expect_error("http:\n  listen: a: b\n",
		     "2:12: invalid YAML: mapping values are not allowed in this context");
	expect_error("http:\n  listen: [a\n",
		     "3:1: invalid YAML: did not find expected ',' or ']' "
		     "(while parsing a flow sequence at line 2, column 11)");
	expect_error("http:\n\tlisten: x\n",
		     "2:1: invalid YAML: found character that cannot start any token "
		     "(while scanning for the next token at line 2, column 1)");
	expect_error("http:\n  listen: \xff\n",
		     "2:11: invalid YAML: invalid leading UTF-8 octet (#FF)");
	expect_error("http: {}\n---\nlog: {}\n",
		     "2:1: expected a single YAML document, found a second one");
	expect_error("http:\n  listen: \"a\\0b\"\n",
		     "2:11: scalar contains a NUL character");
}

static void test_unreadable_file(void **state)
{
	struct settings s = { 0 };
	struct cfg_error err = { { 0 } };

	assert_false(cfg_load(keys, NKEYS, FIXTURES "/does-not-exist.yaml", NULL, &s, &err));
	assert_string_equal(err.msg, "could not open \"" FIXTURES
			    "/does-not-exist.yaml\": No such file or directory");
	cfg_release(keys, NKEYS, &s);

	assert_false(cfg_load(keys, NKEYS, FIXTURES, NULL, &s, &err));
	assert_string_equal(err.msg, "could not read \"" FIXTURES "\": Is a directory");
	cfg_release(keys, NKEYS, &s);
}

static void test_bad_default(void **state)
{
	struct settings s = { 0 };
	struct cfg_error err = { { 0 } };
	static const struct cfg_key bad[] = {
		KEY("t", "n", CFG_INT, "many", 0, 0, false, threads, NULL),
	};

	assert_false(cfg_load(bad, 1, NULL, NULL, &s, &err));
	assert_string_equal(err.msg, "invalid default: invalid value \"many\" for \"t.n\": "
			    "expected an integer");
}

static void test_env_override(void **state)
{
	struct settings s = { 0 };
	struct cfg_error err = { { 0 } };

	setenv("CFGTEST_HTTP_LISTEN", "[::1]:7070", 1);
	setenv("CFGTEST_HTTP_THREADS", "32", 1);
	setenv("CFGTEST_HTTP_DEBUG", "off", 1);
	setenv("CFGTEST_HTTP_TIMEOUT", "1m", 1);
	setenv("CFGTEST_HTTP_MAX_BODY", "10", 1);	/* '-' in "max-body" is '_' */
	setenv("CFGTEST_LOG_LEVEL", "", 1);
	assert_true(cfg_load(keys, NKEYS, FIXTURES "/good.yaml", "CFGTEST", &s, &err));
	assert_string_equal(s.listen, "[::1]:7070");
	assert_int_equal(s.threads, 32);
	assert_false(s.debug);
	assert_int_equal(s.timeout, 60000);
	assert_int_equal(s.max_body, 10);
	assert_string_equal(s.level, "");
	assert_string_equal(s.password, "s3cret");	/* from the file, untouched */
	cfg_release(keys, NKEYS, &s);

	/* without a file, and without a prefix nothing is read */
	assert_true(cfg_load(keys, NKEYS, NULL, "CFGTEST", &s, &err));
	assert_int_equal(s.threads, 32);
	cfg_release(keys, NKEYS, &s);
	assert_true(cfg_load(keys, NKEYS, NULL, NULL, &s, &err));
	assert_defaults(&s);
	cfg_release(keys, NKEYS, &s);
}

static void test_env_invalid(void **state)
{
	struct settings s = { 0 };
	struct cfg_error err = { { 0 } };

	setenv("CFGTEST_HTTP_THREADS", "abc", 1);
	assert_false(cfg_load(keys, NKEYS, FIXTURES "/good.yaml", "CFGTEST", &s, &err));
	assert_string_equal(err.msg, "environment CFGTEST_HTTP_THREADS: invalid value \"abc\" "
			    "for \"http.threads\": expected an integer between 1 and 256");
	cfg_release(keys, NKEYS, &s);

	clear_env(state);
	setenv("CFGTEST_HTTP_TIMEOUT", "", 1);
	assert_false(cfg_load(keys, NKEYS, NULL, "CFGTEST", &s, &err));
	assert_string_equal(err.msg, "environment CFGTEST_HTTP_TIMEOUT: invalid value \"\" "
			    "for \"http.timeout\": expected a duration between 1ms and 1h "
			    "such as \"250ms\", \"2s\", \"1m\" or \"1h\"");
	cfg_release(keys, NKEYS, &s);
}

/* ---- value parsers ------------------------------------------------------ */

static void test_parse_bool(void **state)
{
	static const char *const yes[] = { "true", "True", "YES", "on", "1" };
	static const char *const no[] = { "false", "FALSE", "no", "Off", "0" };
	static const char *const bad[] = { "", "maybe", "tru", "2", " true", "true " };
	bool b;

	for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
		b = false;
		assert_true(cfg_parse_bool(yes[i], &b));
		assert_true(b);
	}
	for (size_t i = 0; i < sizeof no / sizeof *no; i++) {
		b = true;
		assert_true(cfg_parse_bool(no[i], &b));
		assert_false(b);
	}
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		assert_false(cfg_parse_bool(bad[i], &b));
}

static void test_parse_int(void **state)
{
	static const char *const bad[] = {
		"", "-", "+", " 1", "1 ", "0x10", "1e3", "12abc", "9223372036854775808",
		"-9223372036854775809",
	};
	int64_t v;

	assert_true(cfg_parse_int("0", &v));
	assert_int_equal(v, 0);
	assert_true(cfg_parse_int("+5", &v));
	assert_int_equal(v, 5);
	assert_true(cfg_parse_int("-42", &v));
	assert_int_equal(v, -42);
	assert_true(cfg_parse_int("9223372036854775807", &v));
	assert_true(v == INT64_MAX);
	assert_true(cfg_parse_int("-9223372036854775808", &v));
	assert_true(v == INT64_MIN);
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		assert_false(cfg_parse_int(bad[i], &v));
}

static void test_parse_millis(void **state)
{
	static const struct { const char *text; int64_t ms; } good[] = {
		{ "250ms", 250 }, { "2s", 2000 }, { "1m", 60000 }, { "1h", 3600000 },
		{ "42", 42 }, { "0", 0 }, { "-1s", -1000 }, { "90m", 5400000 },
	};
	static const char *const bad[] = {
		"", "ms", "1.5s", "2 s", "1d", "1S", "5sec", "-", "2562047788015216h",
	};
	int64_t v;

	for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
		assert_true(cfg_parse_millis(good[i].text, &v));
		assert_int_equal(v, good[i].ms);
	}
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		assert_false(cfg_parse_millis(bad[i], &v));
}

/* ---- cfg_print ---------------------------------------------------------- */

static void test_print_defaults(void **state)
{
	struct settings s = { 0 };
	struct settings back = { 0 };
	struct cfg_error err = { { 0 } };

	assert_true(cfg_load(keys, NKEYS, NULL, NULL, &s, &err));
	char *text = print_to_string(keys, NKEYS, &s);
	assert_string_equal(text,
		"http:\n"
		"  # address and port to listen on\n"
		"  listen: \"127.0.0.1:8080\"\n"
		"  # worker threads\n"
		"  threads: 4\n"
		"  # log every request\n"
		"  debug: false\n"
		"  # request timeout\n"
		"  timeout: 2s\n"
		"  # largest request body in bytes\n"
		"  max-body: 1048576\n"
		"\n"
		"database:\n"
		"  # libpq connection string\n"
		"  # dsn: (not set)\n"
		"  # password, if not in the DSN\n"
		"  # password: (not set)\n"
		"\n"
		"log:\n"
		"  # debug, info, warning or error\n"
		"  level: \"info\"\n");

	/* read back: unset strings stay unset */
	assert_true(load_text(text, &back, &err));
	assert_defaults(&back);
	free(text);
	cfg_release(keys, NKEYS, &back);
	cfg_release(keys, NKEYS, &s);
}

static void test_print_masks_and_round_trips(void **state)
{
	struct settings s = { 0 };
	struct settings back = { 0 };
	struct cfg_error err = { { 0 } };

	assert_true(load_text("http:\n"
			      "  listen: \"a \\\"q\\\" \\\\ b\\n\\tc #d: e\"\n"
			      "  threads: 7\n"
			      "  debug: on\n"
			      "  timeout: 1500\n"
			      "  max-body: -3\n"
			      "database:\n"
			      "  dsn: postgresql://app:hunter2@db:5432/minitwit\n"
			      "  password: s3cret\n",
			      &s, &err));
	char *text = print_to_string(keys, NKEYS, &s);
	assert_null(strstr(text, "hunter2"));
	assert_null(strstr(text, "s3cret"));
	assert_non_null(strstr(text, "  password: \"********\"\n"));
	assert_non_null(strstr(text,
		"  dsn: \"user=app password=******** dbname=minitwit host=db port=5432\"\n"));
	assert_non_null(strstr(text, "  listen: \"a \\\"q\\\" \\\\ b\\n\\tc #d: e\"\n"));
	assert_non_null(strstr(text, "  timeout: 1500ms\n"));

	assert_true(load_text(text, &back, &err));
	assert_string_equal(back.listen, s.listen);
	assert_string_equal(back.listen, "a \"q\" \\ b\n\tc #d: e");
	assert_int_equal(back.threads, 7);
	assert_true(back.debug);
	assert_int_equal(back.timeout, 1500);
	assert_int_equal(back.max_body, -3);
	assert_string_equal(back.dsn, "user=app password=******** dbname=minitwit host=db port=5432");
	assert_string_equal(back.password, "********");
	assert_string_equal(back.level, "info");
	free(text);
	cfg_release(keys, NKEYS, &back);
	cfg_release(keys, NKEYS, &s);
}

struct one { char *s; };

static void test_print_dsn_masking(void **state)
{
	static const struct cfg_key one_key[] = {
		{ "x", "s", CFG_STRING, NULL, 0, 0, false, false, offsetof(struct one, s), NULL },
	};
	static const struct { const char *in, *out; } cases[] = {
		/* a DSN with a secret is rebuilt from libpq's parse (its order) */
		{ "host=db password=hunter2 user=u", "user=u password=******** host=db" },
		{ "password = 'a b\\\\\\' c' host=x", "password=******** host=x" },
		{ "password=hunter2", "password=********" },
		{ "host=db password=a\\ b", "password=******** host=db" },
		{ "host=db sslpassword=k sslmode=require",
		  "host=db sslmode=require sslpassword=********" },
		{ "postgres://u:p@ss@h/db", "user=u password=******** dbname=db host=ss@h" },
		{ "postgresql://h/db?user=u&password=pw&sslmode=require",
		  "user=u password=******** dbname=db host=h sslmode=require" },
		{ "postgresql://h/db?%70assword=pw", "password=******** dbname=db host=h" },
		/* other URLs: the user info's password */
		{ "http://admin:tok@127.0.0.1:8081/x", "http://admin:********@127.0.0.1:8081/x" },
		/* without a secret: as it is; unparsable: not shown */
		{ "postgresql://u@h/db", "postgresql://u@h/db" },
		{ "mypassword=x host=y", "(invalid connection string)" },
		{ "host=db user=u", "host=db user=u" },
	};

	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct one o = { (char *)cases[i].in };
		char want[512];
		char *text = print_to_string(one_key, 1, &o);
		snprintf(want, sizeof want, "x:\n  s: \"%s\"\n", cases[i].out);
		assert_string_equal(text, want);
		free(text);
	}
}

/* ---- the YAML tree ------------------------------------------------------ */

static void test_doc_flow_style(void **state)
{
	struct cfg_doc doc;
	struct cfg_error err = { { 0 } };

	assert_true(cfg_doc_parse(FIXTURES "/migration.yaml", &doc, &err));
	assert_string_equal(doc.path, FIXTURES "/migration.yaml");
	const struct cfg_node *root = doc.root;
	assert_non_null(root);
	assert_int_equal(root->kind, CFG_NODE_MAP);
	assert_int_equal(root->n, 2);

	const struct cfg_node *tables = cfg_node_get(root, "tables");
	assert_non_null(tables);
	assert_int_equal(tables->kind, CFG_NODE_MAP);
	assert_int_equal(tables->line, 2);
	assert_int_equal(tables->column, 9);
	assert_string_equal(tables->keys[0]->scalar, "user");	/* document order */
	assert_string_equal(tables->keys[1]->scalar, "message");

	const struct cfg_node *user = cfg_node_get(tables, "user");
	assert_string_equal(cfg_node_get(user, "key")->scalar, "user_id");
	assert_string_equal(cfg_node_get(user, "offset")->scalar, "0");

	const struct cfg_node *message = cfg_node_get(tables, "message");
	const struct cfg_node *offset = cfg_node_get(message, "offset");
	assert_int_equal(offset->kind, CFG_NODE_SCALAR);
	assert_string_equal(offset->scalar, "auto");
	assert_false(offset->quoted);
	assert_int_equal(offset->line, 3);
	assert_int_equal(offset->column, 47);
	const struct cfg_node *refs = cfg_node_get(message, "refs");
	assert_string_equal(cfg_node_get(refs, "author_id")->scalar, "user");

	const struct cfg_node *servers = cfg_node_get(cfg_node_get(root, "cutover"), "servers");
	assert_non_null(servers);
	assert_int_equal(servers->kind, CFG_NODE_SEQ);
	assert_int_equal(servers->n, 2);
	assert_null(servers->keys);
	const struct cfg_node *url = cfg_node_get(servers->items[0], "admin_url");
	assert_string_equal(url->scalar, "http://127.0.0.1:8081");
	assert_true(url->quoted);
	assert_int_equal(url->line, 6);
	assert_int_equal(url->column, 18);
	url = cfg_node_get(servers->items[1], "admin_url");
	assert_string_equal(url->scalar, "http://127.0.0.1:8082");
	assert_true(url->quoted);
	assert_int_equal(url->line, 7);

	cfg_doc_release(&doc);
	assert_null(doc.root);
	assert_null(doc.path);
	cfg_doc_release(&doc);
}

static void test_node_get(void **state)
{
	struct cfg_doc doc;
	struct cfg_error err = { { 0 } };
	const char *text = "a: 1\nb: [x, 'y']\nc:\n";

	assert_true(cfg_doc_parse_string(text, strlen(text), NULL, &doc, &err));
	assert_string_equal(doc.path, "<string>");
	const struct cfg_node *b = cfg_node_get(doc.root, "b");
	assert_int_equal(b->kind, CFG_NODE_SEQ);
	assert_false(b->items[0]->quoted);
	assert_true(b->items[1]->quoted);
	assert_string_equal(cfg_node_get(doc.root, "c")->scalar, "");
	assert_null(cfg_node_get(doc.root, "d"));
	assert_null(cfg_node_get(b, "x"));		/* not a map */
	assert_null(cfg_node_get(b->items[0], "x"));	/* a scalar */
	assert_null(cfg_node_get(NULL, "a"));
	cfg_doc_release(&doc);

	/* only len bytes are read */
	assert_true(cfg_doc_parse_string("k: v\nbroken: [", 5, "s", &doc, &err));
	assert_int_equal(doc.root->n, 1);
	cfg_doc_release(&doc);

	assert_true(cfg_doc_parse_string("", 0, "empty", &doc, &err));
	assert_null(doc.root);
	cfg_doc_release(&doc);
}

static void test_doc_errors(void **state)
{
	static const struct { const char *text, *msg; } cases[] = {
		{ "t: { u: { k: 1, k: 2 } }",
		  "m.yaml:1:17: duplicate key \"t.u.k\" (first at line 1, column 11)" },
		{ "s:\n  - a: 1\n    a: 2\n",
		  "m.yaml:3:5: duplicate key \"s[0].a\" (first at line 2, column 5)" },
		{ "? [a]\n: b\n",
		  "m.yaml:1:3: invalid mapping key: expected a scalar, got a sequence" },
		{ "a: &x 1\nb: *x\n", "m.yaml:1:4: anchors and aliases are not supported" },
		{ "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]",
		  "m.yaml:1:65: nesting deeper than 64 levels" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct cfg_doc doc;
		struct cfg_error err = { { 0 } };
		assert_false(cfg_doc_parse_string(cases[i].text, strlen(cases[i].text),
						  "m.yaml", &doc, &err));
		assert_string_equal(err.msg, cases[i].msg);
		assert_null(doc.root);	/* failure leaves nothing to release */
		assert_null(doc.path);
	}
}

static void test_cfg_fail(void **state)
{
	struct cfg_doc doc;
	struct cfg_error err = { { 0 } };
	const char *text = "tables:\n  user: { key: user_id }\n";

	assert_true(cfg_doc_parse_string(text, strlen(text), "migration.yaml", &doc, &err));
	const struct cfg_node *user = cfg_node_get(doc.root->items[0], "user");
	assert_false(cfg_fail(&err, &doc, user, "table %s has no \"%s\"", "\"user\"", "offset"));
	assert_string_equal(err.msg, "migration.yaml:2:9: table \"user\" has no \"offset\"");
	assert_false(cfg_fail(&err, &doc, NULL, "no cutover section"));
	assert_string_equal(err.msg, "migration.yaml: no cutover section");
	assert_false(cfg_fail(&err, NULL, NULL, "%d tables", 3));
	assert_string_equal(err.msg, "<input>: 3 tables");
	cfg_doc_release(&doc);
}

/* A reload changes nothing when a key that is not reloadable differs: the
 * check names each such key, of every type, and no reloadable one. */
static void test_fixed_changes(void **state)
{
	static const struct cfg_key fk[] = {
		FIXED("http", "listen", CFG_STRING, "127.0.0.1:8080", 0, 0, false, listen, "l"),
		FIXED("http", "threads", CFG_INT, "4", 1, 256, false, threads, "t"),
		FIXED("http", "debug", CFG_BOOL, "false", 0, 0, false, debug, "d"),
		FIXED("http", "timeout", CFG_MILLIS, "2s", 1, 3600000, false, timeout, "t"),
		FIXED("database", "password", CFG_STRING, NULL, 0, 0, true, password, "p"),
		KEY("log", "level", CFG_STRING, "info", 0, 0, false, level, "l"),
	};
	size_t n = sizeof fk / sizeof *fk;
	struct settings a = { 0 }, b = { 0 };
	struct cfg_error err;
	struct buf out = BUF_INIT;
	assert_true(cfg_load(fk, n, NULL, NULL, &a, &err));
	assert_true(cfg_load(fk, n, NULL, NULL, &b, &err));
	assert_int_equal(cfg_fixed_changes(fk, n, &a, &b, &out), 0);
	assert_int_equal(out.len, 0);
	free(b.level);
	b.level = strdup("debug");	/* reloadable: not named */
	assert_int_equal(cfg_fixed_changes(fk, n, &a, &b, &out), 0);
	free(b.listen);
	b.listen = strdup("127.0.0.1:9090");
	b.threads = 8;
	b.debug = true;
	b.timeout = 3000;
	b.password = strdup("hunter2");	/* unset before: a change, named, never shown */
	assert_int_equal(cfg_fixed_changes(fk, n, &a, &b, &out), 5);
	assert_string_equal(buf_str(&out), "\"http.listen\", \"http.threads\", \"http.debug\", "
					   "\"http.timeout\", \"database.password\"");
	cfg_release(fk, n, &a);
	cfg_release(fk, n, &b);
	buf_release(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_defaults, clear_env),
		cmocka_unit_test_teardown(test_empty_files, clear_env),
		cmocka_unit_test_teardown(test_good_file, clear_env),
		cmocka_unit_test_teardown(test_flow_style_file, clear_env),
		cmocka_unit_test_teardown(test_unknown_section, clear_env),
		cmocka_unit_test_teardown(test_unknown_key, clear_env),
		cmocka_unit_test_teardown(test_invalid_values, clear_env),
		cmocka_unit_test_teardown(test_bounds, clear_env),
		cmocka_unit_test_teardown(test_not_scalars, clear_env),
		cmocka_unit_test_teardown(test_duplicates, clear_env),
		cmocka_unit_test_teardown(test_anchors_aliases, clear_env),
		cmocka_unit_test_teardown(test_syntax_errors, clear_env),
		cmocka_unit_test_teardown(test_unreadable_file, clear_env),
		cmocka_unit_test_teardown(test_bad_default, clear_env),
		cmocka_unit_test_teardown(test_env_override, clear_env),
		cmocka_unit_test_teardown(test_env_invalid, clear_env),
		cmocka_unit_test(test_parse_bool),
		cmocka_unit_test(test_parse_int),
		cmocka_unit_test(test_parse_millis),
		cmocka_unit_test_teardown(test_print_defaults, clear_env),
		cmocka_unit_test_teardown(test_print_masks_and_round_trips, clear_env),
		cmocka_unit_test(test_print_dsn_masking),
		cmocka_unit_test_teardown(test_fixed_changes, clear_env),
		cmocka_unit_test(test_env_overrides_named),
		cmocka_unit_test(test_file_size_limit),
		cmocka_unit_test(test_duplicates_many_keys),
		cmocka_unit_test(test_doc_flow_style),
		cmocka_unit_test(test_node_get),
		cmocka_unit_test(test_doc_errors),
		cmocka_unit_test(test_cfg_fail),
	};

	clear_env(NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
