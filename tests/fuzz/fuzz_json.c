/*
 * Fuzz the simulator API's JSON body parsers (minitwitd/api_json.c): the
 * bodies of POST /register, /msgs/<user> and /fllws/<user>.  Accepted
 * strings are NUL-free valid UTF-8; a refusal always says why.
 */
#include "api_json.h"
#include "buf.h"
#include "fuzz.h"
#include "utf8.h"

static void check_str(const char *s)
{
	if (s)
		FUZZ_CHECK(utf8_valid(s, strlen(s)), "accepted string not UTF-8");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body = (const char *)data;
	struct buf err = BUF_INIT;
	struct apijson_register reg = { 0 };
	char *s = NULL;
	enum apijson_follow_op op;

	if (apijson_parse_register(body, size, &reg, &err)) {
		check_str(reg.username);
		check_str(reg.email);
		check_str(reg.pwd);
	} else
		FUZZ_CHECK(err.len > 0, "register refused without a reason");
	apijson_register_release(&reg);
	buf_reset(&err);
	if (apijson_parse_message(body, size, &s, &err))
		check_str(s);
	else
		FUZZ_CHECK(err.len > 0, "message refused without a reason");
	free(s);
	s = NULL;
	buf_reset(&err);
	if (apijson_parse_follow(body, size, &op, &s, &err))
		check_str(s);
	else
		FUZZ_CHECK(err.len > 0, "follow refused without a reason");
	free(s);
	buf_release(&err);
	return 0;
}
