/*
 * copy: bulk copy, COPY streamed from the source into the target by
 * parallel workers; see copy.h.
 */
#include "copy.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "capture.h"
#include "indexes.h"
#include "hop_queries.h"
#include "log.h"
#include "pgx.h"
#include "remap.h"
#include "sqlgen.h"
#include "stage.h"
#include "util.h"
#include "banned.h"

/* rows relayed between two progress updates inside a piece */
#define PROGRESS_ROWS 65536

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

/* ---- the work ---- */

enum unit_kind { U_PIECE, U_INDEX, U_FINISH };

struct unit {
	enum unit_kind kind;
	size_t t;			/* index into plan.t */
	int64_t lo, hi;			/* U_PIECE of a ranged table: ids [lo, hi) */
	size_t ix;			/* U_INDEX: index into job.idx */
	struct unit *next;
};

struct tstate {
	int64_t pieces_left;		/* pieces still to copy in this run */
	int64_t indexes_left;		/* deferred indexes still to build */
	int64_t rows_done;		/* for the progress */
	double start;
	bool ranged;			/* pieces are key ranges */
	bool binary;			/* COPY (FORMAT binary) */
	bool direct;			/* COPY into the table itself (else: merge) */
	char *merge_sql;		/* !direct: temporary table into the table */
};

struct job {
	struct hop *h;
	const struct copy_opts *o;
	struct copy_result *res;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct unit *head, *tail;
	int busy;			/* units being worked on */
	bool failed;
	struct tstate *ts;		/* per plan table */
	struct copy_indexes idx;	/* recorded in sync_fdw.copy_index */
	double last_show;
};

struct worker {
	struct job *j;
	PGconn *src, *tgt;
	pthread_t thread;
};

static void push(struct job *j, enum unit_kind kind, size_t t, int64_t lo, int64_t hi, size_t ix, bool front)
{
	struct unit *u = calloc(1, sizeof *u);
	if (!u)
		abort();
	*u = (struct unit){ .kind = kind, .t = t, .lo = lo, .hi = hi, .ix = ix };
	if (front) {
		u->next = j->head;
		j->head = u;
		if (!j->tail)
			j->tail = u;
	} else {
		if (j->tail)
			j->tail->next = u;
		else
			j->head = u;
		j->tail = u;
	}
}

static struct unit *pop(struct job *j)
{
	struct unit *u = j->head;
	if (u) {
		j->head = u->next;
		if (!j->head)
			j->tail = NULL;
	}
	return u;
}

/* Queue what follows the end of table t's rows: its indexes, first in
 * line (j->idx is sorted widest first, and pushing to the front reverses,
 * hence the walk backwards: the longest build should not start last while
 * the other workers wait), or, when it has none left, its finish. */
static void table_loaded(struct job *j, size_t t)
{
	const char *name = j->h->plan.t[t].src->name;
	if (j->ts[t].indexes_left == 0) {
		push(j, U_FINISH, t, 0, 0, 0, true);
		return;
	}
	for (size_t i = j->idx.n; i-- > 0;)
		if (strcmp(j->idx.v[i].tbl, name) == 0)
			push(j, U_INDEX, t, 0, 0, i, true);
}

/* ---- progress (called with the job's mutex held) ---- */

static void show(struct job *j, size_t t, bool final)
{
	double now = mono_s_f();
	if (!final && now - j->last_show < 0.25)
		return;
	j->last_show = now;
	const struct plan_table *pt = &j->h->plan.t[t];
	const struct tstate *ts = &j->ts[t];
	int64_t total = pt->src_rows, done = ts->rows_done;
	double el = now - ts->start;
	double rate = el > 0 ? (double)done / el : 0;
	double eta = rate > 0 && total > done ? (double)(total - done) / rate : 0;
	if (j->o->progress) {
		struct progress p = { .kind = PROGRESS_COPY, .final = final, .table = pt->src->name,
				      .rows = done, .total = total, .rows_per_s = rate, .eta_s = eta };
		j->o->progress(&p, j->o->progress_arg);
	}
}

