/*
 * copy: bulk copy through the link; see copy.h.
 */
#include "copy.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "pgx.h"
#include "sqlgen.h"
#include "banned.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void rollback(PGconn *c)
{
	if (PQtransactionStatus(c) != PQTRANS_IDLE) {
		PGresult *r = PQexec(c, "ROLLBACK");
		PQclear(r);
	}
}

/* Test hook: SYNC_FDW_TEST_KILL_COPY_AT=<n> SIGKILLs the process after
 * piece n of this run has committed. */
static void kill_hook(int64_t pieces)
{
	const char *v = getenv("SYNC_FDW_TEST_KILL_COPY_AT");
	if (v && strtoll(v, NULL, 10) == pieces) {
		log_warn("test hook: killing myself after copy piece %" PRId64, pieces);
		raise(SIGKILL);
	}
}

struct progress {
	const struct copy_opts *o;
	double start, last;
	int64_t total_rows, done_rows;
};

static void show(struct progress *pg, const char *table, int64_t trows, int64_t tdone,
		 double tstart, bool final)
{
	double now = now_s();
	if (!final && now - pg->last < 0.25)
		return;
	pg->last = now;
	double el = now - tstart;
	double rate = el > 0 ? (double)tdone / el : 0;
	double eta = rate > 0 && trows > tdone ? (double)(trows - tdone) / rate : 0;
	if (pg->o->json) {
		printf("{\"event\":\"copy\",\"table\":");
		struct buf b = BUF_INIT;
		buf_add_json_str(&b, table, strlen(table));
		printf("%s,\"rows\":%" PRId64 ",\"total\":%" PRId64 ",\"rows_per_s\":%.0f,\"eta_s\":%.1f,"
		       "\"done\":%s}\n", b.data, tdone, trows, rate, eta, final ? "true" : "false");
		buf_release(&b);
		fflush(stdout);
	}
	if (pg->o->progress) {
		bool tty = isatty(STDERR_FILENO);
		if (tty || final)
			fprintf(stderr, "%scopy %-20s %10" PRId64 " / %-10" PRId64 " rows  %9.0f rows/s  ETA %5.1f s%s",
				tty ? "\r" : "", table, tdone, trows, rate, eta, final || !tty ? "\n" : "");
	}
}

/* Keyed tables: pieces [k*B, (k+1)*B) over the key range; keyless: one. */
static bool pieces_done(struct hop *h, const struct plan_table *t, PGresult **out)
{
	char id[16];
	snprintf(id, sizeof id, "%d", t->id);
	const char *p[] = { h->server, id };
	*out = PQexecParams(h->tgt, "SELECT coalesce(lo, -1) FROM sync_fdw.copied WHERE server = $1 AND tbl = $2",
			    2, NULL, p, NULL, NULL, 0);
	return pgx_check(*out, PGRES_TUPLES_OK, -1, 1, "read the copied pieces");
}

static bool piece_done(PGresult *done, int64_t lo)
{
	for (int i = 0; i < PQntuples(done); i++)
		if (strtoll(PQgetvalue(done, i, 0), NULL, 10) == lo)
			return true;
	return false;
}

