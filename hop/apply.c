/*
 * apply: the live sync; see apply.h for why it is exactly once.
 */
#include "apply.h"

#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "capture.h"
#include "hop_queries.h"
#include "log.h"
#include "pgx.h"
#include "report.h"
#include "sqlgen.h"
#include "stage.h"
#include "util.h"
#include "banned.h"

/* Per-run state: SQL built once from the plan. */
struct applier {
	struct hop *h;
	const struct apply_opts *o;
	char **del_sql, **ups_sql;	/* per plan table */
	bool *has_pieces;		/* per plan table: copy pieces to skip against */
	bool *prepared;			/* per plan table x op: ordered statements prepared */
	bool *merge;			/* per plan table: ups_sql is a MERGE that also deletes */
	char *fetch_range, *fetch_open, *horizon_sql, *prune_sql, *schema_sql;
	bool prune_pending;		/* a prune sent on the source session, result unread */
	char *unpruned[4];		/* the last prune's parameters, when it was left for later */
	int64_t unvacuumed;		/* changes pruned since the change log was last vacuumed */
	int kill_point;			/* test hook, see kill_here() */
	int64_t kill_batch;
	int64_t nonempty;		/* batches of this run that read changes */
	bool recorded;			/* the reason it stopped is the hop's last error */
	char *epoch;			/* the source's capture_epoch its table list was checked at */
	double rate;
};

enum { KILL_NONE, KILL_BEFORE_APPLY, KILL_MID_BATCH, KILL_AFTER_APPLY, KILL_BEFORE_COMMIT,
       KILL_AFTER_COMMIT };

static void sleep_ms(int64_t ms, volatile sig_atomic_t *stop)
{
	while (ms > 0 && !(stop && *stop)) {
		int64_t step = ms > 100 ? 100 : ms;
		struct timespec ts = { (time_t)(step / 1000), (long)(step % 1000) * 1000000L };
		nanosleep(&ts, NULL);
		ms -= step;
	}
}

/*
 * Test hook for the crash tests: SYNC_FDW_TEST_KILL_AT=<point>:<n> makes
 * the process SIGKILL itself at that point of the n-th batch of this run
 * that read changes.  Points: before-apply, mid-batch, after-apply,
 * before-commit, after-commit.
 */
static void kill_setup(struct applier *a)
{
	static const char *const names[] = { "", "before-apply", "mid-batch", "after-apply",
					     "before-commit", "after-commit" };
	const char *v = getenv("SYNC_FDW_TEST_KILL_AT");
	if (!v)
		return;
	const char *colon = strchr(v, ':');
	size_t n = colon ? (size_t)(colon - v) : strlen(v);
	for (int i = 1; i <= KILL_AFTER_COMMIT; i++)
		if (strlen(names[i]) == n && strncmp(v, names[i], n) == 0)
			a->kill_point = i;
	a->kill_batch = colon ? strtoll(colon + 1, NULL, 10) : 1;
}

static void kill_here(const struct applier *a, int point, int64_t batch)
{
	(void)batch;
	if (a->kill_point == point && a->kill_batch == a->nonempty) {
		log_warn("test hook: killing myself at point %d of batch %" PRId64, point, a->nonempty);
		raise(SIGKILL);
	}
}

static void rollback(PGconn *c)
{
	if (c && PQstatus(c) == CONNECTION_OK && PQtransactionStatus(c) != PQTRANS_IDLE) {
		PGresult *r = PQexec(c, "ROLLBACK");
		PQclear(r);
	}
}

static void applier_release(struct applier *a)
{
	for (size_t i = 0; a->del_sql && i < a->h->plan.n; i++) {
		free(a->del_sql[i]);
		free(a->ups_sql[i]);
	}
	free(a->del_sql);
	free(a->ups_sql);
	free(a->has_pieces);
	free(a->prepared);
	free(a->merge);
	free(a->fetch_range);
	free(a->fetch_open);
	free(a->horizon_sql);
	free(a->prune_sql);
	for (int i = 0; i < 4; i++)
		free(a->unpruned[i]);
	free(a->schema_sql);
	free(a->epoch);
}