static void add_rows(struct job *j, size_t t, int64_t rows)
{
	pthread_mutex_lock(&j->mu);
	j->ts[t].rows_done += rows;
	show(j, t, false);
	pthread_mutex_unlock(&j->mu);
}

/* ---- SQL ---- */

/* COPY (SELECT <columns, remapped when direct> FROM public.t s [range]) TO STDOUT */
static void copy_out_sql(struct buf *b, const struct hop_plan *p, const struct plan_table *t,
			 const struct tstate *ts, int64_t lo, int64_t hi)
{
	buf_adds(b, "COPY (SELECT ");
	for (size_t i = 0; i < t->src->ncols; i++) {
		int64_t off = ts->direct ? remap_column_offset(p, t, i) : 0;
		if (i)
			buf_adds(b, ", ");
		if (off != 0)
			buf_adds(b, "(");
		buf_adds(b, "s.");
		sqlgen_ident(b, t->src->cols[i].name);
		/* the column's own type again, as the binary format needs */
		if (off != 0)
			buf_addf(b, " + (%" PRId64 "))::%s", off, t->src->cols[i].type);
	}
	buf_adds(b, " FROM public.");
	sqlgen_ident(b, t->src->name);
	buf_adds(b, " s");
	if (ts->ranged) {
		const char *key = t->src->cols[t->key].name;
		buf_adds(b, " WHERE s.");
		sqlgen_ident(b, key);
		buf_addf(b, " >= %" PRId64 " AND s.", lo);
		sqlgen_ident(b, key);
		buf_addf(b, " < %" PRId64, hi);
	}
	buf_addf(b, ") TO STDOUT%s", ts->binary ? " (FORMAT binary)" : "");
}

/* COPY public.t / pg_temp.t (columns) FROM STDIN */
static void copy_in_sql(struct buf *b, const struct plan_table *t, const struct tstate *ts)
{
	buf_adds(b, ts->direct ? "COPY public." : "COPY pg_temp.");
	sqlgen_ident(b, t->src->name);
	buf_adds(b, " (");
	sqlgen_columns(b, t);
	buf_addf(b, ") FROM STDIN%s", ts->binary ? " (FORMAT binary)" : "");
}

/* ---- one piece ---- */

/* Relay the COPY data from src to tgt; rows counts the messages relayed
 * (a row each, and the binary format's trailer). */
static bool relay(struct job *j, size_t t, PGconn *src, PGconn *tgt, int64_t *rows)
{
	int64_t pending = 0;
	for (;;) {
		char *data = NULL;
		int n = PQgetCopyData(src, &data, 0);
		if (n > 0) {
			int put = PQputCopyData(tgt, data, n);
			PQfreemem(data);
			if (put != 1) {
				log_error("copy rows: the target failed: %s", PQerrorMessage(tgt));
				return false;
			}
			(*rows)++;
			if (++pending == PROGRESS_ROWS) {
				add_rows(j, t, pending);
				pending = 0;
			}
			continue;
		}
		if (pending)
			add_rows(j, t, pending);
		if (n == -1)
			return true;
		log_error("copy rows: reading the source failed: %s", PQerrorMessage(src));
		return false;
	}
}

/* Drain src's results after a COPY TO; true when it ended well. */
static bool end_copy_out(PGconn *src)
{
	bool ok = true;
	PGresult *r;
	while ((r = PQgetResult(src)) != NULL) {
		if (PQresultStatus(r) == PGRES_COPY_OUT) {
			/* abandoned mid-way: read the rest */
			char *data;
			int n;
			while ((n = PQgetCopyData(src, &data, 0)) > 0)
				PQfreemem(data);
			ok = false;
		} else if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			pgx_log_failure(r, "read the source's rows");
			ok = false;
		}
		PQclear(r);
	}
	return ok;
}

