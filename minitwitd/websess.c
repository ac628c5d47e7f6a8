/*
 * websess: server-side web sessions; see websess.h.
 */
#include "websess.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "queries.h"
#include "util.h"
#include "banned.h"

/* every this many new sessions, one batch of expired rows is deleted */
#define GC_EVERY 64

void websess_random_token(char out[WEBSESS_TOKEN_LEN + 1])
{
	unsigned char raw[32];
	randombytes_buf(raw, sizeof raw);
	sodium_bin2base64(out, WEBSESS_TOKEN_LEN + 1, raw, sizeof raw,
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof raw);
}

static bool is_b64url(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

bool websess_cookie_token(const char *h, char out[WEBSESS_TOKEN_LEN + 1])
{
	static const char name[] = WEBSESS_COOKIE "=";
	const size_t nl = sizeof name - 1;
	if (!h)
		return false;
	for (const char *p = h; *p;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncmp(p, name, nl) == 0) {
			const char *v = p + nl;
			size_t n = strcspn(v, ";");
			while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
				n--;
			if (n != WEBSESS_TOKEN_LEN)
				return false;
			for (size_t i = 0; i < n; i++)
				if (!is_b64url(v[i]))
					return false;
			memcpy(out, v, n);
			out[n] = '\0';
			return true;
		}
		const char *semi = strchr(p, ';');
		if (!semi)
			break;
		p = semi + 1;
	}
	return false;
}

void websess_set_cookie(struct buf *b, const char *token, int64_t max_age_s, bool secure)
{
	buf_addf(b, WEBSESS_COOKIE "=%s; Max-Age=%" PRId64 "; Path=/; HttpOnly; SameSite=Lax%s",
		 token, max_age_s, secure ? "; Secure" : "");
}

static unsigned char anon_key[crypto_auth_hmacsha256_KEYBYTES];

void websess_init(void)
{
	crypto_auth_hmacsha256_keygen(anon_key);
}

void websess_anonymous(struct websess *s, const char *nonce)
{
	static const char domain[] = "minitwit anonymous form token\n";
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	crypto_auth_hmacsha256_state st;
	crypto_auth_hmacsha256_init(&st, anon_key, sizeof anon_key);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)domain, sizeof domain - 1);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)nonce, strlen(nonce));
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_bin2base64(s->csrf, sizeof s->csrf, mac, sizeof mac,
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	s->nonce = true;
}

bool websess_csrf_ok(const struct websess *s, const char *given)
{
	if ((!s->id && !s->nonce) || !given || strlen(given) != WEBSESS_TOKEN_LEN)
		return false;
	return sodium_memcmp(s->csrf, given, WEBSESS_TOKEN_LEN) == 0;
}

/* "\x<hex>" of SHA-256(token): the bytea parameter that finds the row */
static void token_param(const char *token, char out[2 + 64 + 1])
{
	unsigned char h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(h, (const unsigned char *)token, strlen(token));
	out[0] = '\\';
	out[1] = 'x';
	sodium_bin2hex(out + 2, 65, h, sizeof h);
}

void websess_release(struct websess *s)
{
	free(s->username);
	free(s->flashes);
	memset(s, 0, sizeof *s);
}

bool websess_load(struct dbreq *d, const char *cookie_header, int64_t now, struct websess *s)
{
	char token[WEBSESS_TOKEN_LEN + 1], hash[2 + 64 + 1], nowtxt[24];
	websess_release(s);
	if (!websess_cookie_token(cookie_header, token))
		return true;
	token_param(token, hash);
	snprintf(nowtxt, sizeof nowtxt, "%" PRId64, now);
	const char *params[] = { hash, nowtxt };
	PGresult *r = dbreq_run(d, Q_SESSION_GET, params, NULL);
	if (!r)
		return false;
	if (PQntuples(r) == 1 && PQnfields(r) == 5) {
		s->id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		if (!PQgetisnull(r, 0, 2)) {	/* a user that still exists */
			s->user_id = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
			s->username = xstrdup(PQgetvalue(r, 0, 2));
		}
		snprintf(s->csrf, sizeof s->csrf, "%s", PQgetvalue(r, 0, 3));
		if (!PQgetisnull(r, 0, 4))
			s->flashes = xstrdup(PQgetvalue(r, 0, 4));
	} else {
		websess_anonymous(s, token);
	}
	PQclear(r);
	return true;
}

