/*
 * Unit tests for hop/sqlgen.c: the SQL text of a hop, from a plan built by
 * hand (no database).  It links sqlgen.c, remap.c (remap_column_offset)
 * and buf: nothing that talks to a database.
 *
 * The plan is MiniTwit's shape:
 *   user        key user_id, offset 40
 *   message     key message_id, offset 200, author_id -> user
 *   follower    keyless (whole-row identity), who_id, whom_id -> user
 *   latest      natural key id, offset 0, conflict replace
 *   UserProfile mixed-case name, key ProfileId, offset -500
 *   schema_migrations  key-only table, conflict replace
 *   web_session key session_id, offset 1000, user_id -> user
 *   message_tag composite primary key (message_id, tag), message_id -> message
 * Short statements are compared whole; long ones whole where the text is
 * the contract (capture triggers, the keyed apply), otherwise by exact
 * substrings that pin what each part means.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "catalog.h"
#include "hopcfg.h"
#include "plan.h"
#include "remap.h"
#include "sqlgen.h"
#include "banned.h"

/* A writable string with static storage (cat_* structs hold char *). */
#define W(s) ((char[]){ s })

/* ---- the plan ------------------------------------------------------------ */

static struct cat_column user_cols[] = {
	{ W("user_id"), W("integer"), true, W("public.user_user_id_seq"), 0 },
	{ W("username"), W("text"), true, NULL, 0 },
	{ W("email"), W("text"), true, NULL, 0 },
	{ W("pw_hash"), W("text"), true, NULL, 0 },
};
static struct cat_column message_cols[] = {
	{ W("message_id"), W("integer"), true, W("public.message_message_id_seq"), 0 },
	{ W("author_id"), W("integer"), true, NULL, 0 },
	{ W("text"), W("text"), true, NULL, 0 },
	{ W("pub_date"), W("integer"), false, NULL, 0 },
	{ W("flagged"), W("integer"), false, NULL, 0 },
};
static struct cat_column follower_cols[] = {
	{ W("who_id"), W("integer"), false, NULL, 0 },
	{ W("whom_id"), W("integer"), false, NULL, 0 },
};
static struct cat_column latest_cols[] = {
	{ W("id"), W("integer"), true, NULL, 0 },
	{ W("value"), W("bigint"), true, NULL, 0 },
};
/* ProfileId: GENERATED ALWAYS AS IDENTITY */
static struct cat_column profile_cols[] = {
	{ W("ProfileId"), W("integer"), true, W("public.\"UserProfile_ProfileId_seq\""), 'a' },
	{ W("Display\"Name"), W("text"), false, NULL, 0 },
};
static struct cat_column migrations_cols[] = {
	{ W("version"), W("bigint"), true, NULL, 0 },
};
static struct cat_column session_cols[] = {
	{ W("session_id"), W("bigint"), true, W("public.web_session_session_id_seq"), 0 },
	{ W("user_id"), W("integer"), false, NULL, 0 },
	{ W("csrf_token"), W("text"), true, NULL, 0 },
};
static struct cat_column tag_cols[] = {
	{ W("message_id"), W("integer"), true, NULL, 0 },
	{ W("tag"), W("text"), true, NULL, 0 },
};

static size_t pk0[] = { 0 };
static size_t pk01[] = { 0, 1 };

static struct cat_table cat_user = { W("user"), user_cols, 4, pk0, 1, NULL, 0, NULL, 0 };
static struct cat_table cat_message = { W("message"), message_cols, 5, pk0, 1, NULL, 0, NULL, 0 };
static struct cat_table cat_follower = { W("follower"), follower_cols, 2, NULL, 0, NULL, 0, NULL, 0 };
static struct cat_table cat_latest = { W("latest"), latest_cols, 2, pk0, 1, NULL, 0, NULL, 0 };
static struct cat_table cat_profile = { W("UserProfile"), profile_cols, 2, pk0, 1, NULL, 0, NULL, 0 };
static struct cat_table cat_migrations = { W("schema_migrations"), migrations_cols, 1, pk0, 1,
					   NULL, 0, NULL, 0 };
static struct cat_table cat_session = { W("web_session"), session_cols, 3, pk0, 1, NULL, 0, NULL, 0 };
static struct cat_table cat_tag = { W("message_tag"), tag_cols, 2, pk01, 2, NULL, 0, NULL, 0 };

enum { T_USER, T_MESSAGE, T_FOLLOWER, T_LATEST, T_PROFILE, T_MIGRATIONS, T_SESSION, T_TAG, NT };

static struct plan_ref message_refs[] = { { 1, T_USER, false } };
static struct plan_ref follower_refs[] = { { 0, T_USER, false }, { 1, T_USER, false } };
static struct plan_ref session_refs[] = { { 1, T_USER, false } };
static struct plan_ref tag_refs[] = { { 0, T_MESSAGE, true } };

static size_t ident0[] = { 0 };
static size_t ident01[] = { 0, 1 };

#define EMPTY_RANGES .src_min = 1, .src_max = 0, .tgt_min = 1, .tgt_max = 0

static const struct plan_table template[NT] = {
	[T_USER] = { .src = &cat_user, .id = 1, .key = 0, .offset = 40, .offset_auto = true,
		     .conflict = HOP_CONFLICT_REFUSE, .ident = ident0, .nident = 1, EMPTY_RANGES },
	[T_MESSAGE] = { .src = &cat_message, .id = 2, .key = 0, .offset = 200,
			.conflict = HOP_CONFLICT_REFUSE, .refs = message_refs, .nrefs = 1,
			.ident = ident0, .nident = 1, EMPTY_RANGES },
	[T_FOLLOWER] = { .src = &cat_follower, .id = 3, .key = -1, .offset = 0,
			 .conflict = HOP_CONFLICT_REFUSE, .refs = follower_refs, .nrefs = 2,
			 .ident = ident01, .nident = 2, EMPTY_RANGES },
	[T_LATEST] = { .src = &cat_latest, .id = 4, .key = 0, .natural = true, .offset = 0,
		       .conflict = HOP_CONFLICT_REPLACE, .ident = ident0, .nident = 1, EMPTY_RANGES },
	[T_PROFILE] = { .src = &cat_profile, .id = 5, .key = 0, .offset = -500,
			.conflict = HOP_CONFLICT_REFUSE, .ident = ident0, .nident = 1, EMPTY_RANGES },
	[T_MIGRATIONS] = { .src = &cat_migrations, .id = 6, .key = -1, .natural = true,
			   .conflict = HOP_CONFLICT_REPLACE, .ident = ident0, .nident = 1,
			   EMPTY_RANGES },
	[T_SESSION] = { .src = &cat_session, .id = 7, .key = 0, .offset = 1000,
			.conflict = HOP_CONFLICT_REFUSE, .refs = session_refs, .nrefs = 1,
			.ident = ident0, .nident = 1, EMPTY_RANGES },
	[T_TAG] = { .src = &cat_tag, .id = 8, .key = -1, .conflict = HOP_CONFLICT_REFUSE,
		    .refs = tag_refs, .nrefs = 1, .ident = ident01, .nident = 2, EMPTY_RANGES },
};

