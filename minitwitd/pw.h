/*
 * pw: password hashing with argon2id (libsodium), with a bound on how many
 * hashes run at once so that memory stays predictable under load: each hash
 * takes memlimit bytes for its duration.
 */
#ifndef PW_H
#define PW_H

#include <stdbool.h>
#include <stddef.h>

#define MUST_CHECK __attribute__((warn_unused_result))

/* Call once before threads start; false when libsodium cannot initialise. */
MUST_CHECK bool pw_init(unsigned max_concurrent);
/* Change the cost (SIGHUP); applies to hashes started afterwards. */
void pw_set_cost(unsigned long long opslimit, size_t memlimit_bytes);

/* Hash pwd into out (crypto_pwhash_STRBYTES); false when out of memory. */
MUST_CHECK bool pw_hash(const char *pwd, size_t len, char *out, size_t outlen);
/* True when pwd matches an argon2id string made by pw_hash. */
bool pw_verify(const char *hash, const char *pwd, size_t len);

#endif