/* Finish the target's COPY FROM (aborting it unless ok); *rows from its tag. */
static bool end_copy_in(PGconn *tgt, bool ok, int64_t *rows)
{
	if (PQputCopyEnd(tgt, ok ? NULL : "the source's rows could not be read") != 1)
		ok = false;
	PGresult *r;
	while ((r = PQgetResult(tgt)) != NULL) {
		if (PQresultStatus(r) == PGRES_COMMAND_OK)
			*rows = strtoll(PQcmdTuples(r), NULL, 10);
		else if (ok) {
			pgx_log_failure(r, "load the rows into the target");
			ok = false;
		}
		PQclear(r);
	}
	return ok;
}

static bool run_piece(struct worker *w, const struct unit *u, int64_t *rows)
{
	struct job *j = w->j;
	struct hop *h = j->h;
	const struct plan_table *t = &h->plan.t[u->t];
	const struct tstate *ts = &j->ts[u->t];
	struct buf out = BUF_INIT, in = BUF_INIT;
	PGresult *r = NULL;
	char *snap = NULL;
	bool ok = false;
	int64_t relayed = 0;

	/* a crash loses at most this uncommitted piece, which is redone: no
	 * need to wait for the WAL flush */
	if (!hop_exec(w->tgt, "BEGIN; SET LOCAL synchronous_commit = off", "begin a copy piece") ||
	    !hop_exec(w->src, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "begin reading a piece"))
		goto out;
	/* the first statement fixes the transaction's snapshot: the rows are
	 * read in the snapshot recorded with them */
	r = PQexec(w->src, "SELECT snapshot FROM sync_fdw_src.horizon");
	if (!pgx_check(r, PGRES_TUPLES_OK, 1, 1, "read the source's snapshot"))
		goto out;
	snap = xstrdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	r = NULL;
	if (!ts->direct) {
		buf_adds(&in, "CREATE TEMP TABLE ");
		sqlgen_ident(&in, t->src->name);
		buf_adds(&in, " (LIKE public.");
		sqlgen_ident(&in, t->src->name);
		buf_adds(&in, ") ON COMMIT DROP");
		if (!hop_exec(w->tgt, in.data, "create a table to merge from"))
			goto out;
		buf_reset(&in);
	}
	copy_out_sql(&out, &h->plan, t, ts, u->lo, u->hi);
	copy_in_sql(&in, t, ts);
	if (!PQsendQuery(w->src, out.data)) {
		log_error("copy rows: %s", PQerrorMessage(w->src));
		goto out;
	}
	r = PQgetResult(w->src);
	if (PQresultStatus(r) != PGRES_COPY_OUT) {
		pgx_log_failure(r, "read the source's rows");
		PQclear(r);
		r = NULL;
		(void)end_copy_out(w->src);
		goto out;
	}
	PQclear(r);
	r = PQexec(w->tgt, in.data);
	if (PQresultStatus(r) != PGRES_COPY_IN) {
		pgx_log_failure(r, "load the rows into the target");
		PQclear(r);
		r = NULL;
		(void)end_copy_out(w->src);
		goto out;
	}
	PQclear(r);
	r = NULL;
	bool moved = relay(j, u->t, w->src, w->tgt, &relayed);
	bool src_ok = end_copy_out(w->src);
	if (!end_copy_in(w->tgt, moved && src_ok, rows))
		goto out;
	if (!ts->direct && !hop_exec(w->tgt, ts->merge_sql, "merge the rows into the target's table"))
		goto out;
	char id[16], los[24], his[24], nrows[24];
	snprintf(id, sizeof id, "%d", t->id);
	snprintf(los, sizeof los, "%" PRId64, u->lo);
	snprintf(his, sizeof his, "%" PRId64, u->hi);
	snprintf(nrows, sizeof nrows, "%" PRId64, *rows);
	const char *q[] = { h->server, id, t->src->name, ts->ranged ? los : NULL, ts->ranged ? his : NULL,
			    snap, nrows };
	r = PQexecParams(w->tgt, hq_copy_record_piece, 7, NULL, q, NULL, NULL, 0);
	if (!pgx_check(r, PGRES_COMMAND_OK, -1, -1, "record the copied piece"))
		goto out;
	ok = hop_exec(w->tgt, "COMMIT", "commit a copy piece");
out:
	PQclear(r);
	free(snap);
	buf_release(&out);
	buf_release(&in);
	hop_rollback(w->tgt);
	hop_rollback(w->src);
	/* the progress counted what was relayed; count what is in */
	if (relayed != (ok ? *rows : 0))
		add_rows(j, u->t, (ok ? *rows : 0) - relayed);
	return ok;
}