/* Copy one piece in one target transaction; *rows gets the count. */
static bool copy_piece(struct hop *h, const struct plan_table *t, const char *insert_sql, bool ranged,
		       int64_t lo, int64_t hi, int64_t *rows)
{
	PGconn *c = h->tgt;
	PGresult *r = NULL;
	char los[24], his[24], id[16];
	bool ok = false;
	snprintf(los, sizeof los, "%" PRId64, lo);
	snprintf(his, sizeof his, "%" PRId64, hi);
	snprintf(id, sizeof id, "%d", t->id);

	/* a crash loses at most this uncommitted piece, which is redone:
	 * no need to wait for the WAL flush */
	if (!hop_exec(c, "BEGIN; SET LOCAL synchronous_commit = off", "begin a copy piece"))
		goto out;
	/* first foreign access: fixes the remote snapshot for the rows too */
	struct buf sql = BUF_INIT;
	buf_adds(&sql, "SELECT snapshot FROM ");
	sqlgen_qualified(&sql, h->cdc, "horizon");
	r = PQexec(c, sql.data);
	buf_release(&sql);
	if (!pgx_check(r, PGRES_TUPLES_OK, 1, 1, "read the source's snapshot"))
		goto out;
	char *snap = strdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	const char *p[] = { los, his };
	r = PQexecParams(c, insert_sql, ranged ? 2 : 0, NULL, ranged ? p : NULL, NULL, NULL, 0);
	if (!pgx_check(r, PGRES_COMMAND_OK, -1, -1, "copy rows")) {
		free(snap);
		goto out;
	}
	*rows = strtoll(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	char nrows[24];
	snprintf(nrows, sizeof nrows, "%" PRId64, *rows);
	const char *q[] = { h->server, id, t->src->name, ranged ? los : NULL, ranged ? his : NULL, snap,
			    nrows };
	r = PQexecParams(c, "INSERT INTO sync_fdw.copied (server, tbl, name, lo, hi, snapshot, rows)"
			    " VALUES ($1, $2, $3, $4, $5, $6::pg_snapshot, $7)", 7, NULL, q, NULL, NULL, 0);
	free(snap);
	if (!pgx_check(r, PGRES_COMMAND_OK, -1, -1, "record the copied piece"))
		goto out;
	ok = hop_exec(c, "COMMIT", "commit a copy piece");
out:
	PQclear(r);
	if (!ok)
		rollback(c);
	return ok;
}

/* Drop the secondary indexes of an empty target table, remembering them. */
static bool defer_indexes(struct hop *h, const struct plan_table *t)
{
	if (!t->tgt || t->tgt_rows > 0)
		return true;
	for (size_t i = 0; i < t->tgt->nindexes; i++) {
		const struct cat_index *ix = &t->tgt->indexes[i];
		if (ix->primary)
			continue;
		/* indexes behind constraints (unique) stay: dropping them would
		 * need the constraint dropped too */
		const char *p[] = { ix->name };
		PGresult *r = PQexecParams(h->tgt, "SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE conindid = "
						   "to_regclass(format('public.%I', $1::text)))", 1, NULL, p, NULL,
					   NULL, 0);
		bool backs = pgx_check(r, PGRES_TUPLES_OK, 1, 1, "look at an index") &&
			     PQgetvalue(r, 0, 0)[0] == 't';
		PQclear(r);
		if (backs)
			continue;
		const char *q[] = { h->server, ix->name, ix->def };
		r = PQexecParams(h->tgt, "INSERT INTO sync_fdw.copy_index (server, name, def) VALUES ($1, $2, $3)"
					 " ON CONFLICT DO NOTHING", 3, NULL, q, NULL, NULL, 0);
		bool ok = pgx_check(r, PGRES_COMMAND_OK, -1, -1, "remember an index");
		PQclear(r);
		struct buf sql = BUF_INIT;
		buf_adds(&sql, "DROP INDEX IF EXISTS public.");
		sqlgen_ident(&sql, ix->name);
		ok = ok && hop_exec(h->tgt, sql.data, "drop an index for the copy");
		buf_release(&sql);
		if (!ok)
			return false;
	}
	return true;
}

/* Rebuild every index the copy dropped (also those of an earlier run). */
static bool rebuild_indexes(struct hop *h, double *seconds)
{
	double t0 = now_s();
	const char *p[] = { h->server };
	PGresult *r = PQexecParams(h->tgt, "SELECT name, def FROM sync_fdw.copy_index WHERE server = $1",
				   1, NULL, p, NULL, NULL, 0);
	bool ok = pgx_check(r, PGRES_TUPLES_OK, -1, 2, "read the dropped indexes");
	for (int i = 0; ok && i < PQntuples(r); i++) {
		const char *name = PQgetvalue(r, i, 0);
		const char *q[] = { name };
		PGresult *e = PQexecParams(h->tgt, "SELECT to_regclass(format('public.%I', $1::text)) IS NOT NULL",
					   1, NULL, q, NULL, NULL, 0);
		bool exists = pgx_check(e, PGRES_TUPLES_OK, 1, 1, "look for an index") &&
			      PQgetvalue(e, 0, 0)[0] == 't';
		PQclear(e);
		/* maintenance_work_mem helps the sort; one transaction per index */
		ok = exists || (hop_exec(h->tgt, "BEGIN; SET LOCAL maintenance_work_mem = '256MB'", "begin") &&
				hop_exec(h->tgt, PQgetvalue(r, i, 1), "rebuild an index") &&
				hop_exec(h->tgt, "COMMIT", "commit"));
		if (ok) {
			const char *d[] = { h->server, name };
			e = PQexecParams(h->tgt, "DELETE FROM sync_fdw.copy_index WHERE server = $1 AND name = $2",
					 2, NULL, d, NULL, NULL, 0);
			ok = pgx_check(e, PGRES_COMMAND_OK, -1, -1, "forget a rebuilt index");
			PQclear(e);
			log_info("rebuilt index \"%s\"", name);
		}
	}
	PQclear(r);
	if (!ok)
		rollback(h->tgt);
	*seconds += now_s() - t0;
	return ok;
}

static bool set_stage(struct hop *h, const char *sql)
{
	const char *p[] = { h->server };
	PGresult *r = PQexecParams(h->tgt, sql, 1, NULL, p, NULL, NULL, 0);
	bool ok = pgx_check(r, PGRES_COMMAND_OK, -1, -1, "record the copy's stage");
	PQclear(r);
	return ok;
}

bool copy_run(struct hop *h, const struct copy_opts *o, struct copy_result *res)
{
	struct progress pg = { .o = o, .start = now_s() };
	bool ok = false;
	PGresult *done = NULL;
	char *insert_sql = NULL;

	memset(res, 0, sizeof *res);
	if (!hop_plan_ok(h))
		return false;
	/* capture first: the copy's snapshots are compared with the change log */
	struct buf sql = BUF_INIT;
	{
		struct buf name = BUF_INIT;
		sqlgen_qualified(&name, h->cdc, "horizon");
		buf_adds(&sql, "SELECT to_regclass(");
		sqlgen_literal(&sql, name.data);
		buf_adds(&sql, ") IS NOT NULL");
		buf_release(&name);
	}
	PGresult *r = PQexec(h->tgt, sql.data);
	buf_release(&sql);
	bool have_cdc = pgx_check(r, PGRES_TUPLES_OK, 1, 1, "look for the change log") &&
			PQgetvalue(r, 0, 0)[0] == 't';
	PQclear(r);
	if (!have_cdc) {
		log_error("capture is not installed for hop \"%s\"; hint: run \"sync-fdw link\" and "
			  "\"sync-fdw capture install\" before copying, so no change is missed", h->server);
		return false;
	}
	if (!set_stage(h, "UPDATE sync_fdw.hop SET copy_started_at = coalesce(copy_started_at, now()),"
			  " copy_finished_at = NULL, stage = 'copying' WHERE server = $1"))
		return false;
	for (size_t k = 0; k < h->plan.n; k++) {
		const struct plan_table *t = &h->plan.t[h->plan.order[k]];
		pg.total_rows += t->src_rows;
	}

	for (size_t k = 0; k < h->plan.n && !(o->stop && *o->stop); k++) {
		const struct plan_table *t = &h->plan.t[h->plan.order[k]];
		bool ranged = t->key >= 0;
		struct buf ins = BUF_INIT;
		sqlgen_copy(&ins, &h->plan, t, h->staging, ranged);
		free(insert_sql);
		insert_sql = buf_detach(&ins);
		PQclear(done);
		if (!pieces_done(h, t, &done))
			goto out;
		int64_t B = h->cfg->s.copy_batch_rows;
		int64_t first = 0, last = 0;	/* piece numbers */
		if (ranged) {
			if (t->src_min > t->src_max)
				continue;	/* nothing to copy; captured changes bring new rows */
			first = t->src_min >= 0 ? t->src_min / B : -((-t->src_min + B - 1) / B);
			last = t->src_max >= 0 ? t->src_max / B : -((-t->src_max + B - 1) / B);
		}
		if (PQntuples(done) == 0 && !defer_indexes(h, t))
			goto out;
		double tstart = now_s();
		int64_t tdone = 0;
		for (int64_t piece = first; piece <= last && !(o->stop && *o->stop); piece++) {
			int64_t lo = piece * B, hi = lo + B, rows = 0;
			if (piece_done(done, ranged ? lo : -1)) {
				res->pieces_skipped++;
				continue;
			}
			if (!copy_piece(h, t, insert_sql, ranged, lo, hi, &rows))
				goto out;
			res->rows += rows;
			res->pieces++;
			tdone += rows;
			pg.done_rows += rows;
			show(&pg, t->src->name, t->src_rows, tdone, tstart, false);
			kill_hook(res->pieces);
		}
		show(&pg, t->src->name, t->src_rows, tdone, tstart, true);
	}
	if (o->stop && *o->stop) {
		log_warn("copy interrupted: run it again to resume");
		goto out;
	}
	if (!rebuild_indexes(h, &res->index_seconds))
		goto out;
	/* planner statistics for the freshly loaded tables */
	for (size_t k = 0; k < h->plan.n; k++) {
		struct buf an = BUF_INIT;
		buf_adds(&an, "ANALYZE public.");
		sqlgen_ident(&an, h->plan.t[k].src->name);
		bool a = hop_exec(h->tgt, an.data, "analyze a copied table");
		buf_release(&an);
		if (!a)
			goto out;
	}
	if (!set_stage(h, "UPDATE sync_fdw.hop SET copy_finished_at = now(), stage = 'copied'"
			  " WHERE server = $1"))
		goto out;
	ok = true;
out:
	res->seconds = now_s() - pg.start;
	PQclear(done);
	free(insert_sql);
	if (ok)
		log_info("copy finished: %" PRId64 " rows in %" PRId64 " pieces (%" PRId64 " copied "
			 "earlier) in %.2f s, indexes %.2f s", res->rows, res->pieces, res->pieces_skipped,
			 res->seconds, res->index_seconds);
	return ok;
}
