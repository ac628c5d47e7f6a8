/*
 * Unit tests for hop/hopcfg.c: loading config/migration.yaml (links hop/hopcfg.c,
 * lib/cfg.c and lib/buf.c).
 *
 * tests/fixtures/hopcfg/good.yaml sets every fixed key to a value other than
 * its default and lists tables in flow and block style; each field is
 * checked, with the positions of the table entries.  Bad configs are inline,
 * written to a temporary file so the expected "path:line:column: message"
 * can be read off the literal.  Every MINITWIT_* variable hopcfg reads is
 * cleared before each test.  Run from the repository root (as `make unit`
 * does).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "hopcfg.h"
#include "banned.h"

#define GOOD "tests/fixtures/hopcfg/good.yaml"

/* The environment names of the fixed keys: part of the operators' interface. */
static const char *const env_vars[] = {
	"MINITWIT_SOURCE_DSN",		"MINITWIT_TARGET_DSN",
	"MINITWIT_LINK_SERVER",		"MINITWIT_LINK_SCHEMA",
	"MINITWIT_LINK_FETCH_SIZE",	"MINITWIT_SYNC_BATCH_SIZE",
	"MINITWIT_SYNC_INTERVAL",	"MINITWIT_SYNC_CONNECT_ATTEMPTS",
	"MINITWIT_COPY_BATCH_ROWS",	"MINITWIT_CUTOVER_TOKEN_ENV",
	"MINITWIT_CUTOVER_MAX_HOLD_MS",	"MINITWIT_CUTOVER_MAX_LAG",
	"MINITWIT_LOG_LEVEL",
};
#define NENV (sizeof env_vars / sizeof *env_vars)

static int clear_env(void **state)
{
	for (size_t i = 0; i < NENV; i++)
		unsetenv(env_vars[i]);
	return 0;
}

/* Write text to a new temporary file; returns its malloc'd path. */
static char *write_temp(const char *text)
{
	char tmpl[] = "/tmp/test_hopcfg-XXXXXX";
	int fd = mkstemp(tmpl);
	assert_true(fd >= 0);
	size_t len = strlen(text);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
	char *path = strdup(tmpl);
	assert_non_null(path);
	return path;
}

/*
 * Load yaml from a temporary file and expect failure with exactly
 * "<path>:<where_msg>" ("3:5: unknown ...").  The config is released either way.
 */
#define KINDS_HINT "hint: an entry takes one of admin_url, admin_dns, pgbouncer (with database " \
		   "and databases_file) or command (with pause, switch and resume)"

static void expect_error(const char *yaml, const char *where_msg)
{
	char *path = write_temp(yaml);
	struct hop_config cfg;
	struct cfg_error err = { "" };
	char want[2048];

	bool ok = hopcfg_load(path, &cfg, &err);
	hopcfg_release(&cfg);
	snprintf(want, sizeof want, "%s:%s", path, where_msg);
	unlink(path);
	free(path);
	assert_false(ok);
	assert_string_equal(err.msg, want);
}

/* Load yaml from a temporary file, expecting success. */
static void load_text(const char *yaml, struct hop_config *cfg)
{
	char *path = write_temp(yaml);
	struct cfg_error err = { "" };
	bool ok = hopcfg_load(path, cfg, &err);
	unlink(path);
	free(path);
	if (!ok)
		print_error("%s\n", err.msg);
	assert_true(ok);
}

static void check_defaults(const struct hop_settings *s)
{
	assert_string_equal(s->source_dsn, "host=127.0.0.1 port=5433 dbname=minitwit user=minitwit");
	assert_string_equal(s->target_dsn, "host=127.0.0.1 port=5434 dbname=minitwit user=minitwit");
	assert_string_equal(s->link_server, "minitwit_source");
	assert_string_equal(s->link_schema, "minitwit_source");
	assert_int_equal(s->fetch_size, 10000);
	assert_int_equal(s->sync_batch_size, 5000);
	assert_int_equal(s->sync_interval_ms, 100);
	assert_int_equal(s->sync_connect_attempts, 30);
	assert_int_equal(s->copy_batch_rows, 1000000);
	assert_string_equal(s->cutover_token_env, "MINITWIT_ADMIN_TOKEN");
	assert_int_equal(s->cutover_max_hold_ms, 2000);
	assert_int_equal(s->cutover_max_lag_ms, 2000);
	assert_string_equal(s->log_level, "info");
}

/* ---- the complete file --------------------------------------------------- */

