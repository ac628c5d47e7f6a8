/*
 * migrate: the operator's tool for a whole hop: plan, prepare the target,
 * bulk-copy, verify, cut over with writes held, finish, or all of it (run).
 *
 *   migrate [--config FILE] COMMAND [OPTION]...
 *
 * It drives the same engine as sync-fdw (hop/).  Only this file decides
 * exit codes (lib/exitcode.h).
 */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "apply.h"
#include "capture.h"
#include "cli.h"
#include "copy.h"
#include "cutover.h"
#include "exitcode.h"
#include "hop.h"
#include "link.h"
#include "log.h"
#include "pgx.h"
#include "plan.h"
#include "report.h"
#include "run.h"
#include "sqlgen.h"
#include "stage.h"
#include "tschema.h"
#include "verify.h"
#include "banned.h"

#ifndef MINITWIT_VERSION
#define MINITWIT_VERSION "0.1.0"
#endif

static struct cli_globals globals;
static struct hop_config cfg;
static const struct cli_program program;

/* Parse options, print help, load config and open the hop; returns -1 to
 * go on, or the exit code to return. */
static int start(int argc, char **argv, const char *cmd, const char *allowed, const char *help,
		 struct cli_opts *o, struct hop *h, int need)
{
	int rc = cli_start(&program, argc, argv, cmd, allowed, help, o);
	if (rc >= 0)
		return rc;
	if (!hop_config_load(globals.config_path, globals.config_given, &cfg))
		return EXIT_CONFIG;
	bool src_bad;
	if (!run_open(h, &cfg, need, &src_bad))
		return src_bad ? EXIT_SOURCE : EXIT_TARGET;
	if (need & HOP_PLAN)
		plan_check_copy(&h->plan);
	return -1;
}

static int emit(struct buf *out, int rc)
{
	fputs(buf_str(out), stdout);
	buf_release(out);
	return rc;
}

static int cmd_plan(int argc, char **argv)
{
	struct cli_opts o;
	struct hop h;
	int rc = start(argc, argv, "plan", "j",
		       "Usage: migrate [--config FILE] plan [--json]\n\n"
		       "Read both catalogs and print the hop: tables, keys, references (from foreign\n"
		       "keys and refs:), row counts, the offset of each table with the id ranges\n"
		       "before and after, sequences, and every problem that would stop the hop, each\n"
		       "with its fix (exit 3 if any).  Writes nothing.\n\nOptions:\n",
		       &o, &h, HOP_PLAN);
	if (rc >= 0)
		return rc;
	cutover_check_servers(&h);	/* before anything is written, not after the copy */
	if (!capture_check_plan(&h)) {
		hop_close(&h);
		return EXIT_SOURCE;
	}
	struct buf out = BUF_INIT;
	if (o.json) {
		json_t *j = plan_json(&h.plan);
		report_json(&out, j);
		json_decref(j);
	} else {
		plan_text(&h.plan, &out);
		for (size_t i = 0; i < h.plan.n; i++)
			if (!h.plan.t[i].tgt)
				buf_addf(&out, "note: the target has no table \"%s\": migrate creates it from the "
					       "source's definition\n", h.plan.t[i].src->name);
	}
	rc = h.plan.nproblems ? EXIT_CONFIG : EXIT_OK;
	hop_close(&h);
	return emit(&out, rc);
}

static int cmd_schema(int argc, char **argv)
{
	struct cli_opts o;
	struct hop h;
	int rc = start(argc, argv, "schema", "j",
		       "Usage: migrate [--config FILE] schema\n\n"
		       "Create the tables the target lacks from the source's definition (columns,\n"
		       "keys, identity and sequences, constraints, indexes).  Existing tables are\n"
		       "compared by plan instead.  Idempotent.\n\nOptions:\n",
		       &o, &h, HOP_PLAN);
	if (rc >= 0)
		return rc;
	cutover_check_servers(&h);	/* before anything is written, not after the copy */
	int created = 0;
	rc = hop_plan_ok(&h) && tschema_create(&h, &created) ? EXIT_OK : EXIT_TARGET;
	if (o.json)
		report_print(json_pack("{s:i, s:b}", "tables_created", created, "ok", rc == EXIT_OK));
	hop_close(&h);
	return rc;
}

