/*
 * plan: deciding a hop; see plan.h.
 */
#include "plan.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hop_queries.h"
#include "log.h"
#include "pgx.h"
#include "remap.h"
#include "report.h"
#include "sqlgen.h"
#include "banned.h"

void plan_problem(struct hop_plan *p, const char *hint, const char *fmt, ...)
{
	struct buf msg = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vaddf(&msg, fmt, ap);
	va_end(ap);
	struct problem *np = realloc(p->problems, (p->nproblems + 1) * sizeof *p->problems);
	if (!np)
		abort();
	p->problems = np;
	problem_init(&p->problems[p->nproblems++], buf_str(&msg), NULL, hint);
	buf_release(&msg);
}

void plan_problems_text(const struct hop_plan *p, struct buf *out)
{
	for (size_t i = 0; i < p->nproblems; i++)
		problem_text(&p->problems[i], out);
}

const struct plan_table *plan_table(const struct hop_plan *plan, const char *name)
{
	for (size_t i = 0; i < plan->n; i++)
		if (strcmp(plan->t[i].src->name, name) == 0)
			return &plan->t[i];
	return NULL;
}

static int plan_index(const struct hop_plan *plan, const char *name)
{
	for (size_t i = 0; i < plan->n; i++)
		if (strcmp(plan->t[i].src->name, name) == 0)
			return (int)i;
	return -1;
}

/* min, max and count of the key on one database; key < 0: count only. */
static bool key_range(PGconn *c, const char *table, const char *key, int64_t *min, int64_t *max,
		      int64_t *rows, const char *what)
{
	struct buf sql = BUF_INIT;
	buf_adds(&sql, "SELECT ");
	if (key) {
		buf_adds(&sql, "min(");
		sqlgen_ident(&sql, key);
		buf_adds(&sql, "), max(");
		sqlgen_ident(&sql, key);
		buf_adds(&sql, "), ");
	} else
		buf_adds(&sql, "NULL, NULL, ");
	buf_adds(&sql, "count(*) FROM public.");
	sqlgen_ident(&sql, table);
	PGresult *r = PQexec(c, sql.data);
	bool ok = pgx_check(r, PGRES_TUPLES_OK, 1, 3, what);
	if (ok) {
		if (PQgetisnull(r, 0, 0)) {
			*min = 1;
			*max = 0;
		} else {
			*min = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
			*max = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
		}
		*rows = strtoll(PQgetvalue(r, 0, 2), NULL, 10);
	}
	PQclear(r);
	buf_release(&sql);
	return ok;
}

/* " FROM public.<table> WHERE <key>" */
static void from_where(struct buf *sql, const char *table, const char *key)
{
	buf_adds(sql, " FROM public.");
	sqlgen_ident(sql, table);
	buf_adds(sql, " WHERE ");
	sqlgen_ident(sql, key);
}

/*
 * The target's ids around the shifted source ids: how many lie in [lo, hi]
 * (the shifted range; lo > hi: none asked) with the smallest and largest,
 * and the smallest id above base, if any.  Index scans, bounded by the
 * shifted range.
 */
static bool target_ids(PGconn *c, const char *table, const char *key, int64_t lo, int64_t hi, int64_t base,
		       int64_t *count, int64_t *min, int64_t *max, bool *has_next, int64_t *next)
{
	char p[3][24];
	snprintf(p[0], sizeof p[0], "%" PRId64, lo);
	snprintf(p[1], sizeof p[1], "%" PRId64, hi);
	snprintf(p[2], sizeof p[2], "%" PRId64, base);
	const char *params[] = { p[0], p[1], p[2] };
	struct buf sql = BUF_INIT;
	static const char *const agg[] = { "count(", "min(", "max(" };
	buf_adds(&sql, "SELECT ");
	for (size_t i = 0; i < 3; i++) {
		buf_addf(&sql, "(SELECT %s", agg[i]);
		sqlgen_ident(&sql, key);
		buf_adds(&sql, "::bigint)");
		from_where(&sql, table, key);
		buf_adds(&sql, " BETWEEN $1::bigint AND $2::bigint), ");
	}
	buf_adds(&sql, "(SELECT min(");
	sqlgen_ident(&sql, key);
	buf_adds(&sql, "::bigint)");
	from_where(&sql, table, key);
	buf_adds(&sql, " > $3::bigint)");
	PGresult *r = PQexecParams(c, sql.data, 3, NULL, params, NULL, NULL, 0);
	bool ok = pgx_check(r, PGRES_TUPLES_OK, 1, 4, "read the target's ids near the shifted ones");
	if (ok) {
		*count = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		*min = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
		*max = strtoll(PQgetvalue(r, 0, 2), NULL, 10);
		*has_next = !PQgetisnull(r, 0, 3);
		*next = *has_next ? strtoll(PQgetvalue(r, 0, 3), NULL, 10) : 0;
	}
	PQclear(r);
	buf_release(&sql);
	return ok;
}

static bool int_type(const char *type)
{
	int64_t a, b;
	return remap_type_range(type, &a, &b);
}

