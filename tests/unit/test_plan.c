/*
 * Unit tests for hop/plan.c without a database: plan_choose() over
 * catalogs built by hand (tables, keys, references, their order and the
 * problems the configuration alone shows), plan_json() of such a plan, and
 * the failure contracts of plan_build() and hop_replan() on a database that
 * cannot be reached (nothing left behind, nothing leaked: run under the
 * sanitizers or valgrind).  Links plan.c and hop.c with what they pull in
 * (catalog, pgx, libpq); the embedded SQL is stubbed (never read here).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hop.h"
#include "hopcfg.h"
#include "log.h"
#include "plan.h"
#include "report.h"
#include "util.h"
#include "banned.h"

/* hop.c names the embedded SQL; these tests never run any */
const struct embedded_file hop_sql[] = { { "none.sql", "", 0 } };
const unsigned hop_sql_count = 1;

/* ---- catalogs by hand (heap-allocated: plan_release frees them) -------- */

static void add_col(struct cat_table *t, const char *name, const char *type, bool notnull, const char *seq)
{
	t->cols = realloc(t->cols, (t->ncols + 1) * sizeof *t->cols);
	assert_non_null(t->cols);
	t->cols[t->ncols++] = (struct cat_column){ xstrdup(name), xstrdup(type), notnull,
						   seq ? xstrdup(seq) : NULL, 0 };
}

static struct cat_table *add_table(struct cat *c, const char *name)
{
	c->tables = realloc(c->tables, (c->ntables + 1) * sizeof *c->tables);
	assert_non_null(c->tables);
	struct cat_table *t = &c->tables[c->ntables++];
	memset(t, 0, sizeof *t);
	t->name = xstrdup(name);
	return t;
}

static void set_pk(struct cat_table *t, size_t col)
{
	t->pk = calloc(1, sizeof *t->pk);
	assert_non_null(t->pk);
	t->pk[0] = col;
	t->npk = 1;
}

static void add_fk(struct cat_table *t, const char *col, const char *table, const char *ref_col)
{
	t->fks = realloc(t->fks, (t->nfks + 1) * sizeof *t->fks);
	assert_non_null(t->fks);
	t->fks[t->nfks++] = (struct cat_fk){ xstrdup(col), xstrdup(table), xstrdup(ref_col) };
}

/*
 * MiniTwit's shape, listed children first so that the order must be
 * computed: message (author_id -> user by foreign key), follower (keyless,
 * who_id -> user by refs:), user (serial key), latest (natural key).
 */
static void minitwit(struct cat *c)
{
	struct cat_table *t = add_table(c, "message");
	add_col(t, "message_id", "integer", true, "public.message_message_id_seq");
	add_col(t, "author_id", "integer", true, NULL);
	add_col(t, "text", "text", true, NULL);
	set_pk(t, 0);
	add_fk(t, "author_id", "user", "user_id");
	t = add_table(c, "follower");
	add_col(t, "who_id", "integer", false, NULL);
	add_col(t, "whom_id", "integer", false, NULL);
	t = add_table(c, "user");
	add_col(t, "user_id", "integer", true, "public.user_user_id_seq");
	add_col(t, "username", "text", true, NULL);
	set_pk(t, 0);
	t = add_table(c, "latest");
	add_col(t, "id", "integer", true, NULL);
	add_col(t, "value", "bigint", true, NULL);
	set_pk(t, 0);
}

static char *write_config(const char *tables)
{
	char tmpl[] = "/tmp/test_plan-XXXXXX";
	int fd = mkstemp(tmpl);
	assert_true(fd >= 0);
	struct buf b = BUF_INIT;
	buf_addf(&b, "source:\n  dsn: \"host=/nonexistent dbname=a\"\ntarget:\n  dsn: \"host=/nonexistent dbname=b\"\n"
		     "tables:\n%s", tables);
	assert_int_equal(write(fd, b.data, b.len), (ssize_t)b.len);
	close(fd);
	buf_release(&b);
	return xstrdup(tmpl);
}

