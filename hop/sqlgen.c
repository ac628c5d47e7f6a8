/*
 * sqlgen: SQL text for the hop; see sqlgen.h.
 */
#include "sqlgen.h"

#include <inttypes.h>
#include <stdbool.h>
#include <string.h>

#include "plan.h"
#include "remap.h"
#include "banned.h"

void sqlgen_ident(struct buf *b, const char *name)
{
	buf_addc(b, '"');
	for (const char *s = name; *s; s++) {
		if (*s == '"')
			buf_addc(b, '"');
		buf_addc(b, *s);
	}
	buf_addc(b, '"');
}

void sqlgen_qualified(struct buf *b, const char *schema, const char *name)
{
	sqlgen_ident(b, schema);
	buf_addc(b, '.');
	sqlgen_ident(b, name);
}

/* A text with a backslash is written E'a\\b' (as PQescapeLiteral does):
 * 'a\b' would read as "ab" on a server with standard_conforming_strings
 * off, E'' reads the same under either setting. */
void sqlgen_literal(struct buf *b, const char *text)
{
	bool backslash = strchr(text, '\\') != NULL;
	if (backslash)
		buf_adds(b, " E");
	buf_addc(b, '\'');
	for (const char *s = text; *s; s++) {
		if (*s == '\'' || *s == '\\')
			buf_addc(b, *s);
		buf_addc(b, *s);
	}
	buf_addc(b, '\'');
}

static const char *col(const struct plan_table *t, size_t i)
{
	return t->src->cols[i].name;
}

void sqlgen_columns(struct buf *b, const struct plan_table *t)
{
	for (size_t i = 0; i < t->src->ncols; i++) {
		if (i)
			buf_adds(b, ", ");
		sqlgen_ident(b, col(t, i));
	}
}

/* (rowexpr)."c" [+ offset] */
static void remapped_col(struct buf *b, const struct hop_plan *p, const struct plan_table *t,
			 const char *rowexpr, size_t i)
{
	int64_t off = remap_column_offset(p, t, i);
	buf_addf(b, "(%s).", rowexpr);
	sqlgen_ident(b, col(t, i));
	if (off != 0)
		buf_addf(b, " + (%" PRId64 ")", off);
}

void sqlgen_remapped(struct buf *b, const struct hop_plan *p, const struct plan_table *t,
		     const char *rowexpr)
{
	for (size_t i = 0; i < t->src->ncols; i++) {
		if (i)
			buf_adds(b, ", ");
		remapped_col(b, p, t, rowexpr, i);
	}
}

void sqlgen_capture_drop(struct buf *b, const char *table)
{
	static const char *const names[] = { "sync_fdw_insert", "sync_fdw_update", "sync_fdw_delete",
					     "sync_fdw_truncate" };
	for (size_t i = 0; i < 4; i++) {
		buf_addf(b, "DROP TRIGGER IF EXISTS %s ON public.", names[i]);
		sqlgen_ident(b, table);
		buf_adds(b, ";\n");
	}
}

/* The capture of one operation: trigger sync_fdw_<name> AFTER <event>,
 * function sync_fdw_src.capture_<id>_<name>() writing op <op>. */
struct capture_op {
	char op;
	const char *name, *event;
	const char *row;		/* the image at row level: NEW or OLD */
	const char *transition;		/* ... at statement level: this transition table's rows */
};

static const struct capture_op capture_ops[] = {
	{ 'I', "insert", "INSERT", "NEW", "new_rows" },
	{ 'U', "update", "UPDATE", "NEW", NULL },	/* always per row, with OLD */
	{ 'D', "delete", "DELETE", "OLD", "old_rows" },
};

/*
 * The capture function of table t for o: the table's number is baked in (a
 * constant costs nothing per call, where a trigger argument is an array
 * built and cast on every call).  stmt: one call per statement, over the
 * transition table.  Why these bodies are safe without SET search_path, and
 * must stay fully qualified: sql/hop/capture.sql.
 */
/*
 * A column whose text form follows the writer's session settings: dates and
 * times (DateStyle: "03/04/2026" is March or April), intervals
 * (IntervalStyle), floats (extra_float_digits below 1 rounds them).  Judged
 * by format_type()'s name, arrays included; a domain over such a type is
 * not recognised by name (documented).
 */
static bool setting_dependent(const char *type)
{
	static const char *const words[] = { "time", "date", "interval", "real", "double precision" };
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
		if (strstr(type, words[i]))
			return true;
	return false;
}

