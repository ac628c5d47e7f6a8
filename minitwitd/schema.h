/*
 * schema: minitwitd's versioned schema migrations (sql/schema/NNN_name.sql,
 * embedded at build time), applied at start under an advisory lock and
 * recorded in schema_migrations with a SHA-256 checksum of each file.
 *
 * A file changed after it was applied, or a database whose recorded version
 * this build does not know, is refused: silently running against a schema
 * that differs from the one the code was written for loses data later.
 */
#ifndef SCHEMA_H
#define SCHEMA_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "buf.h"
#include "embedded.h"
#include "util.h"

extern const struct embedded_file schema_sql[];
extern const unsigned schema_sql_count;

/* Apply what is missing; false (logged) on any error, nothing half-applied. */
MUST_CHECK bool schema_migrate(PGconn *c);

/*
 * Check, without changing anything, that the database behind c has every
 * migration of this build applied, unchanged, and none this build does not
 * know (a switch target must be ready before requests run there).  false
 * with the reason in why (nothing logged).
 */
MUST_CHECK bool schema_check(PGconn *c, struct buf *why);

#endif