static struct plan_table tables[NT];
static struct hop_plan plan;

/* Every test starts from the template (tests may change an offset). */
static int reset_plan(void **state)
{
	memcpy(tables, template, sizeof tables);
	memset(&plan, 0, sizeof plan);
	plan.t = tables;
	plan.n = NT;
	return 0;
}

#define STAGING "minitwit_source"
#define ST "\"minitwit_source\""

/* ---- helpers ------------------------------------------------------------- */

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

#define assert_contains(hay, needle)                                                  \
	do {                                                                          \
		if (!strstr((hay), (needle))) {                                       \
			print_error("expected to find\n  %s\nin\n  %s\n", (needle), (hay)); \
			fail();                                                       \
		}                                                                     \
	} while (0)

#define assert_not_contains(hay, needle)                                              \
	do {                                                                          \
		if (strstr((hay), (needle))) {                                        \
			print_error("did not expect\n  %s\nin\n  %s\n", (needle), (hay)); \
			fail();                                                       \
		}                                                                     \
	} while (0)

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}

#define assert_ends_with(s, suffix)                                                   \
	do {                                                                          \
		if (!ends_with((s), (suffix))) {                                      \
			print_error("expected\n  %s\nto end with\n  %s\n", (s), (suffix)); \
			fail();                                                       \
		}                                                                     \
	} while (0)

/* ---- quoting ------------------------------------------------------------- */

static void check_ident(const char *name, const char *want)
{
	struct buf b = BUF_INIT;
	sqlgen_ident(&b, name);
	assert_string_equal(buf_str(&b), want);
	buf_release(&b);
}

static void test_ident(void **state)
{
	check_ident("user", "\"user\"");
	check_ident("UserProfile", "\"UserProfile\"");
	check_ident("a\"b", "\"a\"\"b\"");
	check_ident("\"", "\"\"\"\"");
	check_ident("\"\"x\"", "\"\"\"\"\"x\"\"\"");
	check_ident("", "\"\"");
	check_ident("with space", "\"with space\"");
	check_ident("it's", "\"it's\"");	/* single quotes are not special here */
	check_ident("Ünïcode", "\"Ünïcode\"");
}

static void test_qualified(void **state)
{
	struct buf b = BUF_INIT;
	sqlgen_qualified(&b, STAGING, "user");
	assert_string_equal(buf_str(&b), ST ".\"user\"");
	buf_reset(&b);
	sqlgen_qualified(&b, "My\"Stage", "UserProfile");
	assert_string_equal(buf_str(&b), "\"My\"\"Stage\".\"UserProfile\"");
	buf_release(&b);
}

static void check_literal(const char *text, const char *want)
{
	struct buf b = BUF_INIT;
	sqlgen_literal(&b, text);
	assert_string_equal(buf_str(&b), want);
	buf_release(&b);
}

static void test_literal(void **state)
{
	check_literal("minitwit_source", "'minitwit_source'");
	check_literal("it's", "'it''s'");
	check_literal("'", "''''");
	check_literal("a''b", "'a''''b'");
	check_literal("", "''");
	check_literal("say \"hi\"", "'say \"hi\"'");	/* double quotes are not special here */
	/* backslashes: E'' syntax, read the same with standard_conforming_strings off */
	check_literal("a\\b", " E'a\\\\b'");
	check_literal("c:\\it's\\", " E'c:\\\\it''s\\\\'");
}

/* Appending keeps what the buffer held. */
static void test_appends(void **state)
{
	struct buf b = BUF_INIT;
	buf_adds(&b, "SELECT ");
	sqlgen_ident(&b, "x");
	buf_adds(&b, " FROM ");
	sqlgen_qualified(&b, "s", "t");
	buf_adds(&b, " WHERE v = ");
	sqlgen_literal(&b, "o'k");
	assert_string_equal(buf_str(&b), "SELECT \"x\" FROM \"s\".\"t\" WHERE v = 'o''k'");
	buf_release(&b);
}

/* ---- columns and remapped expressions ------------------------------------ */

static void test_columns(void **state)
{
	struct buf b = BUF_INIT;
	sqlgen_columns(&b, &tables[T_USER]);
	assert_string_equal(buf_str(&b), "\"user_id\", \"username\", \"email\", \"pw_hash\"");
	buf_reset(&b);
	sqlgen_columns(&b, &tables[T_PROFILE]);
	assert_string_equal(buf_str(&b), "\"ProfileId\", \"Display\"\"Name\"");
	buf_reset(&b);
	sqlgen_columns(&b, &tables[T_MIGRATIONS]);
	assert_string_equal(buf_str(&b), "\"version\"");
	buf_release(&b);
}

static void test_column_offsets(void **state)
{
	/* the key's own offset, a reference's table's offset, else 0 */
	assert_int_equal(remap_column_offset(&plan, &tables[T_USER], 0), 40);
	assert_int_equal(remap_column_offset(&plan, &tables[T_USER], 1), 0);
	assert_int_equal(remap_column_offset(&plan, &tables[T_MESSAGE], 0), 200);
	assert_int_equal(remap_column_offset(&plan, &tables[T_MESSAGE], 1), 40);
	assert_int_equal(remap_column_offset(&plan, &tables[T_MESSAGE], 2), 0);
	assert_int_equal(remap_column_offset(&plan, &tables[T_FOLLOWER], 0), 40);
	assert_int_equal(remap_column_offset(&plan, &tables[T_FOLLOWER], 1), 40);
	assert_int_equal(remap_column_offset(&plan, &tables[T_TAG], 0), 200);
	assert_int_equal(remap_column_offset(&plan, &tables[T_PROFILE], 0), -500);
}

