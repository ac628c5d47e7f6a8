/*
 * Fuzz the request-target decoder (minitwitd/route.c route_parse_target):
 * whatever a client sends as "GET <target> HTTP/1.1".  A decoded target is
 * a NUL-free, valid UTF-8 path and at most ROUTE_MAX_PARAMS parameters.
 */
#include "fuzz.h"
#include "route.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *raw = fuzz_cstr(data, size);
	struct route_target t;
	memset(&t, 0, sizeof t);
	if (route_parse_target(raw, &t) == ROUTE_OK) {
		FUZZ_CHECK(t.path && strlen(t.path) == t.path_len, "path length");
		FUZZ_CHECK(utf8_valid(t.path, t.path_len), "path not UTF-8");
		FUZZ_CHECK(t.query.n <= ROUTE_MAX_PARAMS, "too many parameters");
		for (size_t i = 0; i < t.query.n; i++) {
			const struct route_param *p = &t.query.p[i];
			FUZZ_CHECK(utf8_valid(p->key, strlen(p->key)), "key not UTF-8");
			FUZZ_CHECK(strlen(p->value) == p->value_len, "value holds a NUL");
			FUZZ_CHECK(utf8_valid(p->value, p->value_len), "value not UTF-8");
		}
		route_target_release(&t);
	}
	free(raw);
	return 0;
}