static bool images_need_settings(const struct plan_table *t)
{
	for (size_t i = 0; i < t->src->ncols; i++)
		if (setting_dependent(t->src->cols[i].type))
			return true;
	return false;
}

static void capture_function(struct buf *b, const struct plan_table *t, const struct capture_op *o,
			     bool stmt)
{
	buf_addf(b, "CREATE OR REPLACE FUNCTION sync_fdw_src.capture_%d_%s() RETURNS trigger\n"
		    "LANGUAGE plpgsql SECURITY DEFINER", t->id, o->name);
	/* the image must read back the same on the target whatever the writer's
	 * session set; only where a column's text depends on it, since the SET
	 * clause costs every call ~8,000 instructions */
	if (images_need_settings(t))
		buf_adds(b, " SET DateStyle = 'ISO, MDY' SET IntervalStyle = 'postgres' SET extra_float_digits = 1");
	buf_adds(b, " AS $$\nBEGIN\n");
	if (o->op == 'U')
		buf_addf(b, "    INSERT INTO sync_fdw_src.changes (tbl, op, img, old)\n"
			    "    VALUES ('%d'::pg_catalog.int2, 'U', pg_catalog.textin(pg_catalog.record_out(NEW)),\n"
			    "            pg_catalog.textin(pg_catalog.record_out(OLD)));\n", t->id);
	else if (stmt)	/* r.*: the whole row even when the table has a column "r" */
		buf_addf(b, "    INSERT INTO sync_fdw_src.changes (tbl, op, img)\n"
			    "    SELECT '%d'::pg_catalog.int2, '%c', pg_catalog.textin(pg_catalog.record_out(r.*))"
			    " FROM %s r;\n", t->id, o->op, o->transition);
	else
		buf_addf(b, "    INSERT INTO sync_fdw_src.changes (tbl, op, img)\n"
			    "    VALUES ('%d'::pg_catalog.int2, '%c', pg_catalog.textin(pg_catalog.record_out(%s)));\n",
			 t->id, o->op, o->row);
	buf_addf(b, "    RETURN NULL;\nEND $$;\n"
		    "REVOKE EXECUTE ON FUNCTION sync_fdw_src.capture_%d_%s() FROM PUBLIC;\n", t->id, o->name);
}

void sqlgen_capture_triggers(struct buf *b, const struct plan_table *t, enum sqlgen_capture_mode mode)
{
	sqlgen_capture_drop(b, t->src->name);
	for (size_t i = 0; mode != SQLGEN_CAPTURE_C && i < 3; i++)
		capture_function(b, t, &capture_ops[i],
				 mode == SQLGEN_CAPTURE_STATEMENT && capture_ops[i].transition);
	for (size_t i = 0; i < 3; i++) {
		const struct capture_op *o = &capture_ops[i];
		buf_addf(b, "CREATE TRIGGER sync_fdw_%s AFTER %s ON public.", o->name, o->event);
		sqlgen_ident(b, t->src->name);
		if (mode == SQLGEN_CAPTURE_STATEMENT && o->transition)
			buf_addf(b, " REFERENCING %s TABLE AS %s FOR EACH STATEMENT", o->op == 'I' ? "NEW" : "OLD",
				 o->transition);
		else
			buf_adds(b, " FOR EACH ROW");
		if (mode == SQLGEN_CAPTURE_C)
			buf_addf(b, " EXECUTE FUNCTION sync_fdw_src.capture_row('%d'%s);\n", t->id,
				 images_need_settings(t) ? ", 'settings'" : "");
		else
			buf_addf(b, " EXECUTE FUNCTION sync_fdw_src.capture_%d_%s();\n", t->id, o->name);
	}
	buf_adds(b, "CREATE TRIGGER sync_fdw_truncate BEFORE TRUNCATE ON public.");
	sqlgen_ident(b, t->src->name);
	buf_adds(b, " FOR EACH STATEMENT EXECUTE FUNCTION sync_fdw_src.refuse_truncate();\n");
}

/*
 * UPDATE SET c = <new value>, ... over the columns outside the identity, or
 * NOTHING when there are none.  The new value is EXCLUDED.c, or with p the
 * remapped (r).c.
 */
static void update_set(struct buf *b, const struct hop_plan *p, const struct plan_table *t,
		       const char *r)
{
	bool any = false;
	for (size_t i = 0; i < t->src->ncols; i++) {
		bool in_key = false;
		for (size_t k = 0; k < t->nident; k++)
			in_key |= t->ident[k] == i;
		if (in_key)
			continue;
		buf_adds(b, any ? ", " : "UPDATE SET ");
		sqlgen_ident(b, col(t, i));
		buf_adds(b, " = ");
		if (p) {
			remapped_col(b, p, t, r, i);
		} else {
			buf_adds(b, "EXCLUDED.");
			sqlgen_ident(b, col(t, i));
		}
		any = true;
	}
	if (!any)
		buf_adds(b, "NOTHING");
}