static void test_remapped(void **state)
{
	struct buf b = BUF_INIT;

	sqlgen_remapped(&b, &plan, &tables[T_USER], "s");
	assert_string_equal(buf_str(&b),
			    "(s).\"user_id\" + (40), (s).\"username\", (s).\"email\", (s).\"pw_hash\"");
	buf_reset(&b);
	sqlgen_remapped(&b, &plan, &tables[T_MESSAGE], "k.r");
	assert_string_equal(buf_str(&b),
			    "(k.r).\"message_id\" + (200), (k.r).\"author_id\" + (40), (k.r).\"text\", "
			    "(k.r).\"pub_date\", (k.r).\"flagged\"");
	buf_reset(&b);
	sqlgen_remapped(&b, &plan, &tables[T_FOLLOWER], "s");
	assert_string_equal(buf_str(&b), "(s).\"who_id\" + (40), (s).\"whom_id\" + (40)");
	buf_reset(&b);
	sqlgen_remapped(&b, &plan, &tables[T_LATEST], "s");
	assert_string_equal(buf_str(&b), "(s).\"id\", (s).\"value\"");
	buf_release(&b);
}

static void test_remapped_negative_and_zero(void **state)
{
	struct buf b = BUF_INIT;

	/* a negative offset is parenthesised: "+ (-500)", never "+ -500" or "- 500" */
	sqlgen_remapped(&b, &plan, &tables[T_PROFILE], "$1::" ST ".\"UserProfile\"");
	assert_string_equal(buf_str(&b),
			    "($1::" ST ".\"UserProfile\").\"ProfileId\" + (-500), "
			    "($1::" ST ".\"UserProfile\").\"Display\"\"Name\"");
	buf_reset(&b);

	/* the referenced table's offset drops to 0: the reference is left alone */
	tables[T_USER].offset = 0;
	sqlgen_remapped(&b, &plan, &tables[T_MESSAGE], "s");
	assert_string_equal(buf_str(&b), "(s).\"message_id\" + (200), (s).\"author_id\", (s).\"text\", "
					 "(s).\"pub_date\", (s).\"flagged\"");
	buf_reset(&b);

	/* the int64 extremes print in full */
	tables[T_USER].offset = INT64_MIN;
	sqlgen_remapped(&b, &plan, &tables[T_FOLLOWER], "s");
	assert_string_equal(buf_str(&b), "(s).\"who_id\" + (-9223372036854775808), "
					 "(s).\"whom_id\" + (-9223372036854775808)");
	buf_reset(&b);
	tables[T_USER].offset = INT64_MAX;
	sqlgen_remapped(&b, &plan, &tables[T_USER], "s");
	assert_contains(buf_str(&b), "(s).\"user_id\" + (9223372036854775807), (s).\"username\"");
	buf_release(&b);
}

/* ---- capture triggers ---------------------------------------------------- */

/* The per-table capture functions: SECURITY DEFINER without SET search_path,
 * so every name in them is qualified (see sql/hop/capture.sql). */
#define CAPTURE_FN(id, name, body)                                                         \
	"CREATE OR REPLACE FUNCTION sync_fdw_src.capture_" id "_" name "() RETURNS trigger\n" \
	"LANGUAGE plpgsql SECURITY DEFINER AS $$\nBEGIN\n" body "    RETURN NULL;\nEND $$;\n"  \
	"REVOKE EXECUTE ON FUNCTION sync_fdw_src.capture_" id "_" name "() FROM PUBLIC;\n"
#define INS_VALUES "    INSERT INTO sync_fdw_src.changes (tbl, op, img)\n    VALUES ("
#define IMG(r) "pg_catalog.textin(pg_catalog.record_out(" r "))"
#define UPDATE_FN(id)                                                                       \
	CAPTURE_FN(id, "update", "    INSERT INTO sync_fdw_src.changes (tbl, op, img, old)\n" \
				 "    VALUES ('" id "'::pg_catalog.int2, 'U', " IMG("NEW") ",\n"  \
				 "            " IMG("OLD") ");\n")
#define DROPS(t)                                                          \
	"DROP TRIGGER IF EXISTS sync_fdw_insert ON public." t ";\n"      \
	"DROP TRIGGER IF EXISTS sync_fdw_update ON public." t ";\n"      \
	"DROP TRIGGER IF EXISTS sync_fdw_delete ON public." t ";\n"      \
	"DROP TRIGGER IF EXISTS sync_fdw_truncate ON public." t ";\n"

static void test_capture_triggers(void **state)
{
	struct buf b = BUF_INIT;
	sqlgen_capture_triggers(&b, &tables[T_PROFILE], SQLGEN_CAPTURE_ROW);
	assert_string_equal(buf_str(&b),
		DROPS("\"UserProfile\"")
		CAPTURE_FN("5", "insert", INS_VALUES "'5'::pg_catalog.int2, 'I', " IMG("NEW") ");\n")
		UPDATE_FN("5")
		CAPTURE_FN("5", "delete", INS_VALUES "'5'::pg_catalog.int2, 'D', " IMG("OLD") ");\n")
		"CREATE TRIGGER sync_fdw_insert AFTER INSERT ON public.\"UserProfile\""
		" FOR EACH ROW EXECUTE FUNCTION sync_fdw_src.capture_5_insert();\n"
		"CREATE TRIGGER sync_fdw_update AFTER UPDATE ON public.\"UserProfile\""
		" FOR EACH ROW EXECUTE FUNCTION sync_fdw_src.capture_5_update();\n"
		"CREATE TRIGGER sync_fdw_delete AFTER DELETE ON public.\"UserProfile\""
		" FOR EACH ROW EXECUTE FUNCTION sync_fdw_src.capture_5_delete();\n"
		"CREATE TRIGGER sync_fdw_truncate BEFORE TRUNCATE ON public.\"UserProfile\""
		" FOR EACH STATEMENT EXECUTE FUNCTION sync_fdw_src.refuse_truncate();\n");
	/* the table name never appears unquoted */
	assert_int_equal(count(buf_str(&b), "UserProfile"), 8);
	assert_int_equal(count(buf_str(&b), "public.\"UserProfile\""), 8);
	buf_release(&b);
}

