/*
 * pbkdf2: PBKDF2-HMAC-SHA256 and Werkzeug hashes; see pbkdf2.h.
 */
#include "pbkdf2.h"

#include <errno.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

#define H crypto_auth_hmacsha256_BYTES

bool pbkdf2_sha256(const void *pwd, size_t pwdlen, const void *salt, size_t saltlen,
		   unsigned long iterations, unsigned char *out, size_t outlen)
{
	if (!iterations || !outlen || outlen / H >= 0xffffffffUL)
		return false;
	/* the key schedule (the password's inner and outer pads) is computed
	 * once and copied for each HMAC: half the work of re-keying */
	crypto_auth_hmacsha256_state keyed, st;
	crypto_auth_hmacsha256_init(&keyed, pwd, pwdlen);
	unsigned char u[H], t[H];
	for (uint32_t block = 1; outlen; block++) {
		unsigned char be[4] = { (unsigned char)(block >> 24), (unsigned char)(block >> 16),
					(unsigned char)(block >> 8), (unsigned char)block };
		st = keyed;
		crypto_auth_hmacsha256_update(&st, salt, saltlen);
		crypto_auth_hmacsha256_update(&st, be, sizeof be);
		crypto_auth_hmacsha256_final(&st, u);
		memcpy(t, u, H);
		for (unsigned long i = 1; i < iterations; i++) {
			st = keyed;
			crypto_auth_hmacsha256_update(&st, u, H);
			crypto_auth_hmacsha256_final(&st, u);
			for (size_t k = 0; k < H; k++)
				t[k] ^= u[k];
		}
		size_t n = outlen < H ? outlen : H;
		memcpy(out, t, n);
		out += n;
		outlen -= n;
	}
	sodium_memzero(&keyed, sizeof keyed);
	sodium_memzero(&st, sizeof st);
	sodium_memzero(u, sizeof u);
	sodium_memzero(t, sizeof t);
	return true;
}

bool pbkdf2_is_werkzeug(const char *hash)
{
	return strncmp(hash, "pbkdf2:", 7) == 0;
}

enum pbkdf2_result pbkdf2_werkzeug_verify(const char *hash, const char *pwd, size_t pwdlen)
{
	static const char prefix[] = "pbkdf2:sha256:";
	if (strncmp(hash, prefix, sizeof prefix - 1) != 0)
		return PBKDF2_MALFORMED;
	const char *p = hash + sizeof prefix - 1;
	if (*p < '1' || *p > '9')
		return PBKDF2_MALFORMED;
	char *end;
	errno = 0;
	unsigned long iterations = strtoul(p, &end, 10);
	if (errno || *end != '$' || iterations > PBKDF2_MAX_ITERATIONS)
		return PBKDF2_MALFORMED;
	const char *salt = end + 1;
	const char *dollar = strchr(salt, '$');
	if (!dollar || dollar == salt)
		return PBKDF2_MALFORMED;
	const char *hex = dollar + 1;
	unsigned char want[H], got[H];
	size_t binlen = 0;
	if (strlen(hex) != 2 * H ||
	    sodium_hex2bin(want, sizeof want, hex, 2 * H, NULL, &binlen, NULL) != 0 || binlen != H)
		return PBKDF2_MALFORMED;
	if (!pbkdf2_sha256(pwd, pwdlen, salt, (size_t)(dollar - salt), iterations, got, H))
		return PBKDF2_MALFORMED;
	bool match = sodium_memcmp(want, got, H) == 0;
	sodium_memzero(got, sizeof got);
	return match ? PBKDF2_MATCH : PBKDF2_MISMATCH;
}