/* Choose tables, keys and identities; report what the config names wrongly. */
static void choose_tables(const struct hop_config *cfg, struct hop_plan *p)
{
	size_t cap = cfg->tables_listed ? cfg->ntables : p->src.ntables;
	p->t = calloc(cap ? cap : 1, sizeof *p->t);
	if (!p->t)
		abort();
	for (size_t i = 0; i < cap; i++) {
		const struct cat_table *src;
		const struct hop_table_cfg *tc;
		if (cfg->tables_listed) {
			tc = &cfg->tables[i];
			src = cat_table(&p->src, tc->name);
			if (!src) {
				plan_problem(p, "table names are case-sensitive PostgreSQL names; check the spelling "
					   "or remove the entry",
					"%s:%d:%d: table \"%s\" is not in the source's public schema",
					cfg->path ? cfg->path : "config", tc->line, tc->column_no, tc->name);
				continue;
			}
		} else {
			src = &p->src.tables[i];
			tc = NULL;
		}
		struct plan_table *t = &p->t[p->n++];
		t->src = src;
		t->tgt = cat_table(&p->tgt, src->name);
		t->id = (int)p->n;
		t->key = -1;
		t->src_min = t->tgt_min = 1;
		t->src_max = t->tgt_max = 0;
		t->headroom = -1;
		t->min_headroom = tc ? tc->min_headroom : HOP_MIN_HEADROOM;
		if (tc && tc->key) {
			t->key = cat_column(src, tc->key);
			if (t->key < 0)
				plan_problem(p, "name an integer column of the table, or remove key: to use its primary key",
					"table \"%s\": key column \"%s\" does not exist", src->name, tc->key);
			else if (!int_type(src->cols[t->key].type)) {
				plan_problem(p, "only smallint, integer and bigint keys can be remapped",
					"table \"%s\": key column \"%s\" is %s, not an integer", src->name,
					tc->key, src->cols[t->key].type);
				t->key = -1;
			} else if (!(src->npk == 1 && src->pk[0] == (size_t)t->key)) {
				t->key_given = true;
				/* the copy reads key ranges: a NULL key is in none */
				if (!src->cols[t->key].notnull)
					plan_problem(p, "declare it NOT NULL on the source (ALTER TABLE ... ALTER COLUMN "
						   "... SET NOT NULL, once no row holds NULL there), or name "
						   "another key:", "table \"%s\": key column \"%s\" may be NULL: "
						   "rows whose key is NULL would not be copied", src->name, tc->key);
			}
		} else if (src->npk == 1 && int_type(src->cols[src->pk[0]].type))
			t->key = (int)src->pk[0];
		t->natural = t->key < 0 || !src->cols[t->key].sequence;
		if (tc && tc->offset_set) {
			t->offset_auto = tc->offset_auto;
			t->offset = tc->offset;
			if (t->key < 0 && (tc->offset_auto || tc->offset != 0))
				plan_problem(p, "give the table a key: (an integer column) or remove its offset",
					"table \"%s\": has an offset but no integer key to apply it to",
					src->name);
		} else
			t->offset_auto = !t->natural;
		if (tc && tc->conflict == HOP_CONFLICT_APPEND) {
			t->append = true;
			if (src->npk)
				plan_problem(p, "remove conflict: append (a table with a primary key takes refuse or "
					   "replace)", "table \"%s\": conflict: append is for tables without a "
					   "primary key", src->name);
		}
		if (tc && tc->conflict != HOP_CONFLICT_DEFAULT && tc->conflict != HOP_CONFLICT_APPEND)
			t->conflict = tc->conflict;
		else
			t->conflict = t->natural ? HOP_CONFLICT_REPLACE : HOP_CONFLICT_REFUSE;
		/* identity: the primary key, or the whole row */
		size_t n = src->npk ? src->npk : src->ncols;
		t->ident = calloc(n ? n : 1, sizeof *t->ident);
		if (!t->ident)
			abort();
		for (size_t k = 0; k < n; k++)
			t->ident[k] = src->npk ? src->pk[k] : k;
		t->nident = n;
	}
}

static void add_ref(struct plan_table *t, size_t col, size_t table, bool from_fk)
{
	for (size_t r = 0; r < t->nrefs; r++)
		if (t->refs[r].col == col) {
			t->refs[r].table = table;	/* the config overrides a foreign key */
			t->refs[r].from_fk = from_fk;
			return;
		}
	struct plan_ref *nr = realloc(t->refs, (t->nrefs + 1) * sizeof *t->refs);
	if (!nr)
		abort();
	t->refs = nr;
	t->refs[t->nrefs++] = (struct plan_ref){ col, table, from_fk };
}