static void test_capture_triggers_statement(void **state)
{
	struct buf b = BUF_INIT;
	sqlgen_capture_triggers(&b, &tables[T_PROFILE], SQLGEN_CAPTURE_STATEMENT);
	assert_string_equal(buf_str(&b),
		DROPS("\"UserProfile\"")
		CAPTURE_FN("5", "insert", "    INSERT INTO sync_fdw_src.changes (tbl, op, img)\n"
					  "    SELECT '5'::pg_catalog.int2, 'I', " IMG("r.*") " FROM new_rows r;\n")
		UPDATE_FN("5")
		CAPTURE_FN("5", "delete", "    INSERT INTO sync_fdw_src.changes (tbl, op, img)\n"
					  "    SELECT '5'::pg_catalog.int2, 'D', " IMG("r.*") " FROM old_rows r;\n")
		"CREATE TRIGGER sync_fdw_insert AFTER INSERT ON public.\"UserProfile\""
		" REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT"
		" EXECUTE FUNCTION sync_fdw_src.capture_5_insert();\n"
		"CREATE TRIGGER sync_fdw_update AFTER UPDATE ON public.\"UserProfile\""
		" FOR EACH ROW EXECUTE FUNCTION sync_fdw_src.capture_5_update();\n"
		"CREATE TRIGGER sync_fdw_delete AFTER DELETE ON public.\"UserProfile\""
		" REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT"
		" EXECUTE FUNCTION sync_fdw_src.capture_5_delete();\n"
		"CREATE TRIGGER sync_fdw_truncate BEFORE TRUNCATE ON public.\"UserProfile\""
		" FOR EACH STATEMENT EXECUTE FUNCTION sync_fdw_src.refuse_truncate();\n");
	buf_release(&b);
}

/* The C trigger: no PL/pgSQL function, the table's number as argument, and
 * 'settings' where the images need fixed settings. */
static void test_capture_triggers_c(void **state)
{
	struct buf b = BUF_INIT;
	sqlgen_capture_triggers(&b, &tables[T_PROFILE], SQLGEN_CAPTURE_C);
	assert_string_equal(buf_str(&b),
		DROPS("\"UserProfile\"")
		"CREATE TRIGGER sync_fdw_insert AFTER INSERT ON public.\"UserProfile\""
		" FOR EACH ROW EXECUTE FUNCTION sync_fdw_src.capture_row('5');\n"
		"CREATE TRIGGER sync_fdw_update AFTER UPDATE ON public.\"UserProfile\""
		" FOR EACH ROW EXECUTE FUNCTION sync_fdw_src.capture_row('5');\n"
		"CREATE TRIGGER sync_fdw_delete AFTER DELETE ON public.\"UserProfile\""
		" FOR EACH ROW EXECUTE FUNCTION sync_fdw_src.capture_row('5');\n"
		"CREATE TRIGGER sync_fdw_truncate BEFORE TRUNCATE ON public.\"UserProfile\""
		" FOR EACH STATEMENT EXECUTE FUNCTION sync_fdw_src.refuse_truncate();\n");
	char *saved = session_cols[2].type;
	session_cols[2].type = (char *)"timestamp with time zone";
	buf_reset(&b);
	sqlgen_capture_triggers(&b, &tables[T_SESSION], SQLGEN_CAPTURE_C);
	assert_int_equal(count(buf_str(&b), "EXECUTE FUNCTION sync_fdw_src.capture_row('7', 'settings');\n"), 3);
	session_cols[2].type = saved;
	buf_release(&b);
}

/* Images of tables with dates, times, intervals or floats are made under
 * fixed settings (their text follows DateStyle and the like); the others
 * pay nothing for it. */
static void test_capture_image_settings(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	sqlgen_capture_triggers(&b, &tables[T_SESSION], SQLGEN_CAPTURE_ROW);
	assert_null(strstr(buf_str(&b), "DateStyle"));
	const char *types[] = { "timestamp with time zone", "date[]", "interval", "double precision", "real",
				"time without time zone" };
	char *saved = session_cols[2].type;
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
		session_cols[2].type = (char *)types[i];
		buf_reset(&b);
		sqlgen_capture_triggers(&b, &tables[T_SESSION], SQLGEN_CAPTURE_ROW);
		assert_int_equal(count(buf_str(&b), "SECURITY DEFINER SET DateStyle = 'ISO, MDY' SET IntervalStyle = "
						    "'postgres' SET extra_float_digits = 1 AS $$"), 3);
		assert_null(strstr(buf_str(&b), "SET search_path"));
	}
	session_cols[2].type = saved;
	buf_release(&b);
}

static void test_capture_triggers_table_id(void **state)
{
	struct buf b = BUF_INIT;
	tables[T_USER].id = 12;
	for (int m = 0; m < 2; m++) {
		enum sqlgen_capture_mode mode = m ? SQLGEN_CAPTURE_STATEMENT : SQLGEN_CAPTURE_ROW;
		buf_reset(&b);
		sqlgen_capture_triggers(&b, &tables[T_USER], mode);
		assert_contains(buf_str(&b), m ? "AFTER INSERT ON public.\"user\" REFERENCING NEW TABLE AS "
						 "new_rows FOR EACH STATEMENT EXECUTE FUNCTION "
						 "sync_fdw_src.capture_12_insert();\n"
					       : "AFTER INSERT ON public.\"user\" FOR EACH ROW EXECUTE "
						 "FUNCTION sync_fdw_src.capture_12_insert();\n");
		assert_contains(buf_str(&b), "EXECUTE FUNCTION sync_fdw_src.capture_12_update();\n");
		assert_contains(buf_str(&b), "EXECUTE FUNCTION sync_fdw_src.capture_12_delete();\n");
		/* the number is baked into the functions, each one of them */
		assert_int_equal(count(buf_str(&b), "'12'::pg_catalog.int2"), 3);
		assert_int_equal(count(buf_str(&b), "CREATE OR REPLACE FUNCTION sync_fdw_src.capture_12_"), 3);
		assert_int_equal(count(buf_str(&b), "REVOKE EXECUTE ON FUNCTION sync_fdw_src.capture_12_"), 3);
		assert_int_equal(count(buf_str(&b), "CREATE TRIGGER"), 4);
		/* the same four names in both modes, all dropped first: installing
		 * in one mode replaces the triggers of the other */
		assert_int_equal(count(buf_str(&b), "DROP TRIGGER IF EXISTS"), 4);
		const char *names[] = { "sync_fdw_insert ", "sync_fdw_update ", "sync_fdw_delete ",
					"sync_fdw_truncate " };
		for (size_t i = 0; i < 4; i++)
			assert_int_equal(count(buf_str(&b), names[i]), 2);
		assert_true(strstr(buf_str(&b), "DROP TRIGGER IF EXISTS sync_fdw_truncate") <
			    strstr(buf_str(&b), "CREATE OR REPLACE FUNCTION"));
		/* nothing the caller's search_path could resolve: no cast (::text),
		 * no SET clause, no TG_ARGV */
		assert_null(strstr(buf_str(&b), "::text"));
		assert_null(strstr(buf_str(&b), "SET search_path"));
		assert_null(strstr(buf_str(&b), "TG_"));
	}
	buf_release(&b);
}

