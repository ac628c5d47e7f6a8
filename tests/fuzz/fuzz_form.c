/*
 * Fuzz the web UI's form parser: application/x-www-form-urlencoded bodies
 * of /login, /register and /add_message (route_parse_params, as web.c calls
 * it, with the fields it reads).
 */
#include "fuzz.h"
#include "route.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const fields[] = { "username", "password", "password2", "email",
					      "text", "csrf_token", "next" };
	struct route_params p;
	memset(&p, 0, sizeof p);
	if (route_parse_params((const char *)data, size, &p) != ROUTE_OK)
		return 0;
	FUZZ_CHECK(p.n <= ROUTE_MAX_PARAMS, "too many fields");
	for (size_t i = 0; i < p.n; i++) {
		FUZZ_CHECK(utf8_valid(p.p[i].key, strlen(p.p[i].key)), "key not UTF-8");
		FUZZ_CHECK(strlen(p.p[i].value) == p.p[i].value_len, "value holds a NUL");
		FUZZ_CHECK(utf8_valid(p.p[i].value, p.p[i].value_len), "value not UTF-8");
	}
	for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
		const char *v = route_param(&p, fields[i]);
		if (v)
			FUZZ_CHECK(utf8_valid(v, strlen(v)), "field not UTF-8");
	}
	route_params_release(&p);
	return 0;
}