static void test_good_settings(void **state)
{
	struct hop_config cfg;
	struct cfg_error err = { "" };

	assert_true(hopcfg_load(GOOD, &cfg, &err));
	assert_string_equal(cfg.path, GOOD);
	const struct hop_settings *s = &cfg.s;
	assert_string_equal(s->source_dsn, "host=old.example port=5433 dbname=minitwit user=minitwit");
	assert_string_equal(s->target_dsn, "host=new.example port=6432 dbname=minitwit user=hop");
	assert_string_equal(s->link_server, "hop_one");
	assert_string_equal(s->link_schema, "hop_one_stage");
	assert_int_equal(s->fetch_size, 2000);
	assert_int_equal(s->sync_batch_size, 250);
	assert_int_equal(s->sync_interval_ms, 250);
	assert_int_equal(s->sync_connect_attempts, 7);
	assert_int_equal(s->copy_batch_rows, 50000);
	assert_string_equal(s->cutover_token_env, "HOP_ADMIN_TOKEN");
	assert_int_equal(s->cutover_max_hold_ms, 1500);
	assert_int_equal(s->cutover_max_lag_ms, 3000);
	assert_string_equal(s->log_level, "debug");

	assert_int_equal(cfg.nservers, 2);
	assert_string_equal(cfg.servers[0].admin_url, "http://127.0.0.1:8081");
	assert_string_equal(cfg.servers[1].admin_url, "https://web2.example:8443");
	hopcfg_release(&cfg);
}

static void check_ref(const struct hop_ref_cfg *r, const char *column, const char *table, int line,
		      int col)
{
	assert_string_equal(r->column, column);
	assert_string_equal(r->table, table);
	assert_int_equal(r->line, line);
	assert_int_equal(r->column_no, col);
}

static void test_good_tables(void **state)
{
	struct hop_config cfg;
	struct cfg_error err = { "" };
	const struct hop_table_cfg *t;

	assert_true(hopcfg_load(GOOD, &cfg, &err));
	assert_true(cfg.tables_listed);
	assert_int_equal(cfg.ntables, 8);

	/* in file order */
	static const char *const names[] = { "user", "message", "follower", "latest",
					     "schema_migrations", "web_session", "UserProfile",
					     "audit_log" };
	static const int lines[] = { 14, 15, 16, 17, 18, 19, 20, 24 };
	for (size_t i = 0; i < 8; i++) {
		assert_string_equal(cfg.tables[i].name, names[i]);
		assert_int_equal(cfg.tables[i].line, lines[i]);
		assert_int_equal(cfg.tables[i].column_no, 3);
	}

	t = &cfg.tables[0];	/* user: { key: user_id, offset: auto } */
	assert_string_equal(t->key, "user_id");
	assert_true(t->offset_set);
	assert_true(t->offset_auto);
	assert_int_equal(t->offset, 0);
	assert_int_equal(t->conflict, HOP_CONFLICT_DEFAULT);
	assert_int_equal(t->nrefs, 0);

	t = &cfg.tables[1];	/* message: { key: message_id, offset: 1000, refs: { author_id: user } } */
	assert_string_equal(t->key, "message_id");
	assert_true(t->offset_set);
	assert_false(t->offset_auto);
	assert_int_equal(t->offset, 1000);
	assert_int_equal(t->conflict, HOP_CONFLICT_DEFAULT);
	assert_int_equal(t->nrefs, 1);
	check_ref(&t->refs[0], "author_id", "user", 15, 63);

	t = &cfg.tables[2];	/* follower: { refs: { who_id: user, whom_id: user } } */
	assert_null(t->key);
	assert_false(t->offset_set);
	assert_false(t->offset_auto);
	assert_int_equal(t->conflict, HOP_CONFLICT_DEFAULT);
	assert_int_equal(t->nrefs, 2);
	check_ref(&t->refs[0], "who_id", "user", 16, 32);
	check_ref(&t->refs[1], "whom_id", "user", 16, 46);

	t = &cfg.tables[3];	/* latest: { conflict: replace } */
	assert_null(t->key);
	assert_false(t->offset_set);
	assert_int_equal(t->conflict, HOP_CONFLICT_REPLACE);
	assert_int_equal(t->nrefs, 0);

	t = &cfg.tables[4];	/* schema_migrations: { conflict: replace } */
	assert_int_equal(t->conflict, HOP_CONFLICT_REPLACE);

	t = &cfg.tables[5];	/* web_session: { refs: { user_id: user } } */
	assert_null(t->key);
	assert_int_equal(t->nrefs, 1);
	check_ref(&t->refs[0], "user_id", "user", 19, 32);

	t = &cfg.tables[6];	/* "UserProfile": block style, negative offset */
	assert_string_equal(t->key, "ProfileId");
	assert_true(t->offset_set);
	assert_false(t->offset_auto);
	assert_int_equal(t->offset, -500);
	assert_int_equal(t->conflict, HOP_CONFLICT_REFUSE);
	assert_int_equal(t->nrefs, 0);

	t = &cfg.tables[7];	/* audit_log: alone, all defaults */
	assert_null(t->key);
	assert_false(t->offset_set);
	assert_false(t->offset_auto);
	assert_int_equal(t->offset, 0);
	assert_int_equal(t->conflict, HOP_CONFLICT_DEFAULT);
	assert_int_equal(t->nrefs, 0);
	assert_null(t->refs);

	hopcfg_release(&cfg);
}

