/*
 * catalog: reading pg_catalog; see catalog.h.
 */
#include "catalog.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pgx.h"
#include "banned.h"

static char *dup_or_null(PGresult *r, int row, int col)
{
	if (PQgetisnull(r, row, col))
		return NULL;
	char *s = strdup(PQgetvalue(r, row, col));
	if (!s)
		abort();
	return s;
}

static struct cat_table *find(struct cat *cat, const char *name)
{
	for (size_t i = 0; i < cat->ntables; i++)
		if (strcmp(cat->tables[i].name, name) == 0)
			return &cat->tables[i];
	return NULL;
}

static void *grow(void *p, size_t n, size_t size)
{
	void *q = realloc(p, (n + 1) * size);
	if (!q)
		abort();
	memset((char *)q + n * size, 0, size);
	return q;
}

bool cat_read(PGconn *c, const char *schema, const char *what, struct cat *out)
{
	PGresult *r = NULL;
	bool ok = false;
	const char *params[] = { schema };
	memset(out, 0, sizeof *out);

	r = PQexecParams(c,
		"SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,"
		"       pg_get_serial_sequence(format('%I.%I', n.nspname, c.relname), a.attname)"
		"  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
		"  JOIN pg_attribute a ON a.attrelid = c.oid"
		" WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition"
		"   AND a.attnum > 0 AND NOT a.attisdropped"
		" ORDER BY c.relname, a.attnum", 1, NULL, params, NULL, NULL, 0);
	if (!pgx_check(r, PGRES_TUPLES_OK, -1, 5, what))
		goto out;
	for (int i = 0; i < PQntuples(r); i++) {
		const char *tname = PQgetvalue(r, i, 0);
		struct cat_table *t = find(out, tname);
		if (!t) {
			out->tables = grow(out->tables, out->ntables, sizeof *out->tables);
			t = &out->tables[out->ntables++];
			t->name = dup_or_null(r, i, 0);
		}
		t->cols = grow(t->cols, t->ncols, sizeof *t->cols);
		struct cat_column *col = &t->cols[t->ncols++];
		col->name = dup_or_null(r, i, 1);
		col->type = dup_or_null(r, i, 2);
		col->notnull = PQgetvalue(r, i, 3)[0] == 't';
		col->sequence = dup_or_null(r, i, 4);
	}
	PQclear(r);

	/* primary keys, in key order */
	r = PQexecParams(c,
		"SELECT c.relname, a.attname"
		"  FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid"
		"  JOIN pg_namespace n ON n.oid = c.relnamespace"
		"  CROSS JOIN LATERAL unnest(k.conkey) WITH ORDINALITY AS u(attnum, ord)"
		"  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = u.attnum"
		" WHERE n.nspname = $1 AND k.contype = 'p'"
		" ORDER BY c.relname, u.ord", 1, NULL, params, NULL, NULL, 0);
	if (!pgx_check(r, PGRES_TUPLES_OK, -1, 2, what))
		goto out;
	for (int i = 0; i < PQntuples(r); i++) {
		struct cat_table *t = find(out, PQgetvalue(r, i, 0));
		if (!t)
			continue;
		int col = cat_column(t, PQgetvalue(r, i, 1));
		if (col < 0)
			continue;
		t->pk = grow(t->pk, t->npk, sizeof *t->pk);
		t->pk[t->npk++] = (size_t)col;
	}
	PQclear(r);

	/* single-column foreign keys within the schema */
	r = PQexecParams(c,
		"SELECT c.relname, a.attname, rc.relname, ra.attname"
		"  FROM pg_constraint k"
		"  JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
		"  JOIN pg_class rc ON rc.oid = k.confrelid JOIN pg_namespace rn ON rn.oid = rc.relnamespace"
		"  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.conkey[1]"
		"  JOIN pg_attribute ra ON ra.attrelid = rc.oid AND ra.attnum = k.confkey[1]"
		" WHERE n.nspname = $1 AND rn.nspname = $1 AND k.contype = 'f'"
		"   AND array_length(k.conkey, 1) = 1"
		" ORDER BY c.relname, k.conname", 1, NULL, params, NULL, NULL, 0);
	if (!pgx_check(r, PGRES_TUPLES_OK, -1, 4, what))
		goto out;
	for (int i = 0; i < PQntuples(r); i++) {
		struct cat_table *t = find(out, PQgetvalue(r, i, 0));
		if (!t)
			continue;
		t->fks = grow(t->fks, t->nfks, sizeof *t->fks);
		struct cat_fk *fk = &t->fks[t->nfks++];
		fk->column = dup_or_null(r, i, 1);
		fk->ref_table = dup_or_null(r, i, 2);
		fk->ref_column = dup_or_null(r, i, 3);
	}
	PQclear(r);

	r = PQexecParams(c,
		"SELECT c.relname, ic.relname, pg_get_indexdef(i.indexrelid), i.indisprimary"
		"  FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid"
		"  JOIN pg_class ic ON ic.oid = i.indexrelid"
		"  JOIN pg_namespace n ON n.oid = c.relnamespace"
		" WHERE n.nspname = $1 ORDER BY c.relname, ic.relname", 1, NULL, params, NULL, NULL, 0);
	if (!pgx_check(r, PGRES_TUPLES_OK, -1, 4, what))
		goto out;
	for (int i = 0; i < PQntuples(r); i++) {
		struct cat_table *t = find(out, PQgetvalue(r, i, 0));
		if (!t)
			continue;
		t->indexes = grow(t->indexes, t->nindexes, sizeof *t->indexes);
		struct cat_index *ix = &t->indexes[t->nindexes++];
		ix->name = dup_or_null(r, i, 1);
		ix->def = dup_or_null(r, i, 2);
		ix->primary = PQgetvalue(r, i, 3)[0] == 't';
	}
	ok = true;
out:
	PQclear(r);
	if (!ok)
		cat_release(out);
	return ok;
}

void cat_release(struct cat *cat)
{
	for (size_t i = 0; i < cat->ntables; i++) {
		struct cat_table *t = &cat->tables[i];
		for (size_t k = 0; k < t->ncols; k++) {
			free(t->cols[k].name);
			free(t->cols[k].type);
			free(t->cols[k].sequence);
		}
		for (size_t k = 0; k < t->nfks; k++) {
			free(t->fks[k].column);
			free(t->fks[k].ref_table);
			free(t->fks[k].ref_column);
		}
		for (size_t k = 0; k < t->nindexes; k++) {
			free(t->indexes[k].name);
			free(t->indexes[k].def);
		}
		free(t->indexes);
		free(t->name);
		free(t->cols);
		free(t->pk);
		free(t->fks);
	}
	free(cat->tables);
	memset(cat, 0, sizeof *cat);
}

const struct cat_table *cat_table(const struct cat *cat, const char *name)
{
	for (size_t i = 0; i < cat->ntables; i++)
		if (strcmp(cat->tables[i].name, name) == 0)
			return &cat->tables[i];
	return NULL;
}

int cat_column(const struct cat_table *t, const char *name)
{
	for (size_t i = 0; i < t->ncols; i++)
		if (strcmp(t->cols[i].name, name) == 0)
			return (int)i;
	return -1;
}
