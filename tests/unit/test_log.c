/*
 * Unit tests for lib/log.c: one message form ("\ndetail: ", "\nhint: "
 * parts) rendered as lines a person reads or as one JSON object.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "log.h"
#include "banned.h"

/* A message in its text form, as log_msg renders it: parsed, then rendered. */
static void render(enum log_format f, enum log_level l, const char *msg, struct buf *out)
{
	struct problem p;
	buf_reset(out);
	problem_parse(&p, msg, strlen(msg));
	log_render(out, f, l, "migrate", "2026-12-02T10:00:00.000Z", &p);
	problem_release(&p);
}

static void test_text_lines(void **state)
{
	struct buf b = BUF_INIT;
	(void)state;
	render(LOG_FORMAT_TEXT, LOG_ERROR, "could not connect to source \"x\"\ndetail: refused\nhint: check pgpass", &b);
	assert_string_equal(b.data, "migrate: error: could not connect to source \"x\"\ndetail: refused\n"
				    "hint: check pgpass\n");
	render(LOG_FORMAT_TEXT, LOG_INFO, "linked", &b);
	assert_string_equal(b.data, "migrate: linked\n");
	render(LOG_FORMAT_TEXT, LOG_WARN, "slow\nhint: wait", &b);
	assert_string_equal(b.data, "migrate: warn: slow\nhint: wait\n");
	buf_release(&b);
}

static void test_json_fields(void **state)
{
	struct buf b = BUF_INIT;
	(void)state;
	render(LOG_FORMAT_JSON, LOG_ERROR, "failed: \"t\"\ndetail: a\nb\nhint: do \"this\"", &b);
	assert_string_equal(b.data, "{\"ts\":\"2026-12-02T10:00:00.000Z\",\"level\":\"error\",\"prog\":\"migrate\","
				    "\"msg\":\"failed: \\\"t\\\"\",\"detail\":\"a\\nb\",\"hint\":\"do \\\"this\\\"\"}\n");
	/* a hint without detail; a newline that starts no part stays in the text */
	render(LOG_FORMAT_JSON, LOG_INFO, "one\ntwo\nhint: h", &b);
	assert_non_null(strstr(b.data, "\"msg\":\"one\\ntwo\",\"hint\":\"h\"}"));
	assert_null(strstr(b.data, "detail"));
	render(LOG_FORMAT_JSON, LOG_INFO, "plain", &b);
	assert_non_null(strstr(b.data, "\"msg\":\"plain\"}\n"));
	buf_release(&b);
}

/* A problem built as a struct is written as fields, never parsed: a hint
 * may hold a line that looks like a part, a message may hold "hint: " */
static void test_problem_fields(void **state)
{
	struct buf b = BUF_INIT;
	struct problem p;
	(void)state;
	problem_init(&p, "table \"t\" differs\nhint: not a hint", NULL, "run:\ndetail: x");
	log_render(&b, LOG_FORMAT_JSON, LOG_ERROR, "migrate", "2026-12-02T10:00:00.000Z", &p);
	assert_non_null(strstr(b.data, "\"msg\":\"table \\\"t\\\" differs\\nhint: not a hint\","
				       "\"hint\":\"run:\\ndetail: x\"}\n"));
	assert_null(strstr(b.data, "\"detail\""));
	problem_release(&p);
	assert_null(p.msg);

	/* the text form: message, then detail: and hint: lines */
	buf_reset(&b);
	problem_init(&p, "could not copy", "disk full", "free space");
	problem_text(&p, &b);
	assert_string_equal(b.data, "could not copy\ndetail: disk full\nhint: free space\n");
	buf_reset(&b);
	log_render(&b, LOG_FORMAT_TEXT, LOG_WARN, "sync-fdw", "", &p);
	assert_string_equal(b.data, "sync-fdw: warn: could not copy\ndetail: disk full\nhint: free space\n");
	problem_release(&p);

	/* a text that is not UTF-8 (a SQL_ASCII database's message) still
	 * makes a JSON line, its stray bytes shown as '?' */
	buf_reset(&b);
	problem_init(&p, "caf\xe9 closed", NULL, NULL);
	log_render(&b, LOG_FORMAT_JSON, LOG_INFO, "migrate", "t", &p);
	assert_non_null(strstr(b.data, "\"msg\":\"caf? closed\"}\n"));
	problem_release(&p);

	/* parse is the inverse of the text form; parts in any order */
	problem_parse(&p, "m\nhint: h\ndetail: d\n\n", strlen("m\nhint: h\ndetail: d\n\n"));
	assert_string_equal(p.msg, "m");
	assert_string_equal(p.detail, "d");
	assert_string_equal(p.hint, "h");
	problem_release(&p);
	problem_parse(&p, "", 0);
	assert_string_equal(p.msg, "");
	assert_null(p.detail);
	assert_null(p.hint);
	problem_release(&p);
	buf_release(&b);
}

static void test_format_names(void **state)
{
	(void)state;
	assert_true(log_set_format_name("text"));
	assert_true(log_set_format_name("json"));
	assert_true(log_set_format_name("auto"));
	assert_false(log_set_format_name("yaml"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_lines),
		cmocka_unit_test(test_json_fields),
		cmocka_unit_test(test_problem_fields),
		cmocka_unit_test(test_format_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