static int cmd_copy(int argc, char **argv)
{
	struct cli_opts o;
	struct hop h;
	int rc = start(argc, argv, "copy", "j",
		       "Usage: migrate [--config FILE] copy [--json]\n\n"
		       "Bulk-copy the source's rows through the link, ids remapped, consistent with\n"
		       "the change capture (no row missed or doubled between the copy and the change\n"
		       "log).  Creates the target's missing tables, the link and the capture first\n"
		       "if they are not there.  Works in pieces of copy.batch_rows ids: killed, it\n"
		       "resumes where it stopped.  Secondary indexes of empty tables are built once,\n"
		       "after the rows.  Progress on stderr (rows, rows/s, ETA per table).\n\nOptions:\n",
		       &o, &h, HOP_PLAN);
	if (rc >= 0)
		return rc;
	cutover_check_servers(&h);	/* before anything is written, not after the copy */
	struct progress_out po;
	progress_out_init(&po, o.json);
	struct copy_opts co = { .progress = progress_show, .progress_arg = &po,
				.stop = cli_catch_signals() };
	struct copy_result res;
	rc = run_prepare(&h) && copy_run(&h, &co, &res) ? EXIT_OK : (h.plan.nproblems ? EXIT_CONFIG : EXIT_TARGET);
	if (o.json && rc == EXIT_OK)
		report_print(json_pack("{s:s, s:I, s:I, s:I, s:i, s:f, s:f}", "event", "copied",
				       "rows", (json_int_t)res.rows, "pieces", (json_int_t)res.pieces,
				       "pieces_skipped", (json_int_t)res.pieces_skipped, "workers", res.workers,
				       "seconds", round(res.seconds * 1000) / 1000,
				       "index_seconds", round(res.index_seconds * 1000) / 1000));
	hop_close(&h);
	return rc;
}

static int cmd_verify(int argc, char **argv)
{
	struct cli_opts o;
	struct hop h;
	int rc = start(argc, argv, "verify", "j",
		       "Usage: migrate [--config FILE] verify [--json]\n\n"
		       "Compare every table of the hop: row counts and a content checksum of the\n"
		       "source (ids remapped) and the target, listing the first differing keys;\n"
		       "after the cutover also that each sequence a moved column draws from gives\n"
		       "a value beyond its columns' ids.  Exit 6 on a mismatch.  Meaningful when\n"
		       "nothing writes (after the cutover).\n\n"
		       "Options:\n", &o, &h, HOP_PLAN);
	if (rc >= 0)
		return rc;
	struct buf out = BUF_INIT;
	bool match;
	json_t *report;
	rc = verify_run(&h, &report, &match) ? (match ? EXIT_OK : EXIT_VERIFY) : EXIT_TARGET;
	report_render(&out, report, o.json, verify_text);
	hop_close(&h);
	return emit(&out, rc);
}

static int cmd_cutover(int argc, char **argv)
{
	struct cli_opts o;
	struct hop h;
	int rc = start(argc, argv, "cutover", "jd",
		       "Usage: migrate [--config FILE] cutover [--dry-run] [--json]\n\n"
		       "Move the service to the target: preflight, pause every entry of\n"
		       "cutover.servers (minitwitd, PgBouncer, command hooks: writes held, not failed),\n"
		       "fence the source, drain the last changes, set the target's sequences, switch\n"
		       "every server to the target and resume it there, report how long writes were\n"
		       "held on each.  Any failure before the switch unfences the source and resumes\n"
		       "every server where it was.  Run again after a crash, it finishes the cutover.\n"
		       "minitwitd's admin token comes from the environment variable named by\n"
		       "cutover.token_env.\n\nOptions:\n"
		       "      --dry-run  run the preflight and say what the cutover would do;\n"
		       "                 change nothing\n", &o, &h, HOP_PLAN);
	if (rc >= 0)
		return rc;
	struct buf out = BUF_INIT;
	struct cutover_opts co = { .dry_run = o.dry_run };
	json_t *report;
	rc = cutover_run(&h, &co, &report) ? EXIT_OK : EXIT_FAILURE_GENERIC;
	report_render(&out, report, o.json, cutover_text);
	hop_close(&h);
	return emit(&out, rc);
}

static int cmd_finish(int argc, char **argv)
{
	struct cli_opts o;
	struct hop h;
	int rc = start(argc, argv, "finish", "ja",
		       "Usage: migrate [--config FILE] finish [--abandon]\n\n"
		       "After the cutover: remove the link, the capture objects and the staging\n"
		       "schemas.  The ledger stays on the target, and the fence stays on the old\n"
		       "host.  A hop that was never cut over is refused.  Idempotent.\n\n"
		       "Options:\n"
		       "      --abandon  give up a hop that was not cut over: remove link and capture\n"
		       "                 the same way and record the hop as abandoned (the rows copied\n"
		       "                 so far stay on the target)\n", &o, &h, HOP_SOURCE | HOP_TARGET);
	if (rc >= 0)
		return rc;
	enum hop_stage as;
	if (!run_finish_allowed(&h, o.abandon, &as))
		rc = EXIT_FAILURE_GENERIC;
	else
		rc = capture_remove(&h) && link_drop(&h, hop_stage_name(as)) ? EXIT_OK : EXIT_TARGET;
	if (rc == EXIT_OK && as == HOP_STAGE_ABANDONED)
		log_info("hop \"%s\" abandoned: link and capture removed; the rows it copied stay on the "
			 "target", h.server);
	if (o.json)
		report_print(json_pack("{s:b}", hop_stage_name(as), rc == EXIT_OK));
	hop_close(&h);
	return rc;
}