/* The repository's own config/migration.yaml loads, with the defaults' values. */
static void test_repo_config(void **state)
{
	struct hop_config cfg;
	struct cfg_error err = { "" };

	assert_true(hopcfg_load("config/migration.yaml", &cfg, &err));
	check_defaults(&cfg.s);
	assert_true(cfg.tables_listed);
	assert_int_equal(cfg.ntables, 6);
	assert_non_null(hopcfg_table(&cfg, "follower"));
	assert_int_equal(cfg.nservers, 1);
	assert_string_equal(cfg.servers[0].admin_url, "http://127.0.0.1:8081");
	hopcfg_release(&cfg);
}

static void test_table_lookup(void **state)
{
	struct hop_config cfg;
	struct cfg_error err = { "" };

	assert_true(hopcfg_load(GOOD, &cfg, &err));
	const struct hop_table_cfg *t = hopcfg_table(&cfg, "message");
	assert_ptr_equal(t, &cfg.tables[1]);
	assert_ptr_equal(hopcfg_table(&cfg, "UserProfile"), &cfg.tables[6]);
	assert_ptr_equal(hopcfg_table(&cfg, "audit_log"), &cfg.tables[7]);
	/* exact, case-sensitive names */
	assert_null(hopcfg_table(&cfg, "userprofile"));
	assert_null(hopcfg_table(&cfg, "User"));
	assert_null(hopcfg_table(&cfg, "messages"));
	assert_null(hopcfg_table(&cfg, "mess"));
	assert_null(hopcfg_table(&cfg, ""));
	hopcfg_release(&cfg);

	/* nothing listed: nothing found */
	assert_true(hopcfg_load(NULL, &cfg, &err));
	assert_null(hopcfg_table(&cfg, "user"));
	hopcfg_release(&cfg);
}

/* ---- defaults and environment -------------------------------------------- */

static void test_defaults(void **state)
{
	struct hop_config cfg;
	struct cfg_error err = { "" };

	memset(&cfg, 0xff, sizeof cfg);	/* hopcfg_load starts from nothing */
	assert_true(hopcfg_load(NULL, &cfg, &err));
	assert_null(cfg.path);
	check_defaults(&cfg.s);
	assert_false(cfg.tables_listed);
	assert_null(cfg.tables);
	assert_int_equal(cfg.ntables, 0);
	assert_null(cfg.servers);
	assert_int_equal(cfg.nservers, 0);
	hopcfg_release(&cfg);
}

static void test_empty_sections(void **state)
{
	struct hop_config cfg;

	/* an empty file: the defaults */
	load_text("", &cfg);
	check_defaults(&cfg.s);
	assert_false(cfg.tables_listed);
	hopcfg_release(&cfg);

	/* "tables:" with everything commented out: every table, as if absent */
	load_text("tables:\n  # user: { offset: 0 }\ncutover:\n  servers:\n", &cfg);
	assert_false(cfg.tables_listed);
	assert_int_equal(cfg.ntables, 0);
	assert_int_equal(cfg.nservers, 0);
	hopcfg_release(&cfg);

	/* an empty mapping is a list of no tables */
	load_text("tables: {}\ncutover: { servers: [] }\n", &cfg);
	assert_true(cfg.tables_listed);
	assert_int_equal(cfg.ntables, 0);
	assert_int_equal(cfg.nservers, 0);
	hopcfg_release(&cfg);
}

