/*
 * verify: remap-aware comparison of source and target; see verify.h.
 */
#include "verify.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "hop_queries.h"
#include "log.h"
#include "pgx.h"
#include "report.h"
#include "seqs.h"
#include "sqlgen.h"
#include "banned.h"

/* ROW(remapped source columns) of alias s */
static void src_row(struct buf *b, const struct hop *h, const struct plan_table *t)
{
	buf_adds(b, "ROW(");
	sqlgen_remapped(b, &h->plan, t, "s");
	buf_addc(b, ')');
}

/* ROW(columns) of alias t */
static void tgt_row(struct buf *b, const struct plan_table *t)
{
	buf_adds(b, "ROW(");
	for (size_t i = 0; i < t->src->ncols; i++) {
		buf_adds(b, i ? ", t." : "t.");
		sqlgen_ident(b, t->src->cols[i].name);
	}
	buf_addc(b, ')');
}

/*
 * The target table as a FROM item aliased t.  When the cutover installed
 * capture on the target (sync_fdw_src there), the changes made since are
 * undone in the query, giving the table as it was at the switch: keyed
 * tables take, for each key touched since, the image before its first
 * change (no row when that change created the key); keyless tables are the
 * current rows plus those deleted since, minus those inserted since (as
 * multisets).
 */
static void target_rel(const struct plan_table *t, bool since, struct buf *rel)
{
	struct buf tn = BUF_INIT, k = BUF_INIT;
	buf_adds(&tn, "public.");
	sqlgen_ident(&tn, t->src->name);
	if (!since) {
		buf_addf(rel, "%s t", tn.data);
	} else if (t->key >= 0 && t->src->npk == 1) {
		const char *T = tn.data, *K;
		sqlgen_ident(&k, t->src->cols[t->key].name);
		K = k.data;
		buf_addf(rel, "(WITH ch AS (SELECT c.change_id, c.op, c.img::%s AS n, c.old::%s AS o"
			      " FROM sync_fdw_src.changes c WHERE c.tbl = %d),", T, T, t->id);
		/* (a row value IS NOT NULL only when every field is: a flag says
		 * whether there is a before image) */
		buf_addf(rel, " touch AS (SELECT change_id, (n).%s AS k, false AS has, NULL::%s AS before"
			      " FROM ch WHERE op = 'I'"
			      " UNION ALL SELECT change_id, (n).%s, true, n FROM ch WHERE op = 'D'"
			      " UNION ALL SELECT change_id, (o).%s, true, o FROM ch WHERE op = 'U'"
			      " UNION ALL SELECT change_id, (n).%s, false, NULL FROM ch WHERE op = 'U'"
			      " AND (n).%s IS DISTINCT FROM (o).%s),", K, T, K, K, K, K, K);
		buf_addf(rel, " first AS (SELECT DISTINCT ON (k) k, has, before FROM touch ORDER BY k, change_id)"
			      " SELECT x.* FROM %s x WHERE x.%s NOT IN (SELECT k FROM first)"
			      " UNION ALL SELECT (f.before).* FROM first f WHERE f.has) t", T, K);
	} else {
		const char *T = tn.data;
		buf_addf(rel, "((SELECT x.* FROM %s x UNION ALL SELECT (c.img::%s).* FROM sync_fdw_src.changes c"
			      " WHERE c.tbl = %d AND c.op = 'D' UNION ALL SELECT (c.old::%s).* FROM"
			      " sync_fdw_src.changes c WHERE c.tbl = %d AND c.op = 'U')", T, T, t->id, T, t->id);
		buf_addf(rel, " EXCEPT ALL (SELECT (c.img::%s).* FROM sync_fdw_src.changes c"
			      " WHERE c.tbl = %d AND c.op IN ('I', 'U'))) t", T, t->id);
	}
	buf_release(&tn);
	buf_release(&k);
}

/* Whether the target records the changes made since the cutover. */
static bool since_cutover(struct hop *h, bool *since)
{
	enum capture_answer a = capture_present(h, CAPTURE_ON_TARGET);
	*since = a == CAPTURE_YES;
	return a != CAPTURE_ERROR;
}

/* Leave out the ids the target held before the hop. */
static bool target_filter(struct hop *h, const struct plan_table *t, struct buf *where)
{
	if (t->key < 0 || t->conflict == HOP_CONFLICT_REPLACE)
		return true;
	const char *p[] = { h->server, t->src->name };
	PGresult *r = PQexecParams(h->tgt, hq_verify_ledger_range, 2, NULL, p, NULL, NULL, 0);
	bool ok = pgx_check(r, PGRES_TUPLES_OK, -1, 2, "read the ledger");
	if (ok && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0)) {
		buf_adds(where, " WHERE NOT (t.");
		sqlgen_ident(where, t->src->cols[t->key].name);
		buf_addf(where, " BETWEEN %s AND %s)", PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1));
	}
	PQclear(r);
	return ok;
}