static void choose_refs(const struct hop_config *cfg, struct hop_plan *p)
{
	for (size_t i = 0; i < p->n; i++) {
		struct plan_table *t = &p->t[i];
		for (size_t f = 0; f < t->src->nfks; f++) {
			const struct cat_fk *fk = &t->src->fks[f];
			int ref = plan_index(p, fk->ref_table);
			int col = cat_column(t->src, fk->column);
			if (col < 0)
				continue;
			if (ref < 0) {
				plan_problem(p, "add the referenced table to tables:",
					"table \"%s\": column \"%s\" refers to \"%s\", which is not in the hop",
					t->src->name, fk->column, fk->ref_table);
				continue;
			}
			const struct plan_table *rt = &p->t[ref];
			if (rt->key >= 0 && strcmp(rt->src->cols[rt->key].name, fk->ref_column) == 0)
				add_ref(t, (size_t)col, (size_t)ref, true);
		}
		const struct hop_table_cfg *tc = hopcfg_table(cfg, t->src->name);
		for (size_t r = 0; tc && r < tc->nrefs; r++) {
			const struct hop_ref_cfg *rc = &tc->refs[r];
			int col = cat_column(t->src, rc->column);
			int ref = plan_index(p, rc->table);
			if (col < 0) {
				struct buf cols = BUF_INIT;
				for (size_t k = 0; k < t->src->ncols; k++)
					buf_addf(&cols, "%s%s", k ? ", " : "", t->src->cols[k].name);
				struct buf hint = BUF_INIT;
				buf_addf(&hint, "the table's columns are: %s", buf_str(&cols));
				plan_problem(p, hint.data, "%s:%d:%d: table \"%s\": refs column \"%s\" does not exist",
					cfg->path ? cfg->path : "config", rc->line, rc->column_no, t->src->name,
					rc->column);
				buf_release(&cols);
				buf_release(&hint);
				continue;
			}
			if (ref < 0) {
				plan_problem(p, "refs must name a table of the hop",
					"%s:%d:%d: table \"%s\": refs column \"%s\" names table \"%s\", which is "
					"not in the hop", cfg->path ? cfg->path : "config", rc->line,
					rc->column_no, t->src->name, rc->column, rc->table);
				continue;
			}
			if (p->t[ref].key < 0) {
				plan_problem(p, "give that table a key:",
					"table \"%s\": refs column \"%s\" names table \"%s\", which has no "
					"integer key", t->src->name, rc->column, rc->table);
				continue;
			}
			if (!int_type(t->src->cols[col].type)) {
				plan_problem(p, "only integer columns can be remapped",
					"table \"%s\": refs column \"%s\" is %s, not an integer", t->src->name,
					rc->column, t->src->cols[col].type);
				continue;
			}
			add_ref(t, (size_t)col, (size_t)ref, false);
		}
	}
}

/* Parents before children (Kahn); a cycle keeps config order for the rest. */
static void topo_order(struct hop_plan *p)
{
	p->order = calloc(p->n ? p->n : 1, sizeof *p->order);
	bool *done = calloc(p->n ? p->n : 1, sizeof *done);
	if (!p->order || !done)
		abort();
	size_t k = 0;
	while (k < p->n) {
		bool progress = false;
		for (size_t i = 0; i < p->n; i++) {
			if (done[i])
				continue;
			bool ready = true;
			for (size_t r = 0; r < p->t[i].nrefs; r++) {
				size_t parent = p->t[i].refs[r].table;
				if (parent != i && !done[parent])
					ready = false;
			}
			if (ready) {
				done[i] = true;
				p->order[k++] = i;
				progress = true;
			}
		}
		if (!progress)
			for (size_t i = 0; i < p->n; i++)
				if (!done[i]) {
					done[i] = true;
					p->order[k++] = i;
					break;
				}
	}
	free(done);
}

void plan_choose(const struct hop_config *cfg, struct hop_plan *p)
{
	choose_tables(cfg, p);
	choose_refs(cfg, p);
	topo_order(p);
}

/*
 * Tables whose primary key a copy in progress dropped (sync_fdw.copy_index,
 * kind 'p'): it comes back when their rows are in, so a missing key there
 * is no difference.  *out is a PGresult of names, or NULL for none.
 */
static bool deferred_keys(PGconn *tgt, PGresult **out)
{
	*out = NULL;
	PGresult *r = PQexec(tgt, hq_plan_copy_index_has_kind);
	bool ok = pgx_check(r, PGRES_TUPLES_OK, 1, 1, "look for the copy's dropped keys");
	bool have = ok && strcmp(PQgetvalue(r, 0, 0), "1") == 0;
	PQclear(r);
	if (!have)
		return ok;
	*out = PQexec(tgt, "SELECT tbl FROM sync_fdw.copy_index WHERE kind = 'p' AND tbl IS NOT NULL");
	if (!pgx_check(*out, PGRES_TUPLES_OK, -1, 1, "read the copy's dropped keys")) {
		PQclear(*out);
		*out = NULL;
		return false;
	}
	return true;
}

static bool key_deferred(const PGresult *keys, const char *table)
{
	for (int i = 0; keys && i < PQntuples(keys); i++)
		if (strcmp(PQgetvalue(keys, i, 0), table) == 0)
			return true;
	return false;
}

