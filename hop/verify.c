/*
 * verify: remap-aware comparison of source and target; see verify.h.
 */
#include "verify.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pgx.h"
#include "sqlgen.h"
#include "banned.h"

/* ROW(remapped source columns) */
static void src_row(struct buf *b, const struct hop *h, const struct plan_table *t)
{
	buf_adds(b, "ROW(");
	sqlgen_remapped(b, &h->plan, t, "s");
	buf_addc(b, ')');
}

static void tgt_row(struct buf *b, const struct plan_table *t)
{
	buf_adds(b, "ROW(");
	for (size_t i = 0; i < t->src->ncols; i++) {
		buf_adds(b, i ? ", t." : "t.");
		sqlgen_ident(b, t->src->cols[i].name);
	}
	buf_addc(b, ')');
}

/* Leave out the ids the target held before the hop. */
static bool target_filter(struct hop *h, const struct plan_table *t, struct buf *where)
{
	if (t->key < 0 || t->conflict == HOP_CONFLICT_REPLACE)
		return true;
	const char *p[] = { h->server, t->src->name };
	PGresult *r = PQexecParams(h->tgt, "SELECT target_before_min, target_before_max FROM sync_fdw.ledger"
					   " WHERE server = $1 AND table_name = $2 AND NOT carried",
				   2, NULL, p, NULL, NULL, 0);
	bool ok = pgx_check(r, PGRES_TUPLES_OK, -1, 2, "read the ledger");
	if (ok && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0)) {
		buf_adds(where, " WHERE NOT (t.");
		sqlgen_ident(where, t->src->cols[t->key].name);
		buf_addf(where, " BETWEEN %s AND %s)", PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1));
	}
	PQclear(r);
	return ok;
}

/* The first differing keys (keyed) or rows (keyless), as text lines. */
static bool differences(struct hop *h, const struct plan_table *t, const char *where, struct buf *out)
{
	struct buf sql = BUF_INIT;
	if (t->key >= 0 && t->src->npk == 1) {
		const char *k = t->src->cols[t->key].name;
		buf_adds(&sql, "WITH s AS (SELECT (s.");
		sqlgen_ident(&sql, k);
		buf_addf(&sql, " + (%" PRId64 "))::bigint AS k, hashtextextended(", t->offset);
		src_row(&sql, h, t);
		buf_adds(&sql, "::text, 0) AS h FROM ");
		sqlgen_qualified(&sql, h->staging, t->src->name);
		buf_adds(&sql, " s), d AS (SELECT t.");
		sqlgen_ident(&sql, k);
		buf_adds(&sql, "::bigint AS k, hashtextextended(");
		tgt_row(&sql, t);
		buf_adds(&sql, "::text, 0) AS h FROM public.");
		sqlgen_ident(&sql, t->src->name);
		buf_addf(&sql, " t%s) SELECT coalesce(s.k, d.k)::text || ': ' || CASE WHEN s.k IS NULL THEN "
			       "'only on the target' WHEN d.k IS NULL THEN 'missing on the target' ELSE "
			       "'differs' END FROM s FULL JOIN d ON s.k = d.k WHERE s.h IS DISTINCT FROM d.h "
			       "ORDER BY coalesce(s.k, d.k) LIMIT 10", where);
	} else {
		buf_adds(&sql, "(SELECT 'missing on the target: ' || x::text FROM (SELECT ");
		src_row(&sql, h, t);
		buf_adds(&sql, " AS x FROM ");
		sqlgen_qualified(&sql, h->staging, t->src->name);
		buf_adds(&sql, " s EXCEPT ALL SELECT ");
		tgt_row(&sql, t);
		buf_adds(&sql, " FROM public.");
		sqlgen_ident(&sql, t->src->name);
		buf_addf(&sql, " t%s) m LIMIT 10) UNION ALL (SELECT 'only on the target: ' || x::text FROM (SELECT ",
			 where);
		tgt_row(&sql, t);
		buf_adds(&sql, " AS x FROM public.");
		sqlgen_ident(&sql, t->src->name);
		buf_addf(&sql, " t%s EXCEPT ALL SELECT ", where);
		src_row(&sql, h, t);
		buf_adds(&sql, " FROM ");
		sqlgen_qualified(&sql, h->staging, t->src->name);
		buf_adds(&sql, " s) m LIMIT 10)");
	}
	PGresult *r = PQexec(h->tgt, sql.data);
	buf_release(&sql);
	bool ok = pgx_check(r, PGRES_TUPLES_OK, -1, 1, "list the differences");
	for (int i = 0; ok && i < PQntuples(r); i++)
		buf_addf(out, "%s\n", PQgetvalue(r, i, 0));
	PQclear(r);
	return ok;
}

