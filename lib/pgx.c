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

static const char *program = "minitwit";

void pgx_set_program(const char *name)
{
	program = name;
}

/* What messages call a role's database. */
static const char *role_name(enum pgx_role role)
{
	return role == PGX_HOP_SOURCE ? "source" : role == PGX_HOP_TARGET ? "target" : "database";
}

/*
 * The hop's session settings (pgx.h says why each).  search_path comes
 * first: nothing after it is looked up through the database's default path.
 */
static const char *const hop_settings[][2] = {
	{ "search_path", "" },
	{ "default_transaction_read_only", "off" },
	{ "minitwit.fence_bypass", "on" },
	{ "DateStyle", "ISO, MDY" },
	{ "IntervalStyle", "postgres" },
	{ "extra_float_digits", "3" },
	{ "standard_conforming_strings", "on" },
};
#define HOP_NSETTINGS (sizeof hop_settings / sizeof hop_settings[0])

/* The application's (pgx.h): its tables are named unqualified, hence the
 * path.  plan_cache_mode: minitwitd's statements are prepared once and
 * their best plan does not depend on the parameters (index scans on the
 * timeline indexes); with the default, LIMIT $1 made PostgreSQL plan the
 * timeline again on every call, which cost more than running it
 * (bench/README.md: GET /msgs?no=20 from 8.5k to 18k requests/s). */
#define APP_OPTIONS "-c search_path=pg_catalog,public -c client_encoding=UTF8" \
	" -c plan_cache_mode=force_generic_plan"

/*
 * Apply the hop's settings with one statement of parameters: the function
 * is named with its schema, so the session's path (whatever the database's
 * default) finds nothing of its own in it.  false (logged: "prepare the
 * target session failed: ...") on error.
 */
static bool hop_prepare(PGconn *c, const char *what)
{
	struct buf sql = BUF_INIT, label = BUF_INIT;
	const char *params[2 * HOP_NSETTINGS];
	buf_adds(&sql, "SELECT ");
	for (size_t i = 0; i < HOP_NSETTINGS; i++) {
		buf_addf(&sql, "%spg_catalog.set_config($%zu, $%zu, false)", i ? ", " : "", 2 * i + 1,
			 2 * i + 2);
		params[2 * i] = hop_settings[i][0];
		params[2 * i + 1] = hop_settings[i][1];
	}
	PGresult *r = PQexecParams(c, sql.data, (int)(2 * HOP_NSETTINGS), NULL, params, NULL, NULL, 0);
	buf_addf(&label, "prepare the %s session", what);
	bool ok = pgx_check(r, PGRES_TUPLES_OK, 1, (int)HOP_NSETTINGS, buf_str(&label));
	PQclear(r);
	buf_release(&sql);
	buf_release(&label);
	return ok;
}

/* Append one connection parameter (PQconnectdbParams's two arrays). */
static void param(const char **keys, const char **vals, size_t *n, const char *key, const char *val)
{
	keys[*n] = key;
	vals[(*n)++] = val;
}

/* libpq's error text without its trailing newline. */
static int error_len(const char *err)
{
	size_t n = strlen(err);
	while (n && (err[n - 1] == '\n' || err[n - 1] == ' '))
		n--;
	return (int)n;
}

PGconn *pgx_open(enum pgx_role role, const char *conninfo, const struct pgx_open_opts *o)
{
	struct buf masked = BUF_INIT, options = BUF_INIT;
	char ctimeout[16], utimeout[16];
	PGconn *c = NULL;
	const char *what = role_name(role);
	int delay = o->backoff_ms > 0 ? o->backoff_ms : 100;
	int attempts = o->attempts > 0 ? o->attempts : 1;
	const char *keys[16], *vals[16];
	size_t n = 0;

	dsn_mask(conninfo, &masked);
	/* the DSN is expanded first (expand_dbname) and the parameters after it
	 * override what it says, as they always did: the role's timeouts and
	 * options are ours; fallback_application_name gives way to the DSN's
	 * own application_name */
	param(keys, vals, &n, "dbname", conninfo ? conninfo : "");
	param(keys, vals, &n, "fallback_application_name", program);
	if (o->connect_timeout_ms > 0) {
		snprintf(ctimeout, sizeof ctimeout, "%d", (o->connect_timeout_ms + 999) / 1000);
		param(keys, vals, &n, "connect_timeout", ctimeout);
	}
	if (role == PGX_APP) {
		buf_adds(&options, APP_OPTIONS);
		param(keys, vals, &n, "keepalives_idle", "10");
		param(keys, vals, &n, "keepalives_interval", "5");
		param(keys, vals, &n, "keepalives_count", "3");
		if (o->statement_timeout_ms > 0) {
			buf_addf(&options, " -c statement_timeout=%d", o->statement_timeout_ms);
			snprintf(utimeout, sizeof utimeout, "%d",
				 o->statement_timeout_ms + (o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 0));
			param(keys, vals, &n, "tcp_user_timeout", utimeout);
		}
		param(keys, vals, &n, "options", options.data);
	}
	param(keys, vals, &n, NULL, NULL);

	for (int i = 1; i <= attempts; i++) {
		c = PQconnectdbParams(keys, vals, 1);
		if (c && PQstatus(c) == CONNECTION_OK) {
			pgx_quiet_notices(c);
			if (role != PGX_APP && !hop_prepare(c, what)) {
				PQfinish(c);
				c = NULL;
			}
			goto out;
		}
		const char *err = c ? PQerrorMessage(c) : "out of memory";
		int len = error_len(err);
		bool final = pgx_auth_failure_text(err);
		if (final && o->auth_failed)
			*o->auth_failed = true;
		if ((final || i == attempts) && o->why)
			buf_addf(o->why, "could not connect to %s \"%s\": %.*s", what, buf_str(&masked), len, err);
		else if (final)
			log_error("could not connect to %s \"%s\": %.*s\nhint: the login was refused; "
				  "retrying cannot help: check the user and its password (PGPASSWORD or the "
				  "pgpass file, PGPASSFILE) and pg_hba.conf", what, buf_str(&masked), len, err);
		else if (i == attempts)
			log_error("could not connect to %s \"%s\": %.*s", what, buf_str(&masked), len, err);
		else
			log_warn("could not connect to %s \"%s\" (attempt %d of %d, retrying in %d ms): %.*s",
				 what, buf_str(&masked), i, attempts, delay, len, err);
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
	buf_release(&options);
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

bool pgx_undefined(const PGresult *r)
{
	return pgx_sqlstate_is(r, PGX_UNDEFINED_TABLE) || pgx_sqlstate_is(r, PGX_INVALID_SCHEMA);
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