static void applier_init(struct applier *a, struct hop *h, const struct apply_opts *o)
{
	memset(a, 0, sizeof *a);
	a->h = h;
	a->o = o;
	size_t n = h->plan.n ? h->plan.n : 1;
	a->del_sql = calloc(n, sizeof *a->del_sql);
	a->ups_sql = calloc(n, sizeof *a->ups_sql);
	a->has_pieces = calloc(n, sizeof *a->has_pieces);
	a->prepared = calloc(n * 3, sizeof *a->prepared);
	a->merge = calloc(n, sizeof *a->merge);
	if (!a->del_sql || !a->ups_sql || !a->has_pieces || !a->prepared || !a->merge)
		abort();
	struct buf b = BUF_INIT;
	for (size_t i = 0; i < h->plan.n; i++) {
		sqlgen_apply_delete(&b, &h->plan, &h->plan.t[i], h->staging);
		a->del_sql[i] = buf_detach(&b);
		sqlgen_apply_upsert(&b, &h->plan, &h->plan.t[i], h->staging);
		a->ups_sql[i] = buf_detach(&b);
	}
	buf_adds(&b, "INSERT INTO pg_temp.sync_batch SELECT change_id, xid, tbl, op, img, old, ts FROM ");
	sqlgen_qualified(&b, h->cdc, "changes");
	buf_adds(&b, " WHERE change_id > $1 AND change_id <= $2");
	a->fetch_range = buf_detach(&b);
	buf_adds(&b, "INSERT INTO pg_temp.sync_batch SELECT change_id, xid, tbl, op, img, old, ts FROM ");
	sqlgen_qualified(&b, h->cdc, "changes");
	buf_adds(&b, " WHERE change_id <= $1 AND xid >= $2::xid8 AND (xid >= $3::xid8 OR xid = ANY($4::xid8[]))");
	a->fetch_open = buf_detach(&b);
	buf_adds(&b, "SELECT snapshot, seq, coalesce(epoch, '') FROM ");
	sqlgen_qualified(&b, h->cdc, "horizon");
	a->horizon_sql = buf_detach(&b);
	buf_adds(&b, "DELETE FROM ");
	sqlgen_qualified(&b, h->cdc, "changes");
	buf_adds(&b, " WHERE change_id <= $1 AND NOT (xid >= $2::xid8 AND (xid >= $3::xid8 OR xid = ANY($4::xid8[])))");
	a->prune_sql = buf_detach(&b);
	buf_adds(&b, "SELECT name, captured, current FROM ");
	sqlgen_qualified(&b, h->cdc, "table_columns");
	buf_adds(&b, " WHERE captured IS DISTINCT FROM current");
	a->schema_sql = buf_detach(&b);
	kill_setup(a);
}

/* The connection-level failures worth retrying after a pause. */
static bool transient(PGconn *c, const PGresult *r)
{
	if (!c || PQstatus(c) != CONNECTION_OK)
		return true;
	/* a refused login (also postgres_fdw's to the source, class 08) is
	 * final: retrying cannot fix a password */
	if (pgx_auth_failure(r))
		return false;
	const char *s = pgx_sqlstate(r);
	/* class 08 (also postgres_fdw's "could not connect" for the source),
	 * server shutting down, serialization failure, deadlock, lock timeout */
	return pgx_conn_lost(c, r) || strcmp(s, "40001") == 0 || strcmp(s, "40P01") == 0 ||
	       strcmp(s, "55P03") == 0 || strcmp(s, "57P03") == 0;
}

struct batch_state {
	int64_t pos, seen_max, upto, seq;
	char *prev[3];		/* previous snapshot P: xmin, xmax, xip (xid8[] text) */
	char *snap;		/* this batch's snapshot S */
	char *cur[3];		/* S: xmin, xmax, xip */
	int64_t fetched, skipped, applied;
	bool fallback;
};

static void batch_state_release(struct batch_state *s)
{
	for (int i = 0; i < 3; i++) {
		free(s->prev[i]);
		free(s->cur[i]);
	}
	free(s->snap);
	memset(s, 0, sizeof *s);
}

static char *dupval(PGresult *r, int row, int col)
{
	return xstrdup(PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col));
}

/* Run a parameterless command in the batch; on failure *r holds the result. */
static bool run(PGconn *c, const char *sql, const char *what, PGresult **err)
{
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(r);
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
		PQclear(r);
		return true;
	}
	pgx_log_failure(r, what);
	*err = r;
	return false;
}

/* Run a parameterized command and add its row count to *count; on failure
 * *err holds the result. */
static bool run_count(PGconn *c, const char *sql, int n, const char *const *params,
		      const char *what, int64_t *count, PGresult **err)
{
	PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		pgx_log_failure(r, what);
		*err = r;
		return false;
	}
	*count += strtoll(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	return true;
}

/* Apply the batch one change at a time, in change-id order. */
static bool apply_ordered(struct applier *a, PGresult **err)
{
	struct hop *h = a->h;
	PGresult *rows = PQexec(h->tgt, hq_apply_ordered_batch);
	if (!pgx_check(rows, PGRES_TUPLES_OK, -1, 4, "read the batch")) {
		*err = rows;
		return false;
	}
	bool ok = true;
	for (int i = 0; ok && i < PQntuples(rows); i++) {
		int id = (int)strtol(PQgetvalue(rows, i, 0), NULL, 10);
		char op = PQgetvalue(rows, i, 1)[0];
		if (id < 1 || (size_t)id > h->plan.n)
			continue;
		size_t ti = (size_t)id - 1, oi = op == 'I' ? 0 : op == 'U' ? 1 : 2;
		char name[48];
		snprintf(name, sizeof name, "sync_fdw_apply_%zu_%c", ti, op);
		if (!a->prepared[ti * 3 + oi]) {
			struct buf sql = BUF_INIT;
			sqlgen_apply_one(&sql, &h->plan, &h->plan.t[ti], h->staging, op);
			PGresult *p = PQprepare(h->tgt, name, sql.data, op == 'U' ? 2 : 1, NULL);
			buf_release(&sql);
			if (PQresultStatus(p) != PGRES_COMMAND_OK) {
				pgx_log_failure(p, "prepare the ordered apply");
				*err = p;
				ok = false;
				break;
			}
			PQclear(p);
			a->prepared[ti * 3 + oi] = true;
		}
		const char *params[] = { PQgetvalue(rows, i, 2),
					 PQgetisnull(rows, i, 3) ? NULL : PQgetvalue(rows, i, 3) };
		PGresult *r = PQexecPrepared(h->tgt, name, op == 'U' ? 2 : 1, params, NULL, NULL, 0);
		ExecStatusType st = PQresultStatus(r);
		if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
			struct buf what = BUF_INIT;
			buf_addf(&what, "apply a change to table \"%s\" in order", h->plan.t[ti].src->name);
			pgx_log_failure(r, what.data);
			buf_release(&what);
			*err = r;
			ok = false;
			break;
		}
		PQclear(r);
	}
	PQclear(rows);
	return ok;
}

