/*
 * pw: password hashing with argon2id (libsodium), with a bound on how many
 * hashes run at once so that memory stays predictable under load: each hash
 * takes memlimit bytes for its duration.
 */
#ifndef PW_H
#define PW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "util.h"


/* Call once before threads start; false when libsodium cannot initialise. */
MUST_CHECK bool pw_init(unsigned max_concurrent);
/* Change the cost (SIGHUP); applies to hashes started afterwards. */
void pw_set_cost(unsigned long long opslimit, size_t memlimit_bytes);

/* Hash pwd into out (crypto_pwhash_STRBYTES); false when out of memory. */
MUST_CHECK bool pw_hash(const char *pwd, size_t len, char *out, size_t outlen);
/* True when pwd matches an argon2id string made by pw_hash. */
bool pw_verify(const char *hash, const char *pwd, size_t len);

enum pw_check {
	PW_MATCH,		/* right password, stored hash is current */
	PW_MATCH_REHASH,	/* right password; store a new pw_hash (a legacy
				 * Werkzeug PBKDF2 hash, or argon2id with another cost) */
	PW_MISMATCH,		/* wrong password */
	PW_UNSUPPORTED,		/* the stored hash is in no format minitwitd knows (logged) */
};

/*
 * Check pwd against a stored hash of any supported scheme: argon2id (what
 * minitwitd writes) or a legacy MiniTwit's Werkzeug "pbkdf2:sha256:N$salt$hex"
 * (constant-time compare).  Counts against the same concurrency bound.
 */
enum pw_check pw_check(const char *hash, const char *pwd, size_t len);

/*
 * A sign-in for a user name that does not exist: check pwd against a
 * dummy argon2id hash of the current cost (made once, remade when the cost
 * changes), so that the answer takes as long as a wrong password and does
 * not tell which user names exist.
 */
void pw_check_nobody(const char *pwd, size_t len);

/* Hashes made and verifications done since start (for /metrics). */
void pw_stats(uint64_t *hashes, uint64_t *verifications);

#endif