static void test_env_overrides(void **state)
{
	struct hop_config cfg;
	struct cfg_error err = { "" };

	assert_int_equal(setenv("MINITWIT_SOURCE_DSN", "host=env.example dbname=x", 1), 0);
	assert_int_equal(setenv("MINITWIT_SYNC_BATCH_SIZE", "42", 1), 0);

	/* over the file */
	assert_true(hopcfg_load(GOOD, &cfg, &err));
	assert_string_equal(cfg.s.source_dsn, "host=env.example dbname=x");
	assert_int_equal(cfg.s.sync_batch_size, 42);
	/* the others still from the file, tables untouched */
	assert_string_equal(cfg.s.target_dsn, "host=new.example port=6432 dbname=minitwit user=hop");
	assert_int_equal(cfg.s.sync_interval_ms, 250);
	assert_int_equal(cfg.ntables, 8);
	hopcfg_release(&cfg);

	/* over the defaults */
	assert_true(hopcfg_load(NULL, &cfg, &err));
	assert_string_equal(cfg.s.source_dsn, "host=env.example dbname=x");
	assert_int_equal(cfg.s.sync_batch_size, 42);
	assert_string_equal(cfg.s.target_dsn, "host=127.0.0.1 port=5434 dbname=minitwit user=minitwit");
	hopcfg_release(&cfg);

	/* unset again: back to the file */
	unsetenv("MINITWIT_SOURCE_DSN");
	unsetenv("MINITWIT_SYNC_BATCH_SIZE");
	assert_true(hopcfg_load(GOOD, &cfg, &err));
	assert_string_equal(cfg.s.source_dsn, "host=old.example port=5433 dbname=minitwit user=minitwit");
	assert_int_equal(cfg.s.sync_batch_size, 250);
	hopcfg_release(&cfg);
}

/* Every fixed key answers to MINITWIT_<SECTION>_<KEY>. */
static void test_env_names(void **state)
{
	static const char *const values[NENV] = {
		"host=a", "host=b", "srv", "stage", "100", "10000000", "1m", "1", "1000", "TOK",
		"600000", "1h", "error",
	};
	struct hop_config cfg;
	struct cfg_error err = { "" };

	for (size_t i = 0; i < NENV; i++)
		assert_int_equal(setenv(env_vars[i], values[i], 1), 0);
	assert_true(hopcfg_load(GOOD, &cfg, &err));
	const struct hop_settings *s = &cfg.s;
	assert_string_equal(s->source_dsn, "host=a");
	assert_string_equal(s->target_dsn, "host=b");
	assert_string_equal(s->link_server, "srv");
	assert_string_equal(s->link_schema, "stage");
	assert_int_equal(s->fetch_size, 100);
	assert_int_equal(s->sync_batch_size, 10000000);
	assert_int_equal(s->sync_interval_ms, 60000);
	assert_int_equal(s->sync_connect_attempts, 1);
	assert_int_equal(s->copy_batch_rows, 1000);
	assert_string_equal(s->cutover_token_env, "TOK");
	assert_int_equal(s->cutover_max_hold_ms, 600000);
	assert_int_equal(s->cutover_max_lag_ms, 3600000);
	assert_string_equal(s->log_level, "error");
	hopcfg_release(&cfg);
}

static void test_env_invalid(void **state)
{
	struct hop_config cfg;
	struct cfg_error err = { "" };

	assert_int_equal(setenv("MINITWIT_SYNC_BATCH_SIZE", "0", 1), 0);
	assert_false(hopcfg_load(GOOD, &cfg, &err));
	hopcfg_release(&cfg);
	assert_string_equal(err.msg, "environment MINITWIT_SYNC_BATCH_SIZE: invalid value \"0\" for "
				     "\"sync.batch_size\": expected an integer between 1 and 10000000");

	assert_int_equal(setenv("MINITWIT_SYNC_BATCH_SIZE", "lots", 1), 0);
	assert_false(hopcfg_load(NULL, &cfg, &err));
	hopcfg_release(&cfg);
	assert_string_equal(err.msg, "environment MINITWIT_SYNC_BATCH_SIZE: invalid value \"lots\" for "
				     "\"sync.batch_size\": expected an integer between 1 and 10000000");
}

/* ---- offsets ------------------------------------------------------------- */

static void test_offsets(void **state)
{
	struct hop_config cfg;

	load_text("tables:\n"
		  "  a: { offset: 0 }\n"
		  "  b: { offset: -9223372036854775808 }\n"
		  "  c: { offset: 9223372036854775807 }\n"
		  "  d: { offset: \"auto\" }\n"
		  "  e: { offset: +7 }\n",
		  &cfg);
	assert_int_equal(cfg.ntables, 5);
	assert_true(cfg.tables[0].offset_set);
	assert_false(cfg.tables[0].offset_auto);
	assert_int_equal(cfg.tables[0].offset, 0);
	assert_true(cfg.tables[1].offset == INT64_MIN);
	assert_true(cfg.tables[2].offset == INT64_MAX);
	assert_true(cfg.tables[3].offset_auto);
	assert_int_equal(cfg.tables[4].offset, 7);
	hopcfg_release(&cfg);
}

