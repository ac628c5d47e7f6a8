/*
 * indexes: the copy's index deferral; see indexes.h.
 */
#include "indexes.h"

#include <stdlib.h>
#include <string.h>

#include "hop_queries.h"
#include "log.h"
#include "pgx.h"
#include "sqlgen.h"
#include "util.h"
#include "banned.h"

/* The number of key columns of an index definition (commas between its
 * first parenthesis and a WHERE clause, plus one). */
static size_t index_width(const char *def)
{
	const char *s = strchr(def, '('), *end = strstr(def, " WHERE ");
	size_t n = 1;
	for (; s && *s && (!end || s < end); s++)
		n += *s == ',';
	return n;
}

static int by_width_desc(const void *a, const void *b)
{
	size_t wa = ((const struct copy_index *)a)->width, wb = ((const struct copy_index *)b)->width;
	return wa < wb ? 1 : wa > wb ? -1 : 0;
}

static bool index_exists(PGconn *c, const char *name, bool *exists)
{
	const char *p[] = { name };
	PGresult *r = PQexecParams(c, "SELECT to_regclass(format('public.%I', $1::text)) IS NOT NULL",
				   1, NULL, p, NULL, NULL, 0);
	bool ok = pgx_check(r, PGRES_TUPLES_OK, 1, 1, "look for an index");
	*exists = ok && PQgetvalue(r, 0, 0)[0] == 't';
	PQclear(r);
	return ok;
}

static bool forget_index(struct hop *h, PGconn *c, const char *name)
{
	const char *d[] = { h->server, name };
	PGresult *r = PQexecParams(c, "DELETE FROM sync_fdw.copy_index WHERE server = $1 AND name = $2",
				   2, NULL, d, NULL, NULL, 0);
	bool ok = pgx_check(r, PGRES_COMMAND_OK, -1, -1, "forget a rebuilt index");
	PQclear(r);
	return ok;
}

bool indexes_build(struct hop *h, PGconn *tgt, const struct copy_index *d)
{
	bool exists = false;
	bool ok = hop_exec(tgt, "BEGIN; SET LOCAL maintenance_work_mem = '256MB'", "begin an index build") &&
		  index_exists(tgt, d->name, &exists) &&
		  (exists || hop_exec(tgt, d->def, "rebuild an index")) &&
		  (d->kind != 'i' || forget_index(h, tgt, d->name)) &&
		  hop_exec(tgt, "COMMIT", "commit an index build");
	if (ok)
		log_info("rebuilt index \"%s\"", d->name);
	hop_rollback(tgt);
	return ok;
}

bool indexes_finish(struct hop *h, PGconn *tgt, const struct copy_indexes *ix, const char *name)
{
	bool ok = true;
	for (size_t i = 0; ok && i < ix->n; i++) {
		const struct copy_index *d = &ix->v[i];
		if (d->kind == 'i' || strcmp(d->tbl, name) != 0)
			continue;
		const char *p[] = { d->name, name };
		PGresult *r = PQexecParams(tgt, hq_indexes_constraint_attached, 2, NULL, p, NULL, NULL, 0);
		ok = pgx_check(r, PGRES_TUPLES_OK, 1, 1, "look for a constraint");
		bool attached = ok && PQgetvalue(r, 0, 0)[0] == 't';
		PQclear(r);
		struct buf sql = BUF_INIT;
		buf_adds(&sql, "ALTER TABLE public.");
		sqlgen_ident(&sql, name);
		buf_adds(&sql, " ADD CONSTRAINT ");
		sqlgen_ident(&sql, d->name);
		buf_adds(&sql, d->kind == 'p' ? " PRIMARY KEY USING INDEX " : " UNIQUE USING INDEX ");
		sqlgen_ident(&sql, d->name);
		ok = ok && hop_exec(tgt, "BEGIN", "begin") &&
		     (attached || hop_exec(tgt, sql.data, "attach a constraint to its index")) &&
		     forget_index(h, tgt, d->name) && hop_exec(tgt, "COMMIT", "commit");
		buf_release(&sql);
		hop_rollback(tgt);
	}
	struct buf an = BUF_INIT;
	buf_adds(&an, "ANALYZE public.");
	sqlgen_ident(&an, name);
	ok = ok && hop_exec(tgt, an.data, "analyze a copied table");
	buf_release(&an);
	return ok;
}

