/*
 * pbkdf2: PBKDF2-HMAC-SHA256 (RFC 8018) on libsodium's HMAC-SHA256, and
 * verification of the password hashes a legacy MiniTwit (Flask, Werkzeug)
 * stored: "pbkdf2:sha256:<iterations>$<salt>$<hex of 32 bytes>", the salt
 * used as its ASCII text.  minitwitd only verifies these (then replaces
 * them with argon2id, see pw.h); it never creates one.
 */
#ifndef PBKDF2_H
#define PBKDF2_H

#include <stdbool.h>
#include <stddef.h>
#include "util.h"


/* Largest iteration count accepted from a stored hash: bounds the CPU one
 * sign-in can cost (Werkzeug's own defaults are 50,000 to 600,000). */
#define PBKDF2_MAX_ITERATIONS 2000000UL

/* Derive outlen bytes; false when iterations is 0 or outlen is 0 or too
 * large for the block counter. */
MUST_CHECK bool pbkdf2_sha256(const void *pwd, size_t pwdlen, const void *salt, size_t saltlen,
			      unsigned long iterations, unsigned char *out, size_t outlen);

/* True when hash looks like a Werkzeug PBKDF2 hash ("pbkdf2:"). */
bool pbkdf2_is_werkzeug(const char *hash);

enum pbkdf2_result {
	PBKDF2_MATCH,
	PBKDF2_MISMATCH,
	PBKDF2_MALFORMED,	/* not a supported Werkzeug hash: sha256, explicit iterations */
};

/* Verify pwd against a Werkzeug hash; the digest is compared in constant time. */
enum pbkdf2_result pbkdf2_werkzeug_verify(const char *hash, const char *pwd, size_t pwdlen);

#endif