static void test_min_headroom(void **state)
{
	struct hop_config cfg;

	load_text("tables:\n"
		  "  a: { offset: -2000 }\n"
		  "  b: { offset: -2000, min_headroom: 500 }\n"
		  "  c: { min_headroom: 0 }\n",
		  &cfg);
	assert_int_equal(cfg.tables[0].min_headroom, HOP_MIN_HEADROOM);
	assert_int_equal(HOP_MIN_HEADROOM, 1000000);
	assert_int_equal(cfg.tables[1].min_headroom, 500);
	assert_int_equal(cfg.tables[2].min_headroom, 0);
	hopcfg_release(&cfg);
	expect_error("tables:\n"
		     "  a: { min_headroom: -1 }\n",
		     "2:22: table \"a\": min_headroom must be a number of ids, 0 or more");
	expect_error("tables:\n"
		     "  a: { min_headroom: lots }\n",
		     "2:22: table \"a\": min_headroom must be a number of ids, 0 or more");
}

/* ---- errors -------------------------------------------------------------- */

static void test_error_unknown_table_key(void **state)
{
	expect_error("tables:\n"
		     "  user: { key: user_id, ofset: 40 }\n",
		     "2:25: table \"user\": unknown key \"ofset\"\nhint: a table takes key, offset, "
		     "refs, conflict and min_headroom");
	expect_error("tables:\n"
		     "  UserProfile:\n"
		     "    key: ProfileId\n"
		     "    references: { a: b }\n",
		     "4:5: table \"UserProfile\": unknown key \"references\"\nhint: a table takes key, "
		     "offset, refs, conflict and min_headroom");
}

static void test_error_bad_offset(void **state)
{
	expect_error("tables:\n"
		     "  message:\n"
		     "    key: message_id\n"
		     "    offset: lots\n",
		     "4:13: table \"message\": invalid offset \"lots\": expected an integer (negative "
		     "allowed) or auto");
	/* beyond int64 */
	expect_error("tables:\n"
		     "  message: { offset: 9223372036854775808 }\n",
		     "2:22: table \"message\": invalid offset \"9223372036854775808\": expected an "
		     "integer (negative allowed) or auto");
	/* not a number in decimal */
	expect_error("tables:\n"
		     "  m: { offset: 1.5 }\n",
		     "2:16: table \"m\": invalid offset \"1.5\": expected an integer (negative allowed) "
		     "or auto");
	expect_error("tables:\n"
		     "  m: { offset: AUTO }\n",
		     "2:16: table \"m\": invalid offset \"AUTO\": expected an integer (negative allowed) "
		     "or auto");
	/* not a scalar */
	expect_error("tables:\n"
		     "  m: { offset: [1] }\n",
		     "2:16: table \"m\": offset must be an integer or auto");
}

static void test_error_refs(void **state)
{
	expect_error("tables:\n"
		     "  message: { refs: [ author_id, user ] }\n",
		     "2:20: table \"message\": refs must map columns to tables, e.g. "
		     "{ author_id: user }");
	expect_error("tables:\n"
		     "  message:\n"
		     "    refs: author_id\n",
		     "3:11: table \"message\": refs must map columns to tables, e.g. "
		     "{ author_id: user }");
	/* a reference to nothing */
	expect_error("tables:\n"
		     "  message: { refs: { author_id: \"\" } }\n",
		     "2:33: refs table must be a non-empty name");
	expect_error("tables:\n"
		     "  message: { refs: { author_id: { table: user } } }\n",
		     "2:33: refs table must be a non-empty name");
}

static void test_error_conflict(void **state)
{
	expect_error("tables:\n"
		     "  latest: { conflict: overwrite }\n",
		     "2:23: table \"latest\": conflict must be refuse, replace or append");
	expect_error("tables:\n"
		     "  latest: { conflict: Replace }\n",
		     "2:23: table \"latest\": conflict must be refuse, replace or append");
	expect_error("tables:\n"
		     "  latest: { conflict: [replace] }\n",
		     "2:23: table \"latest\": conflict must be refuse, replace or append");
}

static void test_error_servers(void **state)
{
	expect_error("cutover:\n"
		     "  servers: \"http://127.0.0.1:8081\"\n",
		     "2:12: cutover.servers must be a list of entries such as { admin_url: \"http://host:port\" }");
	expect_error("cutover:\n"
		     "  servers: { admin_url: \"http://127.0.0.1:8081\" }\n",
		     "2:12: cutover.servers must be a list of entries such as { admin_url: \"http://host:port\" }");
}