static void compare_columns(struct hop_plan *p, const struct plan_table *t, const PGresult *deferred)
{
	struct buf diff = BUF_INIT;
	for (size_t i = 0; i < t->src->ncols; i++) {
		int j = cat_column(t->tgt, t->src->cols[i].name);
		if (j < 0)
			buf_addf(&diff, "%scolumn \"%s\" is missing on the target", diff.len ? "; " : "",
				 t->src->cols[i].name);
		else if (strcmp(t->src->cols[i].type, t->tgt->cols[j].type) != 0)
			buf_addf(&diff, "%scolumn \"%s\" is %s on the source but %s on the target",
				 diff.len ? "; " : "", t->src->cols[i].name, t->src->cols[i].type,
				 t->tgt->cols[j].type);
	}
	for (size_t j = 0; j < t->tgt->ncols; j++)
		if (cat_column(t->src, t->tgt->cols[j].name) < 0 && t->tgt->cols[j].notnull)
			buf_addf(&diff, "%scolumn \"%s\" exists only on the target and is NOT NULL",
				 diff.len ? "; " : "", t->tgt->cols[j].name);
	if (t->src->npk != t->tgt->npk && !(t->tgt->npk == 0 && key_deferred(deferred, t->src->name)))
		buf_addf(&diff, "%sthe primary keys differ", diff.len ? "; " : "");
	if (diff.len)
		plan_problem(p, "make the target's table match the source's, or drop it and let migrate "
			   "create it", "table \"%s\" differs: %s", t->src->name, diff.data);
	buf_release(&diff);
}

/*
 * A key: that is not the primary key must be declared unique on the
 * source (a unique index on that column alone, without predicate): two
 * rows with one id would become one on the target, or collide there.
 */
static bool check_key_unique(PGconn *src, struct hop_plan *p, const struct plan_table *t)
{
	const char *col = t->src->cols[t->key].name;
	const char *params[] = { t->src->name, col };
	PGresult *r = PQexecParams(src, hq_plan_key_unique, 2, NULL, params, NULL, NULL, 0);
	bool ok = pgx_check(r, PGRES_TUPLES_OK, 1, 1, "look for a unique index on the key");
	if (ok && PQgetvalue(r, 0, 0)[0] != 't') {
		struct buf hint = BUF_INIT;
		buf_addf(&hint, "make it unique on the source (CREATE UNIQUE INDEX ON public.\"%s\" (\"%s\")), "
				"or name a unique column as key:", t->src->name, col);
		plan_problem(p, hint.data, "table \"%s\": key column \"%s\" is not unique: rows sharing an id "
			"would collide on the target", t->src->name, col);
		buf_release(&hint);
	}
	PQclear(r);
	return ok;
}

static bool exec_ok(PGconn *c, const char *sql, const char *what)
{
	PGresult *r = PQexec(c, sql);
	bool ok = pgx_check(r, PGRES_COMMAND_OK, -1, -1, what);
	PQclear(r);
	return ok;
}

/* md5(ROW(c1, c2, ...)::text) of the source's columns, each prefixed by alias. */
static void row_of(struct buf *sql, const struct cat_table *t, const char *alias)
{
	buf_adds(sql, "md5(ROW(");
	for (size_t i = 0; i < t->ncols; i++) {
		buf_addf(sql, "%s%s", i ? ", " : "", alias);
		sqlgen_ident(sql, t->cols[i].name);
	}
	buf_adds(sql, ")::text)");
}

#define REPLACED_BATCH 5000
#define STR_(x) #x
#define STR(x) STR_(x)

/*
 * How many of the target's rows the source would replace with different
 * content (t has a primary key; the target's columns match).  Plan sees
 * both databases, not yet the link: the target's rows are read through a
 * cursor, REPLACED_BATCH at a time, as their key (text) and an md5 of the
 * whole row's text; each batch goes to the source as one JSON parameter,
 * joined on the key (its primary key index) and counted where the md5
 * differs.  Memory is bounded by the batch; time is one pass over the
 * target's table and an index lookup per row on the source.  Rows only
 * one side holds are no conflict.
 */
