/*
 * driver_pgbouncer: hold an application's writes in PgBouncer, by its
 * admin console (libpq, simple queries only).  See driver.h.
 *
 *   preflight  the console answers; the database entry exists; its pool_mode
 *              is transaction (session pooling would wait on an idle client
 *              until max_hold_ms); the databases_file is writable (and not
 *              marked read-only: no write bit at all) in a writable
 *              directory, and holds exactly one line for the entry;
 *   pause      PAUSE <database>: returns once running transactions ended and
 *              the server connections are closed; new ones wait;
 *   switch     rewrite that entry's line (host, port and dbname of the DSN
 *              given; other keys, lines and comments untouched) through a
 *              temporary file, fsync, rename, then RELOAD; switching back
 *              to the source writes the file as it was;
 *   resume     RESUME <database>: held statements run where the entry points.
 *
 * A PAUSE that does not return within its bound fails the step; the
 * rollback's RESUME then goes over a new console connection.
 */
#include "driver.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "pgx.h"
#include "util.h"
#include "banned.h"

struct pgb {
	PGconn *conn;		/* the admin console; NULL when lost */
	struct buf orig;	/* the databases_file as read at preflight */
	bool have_orig;
	bool rewritten;		/* the file now points elsewhere */
	char host[256];		/* where SHOW DATABASES says the entry points */
	char port[16];
	char dbname[256];
};

static struct pgb *pgb_of(struct driver *d)
{
	return driver_priv(d, sizeof(struct pgb));	/* zeroed: orig is BUF_INIT */
}

static void masked(const struct driver *d, struct buf *out)
{
	pgx_mask_dsn(d->cfg->pgbouncer, out);
}

/*
 * The one session not opened by pgx_open (pgx.h): PgBouncer's admin
 * console is no PostgreSQL database.  It runs only its own commands (SHOW,
 * PAUSE, RESUME, RELOAD...; its SET changes PgBouncer's own configuration),
 * no SQL such as set_config, and takes no startup options, so no role's
 * settings could be applied there, nor would they mean anything.
 */
static bool pgb_connect(struct driver *d, long timeout_ms)
{
	struct pgb *p = pgb_of(d);
	char timeout[32];
	snprintf(timeout, sizeof timeout, "%ld", timeout_ms < 2000 ? 2 : (timeout_ms + 999) / 1000);
	const char *keys[] = { "dbname", "connect_timeout", "fallback_application_name", NULL };
	const char *vals[] = { d->cfg->pgbouncer, timeout, "migrate", NULL };

	if (p->conn && PQstatus(p->conn) == CONNECTION_OK && PQtransactionStatus(p->conn) == PQTRANS_IDLE)
		return true;
	PQfinish(p->conn);
	p->conn = PQconnectdbParams(keys, vals, 1);
	if (PQstatus(p->conn) != CONNECTION_OK) {
		struct buf m = BUF_INIT;
		masked(d, &m);
		log_error("could not connect to PgBouncer's admin console \"%s\": %s", m.data,
			  PQerrorMessage(p->conn));
		buf_release(&m);
		PQfinish(p->conn);
		p->conn = NULL;
		return false;
	}
	return true;
}

/* Run sql on the console within timeout_ms; the result (caller clears) or
 * NULL on a timeout or lost connection (logged; the connection is dropped). */
static PGresult *pgb_exec(struct driver *d, const char *sql, long timeout_ms)
{
	struct pgb *p = pgb_of(d);
	double deadline = mono_ms_f() + (double)timeout_ms;
	PGresult *last = NULL;

	if (!pgb_connect(d, timeout_ms))
		return NULL;
	if (!PQsendQuery(p->conn, sql))
		goto lost;
	for (;;) {
		while (PQisBusy(p->conn)) {
			double left = deadline - mono_ms_f();
			if (left <= 0) {
				log_error("PgBouncer's \"%s\" did not return within %ld ms", sql, timeout_ms);
				PQclear(last);
				PQfinish(p->conn);	/* a console busy with it is of no more use */
				p->conn = NULL;
				return NULL;
			}
			struct pollfd pfd = { .fd = PQsocket(p->conn), .events = POLLIN };
			if (poll(&pfd, 1, (int)left + 1) < 0 && errno != EINTR)
				goto lost;
			if (!PQconsumeInput(p->conn))
				goto lost;
		}
		PGresult *r = PQgetResult(p->conn);
		if (!r)
			break;
		PQclear(last);
		last = r;
	}
	return last;
lost:
	log_error("lost PgBouncer's admin console during \"%s\": %s", sql, PQerrorMessage(p->conn));
	PQclear(last);
	PQfinish(p->conn);
	p->conn = NULL;
	return NULL;
}