/* ON CONFLICT (identity) DO UPDATE SET other = EXCLUDED.other / DO NOTHING */
static void on_conflict(struct buf *b, const struct plan_table *t)
{
	buf_adds(b, " ON CONFLICT (");
	for (size_t k = 0; k < t->nident; k++) {
		if (k)
			buf_adds(b, ", ");
		sqlgen_ident(b, col(t, t->ident[k]));
	}
	buf_adds(b, ") DO ");
	update_set(b, NULL, t, NULL);
}

static bool keyed(const struct plan_table *t)
{
	return t->src->npk > 0;
}

/*
 * An INSERT giving the id of a GENERATED ALWAYS identity column is refused
 * unless it overrides the system value: the moved rows keep their ids.
 * Only where the target's table has one (the SQL stays as it was elsewhere).
 */
static void overriding(struct buf *b, const struct plan_table *t)
{
	const struct cat_table *tt = t->tgt ? t->tgt : t->src;
	for (size_t i = 0; i < tt->ncols; i++)
		if (tt->cols[i].identity == 'a') {
			buf_adds(b, " OVERRIDING SYSTEM VALUE");
			return;
		}
}

void sqlgen_copy(struct buf *b, const struct hop_plan *p, const struct plan_table *t,
		 const char *staging, bool ranged)
{
	buf_adds(b, "INSERT INTO public.");
	sqlgen_ident(b, t->src->name);
	buf_adds(b, " (");
	sqlgen_columns(b, t);
	buf_addc(b, ')');
	overriding(b, t);
	buf_adds(b, " SELECT ");
	sqlgen_remapped(b, p, t, "s");
	buf_adds(b, " FROM ");
	sqlgen_qualified(b, staging, t->src->name);
	buf_adds(b, " s");
	if (ranged && t->key >= 0) {
		buf_adds(b, " WHERE s.");
		sqlgen_ident(b, col(t, (size_t)t->key));
		buf_adds(b, " >= $1 AND s.");
		sqlgen_ident(b, col(t, (size_t)t->key));
		buf_adds(b, " < $2");
	}
	if (keyed(t) && t->conflict == HOP_CONFLICT_REPLACE)
		on_conflict(b, t);
}

/*
 * WHERE-clause: identity columns of the target row alias equal the remapped
 * identity of row expression r.  nulls: compare with IS NOT DISTINCT FROM
 * (keyless rows may hold NULLs), which no index serves; callers use "=" for
 * the rows without NULLs and this only for the others.
 */
static void ident_match_nulls(struct buf *b, const struct hop_plan *p, const struct plan_table *t,
			      const char *alias, const char *r, bool nulls)
{
	for (size_t k = 0; k < t->nident; k++) {
		if (k)
			buf_adds(b, " AND ");
		buf_addf(b, "%s.", alias);
		sqlgen_ident(b, col(t, t->ident[k]));
		buf_adds(b, nulls ? " IS NOT DISTINCT FROM " : " = ");
		remapped_col(b, p, t, r, t->ident[k]);
	}
}

static void ident_match(struct buf *b, const struct hop_plan *p, const struct plan_table *t,
			const char *alias, const char *r)
{
	ident_match_nulls(b, p, t, alias, r, !keyed(t));
}

/* (r).c1 IS NOT NULL AND (r).c2 IS NOT NULL ... over the identity */
static void ident_not_null(struct buf *b, const struct plan_table *t, const char *r)
{
	for (size_t k = 0; k < t->nident; k++) {
		buf_addf(b, "%s(%s).", k ? " AND " : "", r);
		sqlgen_ident(b, col(t, t->ident[k]));
		buf_adds(b, " IS NOT NULL");
	}
}

/* The row type of the table through the link: "staging"."t" */
static void rowtype(struct buf *b, const struct plan_table *t, const char *staging)
{
	sqlgen_qualified(b, staging, t->src->name);
}

/*
 * keyed: per key, the last change wins.  Rows (change_id, present, r) where
 * r is the image giving the key; an update that changes the key removes the
 * old key (present = false) and sets the new one.
 */
