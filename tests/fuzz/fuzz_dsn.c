/*
 * Fuzz the DSN masker (lib/dsn.c) on any string: whatever libpq would take
 * as a secret never survives masking, a DSN without one is left as it is,
 * and URL masking never grows a URL's secret back.
 */
#include <libpq-fe.h>

#include "buf.h"
#include "dsn.h"
#include "fuzz.h"

/* Every secret option libpq parses from s is empty or the mask. */
static void check_masked(const char *in, const char *s)
{
	char *err = NULL;
	PQconninfoOption *o = PQconninfoParse(s, &err);
	PQfreemem(err);
	if (!o)
		return;
	for (PQconninfoOption *p = o; p->keyword; p++)
		if (p->dispchar && p->dispchar[0] == '*' && p->val && *p->val)
			FUZZ_CHECK(!strcmp(p->val, DSN_MASK), "\"%s\" masked as \"%s\" keeps %s", in, s,
				   p->keyword);
	PQconninfoFree(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size), *key = NULL;
	struct buf b = BUF_INIT;

	dsn_mask(s, &b);
	check_masked(s, buf_str(&b));
	enum dsn_secret st = dsn_find_secret(s, &key);
	if (st == DSN_NO_SECRET)
		FUZZ_CHECK(!strcmp(buf_str(&b), s), "a DSN without a secret changed");
	FUZZ_CHECK((st == DSN_HAS_SECRET) == (key != NULL), "key without a secret");
	free(key);
	struct buf why = BUF_INIT;
	FUZZ_CHECK(dsn_storable(s, &why) == (st == DSN_NO_SECRET), "storable disagrees");
	buf_release(&why);

	buf_reset(&b);
	dsn_mask_text(s, &b);
	check_masked(s, buf_str(&b));
	buf_reset(&b);
	dsn_mask_url(s, &b);
	buf_release(&b);
	free(s);
	return 0;
}