static bool count_replaced(PGconn *src, PGconn *tgt, const struct plan_table *t, int64_t *n)
{
	*n = 0;
	if (PQtransactionStatus(src) != PQTRANS_IDLE || PQtransactionStatus(tgt) != PQTRANS_IDLE)
		return true;	/* inside a step's transaction: checked when planned first */
	const struct cat_table *c = t->src;
	struct buf q = BUF_INIT, look = BUF_INIT, batch = BUF_INIT;
	buf_adds(&q, "DECLARE plan_replaced NO SCROLL CURSOR FOR SELECT ");
	for (size_t k = 0; k < c->npk; k++) {
		sqlgen_ident(&q, c->cols[c->pk[k]].name);
		buf_adds(&q, "::text, ");
	}
	row_of(&q, c, "");
	buf_adds(&q, " FROM public.");
	sqlgen_ident(&q, c->name);
	buf_adds(&look, "SELECT count(*) FROM pg_catalog.json_array_elements($1::json) e JOIN public.");
	sqlgen_ident(&look, c->name);
	buf_adds(&look, " s ON ");
	for (size_t k = 0; k < c->npk; k++) {
		buf_adds(&look, k ? " AND s." : "s.");
		sqlgen_ident(&look, c->cols[c->pk[k]].name);
		buf_addf(&look, " = (e->>%zu)::%s", k, c->cols[c->pk[k]].type);
	}
	buf_adds(&look, " WHERE ");
	row_of(&look, c, "s.");
	buf_addf(&look, " <> e->>%zu", c->npk);
	bool ok = false, in_src = false;
	bool in_tgt = true;	/* a failure inside the string leaves the transaction open */
	if (!exec_ok(tgt, hq_plan_same_text, "read the target's rows") ||
	    !exec_ok(tgt, q.data, "read the target's rows"))
		goto out;
	for (;;) {
		PGresult *r = PQexec(tgt, "FETCH " STR(REPLACED_BATCH) " FROM plan_replaced");
		if (!pgx_check(r, PGRES_TUPLES_OK, -1, (int)c->npk + 1, "read the target's rows")) {
			PQclear(r);
			goto out;
		}
		int rows = PQntuples(r);
		/* a parameter, not a report: built by hand since jansson
		 * refuses the bytes of a text that is not UTF-8, which the
		 * source's JSON parser (a SQL_ASCII database) takes as they are */
		buf_reset(&batch);
		buf_addc(&batch, '[');
		for (int i = 0; i < rows; i++) {
			buf_adds(&batch, i ? ",[" : "[");
			for (int k = 0; k <= (int)c->npk; k++) {
				if (k)
					buf_addc(&batch, ',');
				buf_add_json_str(&batch, PQgetvalue(r, i, k), (size_t)PQgetlength(r, i, k));
			}
			buf_addc(&batch, ']');
		}
		buf_addc(&batch, ']');
		PQclear(r);
		if (rows == 0)
			break;
		in_src = true;
		if (!exec_ok(src, hq_plan_same_text, "compare the target's rows with the source's"))
			goto out;
		const char *params[] = { batch.data };
		r = PQexecParams(src, look.data, 1, NULL, params, NULL, NULL, 0);
		bool got = pgx_check(r, PGRES_TUPLES_OK, 1, 1, "compare the target's rows with the source's");
		if (got)
			*n += strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		PQclear(r);
		if (!got)
			goto out;
		in_src = false;
		if (!exec_ok(src, "COMMIT", "compare the target's rows with the source's"))
			goto out;
		if (rows < REPLACED_BATCH)
			break;
	}
	ok = true;
out:
	if (in_src && !exec_ok(src, "ROLLBACK", "end the comparison on the source"))
		ok = false;
	if (in_tgt && !exec_ok(tgt, ok ? "COMMIT" : "ROLLBACK", "end the reading of the target's rows"))
		ok = false;
	buf_release(&q);
	buf_release(&look);
	buf_release(&batch);
	return ok;
}

/* Whether every source column is on the target with the same type. */
static bool same_columns(const struct plan_table *t)
{
	for (size_t i = 0; i < t->src->ncols; i++) {
		int j = cat_column(t->tgt, t->src->cols[i].name);
		if (j < 0 || strcmp(t->src->cols[i].type, t->tgt->cols[j].type) != 0)
			return false;
	}
	return true;
}

/*
 * A natural key's default is replace: fine while the target holds no row
 * the source would overwrite with something else; otherwise the operator
 * must say so (conflict: replace).
 */
static bool check_replaced(const struct hop_config *cfg, PGconn *src, PGconn *tgt, struct hop_plan *p,
			   struct plan_table *t)
{
	const struct hop_table_cfg *tc = hopcfg_table(cfg, t->src->name);
	if (!t->tgt || !t->src->npk || t->conflict != HOP_CONFLICT_REPLACE || t->tgt_rows == 0 ||
	    t->linked || (tc && tc->conflict == HOP_CONFLICT_REPLACE) || !same_columns(t))
		return true;
	if (!count_replaced(src, tgt, t, &t->replaced))
		return false;
	if (t->replaced == 0)
		return true;
	struct buf keys = BUF_INIT, hint = BUF_INIT;
	for (size_t k = 0; k < t->src->npk; k++)
		buf_addf(&keys, "%s%s", k ? ", " : "", t->src->cols[t->src->pk[k]].name);
	buf_addf(&hint, "write conflict: replace for table \"%s\" if the source's rows should overwrite the "
			"target's with the same %s, or delete or align those rows on the target",
		 t->src->name, keys.data);
	plan_problem(p, hint.data, "table \"%s\": %" PRId64 " target row%s would be replaced: the source "
		"holds rows with the same key (%s) and different content", t->src->name, t->replaced,
		t->replaced == 1 ? "" : "s", keys.data);
	buf_release(&keys);
	buf_release(&hint);
	return true;
}

/* t's source ids and count from an earlier plan, when it has the table with the same key. */
static bool reuse_counts(const struct hop_plan *prev, struct plan_table *t)
{
	const struct plan_table *o = prev ? plan_table(prev, t->src->name) : NULL;
	if (!o || (o->key < 0) != (t->key < 0) ||
	    (t->key >= 0 && strcmp(o->src->cols[o->key].name, t->src->cols[t->key].name) != 0))
		return false;
	t->src_min = o->src_min;
	t->src_max = o->src_max;
	t->src_rows = o->src_rows;
	return true;
}

