/*
 * pgx: PostgreSQL helpers; see pgx.h.
 */
#include "pgx.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dsn.h"
#include "log.h"
#include "banned.h"

/* Kept for callers written before lib/dsn: the one masker is dsn_mask. */

/* Any secret option (password, sslpassword): dsn.h says which. */
bool pgx_dsn_has_password(const char *dsn)
{
	char *key = NULL;
	bool has = dsn_find_secret(dsn, &key) == DSN_HAS_SECRET;
	free(key);
	return has;
}

void pgx_mask_dsn(const char *dsn, struct buf *out)
{
	dsn_mask(dsn, out);
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0)
		;
}

PGconn *pgx_connect(const char *dsn, const struct pgx_connect_opts *opts)
{
	struct buf masked = BUF_INIT;
	char timeout[16];
	PGconn *c = NULL;
	int delay = opts->backoff_ms > 0 ? opts->backoff_ms : 100;
	int attempts = opts->attempts > 0 ? opts->attempts : 1;

	dsn_mask(dsn, &masked);
	snprintf(timeout, sizeof timeout, "%d", opts->connect_timeout_s);
	const char *keys[] = { "dbname", "fallback_application_name",
			       opts->connect_timeout_s > 0 ? "connect_timeout" : NULL, NULL };
	const char *vals[] = { dsn ? dsn : "",
			       opts->application_name ? opts->application_name : "minitwit",
			       timeout, NULL };

	for (int i = 1; i <= attempts; i++) {
		c = PQconnectdbParams(keys, vals, 1);
		if (c && PQstatus(c) == CONNECTION_OK) {
			pgx_quiet_notices(c);
			goto out;
		}
		const char *err = c ? PQerrorMessage(c) : "out of memory";
		size_t n = strlen(err);
		while (n && (err[n - 1] == '\n' || err[n - 1] == ' '))
			n--;
		bool final = pgx_auth_failure_text(err);
		if (final && opts->auth_failed)
			*opts->auth_failed = true;
		if (final)
			log_error("could not connect to %s \"%s\": %.*s\nhint: the login was refused; "
				  "retrying cannot help: check the user and its password (PGPASSWORD or the "
				  "pgpass file, PGPASSFILE) and pg_hba.conf",
				  opts->what ? opts->what : "database", masked.data ? masked.data : "",
				  (int)n, err);
		else if (i == attempts)
			log_error("could not connect to %s \"%s\": %.*s",
				  opts->what ? opts->what : "database", masked.data ? masked.data : "",
				  (int)n, err);
		else
			log_warn("could not connect to %s \"%s\" (attempt %d of %d, retrying in %d ms): %.*s",
				 opts->what ? opts->what : "database", masked.data ? masked.data : "",
				 i, attempts, delay, (int)n, err);
		PQfinish(c);
		c = NULL;
		if (final)
			break;
		if (i < attempts) {
			sleep_ms(delay);
			delay = delay * 2 > 5000 ? 5000 : delay * 2;
		}
	}
out:
	buf_release(&masked);
	return c;
}

const char *pgx_sqlstate(const PGresult *r)
{
	const char *s = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	return s ? s : "";
}

bool pgx_sqlstate_is(const PGresult *r, const char *code)
{
	return strcmp(pgx_sqlstate(r), code) == 0;
}

void pgx_log_failure(const PGresult *r, const char *what)
{
	if (!r) {
		log_error("%s failed: no result (out of memory or connection lost)", what);
		return;
	}
	const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
	if (!msg || !*msg)
		msg = PQresultErrorMessage(r);
	if (!msg || !*msg)
		msg = PQresStatus(PQresultStatus(r));
	const char *detail = PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL);
	const char *hint = PQresultErrorField(r, PG_DIAG_MESSAGE_HINT);
	log_error("%s failed: %s (SQLSTATE %s)%s%s%s%s", what, msg,
		  *pgx_sqlstate(r) ? pgx_sqlstate(r) : "none", detail ? "\ndetail: " : "",
		  detail ? detail : "", hint ? "\nhint: " : "", hint ? hint : "");
}

bool pgx_check(const PGresult *r, ExecStatusType expect, int nrows, int ncols,
	       const char *what)
{
	if (!r) {
		log_error("%s: no result (out of memory or connection lost)", what);
		return false;
	}
	if (PQresultStatus(r) != expect) {
		pgx_log_failure(r, what);
		return false;
	}
	if (expect == PGRES_TUPLES_OK &&
	    ((nrows >= 0 && PQntuples(r) != nrows) || (ncols >= 0 && PQnfields(r) != ncols))) {
		log_error("%s: expected %d rows and %d columns, got %d and %d", what, nrows, ncols,
			  PQntuples(r), PQnfields(r));
		return false;
	}
	return true;
}

bool pgx_auth_failure_text(const char *msg)
{
	static const char *const refusals[] = {
		"password authentication failed", "no password supplied", "no pg_hba.conf entry",
		"SCRAM authentication failed", "authentication failed for user", NULL,
	};
	if (!msg)
		return false;
	for (size_t i = 0; refusals[i]; i++)
		if (strstr(msg, refusals[i]))
			return true;
	return false;
}

bool pgx_auth_failure(const PGresult *r)
{
	if (!r)
		return false;
	if (pgx_sqlstate_is(r, "28P01") || pgx_sqlstate_is(r, "28000"))
		return true;
	return pgx_auth_failure_text(PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY)) ||
	       pgx_auth_failure_text(PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL));
}

bool pgx_conn_lost(const PGconn *c, const PGresult *r)
{
	if (!c || PQstatus(c) == CONNECTION_BAD)
		return true;
	const char *s = pgx_sqlstate(r);
	return strncmp(s, "08", 2) == 0 || strcmp(s, PGX_ADMIN_SHUTDOWN) == 0 ||
	       strcmp(s, PGX_CRASH_SHUTDOWN) == 0 || strcmp(s, PGX_CANNOT_CONNECT_NOW) == 0;
}

static void notice_to_log(void *arg, const char *message)
{
	(void)arg;
	size_t n = strlen(message);
	while (n && message[n - 1] == '\n')
		n--;
	log_debug("server notice: %.*s", (int)n, message);
}

void pgx_quiet_notices(PGconn *c)
{
	if (c)
		PQsetNoticeProcessor(c, notice_to_log, NULL);
}

bool pgx_exec(PGconn *c, const char *sql, const char *what)
{
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
	bool ok = pgx_check(r, st == PGRES_TUPLES_OK ? PGRES_TUPLES_OK : PGRES_COMMAND_OK,
			    -1, -1, what);
	PQclear(r);
	return ok;
}

bool pgx_idle_alive(PGconn *c)
{
	if (!c || PQstatus(c) != CONNECTION_OK)
		return false;
	struct pollfd p = { .fd = PQsocket(c), .events = POLLIN };
	if (p.fd < 0)
		return false;
	int n = poll(&p, 1, 0);
	if (n == 0)
		return true;	/* nothing pending: the usual case */
	if (p.revents & (POLLERR | POLLNVAL))
		return false;
	/* Something arrived on an idle connection: a notice, or the server's
	 * goodbye (57P01) followed by EOF.  Let libpq read it. */
	if (!PQconsumeInput(c))
		return false;
	PGresult *r;
	while (!PQisBusy(c) && (r = PQgetResult(c)) != NULL)
		PQclear(r);
	return PQstatus(c) == CONNECTION_OK;
}
