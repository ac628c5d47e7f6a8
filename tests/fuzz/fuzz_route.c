/*
 * Fuzz the route table: a request target decoded, then matched the way
 * api.c, web.c and static.c dispatch it (exact paths, route_tail for
 * "/msgs/<user>", "/fllws/<user>", "/static/<file>", "/<user>") and its
 * integer parameters read (route_parse_int for latest and no).
 */
#include <stdbool.h>

#include "fuzz.h"
#include "route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const prefixes[] = { "/msgs/", "/fllws/", "/static/", "/" };
	char *raw = fuzz_cstr(data, size);
	struct route_target t;
	memset(&t, 0, sizeof t);
	if (route_parse_target(raw, &t) != ROUTE_OK) {
		free(raw);
		return 0;
	}
	for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++) {
		const char *tail = route_tail(t.path, prefixes[i]);
		if (!tail)
			continue;
		size_t n = strlen(prefixes[i]);
		FUZZ_CHECK(tail == t.path + n, "tail is not after the prefix");
		FUZZ_CHECK(*tail && !strchr(tail, '/'), "tail \"%s\" is not one segment", tail);
	}
	static const char *const ints[] = { "latest", "no" };
	for (size_t i = 0; i < 2; i++) {
		int64_t v;
		const char *s = route_param(&t.query, ints[i]);
		bool ok = route_parse_int(s, &v);
		FUZZ_CHECK(!ok || s, "an absent parameter parsed");
	}
	route_target_release(&t);
	free(raw);
	return 0;
}