bool plan_build(const struct hop_config *cfg, PGconn *src, PGconn *tgt,
		const struct plan_fixed *fixed, size_t nfixed, const struct hop_plan *source_counts,
		struct hop_plan *out)
{
	struct hop_plan plan, *p = &plan;
	PGresult *deferred = NULL;
	bool ok = false;
	memset(p, 0, sizeof *p);
	memset(out, 0, sizeof *out);
	/* a password in the configuration ends up in files, process lists and,
	 * for the target, every server's settings at the cutover */
	static const char pw_hint[] = "remove it from the DSN and give it in a pgpass file (PGPASSFILE) "
				      "or PGPASSWORD";
	if (pgx_dsn_has_password(cfg->s.source_dsn))
		plan_problem(p, pw_hint, "source.dsn holds a password");
	if (pgx_dsn_has_password(cfg->s.target_dsn))
		plan_problem(p, pw_hint, "target.dsn holds a password, which the cutover would send to every server");
	if (!cat_read(src, "public", "read the source's catalog", &p->src) ||
	    !cat_read(tgt, "public", "read the target's catalog", &p->tgt) ||
	    !deferred_keys(tgt, &deferred))
		goto out;
	plan_choose(cfg, p);

	for (size_t i = 0; i < p->n; i++) {
		struct plan_table *t = &p->t[i];
		const char *key = t->key >= 0 ? t->src->cols[t->key].name : NULL;
		if (t->key_given && !check_key_unique(src, p, t))
			goto out;
		if (!reuse_counts(source_counts, t) &&
		    !key_range(src, t->src->name, key, &t->src_min, &t->src_max, &t->src_rows,
			       "read the source's ids"))
			goto out;
		if (t->tgt) {
			if (key && cat_column(t->tgt, key) < 0)
				key = NULL;
			if (!key_range(tgt, t->src->name, key, &t->tgt_min, &t->tgt_max, &t->tgt_rows,
				       "read the target's ids"))
				goto out;
			compare_columns(p, t, deferred);
		}
		for (size_t f = 0; f < nfixed; f++)
			t->linked |= strcmp(fixed[f].table, t->src->name) == 0;
		if (!check_replaced(cfg, src, tgt, p, t))
			goto out;
		/* a table the target lacks is no problem: migrate creates it
		 * (link refuses to go ahead without it) */
		if (t->key < 0)
			continue;
		int64_t tmin, tmax, limit;
		if (!remap_type_range(t->src->cols[t->key].type, &tmin, &tmax))
			continue;
		for (size_t f = 0; f < nfixed; f++)
			if (strcmp(fixed[f].table, t->src->name) == 0) {
				t->offset = fixed[f].offset;
				t->offset_fixed = true;
			}
		/* ids the source will still hand out start at its smallest id,
		 * or at 1 when it has none yet */
		int64_t slo = t->src_min <= t->src_max ? t->src_min : 1;
		int64_t shi = t->src_min <= t->src_max ? t->src_max : 1;
		if (t->offset_auto && !t->offset_fixed)
			t->offset = t->conflict == HOP_CONFLICT_REPLACE
					    ? 0 : remap_auto_offset(slo, shi, t->tgt_min, t->tgt_max);
		if (!remap_fits(t->src_min, t->src_max, t->offset, tmin, tmax, &limit)) {
			struct buf hint = BUF_INIT;
			buf_addf(&hint, "use an offset of at most %" PRId64 " in absolute value, or "
					"change the column to bigint", limit < 0 ? -limit : limit);
			plan_problem(p, hint.data, "table \"%s\": offset %" PRId64 " would push ids %" PRId64
				"..%" PRId64 " out of %s's range (%" PRId64 "..%" PRId64 ")",
				t->src->name, t->offset, t->src_min, t->src_max, t->src->cols[t->key].type,
				tmin, tmax);
			buf_release(&hint);
			continue;
		}
		/* the shifted source ids must miss every id the target holds
		 * now; the ids the source hands out later (upwards from its
		 * largest) must find room before the next target id above them,
		 * or the type's end; a linked hop's target holds the hop's own
		 * rows: not checked */
		bool has_src = t->src_min <= t->src_max;
		int64_t a = 1, b = 0, base, ocount = 0, omin = 0, omax = 0, next = 0;
		bool has_next = false;
		if (!remap_add(has_src ? t->src_max : 0, t->offset, &base))
			continue;
		if (has_src && (!remap_add(t->src_min, t->offset, &a) || !remap_add(t->src_max, t->offset, &b)))
			continue;
		if (key && t->tgt_min <= t->tgt_max &&
		    !target_ids(tgt, t->src->name, key, a, b, base, &ocount, &omin, &omax, &has_next, &next))
			goto out;
		t->headroom = remap_headroom(base, has_next, next, tmax);
		t->min_headroom = remap_headroom_bound(t->min_headroom, tmax);
		t->headroom_target = has_next;
		if (t->conflict != HOP_CONFLICT_REFUSE || t->offset_fixed)
			continue;
		if (ocount > 0) {
			struct buf hint = BUF_INIT;
			buf_addf(&hint, "set offset: auto (it picks %" PRId64 "), or an offset of at least "
					"%" PRId64 ", or conflict: replace if the source's rows should "
					"overwrite the target's", remap_auto_offset(slo, shi, t->tgt_min, t->tgt_max),
				 t->tgt_max - slo + 1);
			plan_problem(p, hint.data, "table \"%s\": source ids %" PRId64 "..%" PRId64
				" shifted by %" PRId64 " collide with ids %" PRId64 "..%" PRId64
				" the target already holds (%" PRId64 " target id%s within the shifted range %"
				PRId64 "..%" PRId64 ")", t->src->name, slo, shi, t->offset, omin, omax, ocount,
				ocount == 1 ? "" : "s", a, b);
			buf_release(&hint);
		} else if (!t->offset_auto && t->headroom < t->min_headroom &&
			   (has_next || t->offset > 0)) {
			/* the first source id that would not fit, shifted */
			int64_t first = 0;
			bool known = remap_add(has_next ? next : tmax, -t->offset, &first) &&
				     (has_next || remap_add(first, 1, &first));
			struct buf hint = BUF_INIT;
			buf_addf(&hint, "choose an offset leaving more room (offset: auto picks %" PRId64 "), or "
					"set tables.%s.min_headroom below %" PRId64 " if the source hands out "
					"fewer new ids before the cutover",
				 remap_auto_offset(slo, shi, t->tgt_min, t->tgt_max), t->src->name, t->headroom + 1);
			struct buf what = BUF_INIT;
			if (has_next)
				buf_addf(&what, "meet id %" PRId64 " the target already holds", next);
			else
				buf_addf(&what, "pass %s's maximum %" PRId64, t->src->cols[t->key].type, tmax);
			if (known)
				plan_problem(p, hint.data, "table \"%s\": offset %" PRId64 " leaves room for only %"
					PRId64 " new source ids (min_headroom %" PRId64 "): source id %" PRId64
					", shifted, would %s", t->src->name, t->offset, t->headroom,
					t->min_headroom, first, what.data);
			else
				plan_problem(p, hint.data, "table \"%s\": offset %" PRId64 " leaves room for only %"
					PRId64 " new source ids (min_headroom %" PRId64 "): the next would %s",
					t->src->name, t->offset, t->headroom,
					t->min_headroom, what.data);
			buf_release(&what);
			buf_release(&hint);
		}
	}
	/* references must fit as well: a shifted reference may overflow too */
	for (size_t i = 0; i < p->n; i++) {
		struct plan_table *t = &p->t[i];
		for (size_t r = 0; r < t->nrefs; r++) {
			const struct plan_table *rt = &p->t[t->refs[r].table];
			int64_t tmin, tmax, limit;
			const char *type = t->src->cols[t->refs[r].col].type;
			if (remap_type_range(type, &tmin, &tmax) &&
			    !remap_fits(rt->src_min, rt->src_max, rt->offset, tmin, tmax, &limit))
				plan_problem(p, "change the referring column to bigint, or choose a smaller offset",
					"table \"%s\": column \"%s\" (%s) cannot hold \"%s\" ids shifted by %" PRId64,
					t->src->name, t->src->cols[t->refs[r].col].name, type, rt->src->name,
					rt->offset);
		}
	}
	ok = true;
out:
	PQclear(deferred);
	if (ok)
		*out = plan;
	else
		plan_release(p);
	return ok;
}