static void keyed_last(struct buf *b, const struct plan_table *t, const char *staging)
{
	buf_adds(b, "SELECT DISTINCT ON (");
	for (size_t k = 0; k < t->nident; k++) {
		if (k)
			buf_adds(b, ", ");
		buf_adds(b, "(x.r).");
		sqlgen_ident(b, col(t, t->ident[k]));
	}
	buf_adds(b, ") x.present, x.r FROM (SELECT c.change_id, c.op <> 'D' AS present, c.img::");
	rowtype(b, t, staging);
	buf_addf(b, " AS r FROM pg_temp.sync_batch c WHERE c.tbl = %d UNION ALL "
		    "SELECT c.change_id, false, c.old::", t->id);
	rowtype(b, t, staging);
	buf_addf(b, " FROM pg_temp.sync_batch c WHERE c.tbl = %d AND c.op = 'U') x ORDER BY ", t->id);
	for (size_t k = 0; k < t->nident; k++) {
		buf_adds(b, "(x.r).");
		sqlgen_ident(b, col(t, t->ident[k]));
		buf_adds(b, ", ");
	}
	buf_adds(b, "x.change_id DESC, x.present DESC");
}

/* keyless: net count per whole row */
static void keyless_net(struct buf *b, const struct plan_table *t, const char *staging)
{
	buf_adds(b, "SELECT x.r, sum(x.d)::bigint AS n FROM (SELECT c.img::");
	rowtype(b, t, staging);
	buf_addf(b, " AS r, CASE c.op WHEN 'D' THEN -1 ELSE 1 END AS d FROM pg_temp.sync_batch c "
		    "WHERE c.tbl = %d UNION ALL SELECT c.old::", t->id);
	rowtype(b, t, staging);
	buf_addf(b, ", -1 FROM pg_temp.sync_batch c WHERE c.tbl = %d AND c.op = 'U') x GROUP BY x.r",
		 t->id);
}

void sqlgen_apply_delete(struct buf *b, const struct hop_plan *p, const struct plan_table *t,
			 const char *staging)
{
	if (keyed(t)) {
		buf_adds(b, "DELETE FROM public.");
		sqlgen_ident(b, t->src->name);
		buf_adds(b, " t USING (");
		keyed_last(b, t, staging);
		buf_adds(b, ") k WHERE NOT k.present AND ");
		ident_match(b, p, t, "t", "k.r");
		return;
	}
	/* one ctid per copy to remove; rows without NULLs (the usual case) are
	 * matched with "=" so an index finds them, the others separately */
	for (int nulls = 0; nulls < 2; nulls++) {
		buf_adds(b, nulls ? ";\n" : "");
		buf_adds(b, "DELETE FROM public.");
		sqlgen_ident(b, t->src->name);
		buf_adds(b, " WHERE ctid IN (SELECT m.ctid FROM (SELECT t.ctid, k.n, row_number() OVER "
			    "(PARTITION BY k.r) AS i FROM (");
		keyless_net(b, t, staging);
		buf_adds(b, ") k JOIN public.");
		sqlgen_ident(b, t->src->name);
		buf_adds(b, " t ON ");
		ident_match_nulls(b, p, t, "t", "k.r", nulls);
		buf_adds(b, " WHERE k.n < 0 AND ");
		if (nulls)
			buf_adds(b, "NOT (");
		ident_not_null(b, t, "k.r");
		buf_adds(b, nulls ? ")) m WHERE m.i <= -m.n)" : ") m WHERE m.i <= -m.n)");
	}
}

void sqlgen_apply_upsert(struct buf *b, const struct hop_plan *p, const struct plan_table *t,
			 const char *staging)
{
	buf_adds(b, "INSERT INTO public.");
	sqlgen_ident(b, t->src->name);
	buf_adds(b, " (");
	sqlgen_columns(b, t);
	buf_addc(b, ')');
	overriding(b, t);
	buf_adds(b, " SELECT ");
	sqlgen_remapped(b, p, t, "k.r");
	buf_adds(b, " FROM (");
	if (keyed(t)) {
		keyed_last(b, t, staging);
		buf_adds(b, ") k WHERE k.present");
		on_conflict(b, t);
	} else {
		keyless_net(b, t, staging);
		buf_adds(b, ") k CROSS JOIN LATERAL generate_series(1, k.n) WHERE k.n > 0");
	}
}