static void test_capture_drop(void **state)
{
	struct buf b = BUF_INIT;
	sqlgen_capture_drop(&b, "a\"b");
	assert_string_equal(buf_str(&b),
			    "DROP TRIGGER IF EXISTS sync_fdw_insert ON public.\"a\"\"b\";\n"
			    "DROP TRIGGER IF EXISTS sync_fdw_update ON public.\"a\"\"b\";\n"
			    "DROP TRIGGER IF EXISTS sync_fdw_delete ON public.\"a\"\"b\";\n"
			    "DROP TRIGGER IF EXISTS sync_fdw_truncate ON public.\"a\"\"b\";\n");
	buf_release(&b);
}

/* ---- copy ---------------------------------------------------------------- */

#define USER_COLS "\"user_id\", \"username\", \"email\", \"pw_hash\""

static void test_copy_ranged(void **state)
{
	struct buf b = BUF_INIT;
	sqlgen_copy(&b, &plan, &tables[T_USER], STAGING, true);
	/* the range is on the source's key, before the offset; half-open */
	assert_string_equal(buf_str(&b),
			    "INSERT INTO public.\"user\" (" USER_COLS ") SELECT (s).\"user_id\" + (40), "
			    "(s).\"username\", (s).\"email\", (s).\"pw_hash\" FROM " ST ".\"user\" s "
			    "WHERE s.\"user_id\" >= $1 AND s.\"user_id\" < $2");
	buf_release(&b);
}

static void test_copy_whole(void **state)
{
	struct buf b = BUF_INIT;
	sqlgen_copy(&b, &plan, &tables[T_MESSAGE], STAGING, false);
	assert_string_equal(buf_str(&b),
			    "INSERT INTO public.\"message\" (\"message_id\", \"author_id\", \"text\", "
			    "\"pub_date\", \"flagged\") SELECT (s).\"message_id\" + (200), "
			    "(s).\"author_id\" + (40), (s).\"text\", (s).\"pub_date\", (s).\"flagged\" "
			    "FROM " ST ".\"message\" s");
	buf_reset(&b);

	/* keyless: ranged is ignored, there is no key to range over */
	sqlgen_copy(&b, &plan, &tables[T_FOLLOWER], STAGING, true);
	assert_string_equal(buf_str(&b),
			    "INSERT INTO public.\"follower\" (\"who_id\", \"whom_id\") SELECT "
			    "(s).\"who_id\" + (40), (s).\"whom_id\" + (40) FROM " ST ".\"follower\" s");
	buf_reset(&b);

	/* a staging schema needing quotes, a negative offset; the moved ids
	 * override a GENERATED ALWAYS identity */
	sqlgen_copy(&b, &plan, &tables[T_PROFILE], "My\"Stage", false);
	assert_string_equal(buf_str(&b),
			    "INSERT INTO public.\"UserProfile\" (\"ProfileId\", \"Display\"\"Name\") "
			    "OVERRIDING SYSTEM VALUE SELECT (s).\"ProfileId\" + (-500), (s).\"Display\"\"Name\" "
			    "FROM \"My\"\"Stage\".\"UserProfile\" s");
	buf_release(&b);
}

static void test_copy_replace(void **state)
{
	struct buf b = BUF_INIT;

	/* replace: the source row replaces the target's, every non-key column */
	sqlgen_copy(&b, &plan, &tables[T_LATEST], STAGING, true);
	assert_string_equal(buf_str(&b),
			    "INSERT INTO public.\"latest\" (\"id\", \"value\") SELECT (s).\"id\", "
			    "(s).\"value\" FROM " ST ".\"latest\" s WHERE s.\"id\" >= $1 AND "
			    "s.\"id\" < $2 ON CONFLICT (\"id\") DO UPDATE SET \"value\" = "
			    "EXCLUDED.\"value\"");
	buf_reset(&b);

	/* nothing but the key: DO NOTHING */
	sqlgen_copy(&b, &plan, &tables[T_MIGRATIONS], STAGING, true);
	assert_string_equal(buf_str(&b),
			    "INSERT INTO public.\"schema_migrations\" (\"version\") SELECT "
			    "(s).\"version\" FROM " ST ".\"schema_migrations\" s ON CONFLICT "
			    "(\"version\") DO NOTHING");
	buf_reset(&b);

	/* refuse: no ON CONFLICT, a collision fails the copy */
	sqlgen_copy(&b, &plan, &tables[T_USER], STAGING, false);
	assert_not_contains(buf_str(&b), "ON CONFLICT");
	buf_reset(&b);

	/* replace on a keyless table: nothing to conflict on */
	tables[T_FOLLOWER].conflict = HOP_CONFLICT_REPLACE;
	sqlgen_copy(&b, &plan, &tables[T_FOLLOWER], STAGING, false);
	assert_not_contains(buf_str(&b), "ON CONFLICT");
	buf_reset(&b);

	/* replace with a remapped key: the conflict is on the (target) key columns */
	tables[T_USER].conflict = HOP_CONFLICT_REPLACE;
	sqlgen_copy(&b, &plan, &tables[T_USER], STAGING, false);
	assert_ends_with(buf_str(&b), " FROM " ST ".\"user\" s ON CONFLICT (\"user_id\") DO UPDATE SET "
				      "\"username\" = EXCLUDED.\"username\", \"email\" = "
				      "EXCLUDED.\"email\", \"pw_hash\" = EXCLUDED.\"pw_hash\"");
	buf_reset(&b);

	/* a composite key */
	tables[T_TAG].conflict = HOP_CONFLICT_REPLACE;
	sqlgen_copy(&b, &plan, &tables[T_TAG], STAGING, false);
	assert_ends_with(buf_str(&b), " ON CONFLICT (\"message_id\", \"tag\") DO NOTHING");
	buf_release(&b);
}