static void test_error_admin_url(void **state)
{
	expect_error("cutover:\n"
		     "  servers:\n"
		     "    - admin_url: \"http://127.0.0.1:8081\"\n"
		     "    - admin_url: ftp://127.0.0.1:8082\n",
		     "4:18: cutover.servers[1]: admin_url must be an http:// or https:// URL");
	expect_error("cutover:\n"
		     "  servers: [ { admin_url: \"127.0.0.1:8081\" } ]\n",
		     "2:27: cutover.servers[0]: admin_url must be an http:// or https:// URL");
	/* no kind at all: at the item */
	expect_error("cutover:\n"
		     "  servers: [ {} ]\n",
		     "2:14: cutover.servers[0]: no kinds given\n" KINDS_HINT);
	expect_error("cutover:\n"
		     "  servers:\n"
		     "    - \"http://127.0.0.1:8081\"\n",
		     "3:7: cutover.servers[0] must be a mapping\n" KINDS_HINT);
	/* unknown key in a server */
	expect_error("cutover:\n"
		     "  servers:\n"
		     "    - { admin_url: \"http://a:1\", token: x }\n",
		     "3:34: cutover.servers[0]: unknown key \"token\" for admin_url");
}

/* The other kinds of cutover.servers (hop/driver.h): each read, each checked. */
static void test_server_kinds(void **state)
{
	struct hop_config cfg;
	load_text("cutover:\n"
		  "  servers:\n"
		  "    - admin_url: \"http://10.0.0.5:8081\"\n"
		  "    - admin_dns: \"tasks.minitwitd:8081\"\n"
		  "    - pgbouncer: \"host=10.0.0.9 port=6432 dbname=pgbouncer user=pgbouncer\"\n"
		  "      database: minitwit\n"
		  "      databases_file: /etc/pgbouncer/databases.ini\n"
		  "    - command:\n"
		  "        pause: \"/usr/local/bin/app-pause\"\n"
		  "        switch: \"/usr/local/bin/app-switch --now\"\n"
		  "        resume: \"/usr/local/bin/app-resume\"\n", &cfg);
	assert_int_equal(cfg.nservers, 4);
	assert_int_equal(cfg.servers[0].kind, HOP_SERVER_ADMIN_URL);
	assert_string_equal(cfg.servers[0].admin_url, "http://10.0.0.5:8081");
	assert_int_equal(cfg.servers[1].kind, HOP_SERVER_ADMIN_DNS);
	assert_string_equal(cfg.servers[1].admin_dns, "tasks.minitwitd:8081");
	assert_null(cfg.servers[1].admin_url);
	assert_int_equal(cfg.servers[2].kind, HOP_SERVER_PGBOUNCER);
	assert_string_equal(cfg.servers[2].pgbouncer, "host=10.0.0.9 port=6432 dbname=pgbouncer user=pgbouncer");
	assert_string_equal(cfg.servers[2].database, "minitwit");
	assert_string_equal(cfg.servers[2].databases_file, "/etc/pgbouncer/databases.ini");
	assert_int_equal(cfg.servers[2].line, 5);
	assert_int_equal(cfg.servers[3].kind, HOP_SERVER_COMMAND);
	assert_string_equal(cfg.servers[3].pause, "/usr/local/bin/app-pause");
	assert_string_equal(cfg.servers[3].switch_cmd, "/usr/local/bin/app-switch --now");
	assert_string_equal(cfg.servers[3].resume, "/usr/local/bin/app-resume");
	hopcfg_release(&cfg);
}

static void test_error_server_kinds(void **state)
{
	expect_error("cutover:\n"
		     "  servers:\n"
		     "    - { admin_url: \"http://a:1\", admin_dns: \"a:1\" }\n",
		     "3:7: cutover.servers[0]: several kinds given\n" KINDS_HINT);
	expect_error("cutover:\n"
		     "  servers: [ { admin_dns: \"tasks.minitwitd\" } ]\n",
		     "2:27: cutover.servers[0]: admin_dns must be \"name:port\", e.g. \"tasks.minitwitd:8081\"");
	expect_error("cutover:\n"
		     "  servers: [ { admin_dns: \"http://x:80\" } ]\n",
		     "2:27: cutover.servers[0]: admin_dns must be \"name:port\", e.g. \"tasks.minitwitd:8081\"");
	expect_error("cutover:\n"
		     "  servers: [ { pgbouncer: \"host=a\", database: app } ]\n",
		     "2:14: cutover.servers[0]: pgbouncer needs database (the [databases] entry the "
		     "application uses) and databases_file (the file holding it)");
	expect_error("cutover:\n"
		     "  servers: [ { pgbouncer: \"host=a\", database: \"a b\", databases_file: /x } ]\n",
		     "2:47: cutover.servers[0]: database \"a b\" must be letters, digits, _, - or .");
	expect_error("cutover:\n"
		     "  servers: [ { pgbouncer: \"host=a\", database: app, databases_file: x.ini } ]\n",
		     "2:68: cutover.servers[0]: databases_file must be an absolute path");
	expect_error("cutover:\n"
		     "  servers: [ { pgbouncer: \"host=a\", database: app, databases_file: /x, user: u } ]\n",
		     "2:72: cutover.servers[0]: unknown key \"user\" for pgbouncer");
	expect_error("cutover:\n"
		     "  servers: [ { command: { pause: a, switch: b } } ]\n",
		     "2:25: cutover.servers[0]: command needs pause, switch and resume");
	expect_error("cutover:\n"
		     "  servers: [ { command: { pause: a, switch: b, resume: c, rollback: d } } ]\n",
		     "2:59: cutover.servers[0]: unknown key \"rollback\" for command");
	expect_error("cutover:\n"
		     "  servers: [ { command: \"/bin/true\" } ]\n",
		     "2:25: cutover.servers[0]: command must map pause, switch and resume to commands");
}