/* Which tables the batch touches (plan indexes). */
static bool batch_tables(struct hop *h, bool *touched, PGresult **err)
{
	PGresult *r = PQexec(h->tgt, "SELECT DISTINCT tbl FROM pg_temp.sync_batch");
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		pgx_log_failure(r, "read the batch's tables");
		*err = r;
		return false;
	}
	for (int i = 0; i < PQntuples(r); i++) {
		long id = strtol(PQgetvalue(r, i, 0), NULL, 10);
		if (id >= 1 && (size_t)id <= h->plan.n)
			touched[id - 1] = true;
	}
	PQclear(r);
	return true;
}

/*
 * Which keyed tables take their changes in one MERGE (sqlgen_apply_merge)
 * instead of a delete pass and an upsert pass: on PostgreSQL 15 and later,
 * tables that no foreign key of the target ties to another table (the two
 * passes exist to delete children before parents and insert parents before
 * children), with no unique index but the primary key (a delete and an
 * insert of the same username must not meet in either order), no exclusion
 * constraint and no rules (MERGE refuses them).  Should the target change
 * under the apply, the batch fails and is applied in order.
 */
static bool pick_merges(struct applier *a)
{
	struct hop *h = a->h;
	if (PQserverVersion(h->tgt) < 150000)
		return true;
	PGresult *r = PQexec(h->tgt, hq_apply_merge_tables);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		pgx_log_failure(r, "read which target tables can be merged into");
		PQclear(r);
		return false;
	}
	struct buf b = BUF_INIT, names = BUF_INIT;
	for (int i = 0; i < PQntuples(r); i++) {
		const struct plan_table *t = plan_table(&h->plan, PQgetvalue(r, i, 0));
		if (!t || t->src->npk == 0)
			continue;
		size_t ti = (size_t)(t - h->plan.t);
		sqlgen_apply_merge(&b, &h->plan, t, h->staging);
		free(a->ups_sql[ti]);
		a->ups_sql[ti] = buf_detach(&b);
		a->merge[ti] = true;
		buf_addf(&names, "%s%s", names.len ? ", " : "", t->src->name);
	}
	PQclear(r);
	log_info("applying by MERGE: %s", names.len ? names.data : "(no table)");
	buf_release(&names);
	return true;
}

/* Set-based apply; false with *err when it failed (the caller falls back). */
static bool apply_sets(struct applier *a, const bool *touched, int64_t batch_no, PGresult **err)
{
	struct hop *h = a->h;
	for (size_t k = h->plan.n; k-- > 0;) {	/* children first */
		size_t i = h->plan.order[k];
		if (touched[i] && !a->merge[i] && !run(h->tgt, a->del_sql[i], "apply deletes", err))
			return false;
	}
	kill_here(a, KILL_MID_BATCH, batch_no);
	for (size_t k = 0; k < h->plan.n; k++) {	/* parents first */
		size_t i = h->plan.order[k];
		if (touched[i] && !run(h->tgt, a->ups_sql[i], "apply inserts and updates", err))
			return false;
	}
	return true;
}

/*
 * One batch in one target transaction.  Returns 1 when it applied or found
 * nothing, 0 on a transient failure (retry), -1 on a failure to stop for.
 */
static void prune(struct applier *a, const char *upto, char *const cur[3], int64_t fetched);

