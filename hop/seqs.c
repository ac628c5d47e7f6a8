/*
 * seqs: the target's sequences against its ids; see seqs.h.
 */
#include "seqs.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "log.h"
#include "pgx.h"
#include "remap.h"
#include "sqlgen.h"
#include "util.h"
#include "banned.h"

static bool parse_i64(const char *s, int64_t *v)
{
	char *end;
	long long x = strtoll(s, &end, 10);
	*v = x;
	return *s && !*end;
}

static bool int_column(const struct cat_seq_use *u)
{
	int64_t a, b;
	return remap_type_range(u->type, &a, &b);
}

/* Whether a table of the hop draws from the sequence of uses[lo, hi). */
static bool of_hop(const struct hop *h, const struct cat_seq_use *uses, size_t lo, size_t hi)
{
	for (size_t i = lo; i < hi; i++)
		if (plan_table(&h->plan, uses[i].table) && int_column(&uses[i]))
			return true;
	return false;
}

/*
 * Measure one sequence (uses[lo, hi) are its columns) in one statement:
 * its position and the extreme id of each integer column drawing from it.
 */
static bool measure(struct hop *h, const struct cat_seq_use *uses, size_t lo, size_t hi,
		    struct seqs_state *st)
{
	struct buf sql = BUF_INIT, what = BUF_INIT;
	PGresult *r = NULL;
	bool ok = false;
	const char *agg = st->increment > 0 ? "max" : "min";
	int ncols = 0;

	buf_adds(&sql, "SELECT s.last_value, s.is_called");
	for (size_t i = lo; i < hi; i++) {
		if (!int_column(&uses[i]))
			continue;
		buf_addf(&sql, ", (SELECT %s(", agg);
		sqlgen_ident(&sql, uses[i].column);
		buf_adds(&sql, ")::bigint FROM public.");
		sqlgen_ident(&sql, uses[i].table);
		buf_addc(&sql, ')');
		ncols++;
	}
	/* the name is an identifier the server quoted (format %I) */
	buf_addf(&sql, " FROM %s s", st->sequence);
	buf_addf(&what, "read sequence %s and its columns' ids on the target", st->sequence);
	r = PQexec(h->tgt, sql.data);
	if (!pgx_check(r, PGRES_TUPLES_OK, 1, 2 + ncols, what.data))
		goto out;
	int64_t last;
	if (!parse_i64(PQgetvalue(r, 0, 0), &last)) {
		log_error("could not read sequence %s: last_value \"%s\" is not an integer", st->sequence,
			  PQgetvalue(r, 0, 0));
		goto out;
	}
	if (PQgetvalue(r, 0, 1)[0] != 't')
		st->next = last;
	else if (__builtin_add_overflow(last, st->increment, &st->next) ||
		 (st->increment > 0 ? st->next > st->max : st->next < st->min))
		st->exhausted = true;
	int f = 2;
	for (size_t i = lo; i < hi; i++) {
		if (!int_column(&uses[i]))
			continue;
		int64_t v;
		if (!PQgetisnull(r, 0, f) && parse_i64(PQgetvalue(r, 0, f), &v) &&
		    (!st->has_ids || (st->increment > 0 ? v > st->extreme : v < st->extreme))) {
			st->has_ids = true;
			st->extreme = v;
			free(st->column);
			struct buf col = BUF_INIT;
			buf_addf(&col, "%s.%s", uses[i].table, uses[i].column);
			st->column = xstrdup(col.data);
			buf_release(&col);
		}
		f++;
	}
	st->clear = !st->has_ids ||
		    (!st->exhausted && (st->increment > 0 ? st->next > st->extreme : st->next < st->extreme));
	ok = true;
out:
	PQclear(r);
	buf_release(&sql);
	buf_release(&what);
	return ok;
}

