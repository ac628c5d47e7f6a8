/*
 * pw: argon2id password hashing; see pw.h.
 */
#include "pw.h"

#include <semaphore.h>
#include <sodium.h>
#include <stdatomic.h>

#include "log.h"
#include "banned.h"

static sem_t pw_slots;
static _Atomic unsigned long long pw_ops = 2;
static _Atomic size_t pw_mem = 19456 * 1024;

bool pw_init(unsigned max_concurrent)
{
	if (sodium_init() < 0) {
		log_error("could not initialise libsodium");
		return false;
	}
	if (sem_init(&pw_slots, 0, max_concurrent ? max_concurrent : 1) != 0) {
		log_error("could not create the password hashing semaphore");
		return false;
	}
	return true;
}

void pw_set_cost(unsigned long long opslimit, size_t memlimit_bytes)
{
	pw_ops = opslimit;
	pw_mem = memlimit_bytes;
}

bool pw_hash(const char *pwd, size_t len, char *out, size_t outlen)
{
	if (outlen < crypto_pwhash_STRBYTES)
		return false;
	while (sem_wait(&pw_slots) != 0)
		;
	int rc = crypto_pwhash_str_alg(out, pwd, len, pw_ops, pw_mem, crypto_pwhash_ALG_ARGON2ID13);
	sem_post(&pw_slots);
	if (rc != 0)
		log_error("could not hash a password (out of memory)");
	return rc == 0;
}

bool pw_verify(const char *hash, const char *pwd, size_t len)
{
	while (sem_wait(&pw_slots) != 0)
		;
	int rc = crypto_pwhash_str_verify(hash, pwd, len);
	sem_post(&pw_slots);
	return rc == 0;
}