static int apply_batch(struct applier *a, int64_t batch_no, struct batch_state *s)
{
	struct hop *h = a->h;
	PGconn *c = h->tgt;
	PGresult *r = NULL, *err = NULL;
	char pos[24], upto[24];
	bool *touched = NULL;
	int rc = -1;

	memset(s, 0, sizeof *s);
	if (!run(c, "BEGIN", "begin a batch", &err))
		goto fail;
	const char *p1[] = { h->server };
	r = PQexecParams(c, hq_apply_position, 1, NULL, p1, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		pgx_log_failure(r, "read the hop's position");
		err = r;
		r = NULL;
		goto fail;
	}
	if (PQntuples(r) != 1) {
		log_error("no hop \"%s\" on the target\nhint: run \"sync-fdw link\" first", h->server);
		goto fail;
	}
	if (PQgetvalue(r, 0, 3)[0] == 't') {
		log_error("the copy of hop \"%s\" has not finished\nhint: finish it (migrate copy) "
			  "before applying changes", h->server);
		goto fail;
	}
	s->pos = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	s->seen_max = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
	s->prev[0] = dupval(r, 0, 2);
	s->prev[1] = dupval(r, 0, 5);
	s->prev[2] = dupval(r, 0, 6);
	bool stop = PQgetvalue(r, 0, 4)[0] == 't';
	PQclear(r);
	r = NULL;
	if (stop && a->o->follow) {
		rc = 2;	/* a cutover takes over */
		goto fail;
	}

	/* the remote snapshot S starts here */
	r = PQexec(c, a->horizon_sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		pgx_log_failure(r, "read the source's horizon through the link");
		err = r;
		r = NULL;
		goto fail;
	}
	s->snap = dupval(r, 0, 0);
	s->seq = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
	/* capture installed again since the table list was checked: check it
	 * again, in S, so against the numbering of the changes read in S */
	if (strcmp(PQgetvalue(r, 0, 2), a->epoch) != 0) {
		free(a->epoch);
		a->epoch = dupval(r, 0, 2);
		PQclear(r);
		r = NULL;
		if (!capture_check(h, c, h->cdc)) {
			a->recorded = h->plan.nproblems > 0;
			goto fail;
		}
	}
	PQclear(r);
	r = NULL;
	/* the change sequence only grows; below what this hop has seen, the
	 * change log was made again behind its back (capture removed and
	 * installed by a sync-fdw that did not move the sequence, or by hand):
	 * its new changes have ids the position says are applied, and reading
	 * on would skip them without a word */
	if (s->seq < s->seen_max) {
		struct buf msg = BUF_INIT;
		buf_addf(&msg, "the source's change log was reset: its change sequence is at %" PRId64
			       ", below the change id %" PRId64 " this hop has already read: its new "
			       "changes would be skipped, so the sync stops\nhint: run \"sync-fdw capture "
			       "install\" again (it moves the sequence above the hop's position), then check "
			       "the target (migrate verify): changes captured since the reset may be "
			       "missing", s->seq, s->seen_max);
		log_error("%s", msg.data);
		hop_record_error(h, msg.data);
		a->recorded = true;
		buf_release(&msg);
		goto fail;
	}
	const char *p2[] = { s->snap };
	r = PQexecParams(c, hq_apply_snapshot_parts, 1, NULL, p2, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		pgx_log_failure(r, "read the source's snapshot");
		err = r;
		r = NULL;
		goto fail;
	}
	for (int i = 0; i < 3; i++)
		s->cur[i] = dupval(r, 0, i);
	PQclear(r);
	r = NULL;

	s->upto = s->pos + a->o->batch_size;
	if (s->upto > s->seen_max)
		s->upto = s->seen_max;
	if (s->upto < s->pos)
		s->upto = s->pos;
	snprintf(pos, sizeof pos, "%" PRId64, s->pos);
	snprintf(upto, sizeof upto, "%" PRId64, s->upto);

	if (!run(c, hq_apply_batch_table, "create the batch table", &err))
		goto fail;
	const char *p3[] = { pos, upto };
	/* changes at or below pos of transactions running in P */
	const char *p4[] = { pos, s->prev[0], s->prev[1], s->prev[2] };
	if ((s->upto > s->pos &&
	     !run_count(c, a->fetch_range, 2, p3, "read the source's changes", &s->fetched, &err)) ||
	    !run_count(c, a->fetch_open, 4, p4, "read the changes of transactions that were open",
		       &s->fetched, &err))
		goto fail;

	if (s->fetched > 0) {
		a->nonempty++;
		/* a schema change on the source stops the sync, loudly */
		r = PQexec(c, a->schema_sql);
		if (PQresultStatus(r) != PGRES_TUPLES_OK) {
			pgx_log_failure(r, "compare the source's columns");
			err = r;
			r = NULL;
			goto fail;
		}
		if (PQntuples(r) > 0) {
			struct buf msg = BUF_INIT;
			buf_addf(&msg, "the source's table \"%s\" changed since capture was installed "
				       "(columns were: %s; now: %s): the sync stops rather than drop data"
				       "\nhint: apply the same change to the target, then run \"sync-fdw link\" "
				       "and \"sync-fdw capture install\" again",
				 PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1),
				 PQgetisnull(r, 0, 2) ? "(table gone)" : PQgetvalue(r, 0, 2));
			log_error("%s", msg.data);
			hop_record_error(h, msg.data);
			a->recorded = true;
			buf_release(&msg);
			PQclear(r);
			r = NULL;
			goto fail;
		}
		PQclear(r);
		r = NULL;

		/* skip what the copy already holds */
		for (size_t i = 0; i < h->plan.n; i++) {
			if (!a->has_pieces[i])
				continue;
			struct buf sql = BUF_INIT;
			if (h->plan.t[i].key >= 0) {
				sqlgen_split_key_updates(&sql, &h->plan.t[i], h->staging);
				buf_adds(&sql, ";\n");
			}
			sqlgen_skip_copied(&sql, &h->plan.t[i], h->staging, h->server_lit.data);
			r = PQexec(c, sql.data);
			buf_release(&sql);
			if (PQresultStatus(r) != PGRES_COMMAND_OK) {
				pgx_log_failure(r, "skip changes already copied");
				err = r;
				r = NULL;
				goto fail;
			}
			s->skipped += strtoll(PQcmdTuples(r), NULL, 10);
			PQclear(r);
			r = NULL;
		}
		/* what is left to apply (a split key update counts as two) */
		s->applied = s->fetched;
		if (s->skipped > 0) {
			r = PQexec(c, "SELECT count(*) FROM pg_temp.sync_batch");
			if (PQresultStatus(r) != PGRES_TUPLES_OK) {
				pgx_log_failure(r, "count the batch");
				err = r;
				r = NULL;
				goto fail;
			}
			s->applied = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
			PQclear(r);
			r = NULL;
		}
		kill_here(a, KILL_BEFORE_APPLY, batch_no);

		touched = calloc(h->plan.n ? h->plan.n : 1, sizeof *touched);
		if (!touched)
			abort();
		if (s->applied > 0) {
			if (!batch_tables(h, touched, &err))
				goto fail;
			if (!run(c, "SAVEPOINT sync_sets", "savepoint", &err))
				goto fail;
			if (!apply_sets(a, touched, batch_no, &err)) {
				if (transient(c, err))
					goto fail;
				PQclear(err);
				err = NULL;
				log_warn("batch %" PRId64 ": applying by sets failed, applying its %" PRId64
					 " changes one at a time in order", batch_no, s->applied);
				s->fallback = true;
				if (!run(c, "ROLLBACK TO SAVEPOINT sync_sets", "rollback to savepoint", &err) ||
				    !apply_ordered(a, &err))
					goto fail;
			}
		}
		kill_here(a, KILL_AFTER_APPLY, batch_no);
	}

	char seq[24], fetched[24], skipped[24], rate[32];
	snprintf(seq, sizeof seq, "%" PRId64, s->seq);
	snprintf(fetched, sizeof fetched, "%" PRId64, s->applied);
	snprintf(skipped, sizeof skipped, "%" PRId64, s->skipped);
	snprintf(rate, sizeof rate, "%.1f", a->rate);
	/* the stage moves on to syncing by itself (stage.h) */
	struct buf from = BUF_INIT;
	hop_stage_from_array(HOP_STAGE_SYNCING, true, &from);
	const char *p5[] = { h->server, upto, s->snap, seq, fetched, skipped, rate, from.data,
			     hop_stage_name(HOP_STAGE_SYNCING) };
	r = PQexecParams(c, hq_apply_record_position, 9, NULL, p5, NULL, NULL, 0);
	buf_release(&from);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		pgx_log_failure(r, "record the hop's position");
		err = r;
		r = NULL;
		goto fail;
	}
	PQclear(r);
	r = NULL;
	kill_here(a, KILL_BEFORE_COMMIT, batch_no);
	if (!run(c, "COMMIT", "commit the batch", &err))
		goto fail;
	kill_here(a, KILL_AFTER_COMMIT, batch_no);

	/* processed changes can go from the source (idempotent, may fail) */
	if (s->fetched > 0)
		prune(a, upto, s->cur, s->fetched);
	free(touched);
	return 1;