/* A JSON value as text: strings bare, null as "-", numbers as written. */
static const char *jtext(json_t *v, char *tmp, size_t len)
{
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v))
		snprintf(tmp, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else if (json_is_real(v))
		snprintf(tmp, len, "%.1f", json_real_value(v));
	else if (json_is_boolean(v))
		snprintf(tmp, len, "%s", json_is_true(v) ? "yes" : "no");
	else
		snprintf(tmp, len, "-");
	return tmp;
}

/* migrate status for a person: the state migrate status --json prints. */
static void status_text(json_t *st, struct buf *out)
{
	char t1[64], t2[64], t3[64];
#define J(key) jtext(json_object_get(st, key), t1, sizeof t1)
	buf_addf(out, "hop:         %s\n", J("hop"));
	buf_addf(out, "source:      %s\n", J("source"));
	const char *stage = json_string_value(json_object_get(st, "stage"));
	buf_addf(out, "stage:       %s%s\n", stage ? stage : "-",
		 stage && strcmp(stage, "finished") == 0 ?
			 " (link, capture and staging removed; the ledger stays)" : "");
	buf_addf(out, "copy:        started %s, ", J("copy_started_at"));
	buf_addf(out, "finished %s\n", J("copy_finished_at"));
	const char *name;
	json_t *v;
	json_object_foreach(json_object_get(st, "copied"), name, v)
		buf_addf(out, "  %-18s %s rows in %s pieces\n", name,
			 jtext(json_object_get(v, "rows"), t1, sizeof t1),
			 jtext(json_object_get(v, "pieces"), t2, sizeof t2));
	buf_addf(out, "applied:     %s changes, ", J("applied_changes"));
	buf_addf(out, "last batch at %s\n", J("last_batch_at"));
	json_t *rep = json_object_get(st, "report");
	buf_addf(out, "cutover:     %s", J("cutover_at"));
	if (json_is_object(rep))
		buf_addf(out, " (last report: %s, writes held %s ms)",
			 json_is_true(json_object_get(rep, "ok")) ? "ok" : "FAILED",
			 jtext(json_object_get(rep, "hold_ms"), t2, sizeof t2));
	buf_addc(out, '\n');
	buf_addf(out, "last error:  %s\n", json_is_null(json_object_get(st, "last_error")) ? "none" : J("last_error"));
	size_t i;
	json_t *l;
	buf_adds(out, "ledger:\n");
	json_array_foreach(json_object_get(st, "ledger"), i, l)
		buf_addf(out, "  hop %s  %-18s offset %s  from %s%s\n",
			 jtext(json_object_get(l, "hop"), t1, sizeof t1),
			 jtext(json_object_get(l, "table"), t2, sizeof t2),
			 jtext(json_object_get(l, "offset"), t3, sizeof t3),
			 json_string_value(json_object_get(l, "source")) ?
				 json_string_value(json_object_get(l, "source")) : "-",
			 json_is_true(json_object_get(l, "carried")) ? " (carried)" : "");
#undef J
}

static int cmd_status(int argc, char **argv)
{
	struct cli_opts o;
	struct hop h;
	int rc = start(argc, argv, "status", "j",
		       "Usage: migrate [--config FILE] status [--json]\n\n"
		       "Where the hop stands, from the state recorded in the target: stage, copy\n"
		       "progress per table, sync lag and pending changes, the last cutover's report,\n"
		       "the ledger; readable text (--json: one JSON object, then the sync's).  Also\n"
		       "after \"migrate finish\".  Can be asked from any machine that reaches the\n"
		       "target.\n\nOptions:\n",
		       &o, &h, HOP_TARGET);
	if (rc >= 0)
		return rc;
	struct buf out = BUF_INIT;
	char *state = NULL;
	if (!run_status(&h, &state)) {
		hop_close(&h);
		return EXIT_TARGET;
	}
	json_error_t jerr;
	json_t *st = json_loads(state, 0, &jerr);
	if (o.json) {
		buf_adds(&out, state);
		buf_addc(&out, '\n');
	} else if (st)
		status_text(st, &out);
	free(state);
	/* the sync's own view (pending, lag), while the change log is linked:
	 * "finish" removed it */
	enum hop_stage stage;
	if (!hop_stage_parse(json_string_value(json_object_get(st, "stage")), &stage) ||
	    stage != HOP_STAGE_FINISHED) {
		json_t *sync;
		if (!o.json)
			buf_adds(&out, "\nsync\n");
		if (apply_status(&h, &sync))
			report_render(&out, sync, o.json, apply_status_text);
	}
	json_decref(st);
	hop_close(&h);
	return emit(&out, EXIT_OK);
}

