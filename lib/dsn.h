/*
 * dsn: the one place that reads libpq connection strings for what they must
 * not show.  Parsing is libpq's own (PQconninfoParse), so whatever libpq
 * would take as a password is found here too: keyword/value strings with
 * quotes and backslashes, URIs of both schemes with percent-encoded
 * keywords ("?%70assword="), user info ("user:secret@host"), and every
 * option libpq marks secret (dispchar "*": password, sslpassword, and any a
 * later libpq adds).
 *
 * Used by every message, log line, status reply and stored record that
 * quotes a DSN, and by the checks that refuse a DSN holding a secret where
 * it would be stored or sent on (moved_to, sync_fdw.hop, the ledger).
 */
#ifndef DSN_H
#define DSN_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "util.h"

#define DSN_MASK "********"

/*
 * Append dsn to out with every secret hidden.  A DSN holding no secret is
 * copied as it is; one holding a secret is rebuilt from libpq's parse as
 * keyword/value pairs with each secret's value "********"; a string libpq
 * cannot parse is not shown at all ("(invalid connection string)"), since
 * where its secrets are cannot be known.  A string libpq would not read as
 * a connection string (a bare database name) is copied.  NULL appends
 * nothing.  Never fails.
 */
void dsn_mask(const char *dsn, struct buf *out);

/*
 * Append url (any scheme) with what may be a secret replaced by
 * "********": the password of its user info ("http://user:********@host/"),
 * user info without a password whole ("https://<token>@host"),
 * every query value ("?token=********"; a parameter without '=' whole) and
 * the fragment.  Scheme, host, port and path stay.  Never fails.
 */
void dsn_mask_url(const char *url, struct buf *out);

/*
 * For printing settings of unknown kind: a libpq URI or keyword/value
 * string goes through dsn_mask, another "scheme://" URL through
 * dsn_mask_url, anything else is copied.
 */
void dsn_mask_text(const char *s, struct buf *out);

enum dsn_secret {
	DSN_NO_SECRET,		/* parsed, holds no secret */
	DSN_HAS_SECRET,		/* parsed, sets a secret option (its keyword in *key) */
	DSN_INVALID,		/* libpq cannot parse it */
};

/*
 * Whether dsn sets a secret option.  With DSN_HAS_SECRET *key is the
 * option's keyword ("password", "sslpassword"), malloc'd, which the caller
 * frees; otherwise NULL.  libpq's parse error is not passed on: it can quote
 * part of the string ('missing "=" after "hunter2"').
 */
enum dsn_secret dsn_find_secret(const char *dsn, char **key);

/*
 * True when dsn may be stored or sent on to other hosts (moved_to,
 * sync_fdw.hop, the ledger): libpq parses it and it sets no secret.
 * Otherwise appends the reason to why ("it sets \"sslpassword\"", "libpq
 * cannot parse it"), never quoting the string.
 */
MUST_CHECK bool dsn_storable(const char *dsn, struct buf *why);

#endif