static void load(struct hop_config *cfg, const char *tables)
{
	struct cfg_error err;
	char *path = write_config(tables);
	bool ok = hopcfg_load(path, cfg, &err);
	if (!ok)
		fprintf(stderr, "%s\n", err.msg);
	assert_true(ok);
	unlink(path);
	free(path);
}

/* The plan chosen for the tables: config over MiniTwit's source catalog
 * (and the same target catalog when target). */
static void choose(struct hop_config *cfg, struct hop_plan *p, const char *tables, bool target)
{
	memset(p, 0, sizeof *p);
	load(cfg, tables);
	minitwit(&p->src);
	if (target)
		minitwit(&p->tgt);
	plan_choose(cfg, p);
}

static const struct plan_table *table(const struct hop_plan *p, const char *name)
{
	const struct plan_table *t = plan_table(p, name);
	assert_non_null(t);
	return t;
}

/* ---- plan_choose ----------------------------------------------------------- */

static void test_choose_keys_refs_order(void **state)
{
	struct hop_config cfg;
	struct hop_plan p;
	choose(&cfg, &p, "  message: { offset: auto }\n  follower: { refs: { who_id: user, whom_id: user } }\n"
			 "  user: { offset: auto }\n  latest: { conflict: replace }\n", true);

	assert_int_equal(p.n, 4);
	assert_int_equal(p.nproblems, 0);
	const struct plan_table *m = table(&p, "message"), *f = table(&p, "follower");
	const struct plan_table *u = table(&p, "user"), *l = table(&p, "latest");
	/* keys: the integer primary key; none for the keyless table */
	assert_int_equal(m->key, 0);
	assert_int_equal(u->key, 0);
	assert_int_equal(f->key, -1);
	assert_int_equal(l->key, 0);
	/* a key without a sequence is natural: replace, offset not auto */
	assert_true(l->natural);
	assert_false(l->offset_auto);
	assert_int_equal(l->conflict, HOP_CONFLICT_REPLACE);
	assert_false(u->natural);
	assert_true(u->offset_auto);
	assert_int_equal(u->conflict, HOP_CONFLICT_REFUSE);
	/* identity: the primary key, or the whole row */
	assert_int_equal(m->nident, 1);
	assert_int_equal(f->nident, 2);
	/* references: from the foreign key and from refs: */
	assert_int_equal(m->nrefs, 1);
	assert_true(m->refs[0].from_fk);
	assert_int_equal(m->refs[0].col, 1);
	assert_ptr_equal(&p.t[m->refs[0].table], u);
	assert_int_equal(f->nrefs, 2);
	assert_false(f->refs[0].from_fk);
	/* parents before children */
	size_t pos_user = p.n, pos_message = p.n, pos_follower = p.n;
	for (size_t k = 0; k < p.n; k++) {
		const struct plan_table *t = &p.t[p.order[k]];
		if (t == u)
			pos_user = k;
		else if (t == m)
			pos_message = k;
		else if (t == f)
			pos_follower = k;
	}
	assert_true(pos_user < pos_message);
	assert_true(pos_user < pos_follower);
	plan_release(&p);
	assert_null(p.t);
	hopcfg_release(&cfg);
}