/* A console command answering with no rows: PAUSE, RESUME, RELOAD. */
static bool pgb_command(struct driver *d, const char *verb, bool with_db, long timeout_ms)
{
	struct buf sql = BUF_INIT;
	buf_adds(&sql, verb);
	if (with_db) {
		/* the name is letters, digits, _ - . (hopcfg): quoted as an identifier */
		buf_addf(&sql, " \"%s\"", d->cfg->database);
	}
	PGresult *r = pgb_exec(d, sql.data, timeout_ms);
	bool ok = r && pgx_check(r, PGRES_COMMAND_OK, -1, -1, sql.data);
	PQclear(r);
	buf_release(&sql);
	return ok;
}

static const char *field(const PGresult *r, int row, const char *col)
{
	int c = PQfnumber(r, col);
	return c < 0 || PQgetisnull(r, row, c) ? "" : PQgetvalue(r, row, c);
}

/* The entry's row of SHOW DATABASES: its index, or -1 (none) */
static int find_db(const PGresult *r, const char *db)
{
	for (int i = 0; i < PQntuples(r); i++)
		if (strcmp(field(r, i, "name"), db) == 0)
			return i;
	return -1;
}

/* ---- the databases file ---- */

static bool read_file(const char *path, struct buf *out)
{
	FILE *f = fopen(path, "r");
	char chunk[4096];
	size_t n;
	if (!f)
		return false;
	buf_reset(out);
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		buf_add(out, chunk, n);
	bool ok = !ferror(f);
	fclose(f);
	buf_adds(out, "");
	return ok;
}

/* Lines of text defining db: their number; start and end delimit the last
 * one (end at its newline or the end), value where its connection string
 * begins. */
static int find_lines(const char *text, const char *db, size_t *start, size_t *end, size_t *value)
{
	int count = 0;
	size_t dblen = strlen(db);
	for (size_t i = 0; text[i];) {
		size_t ls = i, le = i;
		while (text[le] && text[le] != '\n')
			le++;
		size_t k = ls;
		while (k < le && (text[k] == ' ' || text[k] == '\t'))
			k++;
		const char *name = text + k;
		size_t nlen = 0;
		if (k < le && text[k] == '"') {
			name++;
			while (k + 1 + nlen < le && text[k + 1 + nlen] != '"')
				nlen++;
			k += nlen + 2;
		} else {
			while (k + nlen < le && text[k + nlen] != '=' && text[k + nlen] != ' ' &&
			       text[k + nlen] != '\t' && text[k + nlen] != ';' && text[k + nlen] != '#' &&
			       text[k + nlen] != '[')
				nlen++;
			k += nlen;
		}
		while (k < le && (text[k] == ' ' || text[k] == '\t'))
			k++;
		if (nlen == dblen && strncmp(name, db, dblen) == 0 && k < le && text[k] == '=') {
			count++;
			k++;
			while (k < le && (text[k] == ' ' || text[k] == '\t'))
				k++;
			*start = ls;
			*end = le;
			*value = k;
		}
		i = text[le] ? le + 1 : le;
	}
	return count;
}

static void add_value(struct buf *b, const char *key, const char *v)
{
	bool plain = *v != '\0';
	for (const char *p = v; *p; p++)
		if (*p == ' ' || *p == '\t' || *p == '\'' || *p == '\\' || *p == ';' || *p == '#')
			plain = false;
	buf_addf(b, "%s=", key);
	if (plain) {
		buf_adds(b, v);
		return;
	}
	buf_addc(b, '\'');
	for (const char *p = v; *p; p++) {
		if (*p == '\'' || *p == '\\')
			buf_addc(b, '\\');
		buf_addc(b, *p);
	}
	buf_addc(b, '\'');
}

/* The next pair of a connection string (key=value or key='quoted \' value')
 * from *i: false at the end; else the key at *ks (*klen bytes) and *i just
 * past the value. */
static bool next_pair(const char *value, size_t len, size_t *i, size_t *ks, size_t *klen)
{
	size_t k = *i;
	while (k < len && (value[k] == ' ' || value[k] == '\t' || value[k] == '\r'))
		k++;
	if (k >= len)
		return false;
	*ks = k;
	while (k < len && value[k] != '=' && value[k] != ' ' && value[k] != '\t')
		k++;
	*klen = k - *ks;
	while (k < len && (value[k] == ' ' || value[k] == '\t'))
		k++;
	if (k < len && value[k] == '=')
		k++;
	while (k < len && (value[k] == ' ' || value[k] == '\t'))
		k++;
	if (k < len && value[k] == '\'') {
		for (k++; k < len && value[k] != '\''; k++)
			if (value[k] == '\\' && k + 1 < len)
				k++;
		if (k < len)
			k++;
	} else {
		while (k < len && value[k] != ' ' && value[k] != '\t' && value[k] != '\r')
			k++;
	}
	*i = k;
	return true;
}