/* ---- the workers ---- */

static void *work(void *arg)
{
	struct worker *w = arg;
	struct job *j = w->j;
	pthread_mutex_lock(&j->mu);
	for (;;) {
		if (j->failed || (j->o->stop && *j->o->stop))
			break;
		struct unit *u = pop(j);
		if (!u) {
			if (j->busy == 0)
				break;	/* nothing left, and nothing can come */
			pthread_cond_wait(&j->cv, &j->mu);
			continue;
		}
		j->busy++;
		if (u->kind == U_PIECE && j->ts[u->t].start == 0)
			j->ts[u->t].start = mono_s_f();
		pthread_mutex_unlock(&j->mu);

		int64_t rows = 0;
		double t0 = mono_s_f();
		bool ok = u->kind == U_PIECE ? run_piece(w, u, &rows)
			  : u->kind == U_INDEX ? indexes_build(j->h, w->tgt, &j->idx.v[u->ix])
			  : indexes_finish(j->h, w->tgt, &j->idx, j->h->plan.t[u->t].src->name);
		double took = mono_s_f() - t0;

		pthread_mutex_lock(&j->mu);
		j->busy--;
		struct tstate *ts = u->t == SIZE_MAX ? NULL : &j->ts[u->t];
		if (!ok) {
			j->failed = true;
		} else if (!ts) {
			j->res->index_seconds += took;	/* an orphan index */
		} else if (u->kind == U_PIECE) {
			j->res->rows += rows;
			j->res->pieces++;
			kill_hook(j->res->pieces);
			if (--ts->pieces_left == 0) {
				show(j, u->t, true);
				table_loaded(j, u->t);
			}
		} else if (u->kind == U_INDEX) {
			j->res->index_seconds += took;
			if (--ts->indexes_left == 0)
				push(j, U_FINISH, u->t, 0, 0, 0, true);
		}
		free(u);
		pthread_cond_broadcast(&j->cv);
	}
	pthread_cond_broadcast(&j->cv);
	pthread_mutex_unlock(&j->mu);
	return NULL;
}

/* ---- preparation (single-threaded) ---- */