static void test_choose_problems(void **state)
{
	struct hop_config cfg;
	struct hop_plan p;
	choose(&cfg, &p, "  user: { key: username }\n  nosuch: {}\n  message: { refs: { text: user, ghost: user } }\n"
			 "  latest: { conflict: append }\n", false);

	assert_int_equal(p.n, 3);
	assert_int_equal(p.nproblems, 5);
	struct buf text = BUF_INIT;
	plan_problems_text(&p, &text);
	/* the one text form: message, then a hint: line */
	assert_non_null(strstr(text.data, "table \"user\": key column \"username\" is text, not an integer\n"
					  "hint: only smallint, integer and bigint keys can be remapped\n"));
	assert_non_null(strstr(text.data, ": table \"nosuch\" is not in the source's public schema\nhint: "));
	assert_non_null(strstr(text.data, "refs column \"ghost\" does not exist\nhint: the table's columns are: "
					  "message_id, author_id, text\n"));
	assert_non_null(strstr(text.data, "names table \"user\", which has no integer key\nhint: give that table "
					  "a key:\n"));
	assert_non_null(strstr(text.data, "table \"latest\": conflict: append is for tables without a primary "
					  "key\nhint: "));
	for (size_t i = 0; i < p.nproblems; i++) {
		assert_non_null(p.problems[i].hint);
		assert_null(p.problems[i].detail);
	}
	buf_release(&text);
	plan_release(&p);
	assert_null(p.problems);
	assert_int_equal(p.nproblems, 0);
	hopcfg_release(&cfg);
}

/* ---- plan_json --------------------------------------------------------------- */

static void test_json(void **state)
{
	struct hop_config cfg;
	struct hop_plan p;
	choose(&cfg, &p, "  user: { offset: 1000 }\n  message: {}\n  follower: { refs: { who_id: user } }\n", false);
	struct plan_table *u = (struct plan_table *)table(&p, "user");
	u->src_min = 1;
	u->src_max = 5;
	u->src_rows = 5;
	u->headroom = 42;
	u->headroom_target = true;
	/* a problem whose text holds what the old text form would split on */
	plan_problem(&p, "say \"yes\"\nhint: still the hint", "a \"quoted\" problem\n  hint: not a hint");
	plan_problem(&p, NULL, "no hint here");

	struct buf out = BUF_INIT;
	json_t *built = plan_json(&p);
	report_json(&out, built);
	json_decref(built);
	json_error_t err;
	json_t *j = json_loads(out.data, 0, &err);
	assert_non_null(j);
	json_t *tables = json_object_get(j, "tables");
	assert_int_equal(json_array_size(tables), 3);
	/* parents first: user */
	json_t *t0 = json_array_get(tables, 0);
	assert_string_equal(json_string_value(json_object_get(t0, "name")), "user");
	assert_string_equal(json_string_value(json_object_get(t0, "key")), "user_id");
	assert_int_equal(json_integer_value(json_object_get(t0, "offset")), 1000);
	assert_true(json_is_false(json_object_get(t0, "offset_auto")));
	assert_string_equal(json_string_value(json_object_get(t0, "conflict")), "refuse");
	assert_int_equal(json_integer_value(json_object_get(t0, "headroom")), 42);
	assert_string_equal(json_string_value(json_object_get(t0, "headroom_until")), "target id");
	json_t *ids = json_object_get(t0, "source_ids");
	assert_int_equal(json_integer_value(json_array_get(ids, 0)), 1);
	assert_int_equal(json_integer_value(json_array_get(ids, 1)), 5);
	ids = json_object_get(t0, "ids_after");
	assert_int_equal(json_integer_value(json_array_get(ids, 0)), 1001);
	assert_int_equal(json_integer_value(json_array_get(ids, 1)), 1005);
	assert_true(json_is_null(json_object_get(t0, "target_ids")));
	assert_string_equal(json_string_value(json_object_get(t0, "sequence")), "public.user_user_id_seq");
	assert_true(json_is_false(json_object_get(t0, "target_has_table")));
	/* every key, in this order */
	static const char *const keys[] = { "name", "key", "offset", "offset_auto", "natural_key", "conflict",
					    "rows", "target_rows", "headroom", "headroom_until", "min_headroom",
					    "replaced", "source_ids", "target_ids", "ids_after", "identity",
					    "refs", "sequence", "target_has_table" };
	assert_int_equal(json_object_size(t0), sizeof keys / sizeof keys[0]);
	const char *prev = out.data;
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		char quoted[64];
		snprintf(quoted, sizeof quoted, "\"%s\":", keys[i]);
		const char *at = strstr(prev, quoted);
		assert_non_null(at);
		prev = at;
	}
	/* a keyless table: key, headroom and ids null; a refs: reference */
	json_t *f = NULL;
	size_t i;
	json_t *v;
	json_array_foreach(tables, i, v)
		if (strcmp(json_string_value(json_object_get(v, "name")), "follower") == 0)
			f = v;
	assert_non_null(f);
	assert_true(json_is_null(json_object_get(f, "key")));
	assert_true(json_is_null(json_object_get(f, "headroom")));
	assert_true(json_is_null(json_object_get(f, "ids_after")));
	assert_int_equal(json_array_size(json_object_get(f, "identity")), 2);
	json_t *r = json_array_get(json_object_get(f, "refs"), 0);
	assert_string_equal(json_string_value(json_object_get(r, "column")), "who_id");
	assert_string_equal(json_string_value(json_object_get(r, "table")), "user");
	assert_string_equal(json_string_value(json_object_get(r, "from")), "refs");
	/* problems from the structs: text kept whole, a missing hint null */
	json_t *probs = json_object_get(j, "problems");
	assert_int_equal(json_array_size(probs), 2);
	json_t *p0 = json_array_get(probs, 0);
	assert_int_equal(json_object_size(p0), 2);
	assert_string_equal(json_string_value(json_object_get(p0, "problem")), "a \"quoted\" problem\n  hint: not a hint");
	assert_string_equal(json_string_value(json_object_get(p0, "hint")), "say \"yes\"\nhint: still the hint");
	assert_true(json_is_null(json_object_get(json_array_get(probs, 1), "hint")));
	json_decref(j);
	buf_release(&out);
	plan_release(&p);
	hopcfg_release(&cfg);
}