bool indexes_defer(struct hop *h, const struct plan_table *t)
{
	for (size_t i = 0; i < t->tgt->nindexes; i++) {
		const struct cat_index *ix = &t->tgt->indexes[i];
		const char *p[] = { ix->name };
		PGresult *r = PQexecParams(h->tgt, hq_indexes_describe, 1, NULL, p, NULL, NULL, 0);
		if (!pgx_check(r, PGRES_TUPLES_OK, -1, 3, "look at an index")) {
			PQclear(r);
			return false;
		}
		char kind = PQntuples(r) == 1 ? PQgetvalue(r, 0, 0)[0] : 'x';
		bool keep = kind == 'x' || PQntuples(r) != 1 || PQgetvalue(r, 0, 1)[0] == 't';
		char *def = keep ? NULL : xstrdup(PQgetvalue(r, 0, 2));
		PQclear(r);
		if (keep)
			continue;
		char kinds[2] = { kind, 0 };
		const char *q[] = { h->server, ix->name, def, t->src->name, kinds };
		bool ok = hop_exec(h->tgt, "BEGIN", "begin");
		r = PQexecParams(h->tgt, hq_indexes_remember, 5, NULL, q, NULL, NULL, 0);
		ok = ok && pgx_check(r, PGRES_COMMAND_OK, -1, -1, "remember an index");
		PQclear(r);
		free(def);
		struct buf sql = BUF_INIT;
		if (kind == 'i') {
			buf_adds(&sql, "DROP INDEX public.");
			sqlgen_ident(&sql, ix->name);
		} else {
			buf_adds(&sql, "ALTER TABLE public.");
			sqlgen_ident(&sql, t->src->name);
			buf_adds(&sql, " DROP CONSTRAINT ");
			sqlgen_ident(&sql, ix->name);
		}
		ok = ok && hop_exec(h->tgt, sql.data, "drop an index for the copy") &&
		     hop_exec(h->tgt, "COMMIT", "commit");
		buf_release(&sql);
		if (!ok) {
			hop_rollback(h->tgt);
			return false;
		}
	}
	return true;
}

bool indexes_read(struct hop *h, struct copy_indexes *out)
{
	const char *p[] = { h->server };
	out->v = NULL;
	out->n = 0;
	PGresult *r = PQexecParams(h->tgt, hq_indexes_dropped, 1, NULL, p, NULL, NULL, 0);
	bool ok = pgx_check(r, PGRES_TUPLES_OK, -1, 4, "read the dropped indexes");
	if (ok && PQntuples(r) > 0) {
		out->n = (size_t)PQntuples(r);
		out->v = calloc(out->n, sizeof *out->v);
		if (!out->v)
			abort();
		for (size_t i = 0; i < out->n; i++) {
			out->v[i].name = xstrdup(PQgetvalue(r, (int)i, 0));
			out->v[i].def = xstrdup(PQgetvalue(r, (int)i, 1));
			out->v[i].tbl = xstrdup(PQgetvalue(r, (int)i, 2));
			out->v[i].kind = PQgetvalue(r, (int)i, 3)[0];
			out->v[i].width = index_width(out->v[i].def);
		}
		qsort(out->v, out->n, sizeof *out->v, by_width_desc);
	}
	PQclear(r);
	return ok;
}

void indexes_release(struct copy_indexes *ix)
{
	for (size_t i = 0; i < ix->n; i++) {
		free(ix->v[i].name);
		free(ix->v[i].def);
		free(ix->v[i].tbl);
	}
	free(ix->v);
	ix->v = NULL;
	ix->n = 0;
}
