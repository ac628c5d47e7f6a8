/*
 * catalog: reading pg_catalog; see catalog.h.
 */
#include "catalog.h"

#include <stdlib.h>
#include <string.h>

#include "hop_queries.h"
#include "log.h"
#include "pgx.h"
#include "util.h"
#include "banned.h"

static char *dup_or_null(PGresult *r, int row, int col)
{
	if (PQgetisnull(r, row, col))
		return NULL;
	return xstrdup(PQgetvalue(r, row, col));
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

/* The columns that draw from a sequence, appended to out->seqs: which
 * ones, and why not pg_get_serial_sequence, is said at catalog_sequence_uses
 * (sql/hop/queries/catalog.sql). */
static bool read_seqs(PGconn *c, const char *schema, const char *what, struct cat *out)
{
	const char *params[] = { schema };
	PGresult *r = PQexecParams(c, hq_catalog_sequence_uses, 1, NULL, params, NULL, NULL, 0);
	bool ok = pgx_check(r, PGRES_TUPLES_OK, -1, 8, what);
	for (int i = 0; ok && i < PQntuples(r); i++) {
		out->seqs = grow(out->seqs, out->nseqs, sizeof *out->seqs);
		struct cat_seq_use *u = &out->seqs[out->nseqs++];
		u->sequence = dup_or_null(r, i, 0);
		u->table = dup_or_null(r, i, 1);
		u->column = dup_or_null(r, i, 2);
		u->type = dup_or_null(r, i, 3);
		u->kind = PQgetvalue(r, i, 4)[0];
		u->increment = strtoll(PQgetvalue(r, i, 5), NULL, 10);
		u->min = strtoll(PQgetvalue(r, i, 6), NULL, 10);
		u->max = strtoll(PQgetvalue(r, i, 7), NULL, 10);
	}
	PQclear(r);
	return ok;
}

bool cat_read_sequences(PGconn *c, const char *schema, const char *what, struct cat *out)
{
	memset(out, 0, sizeof *out);
	if (read_seqs(c, schema, what, out))
		return true;
	cat_release(out);
	return false;
}

/* Each column's sequence: its identity or owned one, else one its default
 * names (the first by name when it names several). */
static void column_sequences(struct cat *cat)
{
	for (size_t i = 0; i < cat->nseqs; i++) {
		const struct cat_seq_use *u = &cat->seqs[i];
		struct cat_table *t = find(cat, u->table);
		int k = t ? cat_column(t, u->column) : -1;
		if (k < 0)
			continue;
		struct cat_column *col = &t->cols[k];
		if (col->sequence && u->kind == 'd')
			continue;
		free(col->sequence);
		col->sequence = xstrdup(u->sequence);
	}
}

bool cat_read(PGconn *c, const char *schema, const char *what, struct cat *out)
{
	PGresult *r = NULL;
	bool ok = false;
	const char *params[] = { schema };
	memset(out, 0, sizeof *out);

	r = PQexecParams(c, hq_catalog_columns, 1, NULL, params, NULL, NULL, 0);
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
		col->identity = PQgetvalue(r, i, 4)[0];
	}
	PQclear(r);
	r = NULL;
	if (!read_seqs(c, schema, what, out))
		goto out;
	column_sequences(out);

	r = PQexecParams(c, hq_catalog_primary_keys, 1, NULL, params, NULL, NULL, 0);
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

	r = PQexecParams(c, hq_catalog_foreign_keys, 1, NULL, params, NULL, NULL, 0);
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

	r = PQexecParams(c, hq_catalog_indexes, 1, NULL, params, NULL, NULL, 0);
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
	for (size_t i = 0; i < cat->nseqs; i++) {
		free(cat->seqs[i].sequence);
		free(cat->seqs[i].table);
		free(cat->seqs[i].column);
		free(cat->seqs[i].type);
	}
	free(cat->seqs);
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