/* ---- failures leave nothing behind ----------------------------------------- */

static PGconn *unreachable(void)
{
	PGconn *c = PQconnectdb("host=/nonexistent-test-plan port=1 connect_timeout=1");
	assert_non_null(c);
	assert_int_not_equal(PQstatus(c), CONNECTION_OK);
	return c;
}

static void test_build_failure_leaves_no_plan(void **state)
{
	struct hop_config cfg;
	struct hop_plan p;
	memset(&cfg, 0, sizeof cfg);
	/* passwords in both DSNs: two problems are found before any database is read */
	char src_dsn[] = "host=/nonexistent dbname=a password=secret";
	char tgt_dsn[] = "postgresql://u:secret@/b?host=/nonexistent";
	cfg.s.source_dsn = src_dsn;
	cfg.s.target_dsn = tgt_dsn;
	PGconn *c = unreachable();
	memset(&p, 0xa5, sizeof p);	/* whatever the caller's struct held */
	assert_false(plan_build(&cfg, c, c, NULL, 0, NULL, &p));
	assert_int_equal(p.nproblems, 0);
	assert_null(p.problems);
	assert_null(p.t);
	assert_null(p.src.tables);
	assert_int_equal(p.n, 0);
	plan_release(&p);	/* harmless on the empty plan */
	PQfinish(c);
}

/* hop_replan failing after a plan was built: no plan stays, old or new */
static void test_replan_failure_drops_the_plan(void **state)
{
	struct hop_config cfg;
	struct hop h;
	memset(&h, 0, sizeof h);
	load(&cfg, "  user: {}\n");
	h.cfg = &cfg;
	h.server = xstrdup("hop");
	minitwit(&h.plan.src);
	plan_choose(&cfg, &h.plan);
	plan_problem(&h.plan, "a hint", "a problem");
	h.planned = true;
	h.tgt = unreachable();
	h.src = unreachable();
	assert_false(hop_replan(&h));
	assert_false(h.planned);
	assert_null(h.plan.t);
	assert_null(h.plan.problems);
	assert_int_equal(h.plan.nproblems, 0);
	assert_null(h.plan.src.tables);
	hop_close(&h);
	hopcfg_release(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_choose_keys_refs_order),
		cmocka_unit_test(test_choose_problems),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_build_failure_leaves_no_plan),
		cmocka_unit_test(test_replan_failure_drops_the_plan),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