static int cmd_run(int argc, char **argv)
{
	struct cli_opts o;
	struct hop h;
	int rc = start(argc, argv, "run", "j",
		       "Usage: migrate [--config FILE] run [--json]\n\n"
		       "The whole hop in order: plan, target schema, link, capture, copy, sync until\n"
		       "caught up, cutover, verify.  Stops with a clear message at the first problem;\n"
		       "run it again to continue (every step resumes or is skipped when done).\n\n"
		       "Options:\n", &o, &h, HOP_PLAN);
	if (rc >= 0)
		return rc;
	cutover_check_servers(&h);	/* before anything is written, not after the copy */
	volatile sig_atomic_t *stop = cli_catch_signals();
	struct progress_out po;
	progress_out_init(&po, o.json);
	struct copy_opts co = { .progress = progress_show, .progress_arg = &po, .stop = stop };
	struct copy_result cres;
	struct apply_opts ao = { .follow = false, .batch_size = cfg.s.sync_batch_size,
				 .interval_ms = cfg.s.sync_interval_ms, .stop = stop,
				 .progress = progress_show, .progress_arg = &po };
	struct apply_result ares;
	struct cutover_opts cut = { .dry_run = false };
	struct buf out = BUF_INIT;
	bool match = false;

	rc = EXIT_CONFIG;
	if (!hop_plan_ok(&h))
		goto out;
	rc = EXIT_TARGET;
	bool copied;
	if (!run_copy_done(&h, &copied))
		goto out;
	/* a capture that numbers the tables otherwise is a plan problem */
	if (!run_prepare(&h) || (!copied && !copy_run(&h, &co, &cres))) {
		rc = h.plan.nproblems ? EXIT_CONFIG : rc;
		goto out;
	}
	log_info("run: catching up with the changes made during the copy");
	if (!apply_run(&h, &ao, &ares)) {
		rc = h.plan.nproblems ? EXIT_CONFIG : rc;
		goto out;
	}
	rc = EXIT_FAILURE_GENERIC;
	json_t *cut_report;
	bool cut_ok = cutover_run(&h, &cut, &cut_report);
	report_render(&out, cut_report, o.json, cutover_text);
	if (!cut_ok)
		goto out;
	rc = EXIT_TARGET;
	json_t *report;
	bool verified = verify_run(&h, &report, &match);
	report_render(&out, report, o.json, verify_text);
	if (!verified)
		goto out;
	rc = match ? EXIT_OK : EXIT_VERIFY;
	if (!match)
		log_error("the target differs from the source after the cutover: see the verification");
out:
	hop_close(&h);
	return emit(&out, rc);
}

static const struct cli_command commands[] = {
	{ "plan", "print the hop and every problem, writing nothing", cmd_plan },
	{ "schema", "create the target's missing tables from the source's", cmd_schema },
	{ "copy", "bulk-copy existing rows (resumable), after link and capture", cmd_copy },
	{ "verify", "compare counts and checksums of every table, remap-aware", cmd_verify },
	{ "cutover", "pause servers, fence, drain, set sequences, switch (--dry-run)", cmd_cutover },
	{ "finish", "remove link, capture and staging; keep the ledger", cmd_finish },
	{ "run", "the whole hop: plan, copy, sync, cutover, verify", cmd_run },
	{ "status", "where the hop stands, from the databases", cmd_status },
	{ NULL, NULL, NULL },
};

static int print_config(const struct cli_globals *g)
{
	return hop_config_print(g->config_path, g->config_given, stdout) ? EXIT_OK : EXIT_CONFIG;
}

static const struct cli_program program = {
	.name = "migrate",
	.version = MINITWIT_VERSION,
	.about = "migrate: move a live PostgreSQL-backed MiniTwit to another database host\n",
	.exit_codes = "Exit status: 0 ok, 1 failed,\n"
		      "2 usage, 3 configuration or plan problem, 4 source, 5 target, 6 verification\n"
		      "found differences, 7 internal.\n",
	.command_help = "      --json     machine-readable output on stdout (progress as JSON lines)\n"
			"  -h, --help     show this help and exit\n"
			"\n"
			"The configuration is --config FILE (default config/migration.yaml), every\n"
			"key overridable as MINITWIT_<SECTION>_<KEY> (MINITWIT_SOURCE_DSN, ...).\n",
	.commands = commands,
	.print_config = print_config,
};

int main(int argc, char **argv)
{
	log_init("migrate");
	pgx_set_program("migrate");
	int rc = cli_main(&program, &globals, argc, argv);
	hopcfg_release(&cfg);
	return rc;
}