static bool key_is(const char *key, size_t klen, const char *name)
{
	return klen == strlen(name) && strncmp(key, name, klen) == 0;
}

/* The entry's connection string with host, port and dbname taken from dsn
 * (dropped when dsn has none); every other key kept as written. */
static bool rewrite_value(const char *value, size_t len, const char *dsn, struct buf *out)
{
	char *err = NULL;
	PQconninfoOption *opts = PQconninfoParse(dsn, &err);
	const char *host = NULL, *hostaddr = NULL, *port = NULL, *dbname = NULL;

	PQfreemem(err);
	if (!opts)
		return false;
	for (PQconninfoOption *o = opts; o->keyword; o++) {
		if (!o->val || !*o->val)
			continue;
		if (strcmp(o->keyword, "host") == 0)
			host = o->val;
		else if (strcmp(o->keyword, "hostaddr") == 0)
			hostaddr = o->val;
		else if (strcmp(o->keyword, "port") == 0)
			port = o->val;
		else if (strcmp(o->keyword, "dbname") == 0)
			dbname = o->val;
	}
	if (!host)
		host = hostaddr;
	/* keep the other pairs */
	for (size_t i = 0, ks, klen; next_pair(value, len, &i, &ks, &klen);) {
		if (key_is(value + ks, klen, "host") || key_is(value + ks, klen, "port") ||
		    key_is(value + ks, klen, "dbname"))
			continue;
		if (out->len)
			buf_addc(out, ' ');
		buf_add(out, value + ks, i - ks);
	}
	struct buf head = BUF_INIT;
	if (host)
		add_value(&head, "host", host);
	if (port) {
		buf_addc(&head, ' ');
		add_value(&head, "port", port);
	}
	if (dbname) {
		buf_addc(&head, ' ');
		add_value(&head, "dbname", dbname);
	}
	struct buf all = BUF_INIT;
	buf_adds(&all, head.data ? head.data + (head.data[0] == ' ') : "");
	if (out->len) {
		if (all.len)
			buf_addc(&all, ' ');
		buf_add(&all, out->data, out->len);
	}
	buf_reset(out);
	buf_adds(out, all.data ? all.data : "");
	buf_release(&all);
	buf_release(&head);
	PQconninfoFree(opts);
	return true;
}

/* Replace path's content atomically: temporary file beside it with the
 * same mode (and owner, when we may), fsync, rename, fsync the directory. */
static bool write_atomic(const char *path, const char *text, size_t len)
{
	struct buf tmp = BUF_INIT;
	struct stat st;
	char *dcopy = strdup(path);
	int fd = -1, dfd = -1;
	bool ok = false;

	if (!dcopy)
		abort();
	buf_addf(&tmp, "%s.migrate-XXXXXX", path);
	if (stat(path, &st) != 0) {
		log_error("could not stat \"%s\": %m", path);
		goto out;
	}
	fd = mkstemp(tmp.data);
	if (fd < 0) {
		log_error("could not create a temporary file beside \"%s\": %m", path);
		goto out;
	}
	if (fchmod(fd, st.st_mode & 07777) != 0) {
		log_error("could not set the mode of \"%s\": %m", tmp.data);
		goto out;
	}
	if (fchown(fd, st.st_uid, st.st_gid) != 0 && errno != EPERM)
		log_warn("could not give \"%s\" the owner of \"%s\": %m", tmp.data, path);
	for (size_t off = 0; off < len;) {
		ssize_t w = write(fd, text + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			log_error("could not write \"%s\": %m", tmp.data);
			goto out;
		}
		off += (size_t)w;
	}
	if (fsync(fd) != 0 || close(fd) != 0) {
		fd = -1;
		log_error("could not write \"%s\": %m", tmp.data);
		goto out;
	}
	fd = -1;
	if (rename(tmp.data, path) != 0) {
		log_error("could not rename \"%s\" to \"%s\": %m", tmp.data, path);
		goto out;
	}
	tmp.data[0] = '\0';	/* nothing left to remove */
	dfd = open(dirname(dcopy), O_RDONLY | O_DIRECTORY);
	if (dfd >= 0)
		(void)fsync(dfd);
	ok = true;
out:
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	if (!ok && tmp.data && tmp.data[0])
		unlink(tmp.data);
	buf_release(&tmp);
	free(dcopy);
	return ok;
}

