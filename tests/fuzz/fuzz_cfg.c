/*
 * Fuzz the YAML configuration loader (lib/cfg.c): any text parsed into a
 * tree, applied to a small settings table (every type, bounds, a secret),
 * printed back (DSN masking included) and released.
 */
#include <stdbool.h>
#include <stddef.h>

#include "cfg.h"
#include "fuzz.h"

struct settings {
	char *dsn;
	char *name;
	char *password;
	int64_t n;
	int64_t ms;
	bool flag;
};

#define S(f) offsetof(struct settings, f)
static const struct cfg_key keys[] = {
	{ "db", "dsn", CFG_STRING, "host=h dbname=d", 0, 0, false, false, S(dsn), NULL },
	{ "db", "password", CFG_STRING, NULL, 0, 0, true, false, S(password), NULL },
	{ "x", "name", CFG_STRING, "", 0, 0, false, true, S(name), NULL },
	{ "x", "n", CFG_INT, "4", 1, 1000, false, true, S(n), NULL },
	{ "x", "timeout", CFG_MILLIS, "1s", 0, 60000, false, true, S(ms), NULL },
	{ "x", "flag", CFG_BOOL, "off", 0, 0, false, true, S(flag), NULL },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const skip[] = { "tables", NULL };
	struct cfg_doc doc = { NULL, NULL };
	struct cfg_error err;
	struct settings s;
	memset(&s, 0, sizeof s);
	if (!cfg_doc_parse_string((const char *)data, size, "fuzz.yaml", &doc, &err))
		return 0;
	if (cfg_load_doc(keys, sizeof keys / sizeof *keys, &doc, skip, NULL, &s, &err)) {
		FUZZ_CHECK(s.n >= 1 && s.n <= 1000, "x.n out of bounds: %lld", (long long)s.n);
		char *text = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&text, &len);
		if (f) {
			cfg_print(keys, sizeof keys / sizeof *keys, &s, f);
			fclose(f);
			if (s.password)
				FUZZ_CHECK(strstr(text, "  password: \"********\"\n"), "a secret printed");
			free(text);
		}
	}
	cfg_release(keys, sizeof keys / sizeof *keys, &s);
	cfg_doc_release(&doc);
	return 0;
}
