/*
 * sync-fdw: link a target database to a source with postgres_fdw, capture
 * the source's changes and apply them live, ids remapped.
 *
 *   sync-fdw [--config FILE] COMMAND [OPTION]...
 *
 * Every command is idempotent.  Only this file decides exit codes
 * (lib/exitcode.h).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apply.h"
#include "capture.h"
#include "cli.h"
#include "exitcode.h"
#include "hop.h"
#include "hopcfg.h"
#include "link.h"
#include "log.h"
#include "pgx.h"
#include "plan.h"
#include "report.h"
#include "run.h"
#include "banned.h"

#ifndef MINITWIT_VERSION
#define MINITWIT_VERSION "0.1.0"
#endif

static struct cli_globals globals;
static struct hop_config cfg;
static const struct cli_program program;

/* Open the hop for a command; EXIT_OK or the code to return. */
static int open_hop(struct hop *h, int need)
{
	bool src_bad;
	if (!run_open(h, &cfg, need, &src_bad))
		return src_bad ? EXIT_SOURCE : EXIT_TARGET;
	return EXIT_OK;
}

/*
 * Parse a command's options and answer --help; then load the configuration
 * and, when need is not 0, open the hop.  Returns -1 to go on, or the exit
 * code to return.
 */
static int start(int argc, char **argv, const char *cmd, const char *allowed, const char *help,
		 struct cli_opts *o, struct hop *h, int need)
{
	int rc = cli_start(&program, argc, argv, cmd, allowed, help, o);
	if (rc >= 0)
		return rc;
	if (!hop_config_load(globals.config_path, globals.config_given, &cfg))
		return EXIT_CONFIG;
	if (need && (rc = open_hop(h, need)) != EXIT_OK)
		return rc;
	return -1;
}

static int cmd_link(int argc, char **argv)
{
	struct cli_opts o;
	struct hop h;
	int rc = start(argc, argv, "link", "jk",
		       "Usage: sync-fdw [--config FILE] link [--check] [--json]\n\n"
		       "On the target: create postgres_fdw, the foreign server and user mapping for\n"
		       "the source (the password libpq uses for source.dsn, from PGPASSWORD or a\n"
		       "pgpass file; never logged) and import the source's tables into the staging\n"
		       "schema (link.schema).  The hop's state and ledger are created on the target;\n"
		       "the source's ledger is carried along.  Idempotent: run again to re-link.\n\n"
		       "Options:\n"
		       "      --check    report what is missing, each piece with who must run what\n"
		       "                 (postgres_fdw installed, USAGE on it, a password for the\n"
		       "                 user mapping, CREATE on each database, reachability of\n"
		       "                 both ends and from the target to the source) without\n"
		       "                 changing anything; exit 1 if something is\n", &o, &h, 0);
	if (rc >= 0)
		return rc;
	if (!o.check && o.json) {
		fputs("sync-fdw link: --json goes with --check\n", stderr);
		cli_try_help("sync-fdw", "link");
		return EXIT_USAGE;
	}
	if (o.check) {
		struct buf out = BUF_INIT;
		json_t *report;
		bool ok = link_check(&cfg, &report);
		if (o.json)
			report_json(&out, json_object_get(report, "checks"));
		else
			link_check_text(report, &out);
		json_decref(report);
		fputs(buf_str(&out), stdout);
		buf_release(&out);
		return ok ? EXIT_OK : EXIT_FAILURE_GENERIC;
	}
	if ((rc = open_hop(&h, HOP_PLAN)) != EXIT_OK)
		return rc;
	rc = link_create(&h) ? EXIT_OK : (h.plan.nproblems ? EXIT_CONFIG : EXIT_TARGET);
	hop_close(&h);
	return rc;
}