void sqlgen_apply_merge(struct buf *b, const struct hop_plan *p, const struct plan_table *t,
			const char *staging)
{
	if (!keyed(t)) {
		sqlgen_apply_upsert(b, p, t, staging);
		return;
	}
	buf_adds(b, "MERGE INTO public.");
	sqlgen_ident(b, t->src->name);
	buf_adds(b, " t USING (");
	keyed_last(b, t, staging);
	buf_adds(b, ") k ON ");
	ident_match(b, p, t, "t", "k.r");
	buf_adds(b, " WHEN MATCHED AND NOT k.present THEN DELETE WHEN MATCHED THEN ");
	buf_adds(b, t->nident < t->src->ncols ? "" : "DO ");
	update_set(b, p, t, "k.r");
	buf_adds(b, " WHEN NOT MATCHED AND k.present THEN INSERT (");
	sqlgen_columns(b, t);
	buf_addc(b, ')');
	overriding(b, t);
	buf_adds(b, " VALUES (");
	sqlgen_remapped(b, p, t, "k.r");
	buf_adds(b, ")");
}

void sqlgen_apply_one(struct buf *b, const struct hop_plan *p, const struct plan_table *t,
		      const char *staging, char op)
{
	struct buf r = BUF_INIT, o = BUF_INIT;
	buf_adds(&r, "$1::");
	rowtype(&r, t, staging);
	buf_adds(&o, "$2::");
	rowtype(&o, t, staging);
	if (op == 'D' || op == 'U') {
		/* delete the old row (one copy for keyless tables) */
		const char *img = op == 'D' ? r.data : o.data;
		buf_adds(b, "WITH del AS (DELETE FROM public.");
		sqlgen_ident(b, t->src->name);
		buf_adds(b, " WHERE ctid = (SELECT t.ctid FROM public.");
		sqlgen_ident(b, t->src->name);
		buf_adds(b, " t WHERE ");
		ident_match(b, p, t, "t", img);
		buf_adds(b, " LIMIT 1) RETURNING 1) ");
	}
	if (op == 'D') {
		buf_adds(b, "SELECT count(*) FROM del");
	} else {
		buf_adds(b, "INSERT INTO public.");
		sqlgen_ident(b, t->src->name);
		buf_adds(b, " (");
		sqlgen_columns(b, t);
		buf_addc(b, ')');
		overriding(b, t);
		buf_adds(b, " SELECT ");
		sqlgen_remapped(b, p, t, r.data);
		if (op == 'U')
			buf_adds(b, " FROM (SELECT count(*) FROM del) d");
		if (keyed(t))
			on_conflict(b, t);
	}
	buf_release(&r);
	buf_release(&o);
}

void sqlgen_split_key_updates(struct buf *b, const struct plan_table *t, const char *staging)
{
	buf_addf(b, "WITH s AS (DELETE FROM pg_temp.sync_batch c WHERE c.tbl = %d AND c.op = 'U' AND (c.img::",
		 t->id);
	rowtype(b, t, staging);
	buf_adds(b, ").");
	sqlgen_ident(b, col(t, (size_t)t->key));
	buf_adds(b, " IS DISTINCT FROM (c.old::");
	rowtype(b, t, staging);
	buf_adds(b, ").");
	sqlgen_ident(b, col(t, (size_t)t->key));
	buf_adds(b, " RETURNING *) INSERT INTO pg_temp.sync_batch SELECT change_id, xid, tbl, 'D', old, NULL, ts "
		    "FROM s UNION ALL SELECT change_id, xid, tbl, 'I', img, NULL, ts FROM s");
}

void sqlgen_skip_copied(struct buf *b, const struct plan_table *t, const char *staging,
			const char *server_literal)
{
	buf_adds(b, "DELETE FROM pg_temp.sync_batch c USING sync_fdw.copied p WHERE p.server = ");
	buf_adds(b, server_literal);
	/* the pieces by the table's name: their numbers are those of the
	 * configuration at copy time, which capture install may renumber */
	buf_adds(b, " AND p.name = ");
	sqlgen_literal(b, t->src->name);
	buf_addf(b, " AND c.tbl = %d AND pg_visible_in_snapshot(c.xid, p.snapshot)", t->id);
	if (t->key >= 0) {
		/* the piece holding the row: by the key of the image */
		buf_adds(b, " AND (p.lo IS NULL OR ((c.img::");
		rowtype(b, t, staging);
		buf_adds(b, ").");
		sqlgen_ident(b, col(t, (size_t)t->key));
		buf_adds(b, " >= p.lo AND (c.img::");
		rowtype(b, t, staging);
		buf_adds(b, ").");
		sqlgen_ident(b, col(t, (size_t)t->key));
		buf_adds(b, " < p.hi))");
	}
}