fail:
	if (rc != 2)
		rc = err && transient(c, err) ? 0 : (!err && PQstatus(c) != CONNECTION_OK ? 0 : rc);
	PQclear(err);
	PQclear(r);
	free(touched);
	rollback(c);
	return rc;
}

static void prune_failed(const PGresult *r)
{
	log_warn("could not delete processed changes from the source (done later): %s",
		 PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY)
								: "?");
}

/*
 * Read the result of the prune (or vacuum) sent after an earlier batch, if
 * any.  wait: block until it is done; otherwise return false at once while
 * it still runs, so that the apply never waits on the source's log.
 */
static bool prune_collect(struct applier *a, bool wait)
{
	if (!a->prune_pending)
		return true;
	if (!wait && PQconsumeInput(a->h->src) && PQisBusy(a->h->src))
		return false;
	a->prune_pending = false;
	PGresult *r;
	while ((r = PQgetResult(a->h->src)) != NULL) {
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			prune_failed(r);
		PQclear(r);
	}
	return true;
}

/*
 * Delete the changes a committed batch processed (all up to upto except
 * those of the transactions open in its snapshot: cur = xmin, xmax, xip).
 * Leftovers are harmless, since the position already says they are done,
 * so this need not be atomic with the batch: it is sent on the hop's own
 * session to the source and runs there while the next batch applies on
 * the target, its result read before the next prune; while it still runs,
 * later batches send none (the next one deletes their changes too).
 * Without that session, through the link, waiting.
 */