/* ---- set-based apply ----------------------------------------------------- */

#define USER_ROW ST ".\"user\""
#define KEYED_LAST_USER                                                                \
	"SELECT DISTINCT ON ((x.r).\"user_id\") x.present, x.r FROM (SELECT c.change_id, " \
	"c.op <> 'D' AS present, c.img::" USER_ROW " AS r FROM pg_temp.sync_batch c "     \
	"WHERE c.tbl = 1 UNION ALL SELECT c.change_id, false, c.old::" USER_ROW " FROM "   \
	"pg_temp.sync_batch c WHERE c.tbl = 1 AND c.op = 'U') x ORDER BY (x.r).\"user_id\", " \
	"x.change_id DESC, x.present DESC"
#define USER_SET                                                                       \
	" ON CONFLICT (\"user_id\") DO UPDATE SET \"username\" = EXCLUDED.\"username\", "   \
	"\"email\" = EXCLUDED.\"email\", \"pw_hash\" = EXCLUDED.\"pw_hash\""

static void test_apply_keyed_delete(void **state)
{
	struct buf b = BUF_INIT;
	sqlgen_apply_delete(&b, &plan, &tables[T_USER], STAGING);
	assert_string_equal(buf_str(&b),
			    "DELETE FROM public.\"user\" t USING (" KEYED_LAST_USER ") k "
			    "WHERE NOT k.present AND t.\"user_id\" = (k.r).\"user_id\" + (40)");
	/* one statement */
	assert_null(strchr(buf_str(&b), ';'));
	buf_release(&b);
}

static void test_apply_keyed_upsert(void **state)
{
	struct buf b = BUF_INIT;
	sqlgen_apply_upsert(&b, &plan, &tables[T_USER], STAGING);
	assert_string_equal(buf_str(&b),
			    "INSERT INTO public.\"user\" (" USER_COLS ") SELECT (k.r).\"user_id\" + (40), "
			    "(k.r).\"username\", (k.r).\"email\", (k.r).\"pw_hash\" FROM ("
			    KEYED_LAST_USER ") k WHERE k.present" USER_SET);
	assert_null(strchr(buf_str(&b), ';'));
	buf_release(&b);
}

static void test_apply_keyed_merge(void **state)
{
	struct buf b = BUF_INIT;
	sqlgen_apply_merge(&b, &plan, &tables[T_USER], STAGING);
	assert_string_equal(buf_str(&b),
			    "MERGE INTO public.\"user\" t USING (" KEYED_LAST_USER ") k ON "
			    "t.\"user_id\" = (k.r).\"user_id\" + (40) "
			    "WHEN MATCHED AND NOT k.present THEN DELETE "
			    "WHEN MATCHED THEN UPDATE SET \"username\" = (k.r).\"username\", "
			    "\"email\" = (k.r).\"email\", \"pw_hash\" = (k.r).\"pw_hash\" "
			    "WHEN NOT MATCHED AND k.present THEN INSERT (" USER_COLS ") VALUES "
			    "((k.r).\"user_id\" + (40), (k.r).\"username\", (k.r).\"email\", "
			    "(k.r).\"pw_hash\")");
	assert_null(strchr(buf_str(&b), ';'));
	buf_reset(&b);
	/* references shifted in the update too */
	sqlgen_apply_merge(&b, &plan, &tables[T_SESSION], STAGING);
	assert_contains(buf_str(&b), "UPDATE SET \"user_id\" = (k.r).\"user_id\" + (40), ");
	buf_reset(&b);
	/* only key columns: nothing to update */
	sqlgen_apply_merge(&b, &plan, &tables[T_TAG], STAGING);
	assert_contains(buf_str(&b), " WHEN MATCHED THEN DO NOTHING WHEN NOT MATCHED AND k.present ");
	buf_reset(&b);
	/* keyless: the upsert pass, unchanged */
	struct buf u = BUF_INIT;
	sqlgen_apply_merge(&b, &plan, &tables[T_FOLLOWER], STAGING);
	sqlgen_apply_upsert(&u, &plan, &tables[T_FOLLOWER], STAGING);
	assert_string_equal(buf_str(&b), buf_str(&u));
	buf_release(&u);
	buf_release(&b);
}

static void test_apply_keyed_refs(void **state)
{
	struct buf b = BUF_INIT;
	const char *s;

	sqlgen_apply_upsert(&b, &plan, &tables[T_MESSAGE], STAGING);
	s = buf_str(&b);
	assert_contains(s, "SELECT (k.r).\"message_id\" + (200), (k.r).\"author_id\" + (40), "
			   "(k.r).\"text\", (k.r).\"pub_date\", (k.r).\"flagged\" FROM (");
	assert_contains(s, "SELECT DISTINCT ON ((x.r).\"message_id\") x.present, x.r FROM ");
	assert_contains(s, "c.img::" ST ".\"message\" AS r FROM pg_temp.sync_batch c WHERE c.tbl = 2 ");
	assert_contains(s, "c.old::" ST ".\"message\" FROM pg_temp.sync_batch c WHERE c.tbl = 2 AND "
			   "c.op = 'U') x ORDER BY (x.r).\"message_id\", x.change_id DESC, "
			   "x.present DESC) k WHERE k.present");
	assert_ends_with(s, " ON CONFLICT (\"message_id\") DO UPDATE SET \"author_id\" = "
			    "EXCLUDED.\"author_id\", \"text\" = EXCLUDED.\"text\", \"pub_date\" = "
			    "EXCLUDED.\"pub_date\", \"flagged\" = EXCLUDED.\"flagged\"");
	assert_not_contains(s, "generate_series");
	buf_reset(&b);

	/* web_session: its own key and a reference to user, both shifted */
	sqlgen_apply_delete(&b, &plan, &tables[T_SESSION], STAGING);
	assert_ends_with(buf_str(&b), ") k WHERE NOT k.present AND t.\"session_id\" = "
				      "(k.r).\"session_id\" + (1000)");
	buf_reset(&b);
	sqlgen_apply_upsert(&b, &plan, &tables[T_SESSION], STAGING);
	assert_contains(buf_str(&b), "SELECT (k.r).\"session_id\" + (1000), (k.r).\"user_id\" + (40), "
				     "(k.r).\"csrf_token\" FROM (");
	assert_ends_with(buf_str(&b), " ON CONFLICT (\"session_id\") DO UPDATE SET \"user_id\" = "
				      "EXCLUDED.\"user_id\", \"csrf_token\" = EXCLUDED.\"csrf_token\"");
	buf_release(&b);
}

