/*
 * schema: versioned migrations; see schema.h.
 */
#include "schema.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pgx.h"
#include "banned.h"

/* Arbitrary but fixed: "mtwt" — serialises migrations of every minitwitd. */
#define SCHEMA_LOCK_KEY "1836349300"

static void sha256_hex(const char *text, size_t len, char out[65])
{
	unsigned char h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(h, (const unsigned char *)text, len);
	sodium_bin2hex(out, 65, h, sizeof h);
}

/* "001_minitwit.sql" -> 1; -1 when the name has no numeric prefix. */
static long file_version(const char *name)
{
	char *end;
	long v = strtol(name, &end, 10);
	return (end != name && *end == '_') ? v : -1;
}

bool schema_migrate(PGconn *c)
{
	bool ok = false;
	PGresult *r = NULL;
	int applied = 0;

	if (!pgx_exec(c, "BEGIN", "begin schema migration"))
		return false;
	if (!pgx_exec(c, "SELECT pg_advisory_xact_lock(" SCHEMA_LOCK_KEY ")", "lock schema migrations"))
		goto out;
	/* The files name their objects unqualified, and CREATE puts them in
	 * the first schema of the path: the session's is "pg_catalog, public"
	 * (pgx.h), so here, for this transaction, "public" alone, where
	 * pg_catalog is still searched first, implicitly. */
	if (!pgx_exec(c, "SELECT pg_catalog.set_config('search_path', 'public', true)",
		      "create the migrations' objects in schema public"))
		goto out;
	if (!pgx_exec(c,
		      "CREATE TABLE IF NOT EXISTS schema_migrations ("
		      " version integer PRIMARY KEY, name text NOT NULL,"
		      " checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
		      "create schema_migrations"))
		goto out;
	r = PQexec(c, "SELECT version, name, checksum FROM schema_migrations ORDER BY version");
	if (!pgx_check(r, PGRES_TUPLES_OK, -1, 3, "read schema_migrations"))
		goto out;

	/* every recorded version must be a file of this build, unchanged */
	for (int i = 0; i < PQntuples(r); i++) {
		long v = strtol(PQgetvalue(r, i, 0), NULL, 10);
		const struct embedded_file *f = NULL;
		for (unsigned k = 0; k < schema_sql_count; k++)
			if (file_version(schema_sql[k].name) == v)
				f = &schema_sql[k];
		if (!f) {
			log_error("database has schema version %ld (\"%s\") that this minitwitd does not know"
				  "\nhint: run a minitwitd at least as new as the one that migrated it",
				  v, PQgetvalue(r, i, 1));
			goto out;
		}
		char sum[65];
		sha256_hex(f->text, f->len, sum);
		if (strcmp(sum, PQgetvalue(r, i, 2)) != 0) {
			log_error("schema migration \"%s\" was changed after it was applied "
				  "(checksum %.12s in the database, %.12s in this build)"
				  "\nhint: never edit an applied migration, add a new file to sql/schema",
				  f->name, PQgetvalue(r, i, 2), sum);
			goto out;
		}
	}

	for (unsigned k = 0; k < schema_sql_count; k++) {
		const struct embedded_file *f = &schema_sql[k];
		long v = file_version(f->name);
		bool done = false;
		if (v < 0) {
			log_error("schema file \"%s\" does not start with a version number", f->name);
			goto out;
		}
		for (int i = 0; i < PQntuples(r); i++)
			if (strtol(PQgetvalue(r, i, 0), NULL, 10) == v)
				done = true;
		if (done)
			continue;
		if (!pgx_exec(c, f->text, f->name))
			goto out;
		char sum[65], ver[24];
		sha256_hex(f->text, f->len, sum);
		snprintf(ver, sizeof ver, "%ld", v);
		const char *params[] = { ver, f->name, sum };
		PGresult *ins = PQexecParams(c,
					     "INSERT INTO schema_migrations (version, name, checksum) "
					     "VALUES ($1, $2, $3)", 3, NULL, params, NULL, NULL, 0);
		bool ins_ok = pgx_check(ins, PGRES_COMMAND_OK, -1, -1, "record schema migration");
		PQclear(ins);
		if (!ins_ok)
			goto out;
		log_info("applied schema migration \"%s\"", f->name);
		applied++;
	}
	if (!pgx_exec(c, "COMMIT", "commit schema migration"))
		goto out;
	ok = true;
	if (!applied)
		log_info("schema is up to date (%u migrations)", schema_sql_count);
out:
	PQclear(r);
	if (!ok && PQtransactionStatus(c) != PQTRANS_IDLE) {
		PGresult *rb = PQexec(c, "ROLLBACK");
		PQclear(rb);
	}
	return ok;
}

bool schema_check(PGconn *c, struct buf *why)
{
	bool ok = false;
	PGresult *r = PQexec(c, "SELECT version, checksum FROM schema_migrations");
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQnfields(r) != 2) {
		const char *e = PQresultErrorMessage(r);
		size_t n = strlen(e);
		while (n && (e[n - 1] == '\n' || e[n - 1] == ' '))
			n--;
		buf_addf(why, "could not read schema_migrations: %.*s", (int)n, e);
		goto out;
	}
	for (unsigned k = 0; k < schema_sql_count; k++) {
		const struct embedded_file *f = &schema_sql[k];
		long v = file_version(f->name);
		char sum[65];
		sha256_hex(f->text, f->len, sum);
		int found = -1;
		for (int i = 0; i < PQntuples(r); i++)
			if (strtol(PQgetvalue(r, i, 0), NULL, 10) == v)
				found = i;
		if (found < 0) {
			buf_addf(why, "schema migration \"%s\" is not applied there", f->name);
			goto out;
		}
		if (strcmp(sum, PQgetvalue(r, found, 1)) != 0) {
			buf_addf(why, "schema migration \"%s\" differs there (checksum %.12s)", f->name,
				 PQgetvalue(r, found, 1));
			goto out;
		}
	}
	if ((unsigned)PQntuples(r) != schema_sql_count) {
		buf_addf(why, "it has %d schema migrations, this minitwitd knows %u", PQntuples(r),
			 schema_sql_count);
		goto out;
	}
	ok = true;
out:
	PQclear(r);
	return ok;
}