static void prune(struct applier *a, const char *upto, char *const cur[3], int64_t fetched)
{
	static const char *const del = hq_apply_prune;
	struct hop *h = a->h;
	const char *p[] = { upto, cur[0], cur[1], cur[2] };
	a->unvacuumed += fetched;
	for (int i = 0; i < 4; i++) {	/* kept for the end of the run, should this one wait */
		free(a->unpruned[i]);
		a->unpruned[i] = NULL;
	}
	if (!prune_collect(a, false)) {
		for (int i = 0; i < 4; i++)
			if (!(a->unpruned[i] = strdup(p[i])))
				abort();
		return;
	}
	if (h->src && PQstatus(h->src) != CONNECTION_OK) {
		PQfinish(h->src);
		h->src = hop_connect(h, false);
	}
	/*
	 * Every VACUUM_EVERY changes the log is vacuumed, on the same session
	 * after a prune that then waits: the prune and the reads of open
	 * transactions' changes scan the change_id index from its start, over
	 * every entry deleted since the last vacuum, and autovacuum wakes up
	 * once a minute (at 50,000 changes/s, 3 million entries).  No
	 * truncation: it would lock out the writers' triggers.
	 */
	enum { VACUUM_EVERY = 20000 };
	if (h->src && a->unvacuumed >= VACUUM_EVERY) {
		PGresult *r = PQexecParams(h->src, del, 4, NULL, p, NULL, NULL, 0);
		bool deleted = PQresultStatus(r) == PGRES_COMMAND_OK;
		if (!deleted)
			prune_failed(r);
		PQclear(r);
		if (deleted && PQsendQuery(h->src, hq_apply_vacuum)) {
			a->unvacuumed = 0;
			a->prune_pending = true;
		}
		if (deleted)
			return;
	} else if (h->src && PQsendQueryParams(h->src, del, 4, NULL, p, NULL, NULL, 0)) {
		a->prune_pending = true;
		return;
	}
	PGresult *r = PQexecParams(h->tgt, a->prune_sql, 4, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		prune_failed(r);
	PQclear(r);
}

/* Which tables have copy pieces (their changes are checked against them). */
static bool load_pieces(struct applier *a)
{
	const char *p[] = { a->h->server };
	/* by name: a piece's tbl is the number its table had at copy time */
	PGresult *r = PQexecParams(a->h->tgt, "SELECT DISTINCT name FROM sync_fdw.copied WHERE server = $1",
				   1, NULL, p, NULL, NULL, 0);
	bool ok = pgx_check(r, PGRES_TUPLES_OK, -1, 1, "read the copy's pieces");
	for (int i = 0; ok && i < PQntuples(r); i++) {
		const struct plan_table *t = plan_table(&a->h->plan, PQgetvalue(r, i, 0));
		if (t)
			a->has_pieces[t - a->h->plan.t] = true;
	}
	PQclear(r);
	return ok;
}

/*
 * Before anything is applied: the change log's table numbers must name
 * the plan's tables (capture_check), read through the link as the batches
 * read it; the epoch read with it lets each batch notice a capture
 * installed again meanwhile.
 */
static bool check_capture(struct applier *a)
{
	struct hop *h = a->h;
	struct buf sql = BUF_INIT;
	PGresult *r = NULL;
	bool ok = false;
	/* one target transaction: one remote snapshot for both reads; an
	 * older link, without "captured", fails the first, saying so */
	if (!hop_exec(h->tgt, "BEGIN", "begin") || !capture_check(h, h->tgt, h->cdc))
		goto out;
	buf_adds(&sql, "SELECT coalesce(epoch, '') FROM ");
	sqlgen_qualified(&sql, h->cdc, "horizon");
	r = PQexec(h->tgt, sql.data);
	if (!pgx_check(r, PGRES_TUPLES_OK, 1, 1, "read the source's capture epoch through the link"))
		goto out;
	a->epoch = dupval(r, 0, 0);
	ok = hop_exec(h->tgt, "COMMIT", "commit");
out:
	PQclear(r);
	rollback(h->tgt);
	buf_release(&sql);
	return ok;
}

static bool lock_hop(struct hop *h)
{
	const char *p[] = { h->server };
	PGresult *r = PQexecParams(h->tgt, "SELECT pg_try_advisory_lock(hashtextextended('sync_fdw:' || $1, 0))",
				   1, NULL, p, NULL, NULL, 0);
	bool ok = pgx_check(r, PGRES_TUPLES_OK, 1, 1, "lock the hop");
	bool got = ok && PQgetvalue(r, 0, 0)[0] == 't';
	PQclear(r);
	if (ok && !got)
		log_error("another applier is running for hop \"%s\" (only one may apply at a time)"
			  "\nhint: stop it, or wait for it to finish", h->server);
	return got;
}

/* Reconnect to the target after it went away, with backoff. */
static bool reconnect(struct applier *a)
{
	struct hop *h = a->h;
	int64_t delay = 200;
	for (int64_t i = 1; i <= h->cfg->s.sync_connect_attempts; i++) {
		if (a->o->stop && *a->o->stop)
			return false;
		PQfinish(h->tgt);
		bool refused = false;
		/* the same session as the first one: pgx_open applies the role's settings */
		struct pgx_open_opts o = { .connect_timeout_ms = 5000, .attempts = 1, .auth_failed = &refused };
		h->tgt = pgx_open(PGX_HOP_TARGET, h->cfg->s.target_dsn, &o);
		if (refused)
			return false;
		if (h->tgt) {
			memset(a->prepared, 0, h->plan.n * 3 * sizeof *a->prepared);
			if (lock_hop(h))
				return true;
			return false;
		}
		log_warn("target unreachable, retrying in %" PRId64 " ms (attempt %" PRId64 " of %" PRId64 ")",
			 delay, i, h->cfg->s.sync_connect_attempts);
		sleep_ms(delay, a->o->stop);
		delay = delay * 2 > 5000 ? 5000 : delay * 2;
	}
	return false;
}

static void progress(const struct applier *a, const struct apply_result *res, bool final)
{
	if (!a->o->progress)
		return;
	struct progress p = { .kind = PROGRESS_APPLY, .final = final, .batches = res->batches,
			      .fetched = res->fetched, .applied = res->applied, .skipped = res->skipped,
			      .fallbacks = res->fallbacks, .rate = a->rate };
	a->o->progress(&p, a->o->progress_arg);
}

bool apply_run(struct hop *h, const struct apply_opts *o, struct apply_result *res)
{
	struct applier a;
	struct batch_state s;
	bool ok = false;
	int64_t retries = 0, last_progress = 0, window_start = mono_ms(), window_changes = 0;
	int64_t stop_at = -1;

	memset(res, 0, sizeof *res);
	memset(&s, 0, sizeof s);
	if (!hop_plan_ok(h)) {
		struct buf msg = BUF_INIT;
		buf_adds(&msg, "the hop cannot go ahead: ");
		plan_problems_text(&h->plan, &msg);
		hop_record_error(h, msg.data);
		buf_release(&msg);
		return false;
	}
	applier_init(&a, h, o);
	if (!lock_hop(h))
		goto out;
	if (!check_capture(&a)) {
		a.recorded = h->plan.nproblems > 0;
		goto out;
	}
	if (!load_pieces(&a) || !pick_merges(&a))
		goto out;
	capture_warn_if_outdated(h->src, "source");
	for (int64_t batch_no = 1;; batch_no++) {
		if (o->stop && *o->stop) {
			ok = true;
			break;
		}
		batch_state_release(&s);
		int rc = apply_batch(&a, batch_no, &s);
		if (rc == 2) {
			log_info("stop requested on the target (a cutover takes over): stopping");
			ok = true;
			break;
		}
		if (rc < 0)
			goto out;
		if (rc == 0) {
			if (++retries > h->cfg->s.sync_connect_attempts) {
				log_error("giving up after %" PRId64 " failed attempts", retries - 1);
				goto out;
			}
			int64_t delay = 100LL << (retries < 6 ? retries : 6);
			log_warn("batch failed (the source or target may be restarting): retrying in %"
				 PRId64 " ms", delay);
			sleep_ms(delay, o->stop);
			if (PQstatus(h->tgt) != CONNECTION_OK && !reconnect(&a))
				goto out;
			batch_no--;
			continue;
		}
		retries = 0;
		res->batches++;
		res->fetched += s.fetched;
		res->applied += s.applied;
		res->skipped += s.skipped;
		res->fallbacks += s.fallback;
		window_changes += s.fetched;
		int64_t now = mono_ms();
		if (now - window_start >= 1000) {
			a.rate = (double)window_changes * 1000.0 / (double)(now - window_start);
			window_start = now;
			window_changes = 0;
		}
		if (now - last_progress >= 1000) {
			progress(&a, res, false);
			last_progress = now;
		}
		/* --once applies what was committed when it started (the change
		 * sequence read by its first batch), so that under a steady load
		 * it ends instead of chasing the writes; changes of transactions
		 * still open then are not pending: they come when those commit */
		if (stop_at < 0)
			stop_at = s.seq;
		if (!o->follow && s.upto >= stop_at) {
			ok = true;
			break;
		}
		bool caught_up = s.upto >= s.seq && s.fetched == 0;
		if (caught_up)
			sleep_ms(o->interval_ms, o->stop);
	}
out:
	(void)prune_collect(&a, true);
	if (a.unpruned[0]) {	/* the last batch's changes go too */
		char *u[4];
		memcpy(u, a.unpruned, sizeof u);
		memset(a.unpruned, 0, sizeof a.unpruned);
		prune(&a, u[0], &u[1], 0);
		(void)prune_collect(&a, true);
		for (int i = 0; i < 4; i++)
			free(u[i]);
	}
	if (!ok && !a.recorded)
		hop_record_error(h, "the apply stopped: see the sync-fdw log");
	progress(&a, res, true);
	batch_state_release(&s);
	applier_release(&a);
	return ok;
}

/* A finished hop has no change log left to count, and a target never
 * linked has no state: both said plainly.  Returns 1 when the hop is
 * finished (*report then its status), -1 when there is no hop state
 * (logged), 0 to go on. */
static int status_finished(struct hop *h, json_t **report)
{
	const char *p[] = { h->server, hop_stage_name(HOP_STAGE_FINISHED) };
	int done = 0;
	PGresult *r = PQexecParams(h->tgt, hq_apply_finished, 2, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		if (pgx_undefined(r))
			log_error("no hop \"%s\" on the target\nhint: run \"sync-fdw link\" first", h->server);
		else
			pgx_log_failure(r, "read the hop's state");
		PQclear(r);
		return -1;
	}
	if (PQntuples(r) == 1) {
		done = 1;
		*report = json_pack("{s:o, s:o, s:s, s:b, s:o}", "hop", report_string(h->server),
				    "source", report_string(PQgetvalue(r, 0, 0)), "stage", "finished", "finished", true,
				    "cutover_at", report_string(PQgetisnull(r, 0, 1) ? NULL : PQgetvalue(r, 0, 1)));
	}
	PQclear(r);
	return done;
}

bool apply_status(struct hop *h, json_t **report)
{
	struct buf sql = BUF_INIT;
	*report = NULL;
	int finished = status_finished(h, report);
	if (finished)
		return finished > 0;
	buf_adds(&sql, "SELECT h.stage, h.pos, h.applied_changes, h.skipped_changes, h.batches, h.rate,"
		       " h.last_batch_at, h.last_change_at, h.last_error, h.last_error_at,"
		       " (SELECT count(*) FROM ");
	sqlgen_qualified(&sql, h->cdc, "changes");
	buf_adds(&sql, " c WHERE c.change_id > h.pos OR (c.xid >= pg_snapshot_xmin(h.open_snapshot) AND"
		       " NOT pg_visible_in_snapshot(c.xid, h.open_snapshot))),"
		       " (SELECT extract(epoch FROM (SELECT at FROM ");
	sqlgen_qualified(&sql, h->cdc, "horizon");
	buf_adds(&sql, ") - min(c.ts)) FROM ");
	sqlgen_qualified(&sql, h->cdc, "changes");
	buf_adds(&sql, " c WHERE c.change_id > h.pos OR (c.xid >= pg_snapshot_xmin(h.open_snapshot) AND"
		       " NOT pg_visible_in_snapshot(c.xid, h.open_snapshot))),"
		       " (SELECT count(*) FROM pg_snapshot_xip(h.open_snapshot)), h.source"
		       " FROM sync_fdw.hop h WHERE h.server = $1");
	const char *p[] = { h->server };
	PGresult *r = PQexecParams(h->tgt, sql.data, 1, NULL, p, NULL, NULL, 0);
	bool ok = pgx_check(r, PGRES_TUPLES_OK, -1, 14, "read the hop's status");
	if (ok && PQntuples(r) == 0) {
		log_error("no hop \"%s\" on the target\nhint: run \"sync-fdw link\" first", h->server);
		ok = false;
	}
	if (ok) {
#define V(i) (PQgetisnull(r, 0, i) ? NULL : PQgetvalue(r, 0, i))
#define I(i) ((json_int_t)strtoll(PQgetvalue(r, 0, i), NULL, 10))
		double lag = PQgetisnull(r, 0, 11) ? 0 : strtod(PQgetvalue(r, 0, 11), NULL);
		*report = json_pack("{s:o, s:o, s:o, s:I, s:I, s:f, s:I, s:I, s:I, s:f, s:I, s:o, s:o, s:o}",
				    "hop", report_string(h->server), "source", report_string(V(13)),
				    "stage", report_string(V(0)), "position", I(1), "pending", I(10),
				    "lag_seconds", round((lag < 0 ? 0 : lag) * 1000) / 1000, "applied", I(2),
				    "skipped", I(3), "batches", I(4), "rate", strtod(PQgetvalue(r, 0, 5), NULL),
				    "open_transactions", I(12), "last_batch_at", report_string(V(6)),
				    "last_error", report_string(V(8)), "last_error_at", report_string(V(9)));
#undef V
#undef I
	}
	PQclear(r);
	buf_release(&sql);
	return ok;
}

void apply_status_text(const json_t *st, struct buf *out)
{
#define S(key, none) (json_string_value(json_object_get(st, key)) ? \
		      json_string_value(json_object_get(st, key)) : (none))
#define N(key) json_integer_value(json_object_get(st, key))
	if (json_is_true(json_object_get(st, "finished"))) {
		buf_addf(out, "hop:              %s (from %s)\nstage:            finished: link and "
			      "capture removed (migrate finish), nothing left to sync\ncutover:          %s\n",
			 S("hop", ""), S("source", ""), S("cutover_at", "none"));
		return;
	}
	const char *err_at = S("last_error_at", NULL);
	buf_addf(out, "hop:              %s (from %s)\nstage:            %s\n"
		      "pending changes:  %" JSON_INTEGER_FORMAT "\nlag:              %.3f s\n"
		      "applied:          %" JSON_INTEGER_FORMAT " (%" JSON_INTEGER_FORMAT " skipped: already "
		      "copied) in %" JSON_INTEGER_FORMAT " batches\n"
		      "apply rate:       %g changes/s\nlast batch:       %s\n"
		      "last error:       %s%s%s\n",
		 S("hop", ""), S("source", ""), S("stage", "-"), N("pending"),
		 json_number_value(json_object_get(st, "lag_seconds")), N("applied"), N("skipped"), N("batches"),
		 json_number_value(json_object_get(st, "rate")), S("last_batch_at", "never"), S("last_error", "none"),
		 err_at ? " at " : "", err_at ? err_at : "");
#undef S
#undef N
}