bool seqs_read(struct hop *h, struct seqs *out)
{
	struct cat cat;
	bool ok = false;
	memset(out, 0, sizeof *out);
	if (!cat_read_sequences(h->tgt, "public", "read the target's sequences", &cat))
		return false;
	for (size_t lo = 0, hi; lo < cat.nseqs; lo = hi) {
		for (hi = lo + 1; hi < cat.nseqs && strcmp(cat.seqs[hi].sequence, cat.seqs[lo].sequence) == 0;
		     hi++)
			;
		if (!of_hop(h, cat.seqs, lo, hi))
			continue;
		struct seqs_state *s = realloc(out->s, (out->n + 1) * sizeof *out->s);
		if (!s)
			abort();
		out->s = s;
		struct seqs_state *st = &out->s[out->n++];
		memset(st, 0, sizeof *st);
		st->sequence = xstrdup(cat.seqs[lo].sequence);
		st->increment = cat.seqs[lo].increment;
		st->min = cat.seqs[lo].min;
		st->max = cat.seqs[lo].max;
		if (!measure(h, cat.seqs, lo, hi, st))
			goto out;
	}
	ok = true;
out:
	cat_release(&cat);
	if (!ok)
		seqs_release(out);
	return ok;
}

void seqs_release(struct seqs *seqs)
{
	for (size_t i = 0; i < seqs->n; i++) {
		free(seqs->s[i].sequence);
		free(seqs->s[i].column);
	}
	free(seqs->s);
	memset(seqs, 0, sizeof *seqs);
}

/*
 * setval(extreme, is_called): nextval then gives extreme + increment.  The
 * statement checks the sequence's position again, so a value drawn since it
 * was measured is never handed out twice.
 */
static bool set_one(struct hop *h, const struct seqs_state *st, bool *moved)
{
	struct buf sql = BUF_INIT, what = BUF_INIT, ext = BUF_INIT, inc = BUF_INIT;
	bool up = st->increment > 0;
	*moved = false;
	if (up ? st->extreme >= st->max : st->extreme <= st->min) {
		log_error("sequence %s cannot go %s %" PRId64 ", the %s id of %s: its %s is %" PRId64
			  "\nhint: ALTER SEQUENCE %s %s (or AS bigint), then run the cutover again",
			  st->sequence, up ? "above" : "below", st->extreme, up ? "largest" : "smallest",
			  st->column, up ? "MAXVALUE" : "MINVALUE", up ? st->max : st->min, st->sequence,
			  up ? "MAXVALUE ..." : "MINVALUE ...");
		return false;
	}
	buf_addf(&ext, "%" PRId64, st->extreme);
	buf_addf(&inc, "%" PRId64, st->increment);
	const char *p[] = { st->sequence, ext.data, inc.data };
	buf_addf(&sql, "SELECT setval($1::regclass, $2::bigint, true) FROM %s s"
		       " WHERE CASE WHEN s.is_called THEN s.last_value::numeric + $3::bigint"
		       " ELSE s.last_value END %s $2::bigint", st->sequence, up ? "<=" : ">=");
	buf_addf(&what, "set sequence %s on the target beyond %s", st->sequence, st->column);
	PGresult *r = PQexecParams(h->tgt, sql.data, 3, NULL, p, NULL, NULL, 0);
	bool ok = pgx_check(r, PGRES_TUPLES_OK, -1, 1, what.data);
	if (ok && PQntuples(r) == 1) {
		*moved = true;
		log_info("sequence %s set to %" PRId64 " (%s %s)", st->sequence, st->extreme,
			 up ? "the largest id of" : "the smallest id of", st->column);
	}
	PQclear(r);
	buf_release(&sql);
	buf_release(&what);
	buf_release(&ext);
	buf_release(&inc);
	return ok;
}

bool seqs_set(struct hop *h, int *count, int *moved)
{
	struct seqs seqs;
	bool ok = true;
	*count = *moved = 0;
	if (!seqs_read(h, &seqs))
		return false;
	for (size_t i = 0; ok && i < seqs.n; i++) {
		const struct seqs_state *st = &seqs.s[i];
		bool m = false;
		(*count)++;
		if (st->clear)
			continue;
		if (st->exhausted) {
			/* not the hop's doing, and setval would move it back: say so */
			log_warn("sequence %s on the target is at its %s: the next insert drawing from it fails "
				 "(or, cycling, lands on %s's ids)\nhint: ALTER SEQUENCE %s %s",
				 st->sequence, st->increment > 0 ? "MAXVALUE" : "MINVALUE", st->column,
				 st->sequence, st->increment > 0 ? "MAXVALUE ..." : "MINVALUE ...");
			continue;
		}
		ok = set_one(h, st, &m);
		if (m)
			(*moved)++;
	}
	seqs_release(&seqs);
	return ok;
}