static int cmd_unlink(int argc, char **argv)
{
	struct cli_opts o;
	struct hop h;
	int rc = start(argc, argv, "unlink", "j",
		       "Usage: sync-fdw [--config FILE] unlink\n\n"
		       "On the target: drop the foreign server, user mapping, staging schemas and\n"
		       "the hop's state.  The ledger stays.  Idempotent.\n\nOptions:\n",
		       &o, &h, HOP_TARGET);
	if (rc >= 0)
		return rc;
	rc = link_drop(&h, NULL) ? EXIT_OK : EXIT_TARGET;
	if (o.json)
		report_print(json_pack("{s:b}", "unlinked", rc == EXIT_OK));
	hop_close(&h);
	return rc;
}

static int capture_cmd(int argc, char **argv, bool install)
{
	struct cli_opts o;
	struct hop h;
	int rc = start(argc, argv, install ? "capture install" : "capture remove", "j",
		       install ? "Usage: sync-fdw [--config FILE] capture install\n\n"
				 "On the source: create the change log (schema sync_fdw_src) and triggers\n"
				 "recording every insert, update and delete of the hop's tables; TRUNCATE\n"
				 "of a captured table is refused.  On the target (when linked): import the\n"
				 "change log into <link.schema>_cdc.  Install capture before copying.\n"
				 "capture.triggers: row (default) or statement-level insert and delete\n"
				 "triggers; the application's role needs no privilege on the change log.\n"
				 "Idempotent (installing in the other mode replaces the triggers).\n\n"
				 "Options:\n"
			       : "Usage: sync-fdw [--config FILE] capture remove\n\n"
				 "Drop the triggers and the change log from the source (and its foreign\n"
				 "tables from the target).  Changes not yet applied are lost: remove\n"
				 "capture only after the cutover or to abandon the hop.  Idempotent.\n\n"
				 "Options:\n",
		       &o, &h, install ? HOP_PLAN : HOP_SOURCE | HOP_TARGET);
	if (rc >= 0)
		return rc;
	if (install)
		rc = capture_install(&h) ? EXIT_OK : (h.plan.nproblems ? EXIT_CONFIG : EXIT_SOURCE);
	else
		rc = capture_remove(&h) ? EXIT_OK : EXIT_SOURCE;
	if (o.json)
		report_print(json_pack("{s:s, s:b}", "capture", install ? "installed" : "removed", "ok", rc == EXIT_OK));
	hop_close(&h);
	return rc;
}

static int cmd_capture_install(int argc, char **argv)
{
	return capture_cmd(argc, argv, true);
}

static int cmd_capture_remove(int argc, char **argv)
{
	return capture_cmd(argc, argv, false);
}

static int cmd_run(int argc, char **argv)
{
	struct cli_opts o;
	struct hop h;
	int rc = start(argc, argv, "run", "jofb",
		       "Usage: sync-fdw [--config FILE] run [--once | --follow] [--batch-size N] [--json]\n\n"
		       "Apply the source's captured changes to the target, ids remapped, in order\n"
		       "and exactly once (see hop/apply.h), in batches of sync.batch_size.  Only one\n"
		       "applier runs per hop.  A restart of either database is waited out with\n"
		       "backoff (sync.connect_attempts).\n\n"
		       "Options:\n"
		       "      --once          apply everything committed so far, then exit (default)\n"
		       "      --follow        keep applying until SIGINT/SIGTERM, or until a cutover\n"
		       "                      takes over\n"
		       "      --batch-size N  changes per target transaction (sync.batch_size)\n", &o, &h, 0);
	if (rc >= 0)
		return rc;
	if (o.once && o.follow) {
		fputs("sync-fdw run: --once and --follow cannot be used together\n", stderr);
		cli_try_help("sync-fdw", "run");
		return EXIT_USAGE;
	}
	if ((rc = open_hop(&h, HOP_PLAN)) != EXIT_OK)
		return rc;
	struct progress_out po;
	progress_out_init(&po, o.json);
	struct apply_opts ao = {
		.follow = o.follow, .batch_size = o.batch_size ? o.batch_size : cfg.s.sync_batch_size,
		.interval_ms = cfg.s.sync_interval_ms, .stop = cli_catch_signals(),
		.progress = progress_show, .progress_arg = &po,
	};
	struct apply_result res;
	rc = apply_run(&h, &ao, &res) ? EXIT_OK : (h.plan.nproblems ? EXIT_CONFIG : EXIT_TARGET);
	hop_close(&h);
	return rc;
}

