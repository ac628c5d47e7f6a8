/*
 * pw: argon2id password hashing, legacy PBKDF2 verification; see pw.h.
 */
#include "pw.h"

#include <pthread.h>
#include <semaphore.h>
#include <sodium.h>
#include <stdatomic.h>
#include <string.h>

#include "log.h"
#include "pbkdf2.h"
#include "banned.h"

static sem_t pw_slots;
static _Atomic unsigned long long pw_ops = 2;
static _Atomic size_t pw_mem = 19456 * 1024;
static _Atomic uint64_t pw_hashes, pw_verifications;

/* the hash pw_check_nobody checks against, made with the current cost */
static pthread_mutex_t dummy_lock = PTHREAD_MUTEX_INITIALIZER;
static char dummy_hash[crypto_pwhash_STRBYTES];

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
	atomic_fetch_add_explicit(&pw_hashes, 1, memory_order_relaxed);
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
	atomic_fetch_add_explicit(&pw_verifications, 1, memory_order_relaxed);
	return rc == 0;
}

void pw_check_nobody(const char *pwd, size_t len)
{
	char hash[crypto_pwhash_STRBYTES];
	pthread_mutex_lock(&dummy_lock);
	if (!dummy_hash[0] || crypto_pwhash_str_needs_rehash(dummy_hash, pw_ops, pw_mem) != 0) {
		unsigned char secret[32];
		randombytes_buf(secret, sizeof secret);
		if (!pw_hash((const char *)secret, sizeof secret, dummy_hash, sizeof dummy_hash))
			dummy_hash[0] = '\0';
		sodium_memzero(secret, sizeof secret);
	}
	memcpy(hash, dummy_hash, sizeof hash);
	pthread_mutex_unlock(&dummy_lock);
	if (hash[0])
		(void)pw_verify(hash, pwd, len);	/* never matches: a random secret */
}

void pw_stats(uint64_t *hashes, uint64_t *verifications)
{
	*hashes = atomic_load_explicit(&pw_hashes, memory_order_relaxed);
	*verifications = atomic_load_explicit(&pw_verifications, memory_order_relaxed);
}

enum pw_check pw_check(const char *hash, const char *pwd, size_t len)
{
	if (strncmp(hash, "$argon2id$", 10) == 0) {
		if (!pw_verify(hash, pwd, len))
			return PW_MISMATCH;
		return crypto_pwhash_str_needs_rehash(hash, pw_ops, pw_mem) == 0 ? PW_MATCH
										  : PW_MATCH_REHASH;
	}
	if (pbkdf2_is_werkzeug(hash)) {
		while (sem_wait(&pw_slots) != 0)
			;
		enum pbkdf2_result r = pbkdf2_werkzeug_verify(hash, pwd, len);
		sem_post(&pw_slots);
		atomic_fetch_add_explicit(&pw_verifications, 1, memory_order_relaxed);
		if (r == PBKDF2_MATCH)
			return PW_MATCH_REHASH;
		if (r == PBKDF2_MISMATCH)
			return PW_MISMATCH;
	}
	/* the scheme, never the hash: it is a credential */
	log_warn("unsupported password hash scheme \"%.*s\"", (int)strcspn(hash, "$:"), hash);
	return PW_UNSUPPORTED;
}