/* ---- the driver ---- */

static bool pgb_preflight(struct driver *d, struct buf *why)
{
	struct pgb *p = pgb_of(d);
	const char *file = d->cfg->databases_file, *db = d->cfg->database;
	struct buf m = BUF_INIT;
	PGresult *r = NULL, *c = NULL;
	struct stat st;
	bool ok = false;

	masked(d, &m);
	r = pgb_exec(d, "SHOW DATABASES", 3000);
	if (!r || !pgx_check(r, PGRES_TUPLES_OK, -1, -1, "SHOW DATABASES")) {
		buf_addf(why, "PgBouncer's admin console \"%s\" does not answer (see the log); ", m.data);
		goto out;
	}
	int row = find_db(r, db);
	if (row < 0) {
		buf_addf(why, "PgBouncer \"%s\" has no database \"%s\"; ", m.data, db);
		goto out;
	}
	snprintf(p->host, sizeof p->host, "%s", field(r, row, "host"));
	snprintf(p->port, sizeof p->port, "%s", field(r, row, "port"));
	snprintf(p->dbname, sizeof p->dbname, "%s", field(r, row, "database"));
	const char *mode = field(r, row, "pool_mode");
	if (!*mode) {
		/* the database does not set it: the global pool_mode applies */
		c = pgb_exec(d, "SHOW CONFIG", 3000);
		if (!c || !pgx_check(c, PGRES_TUPLES_OK, -1, -1, "SHOW CONFIG")) {
			buf_addf(why, "PgBouncer \"%s\" does not show its config; ", m.data);
			goto out;
		}
		for (int i = 0; i < PQntuples(c); i++)
			if (strcmp(field(c, i, "key"), "pool_mode") == 0)
				mode = field(c, i, "value");
	}
	if (strcmp(mode, "transaction") != 0) {
		buf_addf(why, "PgBouncer database \"%s\" uses pool_mode %s: PAUSE waits for every client "
			      "to disconnect under session pooling (an idle one holds it until max_hold_ms); "
			      "use pool_mode = transaction; ", db, *mode ? mode : "(unknown)");
		goto out;
	}
	if (stat(file, &st) != 0 || !S_ISREG(st.st_mode)) {
		buf_addf(why, "the PgBouncer databases_file \"%s\" is not a file; ", file);
		goto out;
	}
	char *dcopy = strdup(file);
	if (!dcopy)
		abort();
	bool dir_ok = access(dirname(dcopy), W_OK) == 0;
	free(dcopy);
	/* a file with no write bit at all is marked read-only, also for root */
	if (access(file, W_OK) != 0 || !(st.st_mode & 0222) || !dir_ok) {
		buf_addf(why, "the PgBouncer databases_file \"%s\" is not writable (it must be, and its "
			      "directory too: it is replaced through a temporary file); ", file);
		goto out;
	}
	if (!read_file(file, &p->orig)) {
		buf_addf(why, "could not read the PgBouncer databases_file \"%s\"; ", file);
		goto out;
	}
	p->have_orig = true;
	size_t s, e, v;
	int lines = find_lines(p->orig.data, db, &s, &e, &v);
	if (lines != 1) {
		buf_addf(why, "the PgBouncer databases_file \"%s\" holds %d lines for \"%s\" (expected "
			      "exactly one); ", file, lines, db);
		goto out;
	}
	size_t vend = e;
	for (size_t i = v, ks, klen; next_pair(p->orig.data, vend, &i, &ks, &klen);)
		if (key_is(p->orig.data + ks, klen, "password")) {
			buf_addf(why, "the line for \"%s\" in \"%s\" carries a password, which the cutover "
				      "would write again with the target's address: move it to PgBouncer's "
				      "auth_file; ", db, file);
			goto out;
		}
	ok = true;
out:
	PQclear(r);
	PQclear(c);
	buf_release(&m);
	return ok;
}

/* Whether SHOW DATABASES says the entry is paused; false with *ok false
 * when it could not be read (logged).  Remembers where it points. */