/* Keyed tables: pieces [k*B, (k+1)*B) over the key range; keyless: one. */
static bool pieces_done(struct hop *h, const struct plan_table *t, PGresult **out)
{
	/* by name: sync_fdw.copied.tbl is the number the table had then */
	const char *p[] = { h->server, t->src->name };
	*out = PQexecParams(h->tgt, "SELECT coalesce(lo, -1) FROM sync_fdw.copied WHERE server = $1 AND name = $2",
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

/* Every column of a built-in type: the binary format reads the same on both ends. */
static bool builtin_types(struct hop *h, const char *table, bool *yes)
{
	const char *p[] = { table };
	PGresult *r = PQexecParams(h->src, hq_copy_builtin_types, 1, NULL, p, NULL, NULL, 0);
	bool ok = pgx_check(r, PGRES_TUPLES_OK, 1, 1, "look at the source's column types");
	*yes = ok && PQgetvalue(r, 0, 0)[0] == 't';
	PQclear(r);
	return ok;
}

/* Asked of both ends: the target reads the change log, the copy the
 * snapshot; false (logged) when either lacks it or could not be asked. */
static bool capture_ready(struct hop *h)
{
	enum capture_answer linked = capture_present(h, CAPTURE_LINKED);
	enum capture_answer installed = linked == CAPTURE_ERROR ? CAPTURE_ERROR
								: capture_present(h, CAPTURE_ON_SOURCE);
	if (linked == CAPTURE_ERROR || installed == CAPTURE_ERROR)
		return false;
	if (linked == CAPTURE_NO || installed == CAPTURE_NO) {
		log_error("capture is not installed for hop \"%s\"\nhint: run \"sync-fdw link\" and "
			  "\"sync-fdw capture install\" before copying, so no change is missed", h->server);
		return false;
	}
	return true;
}

/* Foreign keys on the target: rows must then go in parents first. */
static bool has_fks(struct hop *h, bool *yes)
{
	PGresult *r = PQexec(h->tgt, hq_copy_has_fks);
	bool ok = pgx_check(r, PGRES_TUPLES_OK, 1, 1, "look for the target's foreign keys");
	*yes = ok && PQgetvalue(r, 0, 0)[0] == 't';
	PQclear(r);
	return ok;
}

static int by_rows_desc(const void *a, const void *b, void *plan)
{
	const struct hop_plan *p = plan;
	int64_t ra = p->t[*(const size_t *)a].src_rows, rb = p->t[*(const size_t *)b].src_rows;
	return ra < rb ? 1 : ra > rb ? -1 : 0;
}

/*
 * Queue the pieces still to copy, defer the indexes of empty tables.
 * Parents first when the target has foreign keys; else the largest tables
 * first, so that their index builds and ANALYZE, which only one table's
 * rows can wait for, overlap with the loading of the smaller ones.
 */
static bool plan_units(struct job *j, bool parents_first)
{
	struct hop *h = j->h;
	int64_t B = h->cfg->s.copy_batch_rows;
	size_t *order = calloc(h->plan.n ? h->plan.n : 1, sizeof *order);
	if (!order)
		abort();
	memcpy(order, h->plan.order, h->plan.n * sizeof *order);
	if (!parents_first) {
		qsort_r(order, h->plan.n, sizeof *order, by_rows_desc, &h->plan);
	}
	bool ok = false;
	for (size_t k = 0; k < h->plan.n; k++) {
		size_t ti = order[k];
		const struct plan_table *t = &h->plan.t[ti];
		struct tstate *ts = &j->ts[ti];
		PGresult *done = NULL;
		if (!pieces_done(h, t, &done))
			goto out;
		ts->ranged = t->key >= 0;
		int64_t first = 0, last = ts->ranged ? -1 : 0;	/* piece numbers */
		if (ts->ranged && t->src_min <= t->src_max) {
			first = t->src_min >= 0 ? t->src_min / B : -((-t->src_min + B - 1) / B);
			last = t->src_max >= 0 ? t->src_max / B : -((-t->src_max + B - 1) / B);
		}
		/* a keyed table without rows: nothing to copy; captured changes bring new rows */
		for (int64_t piece = first; piece <= last; piece++) {
			int64_t lo = ts->ranged ? piece * B : -1, hi = ts->ranged ? lo + B : -1;
			if (piece_done(done, lo)) {
				j->res->pieces_skipped++;
				continue;
			}
			push(j, U_PIECE, ti, lo, hi, 0, false);
			ts->pieces_left++;
		}
		bool fresh = PQntuples(done) == 0;
		PQclear(done);
		if (ts->pieces_left > 0 && fresh && t->tgt && t->tgt_rows == 0 && !indexes_defer(h, t))
			goto out;
		if (!builtin_types(h, t->src->name, &ts->binary))
			goto out;
	}
	if (!indexes_read(h, &j->idx))
		goto out;
	for (size_t k = 0; k < h->plan.n; k++) {
		size_t ti = h->plan.order[k];
		const struct plan_table *t = &h->plan.t[ti];
		struct tstate *ts = &j->ts[ti];
		bool key_deferred = false;
		for (size_t i = 0; i < j->idx.n; i++)
			if (strcmp(j->idx.v[i].tbl, t->src->name) == 0) {
				ts->indexes_left++;
				key_deferred = key_deferred || j->idx.v[i].kind != 'i';
			}
		/* no source row can meet a target row: straight in */
		ts->direct = t->conflict == HOP_CONFLICT_REFUSE || t->tgt_rows == 0 || key_deferred;
		if (!ts->direct) {
			struct buf m = BUF_INIT;
			sqlgen_copy(&m, &h->plan, t, "pg_temp", false);
			ts->merge_sql = buf_detach(&m);
		}
		if (ts->pieces_left == 0)
			table_loaded(j, ti);
	}
	/* indexes of tables no longer in the plan (or from an older version) */
	for (size_t i = 0; i < j->idx.n; i++)
		if (!plan_table(&h->plan, j->idx.v[i].tbl)) {
			log_warn("index \"%s\" was dropped by an earlier copy: rebuilding it", j->idx.v[i].name);
			push(j, U_INDEX, SIZE_MAX, 0, 0, i, true);
		}
	ok = true;
out:
	free(order);
	return ok;
}

static void job_release(struct job *j)
{
	struct unit *u;
	while ((u = pop(j)) != NULL)
		free(u);
	indexes_release(&j->idx);
	if (j->ts)
		for (size_t i = 0; i < j->h->plan.n; i++)
			free(j->ts[i].merge_sql);
	free(j->ts);
	pthread_mutex_destroy(&j->mu);
	pthread_cond_destroy(&j->cv);
}

bool copy_run(struct hop *h, const struct copy_opts *o, struct copy_result *res)
{
	double start = mono_s_f();
	bool ok = false;
	struct worker *ws = NULL;
	int nw = 0;

	memset(res, 0, sizeof *res);
	/* the pieces' snapshots are matched with the captured changes by
	 * table number: the capture must number the tables as the plan does */
	if (!hop_plan_ok(h) || !capture_ready(h) || !capture_check(h, h->src, "sync_fdw_src") ||
	    !hop_state_init(h))
		return false;
	if (!hop_stage_move(h, HOP_STAGE_COPYING))
		return false;

	struct job j = { .h = h, .o = o, .res = res };
	pthread_mutex_init(&j.mu, NULL);
	pthread_cond_init(&j.cv, NULL);
	j.ts = calloc(h->plan.n ? h->plan.n : 1, sizeof *j.ts);
	if (!j.ts)
		abort();
	int want = (int)h->cfg->s.copy_workers;
	bool fks = false;
	if (!has_fks(h, &fks))
		goto out;
	if (fks && want > 1) {
		log_info("copy: one worker, since the target's foreign keys need parents loaded first");
		want = 1;
	}
	if (!plan_units(&j, fks))
		goto out;

	ws = calloc((size_t)want, sizeof *ws);
	if (!ws)
		abort();
	for (; nw < want; nw++) {
		ws[nw].j = &j;
		ws[nw].src = hop_connect(h, false);
		ws[nw].tgt = ws[nw].src ? hop_connect(h, true) : NULL;
		if (!ws[nw].tgt) {
			PQfinish(ws[nw].src);
			if (nw == 0)
				goto out;
			log_warn("copy: going on with %d worker(s)", nw);
			break;
		}
		pgx_quiet_notices(ws[nw].tgt);
	}
	res->workers = nw;
	int started = 0;
	for (; started < nw; started++)
		if (pthread_create(&ws[started].thread, NULL, work, &ws[started]) != 0) {
			log_warn("copy: could not start worker %d: going on with %d", started + 1, started);
			break;
		}
	for (int i = 0; i < started; i++)
		pthread_join(ws[i].thread, NULL);
	if (started == 0)
		goto out;
	if (o->stop && *o->stop) {
		log_warn("copy interrupted: run it again to resume");
		goto out;
	}
	if (j.failed || j.head) {
		log_error("copy stopped at the first failure: run it again to resume");
		goto out;
	}
	if (!hop_stage_move(h, HOP_STAGE_COPIED))
		goto out;
	ok = true;
out:
	for (int i = 0; i < nw; i++) {
		PQfinish(ws[i].src);
		PQfinish(ws[i].tgt);
	}
	free(ws);
	job_release(&j);
	res->seconds = mono_s_f() - start;
	if (ok)
		log_info("copy finished: %" PRId64 " rows in %" PRId64 " pieces (%" PRId64 " copied "
			 "earlier) by %d workers in %.2f s, indexes %.2f s", res->rows, res->pieces,
			 res->pieces_skipped, res->workers, res->seconds, res->index_seconds);
	return ok;
}