void plan_check_copy(struct hop_plan *p)
{
	for (size_t i = 0; i < p->n; i++) {
		const struct plan_table *t = &p->t[i];
		/* without a key nothing tells the target's rows from the copied
		 * ones; once linked, the rows may be the hop's own */
		if (!t->tgt || t->src->npk || t->tgt_rows == 0 || t->append || t->linked)
			continue;
		struct buf hint = BUF_INIT;
		buf_addf(&hint, "empty it first (TRUNCATE public.\"%s\" on the target), or set conflict: append "
				"for the table to keep those rows and add the source's beside them", t->src->name);
		plan_problem(p, hint.data, "table \"%s\" has no primary key and the target's table already holds %"
			PRId64 " rows: the copy would add the source's rows to them, duplicates and all",
			t->src->name, t->tgt_rows);
		buf_release(&hint);
	}
}

void plan_release(struct hop_plan *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->t[i].refs);
		free(p->t[i].ident);
	}
	free(p->t);
	free(p->order);
	for (size_t i = 0; i < p->nproblems; i++)
		problem_release(&p->problems[i]);
	free(p->problems);
	cat_release(&p->src);
	cat_release(&p->tgt);
	memset(p, 0, sizeof *p);
}

/* [lo, hi], or null for an empty range */
static json_t *json_range(int64_t lo, int64_t hi)
{
	return lo > hi ? json_null() : json_pack("[I, I]", (json_int_t)lo, (json_int_t)hi);
}