static bool pgb_paused(struct driver *d, long timeout_ms, bool *ok)
{
	struct pgb *p = pgb_of(d);
	PGresult *r = pgb_exec(d, "SHOW DATABASES", timeout_ms);
	int row = -1;
	bool paused = false;

	*ok = r && pgx_check(r, PGRES_TUPLES_OK, -1, -1, "SHOW DATABASES");
	if (*ok && (row = find_db(r, d->cfg->database)) < 0) {
		log_error("PgBouncer no longer has a database \"%s\"", d->cfg->database);
		*ok = false;
	}
	if (*ok) {
		paused = strcmp(field(r, row, "paused"), "0") != 0;
		snprintf(p->host, sizeof p->host, "%s", field(r, row, "host"));
		snprintf(p->port, sizeof p->port, "%s", field(r, row, "port"));
		snprintf(p->dbname, sizeof p->dbname, "%s", field(r, row, "database"));
	}
	PQclear(r);
	return paused;
}

static bool pgb_pause(struct driver *d, long timeout_ms)
{
	/* PgBouncer has no pause timeout: a cutover killed while it was paused
	 * leaves it so, and PAUSE is then an error; the re-run takes it over */
	bool ok;
	double t0 = mono_ms_f();
	if (pgb_paused(d, timeout_ms, &ok)) {
		log_warn("PgBouncer database \"%s\" is paused already (an interrupted cutover?): "
			 "holding it as it is", d->cfg->database);
		return true;
	}
	long left = timeout_ms - (long)(mono_ms_f() - t0);
	return ok && pgb_command(d, "PAUSE", true, left > 1 ? left : 1);
}

static bool pgb_switch(struct driver *d, const char *dsn, long timeout_ms)
{
	struct pgb *p = pgb_of(d);
	const char *file = d->cfg->databases_file;
	struct buf now = BUF_INIT, text = BUF_INIT, val = BUF_INIT;
	bool back = driver_going_back(d, dsn);
	bool ok = false;

	if (!p->have_orig) {
		log_error("PgBouncer database \"%s\": the databases_file was not read at preflight",
			  d->cfg->database);
		goto out;
	}
	if (back) {
		if (p->rewritten && !write_atomic(file, p->orig.data, p->orig.len))
			goto out;
		p->rewritten = false;
	} else {
		/* the file as it is now: only our line changes */
		size_t s, e, v;
		if (!read_file(file, &now)) {
			log_error("could not read \"%s\": %m", file);
			goto out;
		}
		if (find_lines(now.data, d->cfg->database, &s, &e, &v) != 1) {
			log_error("\"%s\" no longer holds exactly one line for \"%s\"", file, d->cfg->database);
			goto out;
		}
		size_t vend = e;
		if (vend > v && now.data[vend - 1] == '\r')
			vend--;
		if (!rewrite_value(now.data + v, vend - v, dsn, &val)) {
			log_error("could not parse the target's DSN");
			goto out;
		}
		buf_add(&text, now.data, v);
		buf_add(&text, val.data, val.len);
		buf_add(&text, now.data + vend, now.len - vend);
		if (!write_atomic(file, text.data, text.len))
			goto out;
		p->rewritten = true;
	}
	ok = pgb_command(d, "RELOAD", false, timeout_ms);
out:
	buf_release(&now);
	buf_release(&text);
	buf_release(&val);
	return ok;
}

static bool pgb_resume(struct driver *d, long timeout_ms)
{
	/* RESUME of a database that is not paused is an error: ask first
	 * (a PAUSE that timed out may or may not have taken effect) */
	bool ok;
	bool paused = pgb_paused(d, timeout_ms, &ok);
	return ok && (!paused || pgb_command(d, "RESUME", true, timeout_ms));
}

static void pgb_report(struct driver *d, json_t *arr, double *max_hold)
{
	struct pgb *p = pgb_of(d);
	struct buf m = BUF_INIT;
	masked(d, &m);
	json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:b, s:f, s:b, s:s, s:s, s:s}",
					     "kind", "pgbouncer", "name", m.data, "pgbouncer", m.data,
					     "database", d->cfg->database, "switched", d->switched,
					     "held_ms", d->held_ms, "resumed", d->ok, "host", p->host,
					     "port", p->port, "dbname", p->dbname));
	if (d->held_ms > *max_hold)
		*max_hold = d->held_ms;
	buf_release(&m);
}

static void pgb_close(struct driver *d)
{
	struct pgb *p = d->priv;
	if (!p)
		return;
	PQfinish(p->conn);
	buf_release(&p->orig);
	free(p);
	d->priv = NULL;
}

const struct driver_ops driver_pgbouncer_ops = {
	.kind = "pgbouncer",
	.preflight = pgb_preflight,
	.pause = pgb_pause,
	.switch_to = pgb_switch,
	.resume = pgb_resume,
	.report = pgb_report,
	.close = pgb_close,
};