static void test_apply_keyed_composite(void **state)
{
	struct buf b = BUF_INIT;
	const char *s;

	sqlgen_apply_delete(&b, &plan, &tables[T_TAG], STAGING);
	s = buf_str(&b);
	assert_contains(s, "SELECT DISTINCT ON ((x.r).\"message_id\", (x.r).\"tag\") x.present, x.r");
	assert_contains(s, " ORDER BY (x.r).\"message_id\", (x.r).\"tag\", x.change_id DESC, "
			   "x.present DESC) k");
	assert_ends_with(s, " WHERE NOT k.present AND t.\"message_id\" = (k.r).\"message_id\" + (200) "
			    "AND t.\"tag\" = (k.r).\"tag\"");
	buf_reset(&b);

	sqlgen_apply_upsert(&b, &plan, &tables[T_TAG], STAGING);
	assert_ends_with(buf_str(&b), ") k WHERE k.present ON CONFLICT (\"message_id\", \"tag\") "
				      "DO NOTHING");
	buf_release(&b);
}

#define FOLLOWER_ROW ST ".\"follower\""
#define KEYLESS_NET_FOLLOWER                                                           \
	"SELECT x.r, sum(x.d)::bigint AS n FROM (SELECT c.img::" FOLLOWER_ROW " AS r, "     \
	"CASE c.op WHEN 'D' THEN -1 ELSE 1 END AS d FROM pg_temp.sync_batch c WHERE "       \
	"c.tbl = 3 UNION ALL SELECT c.old::" FOLLOWER_ROW ", -1 FROM pg_temp.sync_batch c " \
	"WHERE c.tbl = 3 AND c.op = 'U') x GROUP BY x.r"
#define KEYLESS_DELETE_HEAD                                                            \
	"DELETE FROM public.\"follower\" WHERE ctid IN (SELECT m.ctid FROM (SELECT "        \
	"t.ctid, k.n, row_number() OVER (PARTITION BY k.r) AS i FROM ("                    \
	KEYLESS_NET_FOLLOWER ") k JOIN public.\"follower\" t ON "

static void test_apply_keyless_delete(void **state)
{
	struct buf b = BUF_INIT;
	sqlgen_apply_delete(&b, &plan, &tables[T_FOLLOWER], STAGING);
	const char *s = buf_str(&b);

	/* two statements: rows without NULLs by "=" (an index serves it), the
	 * others by IS NOT DISTINCT FROM; each deletes -n copies per net row */
	assert_string_equal(s,
		KEYLESS_DELETE_HEAD
		"t.\"who_id\" = (k.r).\"who_id\" + (40) AND t.\"whom_id\" = (k.r).\"whom_id\" + (40) "
		"WHERE k.n < 0 AND (k.r).\"who_id\" IS NOT NULL AND (k.r).\"whom_id\" IS NOT NULL"
		") m WHERE m.i <= -m.n);\n"
		KEYLESS_DELETE_HEAD
		"t.\"who_id\" IS NOT DISTINCT FROM (k.r).\"who_id\" + (40) AND "
		"t.\"whom_id\" IS NOT DISTINCT FROM (k.r).\"whom_id\" + (40) "
		"WHERE k.n < 0 AND NOT ((k.r).\"who_id\" IS NOT NULL AND (k.r).\"whom_id\" IS NOT NULL)"
		") m WHERE m.i <= -m.n)");

	assert_int_equal(count(s, "DELETE FROM public.\"follower\""), 2);
	assert_int_equal(count(s, ";\n"), 1);
	assert_int_equal(count(s, " IS NOT DISTINCT FROM "), 2);
	/* the first statement uses no IS NOT DISTINCT FROM */
	const char *second = strstr(s, ";\n");
	assert_non_null(second);
	assert_true(strstr(s, " IS NOT DISTINCT FROM ") > second);
	assert_not_contains(s, "DISTINCT ON");
	buf_release(&b);
}

static void test_apply_keyless_upsert(void **state)
{
	struct buf b = BUF_INIT;
	sqlgen_apply_upsert(&b, &plan, &tables[T_FOLLOWER], STAGING);
	assert_string_equal(buf_str(&b),
			    "INSERT INTO public.\"follower\" (\"who_id\", \"whom_id\") SELECT "
			    "(k.r).\"who_id\" + (40), (k.r).\"whom_id\" + (40) FROM ("
			    KEYLESS_NET_FOLLOWER ") k CROSS JOIN LATERAL generate_series(1, k.n) "
			    "WHERE k.n > 0");
	assert_not_contains(buf_str(&b), "ON CONFLICT");
	buf_release(&b);
}

/* ---- one change at a time ------------------------------------------------ */

#define U1 "($1::" USER_ROW ")"
#define U2 "($2::" USER_ROW ")"
#define USER_DEL(img)                                                                  \
	"WITH del AS (DELETE FROM public.\"user\" WHERE ctid = (SELECT t.ctid FROM "        \
	"public.\"user\" t WHERE t.\"user_id\" = " img ".\"user_id\" + (40) LIMIT 1) "      \
	"RETURNING 1) "
