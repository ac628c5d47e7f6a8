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

static void render(enum log_format f, enum log_level l, const char *msg, struct buf *out)
{
	buf_reset(out);
	log_render(out, f, l, "migrate", "2026-12-02T10:00:00.000Z", msg, strlen(msg));
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
		cmocka_unit_test(test_format_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