static json_t *json_table(const struct hop_plan *p, const struct plan_table *t)
{
	const struct cat_column *kc = t->key >= 0 ? &t->src->cols[t->key] : NULL;
	json_t *o = json_object();
	json_object_set_new(o, "name", report_string(t->src->name));
	json_object_set_new(o, "key", report_string(kc ? kc->name : NULL));
	json_object_set_new(o, "offset", json_integer(t->offset));
	json_object_set_new(o, "offset_auto", json_boolean(t->offset_auto));
	json_object_set_new(o, "natural_key", json_boolean(t->natural));
	json_object_set_new(o, "conflict", json_string(t->append ? "append" :
						       t->conflict == HOP_CONFLICT_REPLACE ? "replace" : "refuse"));
	json_object_set_new(o, "rows", json_integer(t->src_rows));
	json_object_set_new(o, "target_rows", json_integer(t->tgt_rows));
	json_object_set_new(o, "headroom", t->headroom >= 0 ? json_integer(t->headroom) : json_null());
	json_object_set_new(o, "headroom_until", t->headroom < 0 ? json_null() :
			    json_string(t->headroom_target ? "target id" : "type maximum"));
	json_object_set_new(o, "min_headroom", json_integer(t->min_headroom));
	json_object_set_new(o, "replaced", json_integer(t->replaced));
	json_object_set_new(o, "source_ids", json_range(t->src_min, t->src_max));
	json_object_set_new(o, "target_ids", json_range(t->tgt_min, t->tgt_max));
	int64_t a = t->src_min, b = t->src_max;
	bool after = t->key >= 0 && a <= b && remap_add(a, t->offset, &a) && remap_add(b, t->offset, &b);
	json_object_set_new(o, "ids_after", after ? json_range(a, b) : json_null());
	json_t *ident = json_array();
	for (size_t i = 0; i < t->nident; i++)
		json_array_append_new(ident, report_string(t->src->cols[t->ident[i]].name));
	json_object_set_new(o, "identity", ident);
	json_t *refs = json_array();
	for (size_t r = 0; r < t->nrefs; r++)
		json_array_append_new(refs, json_pack("{s:o, s:o, s:s}",
			"column", report_string(t->src->cols[t->refs[r].col].name),
			"table", report_string(p->t[t->refs[r].table].src->name),
			"from", t->refs[r].from_fk ? "foreign key" : "refs"));
	json_object_set_new(o, "refs", refs);
	json_object_set_new(o, "sequence", report_string(kc ? kc->sequence : NULL));
	json_object_set_new(o, "target_has_table", json_boolean(t->tgt != NULL));
	return o;
}

json_t *plan_json(const struct hop_plan *p)
{
	json_t *tables = json_array(), *problems = json_array();
	for (size_t k = 0; k < p->n; k++)
		json_array_append_new(tables, json_table(p, &p->t[p->order[k]]));
	for (size_t i = 0; i < p->nproblems; i++)
		json_array_append_new(problems, json_pack("{s:o, s:o}", "problem", report_string(p->problems[i].msg),
							  "hint", report_string(p->problems[i].hint)));
	return json_pack("{s:o, s:o}", "tables", tables, "problems", problems);
}

void plan_text(const struct hop_plan *p, struct buf *out)
{
	buf_addf(out, "%-20s %-12s %12s %24s %24s  %s\n", "table", "key", "offset", "source ids",
		 "ids after", "refs");
	for (size_t k = 0; k < p->n; k++) {
		const struct plan_table *t = &p->t[p->order[k]];
		char before[64] = "-", after[64] = "-";
		int64_t a = t->src_min, b = t->src_max;
		if (t->key >= 0 && a <= b) {
			snprintf(before, sizeof before, "%" PRId64 "..%" PRId64, a, b);
			if (remap_add(a, t->offset, &a) && remap_add(b, t->offset, &b))
				snprintf(after, sizeof after, "%" PRId64 "..%" PRId64, a, b);
		}
		buf_addf(out, "%-20s %-12s %12" PRId64 " %24s %24s  ", t->src->name,
			 t->key >= 0 ? t->src->cols[t->key].name : "(none)", t->offset, before, after);
		for (size_t r = 0; r < t->nrefs; r++)
			buf_addf(out, "%s%s->%s", r ? ", " : "", t->src->cols[t->refs[r].col].name,
				 p->t[t->refs[r].table].src->name);
		char room[64] = "";
		if (t->headroom >= 0)
			snprintf(room, sizeof room, ", headroom %" PRId64 "%s", t->headroom,
				 t->headroom_target ? " before a target id" : "");
		buf_addf(out, "%s  (%" PRId64 " rows%s%s%s)\n", t->nrefs ? "" : "-", t->src_rows,
			 t->offset_auto ? ", offset auto" : "", room,
			 t->conflict == HOP_CONFLICT_REPLACE && t->src->npk ? ", replaces target rows" : "");
	}
	if (p->nproblems) {
		buf_addf(out, "\n%zu problem%s:\n", p->nproblems, p->nproblems == 1 ? "" : "s");
		plan_problems_text(p, out);
	} else
		buf_adds(out, "\nno problems found\n");
}