#define USER_INSERT                                                                    \
	"INSERT INTO public.\"user\" (" USER_COLS ") SELECT " U1 ".\"user_id\" + (40), "    \
	U1 ".\"username\", " U1 ".\"email\", " U1 ".\"pw_hash\""

static void test_apply_one_keyed(void **state)
{
	struct buf b = BUF_INIT;

	sqlgen_apply_one(&b, &plan, &tables[T_USER], STAGING, 'I');
	assert_string_equal(buf_str(&b), USER_INSERT USER_SET);
	buf_reset(&b);

	/* U: delete by the old image ($2), insert the new one ($1) */
	sqlgen_apply_one(&b, &plan, &tables[T_USER], STAGING, 'U');
	assert_string_equal(buf_str(&b),
			    USER_DEL(U2) USER_INSERT " FROM (SELECT count(*) FROM del) d" USER_SET);
	buf_reset(&b);

	/* D: delete by $1, report the count */
	sqlgen_apply_one(&b, &plan, &tables[T_USER], STAGING, 'D');
	assert_string_equal(buf_str(&b), USER_DEL(U1) "SELECT count(*) FROM del");
	assert_not_contains(buf_str(&b), "$2");
	buf_release(&b);
}

#define F1 "($1::" FOLLOWER_ROW ")"
#define F2 "($2::" FOLLOWER_ROW ")"
#define FOLLOWER_DEL(img)                                                              \
	"WITH del AS (DELETE FROM public.\"follower\" WHERE ctid = (SELECT t.ctid FROM "    \
	"public.\"follower\" t WHERE t.\"who_id\" IS NOT DISTINCT FROM " img ".\"who_id\" " \
	"+ (40) AND t.\"whom_id\" IS NOT DISTINCT FROM " img ".\"whom_id\" + (40) LIMIT 1) " \
	"RETURNING 1) "
#define FOLLOWER_INSERT                                                                \
	"INSERT INTO public.\"follower\" (\"who_id\", \"whom_id\") SELECT " F1             \
	".\"who_id\" + (40), " F1 ".\"whom_id\" + (40)"

static void test_apply_one_keyless(void **state)
{
	struct buf b = BUF_INIT;

	sqlgen_apply_one(&b, &plan, &tables[T_FOLLOWER], STAGING, 'I');
	assert_string_equal(buf_str(&b), FOLLOWER_INSERT);
	buf_reset(&b);

	/* one copy of the old row (LIMIT 1), NULLs matched */
	sqlgen_apply_one(&b, &plan, &tables[T_FOLLOWER], STAGING, 'U');
	assert_string_equal(buf_str(&b),
			    FOLLOWER_DEL(F2) FOLLOWER_INSERT " FROM (SELECT count(*) FROM del) d");
	buf_reset(&b);

	sqlgen_apply_one(&b, &plan, &tables[T_FOLLOWER], STAGING, 'D');
	assert_string_equal(buf_str(&b), FOLLOWER_DEL(F1) "SELECT count(*) FROM del");
	buf_release(&b);
}

static void test_apply_one_quoting(void **state)
{
	struct buf b = BUF_INIT;
	sqlgen_apply_one(&b, &plan, &tables[T_PROFILE], "My\"Stage", 'D');
	assert_string_equal(buf_str(&b),
			    "WITH del AS (DELETE FROM public.\"UserProfile\" WHERE ctid = (SELECT "
			    "t.ctid FROM public.\"UserProfile\" t WHERE t.\"ProfileId\" = "
			    "($1::\"My\"\"Stage\".\"UserProfile\").\"ProfileId\" + (-500) LIMIT 1) "
			    "RETURNING 1) SELECT count(*) FROM del");
	buf_release(&b);
}

/* ---- skip-copied --------------------------------------------------------- */

static void test_skip_copied(void **state)
{
	struct buf b = BUF_INIT;

	sqlgen_skip_copied(&b, &tables[T_USER], STAGING, "'minitwit_source'");
	assert_string_equal(buf_str(&b),
			    "DELETE FROM pg_temp.sync_batch c USING sync_fdw.copied p WHERE "
			    "p.server = 'minitwit_source' AND p.name = 'user' AND c.tbl = 1 AND "
			    "pg_visible_in_snapshot(c.xid, p.snapshot) AND (p.lo IS NULL OR "
			    "((c.img::" USER_ROW ").\"user_id\" >= p.lo AND (c.img::" USER_ROW
			    ").\"user_id\" < p.hi))");
	buf_reset(&b);

	/* no key: the table was copied in one piece, the snapshot decides */
	sqlgen_skip_copied(&b, &tables[T_FOLLOWER], STAGING, "'it''s'");
	assert_string_equal(buf_str(&b),
			    "DELETE FROM pg_temp.sync_batch c USING sync_fdw.copied p WHERE "
			    "p.server = 'it''s' AND p.name = 'follower' AND c.tbl = 3 AND "
			    "pg_visible_in_snapshot(c.xid, p.snapshot)");
	buf_reset(&b);

	/* the source key, not the shifted one, is compared with the piece */
	sqlgen_skip_copied(&b, &tables[T_PROFILE], STAGING, "'x'");
	assert_contains(buf_str(&b), "((c.img::" ST ".\"UserProfile\").\"ProfileId\" >= p.lo AND ");
	assert_not_contains(buf_str(&b), "-500");
	buf_release(&b);
}

#define T(f) cmocka_unit_test_setup(f, reset_plan)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_ident),
		T(test_qualified),
		T(test_literal),
		T(test_appends),
		T(test_columns),
		T(test_column_offsets),
		T(test_remapped),
		T(test_remapped_negative_and_zero),
		T(test_capture_triggers),
		T(test_capture_triggers_c),
		T(test_capture_image_settings),
		T(test_capture_triggers_statement),
		T(test_capture_triggers_table_id),
		T(test_capture_drop),
		T(test_copy_ranged),
		T(test_copy_whole),
		T(test_copy_replace),
		T(test_apply_keyed_delete),
		T(test_apply_keyed_upsert),
		T(test_apply_keyed_merge),
		T(test_apply_keyed_refs),
		T(test_apply_keyed_composite),
		T(test_apply_keyless_delete),
		T(test_apply_keyless_upsert),
		T(test_apply_one_keyed),
		T(test_apply_one_keyless),
		T(test_apply_one_quoting),
		T(test_skip_copied),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