static void test_error_unknown_section(void **state)
{
	expect_error("source:\n"
		     "  dsn: \"host=a\"\n"
		     "sourec:\n"
		     "  dsn: \"host=b\"\n",
		     "3:1: unknown section \"sourec\"\nhint: did you mean \"source\"?");
	expect_error("log:\n"
		     "  level: info\n"
		     "  # nothing else\n"
		     "hop:\n"
		     "  name: x\n",
		     "4:1: unknown section \"hop\"");
	/* an unknown key in a fixed section, and a bad value */
	expect_error("sync:\n"
		     "  batchsize: 10\n",
		     "2:3: unknown key \"sync.batchsize\"\nhint: did you mean \"sync.batch_size\"?");
	expect_error("sync:\n"
		     "  batch_size: 0\n",
		     "2:15: invalid value \"0\" for \"sync.batch_size\": expected an integer between 1 "
		     "and 10000000");
}

static void test_error_long_name(void **state)
{
	/* 63 bytes is PostgreSQL's limit: allowed */
	struct hop_config cfg;
	load_text("tables:\n"
		  "  t23456789012345678901234567890123456789012345678901234567890123: "
		  "{ key: k23456789012345678901234567890123456789012345678901234567890123 }\n",
		  &cfg);
	assert_int_equal(cfg.ntables, 1);
	assert_int_equal(strlen(cfg.tables[0].name), 63);
	assert_int_equal(strlen(cfg.tables[0].key), 63);
	hopcfg_release(&cfg);

	/* 64: refused, at the name */
	expect_error("tables:\n"
		     "  user: {}\n"
		     "  t234567890123456789012345678901234567890123456789012345678901234: {}\n",
		     "3:3: table name \"t234567890123456789012345678901234567890123456789012345678901234\" "
		     "is longer than PostgreSQL's 63 bytes");
	/* bytes, not characters: 32 two-byte characters */
	expect_error("tables:\n"
		     "  éééééééééééééééééééééééééééééééé: {}\n",
		     "2:3: table name \"éééééééééééééééééééééééééééééééé\" is longer than "
		     "PostgreSQL's 63 bytes");
	/* the same limit for key and refs names */
	expect_error("tables:\n"
		     "  user: { key: k234567890123456789012345678901234567890123456789012345678901234 }\n",
		     "2:16: key \"k234567890123456789012345678901234567890123456789012345678901234\" "
		     "is longer than PostgreSQL's 63 bytes");
	expect_error("tables:\n"
		     "  m: { refs: { c234567890123456789012345678901234567890123456789012345678901234: u } }\n",
		     "2:16: refs column \"c234567890123456789012345678901234567890123456789012345678901234\" "
		     "is longer than PostgreSQL's 63 bytes");
}

static void test_error_shapes(void **state)
{
	expect_error("tables: [ user, message ]\n",
		     "1:9: tables must map table names to their settings");
	expect_error("tables:\n"
		     "  user: auto\n",
		     "2:9: table \"user\": expected a mapping of key, offset, refs, conflict, min_headroom");
	expect_error("tables:\n"
		     "  user: { key: \"\" }\n",
		     "2:16: key must be a non-empty name");
	expect_error("tables:\n"
		     "  \"\": {}\n",
		     "2:3: table name must be a non-empty name");
	expect_error("tables:\n"
		     "  user: {}\n"
		     "  user: { offset: 5 }\n",
		     "3:3: duplicate key \"tables.user\" (first at line 2, column 3)");
}