/* The first differing keys (keyed) or rows (keyless), appended to out. */
static bool differences(struct hop *h, const struct plan_table *t, const char *rel, const char *where,
			json_t *out)
{
	struct buf sql = BUF_INIT, stg = BUF_INIT;
	sqlgen_qualified(&stg, h->staging, t->src->name);
	if (t->key >= 0 && t->src->npk == 1) {
		struct buf k = BUF_INIT;
		sqlgen_ident(&k, t->src->cols[t->key].name);
		buf_addf(&sql, "WITH s AS (SELECT (s.%s + (%" PRId64 "))::bigint AS k, hashtextextended(",
			 k.data, t->offset);
		src_row(&sql, h, t);
		buf_addf(&sql, "::text, 0) AS h FROM %s s), d AS (SELECT t.%s::bigint AS k, hashtextextended(",
			 stg.data, k.data);
		tgt_row(&sql, t);
		buf_addf(&sql, "::text, 0) AS h FROM %s%s) SELECT coalesce(s.k, d.k)::text || ': ' || CASE WHEN "
			       "s.k IS NULL THEN 'only on the target' WHEN d.k IS NULL THEN 'missing on the "
			       "target' ELSE 'differs' END FROM s FULL JOIN d ON s.k = d.k WHERE s.h IS DISTINCT "
			       "FROM d.h ORDER BY coalesce(s.k, d.k) LIMIT 10", rel, where);
		buf_release(&k);
	} else {
		buf_adds(&sql, "(SELECT 'missing on the target: ' || x::text FROM (SELECT ");
		src_row(&sql, h, t);
		buf_addf(&sql, " AS x FROM %s s EXCEPT ALL SELECT ", stg.data);
		tgt_row(&sql, t);
		buf_addf(&sql, " FROM %s%s) m LIMIT 10) UNION ALL (SELECT 'only on the target: ' || x::text "
			       "FROM (SELECT ", rel, where);
		tgt_row(&sql, t);
		buf_addf(&sql, " AS x FROM %s%s EXCEPT ALL SELECT ", rel, where);
		src_row(&sql, h, t);
		buf_addf(&sql, " FROM %s s) m LIMIT 10)", stg.data);
	}
	PGresult *r = PQexec(h->tgt, sql.data);
	bool ok = pgx_check(r, PGRES_TUPLES_OK, -1, 1, "list the differences");
	for (int i = 0; ok && i < PQntuples(r); i++)
		json_array_append_new(out, report_string(PQgetvalue(r, i, 0)));
	PQclear(r);
	buf_release(&sql);
	buf_release(&stg);
	return ok;
}

/* Compare one table; appends its entry to tables. */
static bool verify_table(struct hop *h, const struct plan_table *t, bool since, json_t *tables, bool *match)
{
	struct buf where = BUF_INIT, sql = BUF_INIT, rel = BUF_INIT, stg = BUF_INIT;
	json_t *diff = json_array();
	PGresult *r = NULL;
	bool ok = false;

	target_rel(t, since, &rel);
	sqlgen_qualified(&stg, h->staging, t->src->name);
	if (!target_filter(h, t, &where))
		goto out;
	const char *w = where.data ? where.data : "";
	buf_addf(&sql, "SELECT (SELECT count(*) FROM %s s), (SELECT coalesce(sum(hashtextextended(", stg.data);
	src_row(&sql, h, t);
	buf_addf(&sql, "::text, 0)), 0) FROM %s s), (SELECT count(*) FROM %s%s),"
		       " (SELECT coalesce(sum(hashtextextended(", stg.data, rel.data, w);
	tgt_row(&sql, t);
	buf_addf(&sql, "::text, 0)), 0) FROM %s%s)", rel.data, w);
	r = PQexec(h->tgt, sql.data);
	if (!pgx_check(r, PGRES_TUPLES_OK, 1, 4, "compare a table"))
		goto out;
	bool same = strcmp(PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 2)) == 0 &&
		    strcmp(PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 3)) == 0;
	if (!same) {
		*match = false;
		if (!differences(h, t, rel.data, w, diff))
			goto out;
	}
	json_array_append_new(tables, json_pack("{s:o, s:I, s:I, s:b, s:O}", "table", report_string(t->src->name),
						"source_rows", (json_int_t)strtoll(PQgetvalue(r, 0, 0), NULL, 10),
						"target_rows", (json_int_t)strtoll(PQgetvalue(r, 0, 2), NULL, 10),
						"match", same, "differences", diff));
	ok = true;
out:
	json_decref(diff);
	PQclear(r);
	buf_release(&where);
	buf_release(&sql);
	buf_release(&rel);
	buf_release(&stg);
	return ok;
}

/*
 * After the cutover the application draws ids from the target's sequences:
 * each sequence of the hop must give a value beyond every id of the columns
 * drawing from it (seqs.h).  One behind is a mismatch: the next insert
 * without an id fails on the key, or lands on an id a later hop brings.
 * Their entries go to out.
 */
