/*
 * Unit tests for minitwitd/pbkdf2.c: PBKDF2-HMAC-SHA256 against the RFC 7914
 * section 11 vectors and the widely published ones (c = 1, 4096), output
 * lengths that are not a multiple of the block, and Werkzeug hashes: Roger
 * Histand's from the legacy reference database (user.csv) with his password
 * from the course scenario (row 0), wrong passwords and malformed hashes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdbool.h>
#include <string.h>

#include "pbkdf2.h"
#include "banned.h"

static void check(const char *pwd, const char *salt, unsigned long c, const char *hex)
{
	unsigned char out[64], want[64];
	size_t n = strlen(hex) / 2, got = 0;
	assert_true(n <= sizeof out);
	assert_int_equal(sodium_hex2bin(want, sizeof want, hex, strlen(hex), NULL, &got, NULL), 0);
	assert_int_equal(got, n);
	assert_true(pbkdf2_sha256(pwd, strlen(pwd), salt, strlen(salt), c, out, n));
	assert_memory_equal(out, want, n);
}

static void test_vectors(void **state)
{
	check("passwd", "salt", 1,
	      "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
	      "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783");
	check("Password", "NaCl", 80000,
	      "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56"
	      "a1d425a1225833549adb841b51c9b3176a272bdebba1d078478f62b397f33c8d");
	check("password", "salt", 1,
	      "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b");
	check("password", "salt", 4096,
	      "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a");
	/* a prefix of a longer output is the shorter output */
	check("passwd", "salt", 1, "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c2");
}

static void test_bad_arguments(void **state)
{
	unsigned char out[32];
	assert_false(pbkdf2_sha256("p", 1, "s", 1, 0, out, sizeof out));
	assert_false(pbkdf2_sha256("p", 1, "s", 1, 1, out, 0));
}

/* user.csv row 1 and the password of minitwit_scenario.csv row 0 */
static const char roger_hash[] =
	"pbkdf2:sha256:50000$SrgawcLf$f2560824bf9ba82324a4fc48c68a6c211c14835b76e6e3449c0216004dd92069";
static const char roger_pwd[] = "]=)[X{Km{z";

static void test_werkzeug_roger_histand(void **state)
{
	assert_true(pbkdf2_is_werkzeug(roger_hash));
	assert_int_equal(pbkdf2_werkzeug_verify(roger_hash, roger_pwd, strlen(roger_pwd)),
			 PBKDF2_MATCH);
	assert_int_equal(pbkdf2_werkzeug_verify(roger_hash, "]=)[X{Km{Z", 10), PBKDF2_MISMATCH);
	assert_int_equal(pbkdf2_werkzeug_verify(roger_hash, roger_pwd, strlen(roger_pwd) - 1),
			 PBKDF2_MISMATCH);
	assert_int_equal(pbkdf2_werkzeug_verify(roger_hash, "", 0), PBKDF2_MISMATCH);
}

static void test_werkzeug_malformed(void **state)
{
	static const char *const bad[] = {
		"",
		"$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
		"pbkdf2:sha1:50000$SrgawcLf$f2560824bf9ba82324a4fc48c68a6c211c14835b76e6e3449c0216004dd92069",
		"pbkdf2:sha256$SrgawcLf$f2560824bf9ba82324a4fc48c68a6c211c14835b76e6e3449c0216004dd92069",
		"pbkdf2:sha256:0$SrgawcLf$f2560824bf9ba82324a4fc48c68a6c211c14835b76e6e3449c0216004dd92069",
		"pbkdf2:sha256:-5$SrgawcLf$f2560824bf9ba82324a4fc48c68a6c211c14835b76e6e3449c0216004dd92069",
		"pbkdf2:sha256:99999999999$S$f2560824bf9ba82324a4fc48c68a6c211c14835b76e6e3449c0216004dd92069",
		"pbkdf2:sha256:50000$$f2560824bf9ba82324a4fc48c68a6c211c14835b76e6e3449c0216004dd92069",
		"pbkdf2:sha256:50000$SrgawcLf",
		"pbkdf2:sha256:50000$SrgawcLf$f256",
		"pbkdf2:sha256:50000$SrgawcLf$zz560824bf9ba82324a4fc48c68a6c211c14835b76e6e3449c0216004dd92069",
		"pbkdf2:sha256:50000$SrgawcLf$f2560824bf9ba82324a4fc48c68a6c211c14835b76e6e3449c0216004dd9206900",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(pbkdf2_werkzeug_verify(bad[i], roger_pwd, strlen(roger_pwd)),
				 PBKDF2_MALFORMED);
	assert_false(pbkdf2_is_werkzeug("$argon2id$"));
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_werkzeug_roger_histand),
		cmocka_unit_test(test_werkzeug_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