static void test_error_missing_file(void **state)
{
	struct hop_config cfg;
	struct cfg_error err = { "" };

	assert_false(hopcfg_load("tests/fixtures/hopcfg/does-not-exist.yaml", &cfg, &err));
	hopcfg_release(&cfg);
	assert_string_equal(err.msg, "could not open \"tests/fixtures/hopcfg/does-not-exist.yaml\": "
				     "No such file or directory");
}

/* ---- release ------------------------------------------------------------- */

static void test_release(void **state)
{
	struct hop_config cfg;
	struct cfg_error err = { "" };

	memset(&cfg, 0, sizeof cfg);
	hopcfg_release(&cfg);
	hopcfg_release(&cfg);

	/* released twice after a load: the first leaves it zeroed */
	assert_true(hopcfg_load(GOOD, &cfg, &err));
	hopcfg_release(&cfg);
	assert_null(cfg.path);
	assert_null(cfg.tables);
	assert_int_equal(cfg.ntables, 0);
	assert_null(cfg.servers);
	assert_int_equal(cfg.nservers, 0);
	assert_null(cfg.s.source_dsn);
	assert_null(cfg.s.log_level);
	hopcfg_release(&cfg);
}

/* link.schema leaves room for its "_cdc" schema within 63 bytes */
static void test_error_long_schema(void **state)
{
	char s59[60], s60[61], yaml[256], want[512];
	memset(s59, 's', 59);
	s59[59] = '\0';
	memset(s60, 's', 60);
	s60[60] = '\0';
	struct hop_config cfg;
	snprintf(yaml, sizeof yaml, "link:\n  schema: %s\n", s59);
	load_text(yaml, &cfg);
	assert_int_equal(strlen(cfg.s.link_schema), 59);
	hopcfg_release(&cfg);
	snprintf(yaml, sizeof yaml, "link:\n  schema: %s\n", s60);
	snprintf(want, sizeof want, "2:11: link.schema \"%s\" is longer than 59 bytes: its change "
		 "log schema \"%s_cdc\" would pass PostgreSQL's 63", s60, s60);
	expect_error(yaml, want);
	setenv("MINITWIT_LINK_SCHEMA", s60, 1);
	struct cfg_error err = { "" };
	assert_false(hopcfg_load(NULL, &cfg, &err));
	hopcfg_release(&cfg);
	snprintf(want, sizeof want, "environment MINITWIT_LINK_SCHEMA: link.schema \"%s\" is longer "
		 "than 59 bytes: its change log schema \"%s_cdc\" would pass PostgreSQL's 63", s60, s60);
	assert_string_equal(err.msg, want);
}

/* --print-config: passwords in DSNs, and in admin URLs passwords and
 * tokens (as user info or in the query) are masked */
static void test_print_masks(void **state)
{
	struct hop_config cfg;
	char *text = NULL;
	size_t len = 0;
	load_text("source:\n  dsn: \"postgresql://db/x?%70assword=hunter2\"\n"
		  "target:\n  dsn: \"host=t sslpassword='a\\\\ b' dbname=x\"\n"
		  "tables: {}\n"
		  "cutover:\n  servers:\n    - admin_url: \"http://admin:hunter3@10.0.0.1:8081/\"\n"
		  "    - admin_url: \"https://hunter4@web2.example:8443/?token=hunter5\"\n",
		  &cfg);
	FILE *f = open_memstream(&text, &len);
	assert_non_null(f);
	hopcfg_print(&cfg, f);
	fclose(f);
	hopcfg_release(&cfg);
	if (strstr(text, "hunter") || strstr(text, "a\\ b"))
		fail_msg("a password is printed:\n%s", text);
	assert_non_null(strstr(text, "#   - admin_url: http://admin:********@10.0.0.1:8081/\n"));
	assert_non_null(strstr(text, "#   - admin_url: https://********@web2.example:8443/?token=********\n"));
	free(text);
}

#define T(f) cmocka_unit_test_setup(f, clear_env)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_good_settings),
		T(test_good_tables),
		T(test_repo_config),
		T(test_table_lookup),
		T(test_defaults),
		T(test_empty_sections),
		T(test_env_overrides),
		T(test_env_names),
		T(test_env_invalid),
		T(test_offsets),
		T(test_min_headroom),
		T(test_error_unknown_table_key),
		T(test_error_bad_offset),
		T(test_error_refs),
		T(test_error_conflict),
		T(test_error_servers),
		T(test_error_admin_url),
		T(test_server_kinds),
		T(test_error_server_kinds),
		T(test_error_unknown_section),
		T(test_error_long_name),
		T(test_error_shapes),
		T(test_error_missing_file),
		T(test_release),
		T(test_print_masks),
		T(test_error_long_schema),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	clear_env(NULL);
	return failed;
}