/* Delete a batch of expired sessions now and then; a failure only delays it. */
static void maybe_gc(struct dbreq *d, int64_t now)
{
	static atomic_uint created;
	if (atomic_fetch_add(&created, 1) % GC_EVERY != 0)
		return;
	char nowtxt[24];
	snprintf(nowtxt, sizeof nowtxt, "%" PRId64, now);
	const char *params[] = { nowtxt };
	PGresult *r = dbreq_run(d, Q_SESSION_GC, params, NULL);
	if (r && log_enabled(LOG_DEBUG))
		log_msg(LOG_DEBUG, "deleted %s expired web sessions", PQcmdTuples(r));
	PQclear(r);
	d->err = DBREQ_OK;	/* logged by dbreq_run; the request goes on */
}

bool websess_create(struct dbreq *d, int64_t user_id, const char *username, const char *flash,
		    int64_t ttl_s, int64_t now, struct websess *s, char token_out[WEBSESS_TOKEN_LEN + 1])
{
	char hash[2 + 64 + 1], uid[24], created[24], expires[24];
	struct buf flashes = BUF_INIT;
	bool ok = false;
	PGresult *r = NULL;

	websess_release(s);
	maybe_gc(d, now);
	websess_random_token(token_out);
	token_param(token_out, hash);
	websess_random_token(s->csrf);
	snprintf(uid, sizeof uid, "%" PRId64, user_id);
	snprintf(created, sizeof created, "%" PRId64, now);
	snprintf(expires, sizeof expires, "%" PRId64, now + ttl_s);
	buf_addc(&flashes, '[');
	if (flash)
		buf_add_json_str(&flashes, flash, strlen(flash));
	buf_addc(&flashes, ']');
	const char *params[] = { hash, user_id ? uid : NULL, s->csrf, flashes.data, created, expires };
	r = dbreq_run(d, Q_SESSION_NEW, params, NULL);
	if (!r)
		goto out;
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		/* a token collision (23505) among 2^256: treat as an internal error */
		log_error("could not create a web session: expected 1 row, got %d", PQntuples(r));
		d->err = DBREQ_INTERNAL;
		goto out;
	}
	s->id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	s->user_id = user_id;
	if (user_id && username)
		s->username = xstrdup(username);
	if (flash)
		s->flashes = buf_detach(&flashes);
	ok = true;
out:
	if (!ok)
		websess_release(s);
	PQclear(r);
	buf_release(&flashes);
	return ok;
}

bool websess_delete(struct dbreq *d, struct websess *s)
{
	if (!s->id)
		return true;
	char id[24];
	snprintf(id, sizeof id, "%" PRId64, s->id);
	const char *params[] = { id };
	PGresult *r = dbreq_run(d, Q_SESSION_DELETE, params, NULL);
	if (!r)
		return false;
	PQclear(r);
	websess_release(s);
	return true;
}

bool websess_flash(struct dbreq *d, const struct websess *s, const char *msg)
{
	char id[24];
	snprintf(id, sizeof id, "%" PRId64, s->id);
	const char *params[] = { id, msg };
	PGresult *r = dbreq_run(d, Q_SESSION_FLASH_ADD, params, NULL);
	if (!r)
		return false;
	PQclear(r);
	return true;
}

bool websess_pop_flashes(struct dbreq *d, struct websess *s)
{
	char id[24];
	snprintf(id, sizeof id, "%" PRId64, s->id);
	const char *params[] = { id };
	PGresult *r = dbreq_run(d, Q_SESSION_FLASH_POP, params, NULL);
	if (!r)
		return false;
	free(s->flashes);
	s->flashes = NULL;
	if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
		s->flashes = xstrdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	return true;
}