static bool verify_sequences(struct hop *h, json_t *out, bool *match)
{
	struct seqs seqs;
	if (!seqs_read(h, &seqs))
		return false;
	for (size_t i = 0; i < seqs.n; i++) {
		const struct seqs_state *st = &seqs.s[i];
		bool up = st->increment > 0;
		if (!st->clear) {
			struct buf next = BUF_INIT, ext = BUF_INIT;
			if (st->exhausted)
				buf_adds(&next, "none (at its bound)");
			else
				buf_addf(&next, "%" PRId64, st->next);
			if (st->has_ids)
				buf_addf(&ext, "%" PRId64, st->extreme);
			else
				buf_adds(&ext, "none");
			*match = false;
			log_error("sequence %s is behind the ids on the target: its next value is %s, not %s "
				  "%s, the %s id of %s\nhint: SELECT setval('%s', %s)",
				  st->sequence, next.data, up ? "above" : "below", ext.data,
				  up ? "largest" : "smallest", st->column, st->sequence, ext.data);
			buf_release(&next);
			buf_release(&ext);
		}
		json_t *e = json_pack("{s:o, s:I, s:o, s:o}", "sequence", report_string(st->sequence),
				      "increment", (json_int_t)st->increment,
				      "next", st->exhausted ? json_null() : json_integer(st->next),
				      "column", report_string(st->column));
		json_object_set_new(e, up ? "max" : "min", st->has_ids ? json_integer(st->extreme) : json_null());
		json_object_set_new(e, "ok", json_boolean(st->clear));
		json_array_append_new(out, e);
	}
	seqs_release(&seqs);
	return true;
}

bool verify_run(struct hop *h, json_t **report, bool *match)
{
	bool ok = false, since = false;
	json_t *tables = NULL, *seqs = NULL;
	*match = true;
	*report = NULL;
	if (!hop_plan_ok(h) || !since_cutover(h, &since))
		return false;
	if (!hop_exec(h->tgt, hq_verify_begin, "begin the verification"))
		return false;
	tables = json_array();
	for (size_t k = 0; k < h->plan.n; k++)
		if (!verify_table(h, &h->plan.t[h->plan.order[k]], since, tables, match))
			goto out;
	/* before the cutover the sequences are not set yet: nothing draws from them */
	seqs = since ? json_array() : json_null();
	if (since && !verify_sequences(h, seqs, match))
		goto out;
	*report = json_pack("{s:b, s:O, s:O, s:b}", "as_of_cutover", since, "tables", tables, "sequences", seqs,
			    "match", *match);
	ok = true;
out:
	json_decref(tables);
	json_decref(seqs);
	hop_rollback(h->tgt);
	return ok;
}

void verify_text(const json_t *report, struct buf *out)
{
	bool since = json_is_true(json_object_get(report, "as_of_cutover"));
	size_t i, k;
	json_t *t, *d;
	if (since)
		buf_adds(out, "(the target as it was at the cutover: changes made since are set aside)\n");
	buf_addf(out, "%-20s %12s %12s  %s\n", "table", "source rows", "target rows", "result");
	json_array_foreach(json_object_get(report, "tables"), i, t) {
		buf_addf(out, "%-20s %12" JSON_INTEGER_FORMAT " %12" JSON_INTEGER_FORMAT "  %s\n",
			 json_string_value(json_object_get(t, "table")),
			 json_integer_value(json_object_get(t, "source_rows")),
			 json_integer_value(json_object_get(t, "target_rows")),
			 json_is_true(json_object_get(t, "match")) ? "ok" : "MISMATCH");
		json_array_foreach(json_object_get(t, "differences"), k, d)
			buf_addf(out, "    %s\n", json_string_value(d));
	}
	json_t *seqs = json_object_get(report, "sequences");
	if (!json_is_array(seqs)) {
		buf_adds(out, "(sequences: set at the cutover, not checked before it)\n");
		return;
	}
	if (json_array_size(seqs))
		buf_addf(out, "%-32s %20s %20s  %s\n", "sequence", "next value", "ids up to", "result");
	json_array_foreach(seqs, i, t) {
		bool up = json_integer_value(json_object_get(t, "increment")) > 0;
		json_t *next = json_object_get(t, "next"), *ext = json_object_get(t, up ? "max" : "min");
		char nb[32] = "none (at its bound)", eb[32] = "none";
		if (json_is_integer(next))
			snprintf(nb, sizeof nb, "%" JSON_INTEGER_FORMAT, json_integer_value(next));
		if (json_is_integer(ext))
			snprintf(eb, sizeof eb, "%" JSON_INTEGER_FORMAT, json_integer_value(ext));
		bool clear = json_is_true(json_object_get(t, "ok"));
		buf_addf(out, "%-32s %20s %20s  %s\n", json_string_value(json_object_get(t, "sequence")), nb, eb,
			 clear ? "ok" : "BEHIND");
		if (!clear)
			buf_addf(out, "    next value %s is not %s %s, the %s of %s\n", nb, up ? "above" : "below", eb,
				 up ? "max" : "min", json_string_value(json_object_get(t, "column")));
	}
}