bool verify_run(struct hop *h, struct buf *out, bool json, bool *match)
{
	bool ok = false;
	*match = true;
	if (!hop_plan_ok(h))
		return false;
	/* row text must be written alike on both sides: the remote session of
	 * postgres_fdw uses these settings */
	if (!hop_exec(h->tgt, "BEGIN ISOLATION LEVEL REPEATABLE READ; SET LOCAL TimeZone = 'UTC';"
			      " SET LOCAL DateStyle = 'ISO'; SET LOCAL IntervalStyle = 'postgres';"
			      " SET LOCAL extra_float_digits = 3", "begin the verification"))
		return false;
	if (json)
		buf_adds(out, "{\"tables\":[");
	else
		buf_addf(out, "%-20s %12s %12s  %s\n", "table", "source rows", "target rows", "result");
	for (size_t k = 0; k < h->plan.n; k++) {
		const struct plan_table *t = &h->plan.t[h->plan.order[k]];
		struct buf where = BUF_INIT, sql = BUF_INIT, diff = BUF_INIT;
		if (!target_filter(h, t, &where))
			goto out;
		buf_adds(&sql, "SELECT (SELECT count(*) FROM ");
		sqlgen_qualified(&sql, h->staging, t->src->name);
		buf_adds(&sql, " s), (SELECT coalesce(sum(hashtextextended(");
		src_row(&sql, h, t);
		buf_adds(&sql, "::text, 0)), 0) FROM ");
		sqlgen_qualified(&sql, h->staging, t->src->name);
		buf_adds(&sql, " s), (SELECT count(*) FROM public.");
		sqlgen_ident(&sql, t->src->name);
		buf_addf(&sql, " t%s), (SELECT coalesce(sum(hashtextextended(", where.data ? where.data : "");
		tgt_row(&sql, t);
		buf_adds(&sql, "::text, 0)), 0) FROM public.");
		sqlgen_ident(&sql, t->src->name);
		buf_addf(&sql, " t%s)", where.data ? where.data : "");
		PGresult *r = PQexec(h->tgt, sql.data);
		bool q = pgx_check(r, PGRES_TUPLES_OK, 1, 4, "compare a table");
		if (!q) {
			PQclear(r);
			buf_release(&where);
			buf_release(&sql);
			goto out;
		}
		bool same = strcmp(PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 2)) == 0 &&
			    strcmp(PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 3)) == 0;
		if (!same) {
			*match = false;
			if (!differences(h, t, where.data ? where.data : "", &diff)) {
				PQclear(r);
				buf_release(&where);
				buf_release(&sql);
				buf_release(&diff);
				goto out;
			}
		}
		if (json) {
			buf_adds(out, k ? ",{\"table\":" : "{\"table\":");
			buf_add_json_str(out, t->src->name, strlen(t->src->name));
			buf_addf(out, ",\"source_rows\":%s,\"target_rows\":%s,\"match\":%s,\"differences\":[",
				 PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 2), same ? "true" : "false");
			const char *s = buf_str(&diff);
			bool first = true;
			while (*s) {
				const char *e = strchr(s, '\n');
				if (!first)
					buf_addc(out, ',');
				first = false;
				buf_add_json_str(out, s, (size_t)(e - s));
				s = e + 1;
			}
			buf_adds(out, "]}");
		} else {
			buf_addf(out, "%-20s %12s %12s  %s\n", t->src->name, PQgetvalue(r, 0, 0),
				 PQgetvalue(r, 0, 2), same ? "ok" : "MISMATCH");
			const char *s = buf_str(&diff);
			while (*s) {
				const char *e = strchr(s, '\n');
				buf_addf(out, "    %.*s\n", (int)(e - s), s);
				s = e + 1;
			}
		}
		PQclear(r);
		buf_release(&where);
		buf_release(&sql);
		buf_release(&diff);
	}
	if (json)
		buf_addf(out, "],\"match\":%s}\n", *match ? "true" : "false");
	ok = true;
out:
	if (PQtransactionStatus(h->tgt) != PQTRANS_IDLE) {
		PGresult *r = PQexec(h->tgt, "ROLLBACK");
		PQclear(r);
	}
	return ok;
}