static int cmd_status(int argc, char **argv)
{
	struct cli_opts o;
	struct hop h;
	int rc = start(argc, argv, "status", "j",
		       "Usage: sync-fdw [--config FILE] status [--json]\n\n"
		       "Where the sync stands, from the state recorded on the target: changes\n"
		       "pending on the source, lag in seconds (age of the oldest pending change),\n"
		       "apply rate, last error; after \"migrate finish\", that the hop is finished.\n\n"
		       "Options:\n", &o, &h, HOP_TARGET);
	if (rc >= 0)
		return rc;
	struct buf out = BUF_INIT;
	json_t *report;
	rc = apply_status(&h, &report) ? EXIT_OK : EXIT_TARGET;
	report_render(&out, report, o.json, apply_status_text);
	fputs(buf_str(&out), stdout);
	buf_release(&out);
	hop_close(&h);
	return rc;
}

static int cmd_plan(int argc, char **argv)
{
	struct cli_opts o;
	struct hop h;
	int rc = start(argc, argv, "plan", "j",
		       "Usage: sync-fdw [--config FILE] plan [--json]\n\n"
		       "Print the tables, keys, references, offsets and id ranges the hop would\n"
		       "use, and every problem that would stop it (exit 3 if any).  Writes nothing.\n\n"
		       "Options:\n", &o, &h, HOP_PLAN);
	if (rc >= 0)
		return rc;
	/* a capture installed for another table list stops the hop too */
	if (!capture_check_plan(&h)) {
		hop_close(&h);
		return EXIT_SOURCE;
	}
	struct buf out = BUF_INIT;
	if (o.json) {
		json_t *j = plan_json(&h.plan);
		report_json(&out, j);
		json_decref(j);
	} else
		plan_text(&h.plan, &out);
	fputs(buf_str(&out), stdout);
	buf_release(&out);
	rc = h.plan.nproblems ? EXIT_CONFIG : EXIT_OK;
	hop_close(&h);
	return rc;
}

static const struct cli_command commands[] = {
	{ "link", "create the postgres_fdw link on the target (--check: report only)", cmd_link },
	{ "unlink", "remove the link and the hop's state from the target", cmd_unlink },
	{ "capture install", "install the change log and triggers on the source", cmd_capture_install },
	{ "capture remove", "remove them", cmd_capture_remove },
	{ "run", "apply captured changes (--once, --follow)", cmd_run },
	{ "status", "changes pending, lag, apply rate, last error", cmd_status },
	{ "plan", "the hop's tables, keys, offsets and problems", cmd_plan },
	{ NULL, NULL, NULL },
};

static int print_config(const struct cli_globals *g)
{
	return hop_config_print(g->config_path, g->config_given, stdout) ? EXIT_OK : EXIT_CONFIG;
}

static const struct cli_program program = {
	.name = "sync-fdw",
	.version = MINITWIT_VERSION,
	.about = "sync-fdw: live sync of a PostgreSQL source into a target through postgres_fdw,\n"
		 "with id remapping\n",
	.exit_codes = "Exit status: 0 ok, 1 failed,\n"
		      "2 usage, 3 configuration or plan problem, 4 source, 5 target, 7 internal.\n",
	.command_help = "      --json     machine-readable output on stdout\n"
			"  -h, --help     show this help and exit\n"
			"\n"
			"The configuration is --config FILE (default config/migration.yaml), every\n"
			"key overridable as MINITWIT_<SECTION>_<KEY> (MINITWIT_SOURCE_DSN, ...).\n",
	.commands = commands,
	.print_config = print_config,
};

int main(int argc, char **argv)
{
	log_init("sync-fdw");
	pgx_set_program("sync-fdw");
	int rc = cli_main(&program, &globals, argc, argv);
	hopcfg_release(&cfg);
	return rc;
}
