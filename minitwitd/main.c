/*
 * minitwitd: the MiniTwit server (simulator API, web UI, /healthz, /metrics,
 * the cutover admin API).
 *
 *   minitwitd [--config FILE] [--print-config] [--migrate-only] [--help] [--version]
 *
 * Start-up: load the configuration, connect to PostgreSQL (with retries),
 * follow the database if it has moved (fence.h: a fenced database is never
 * migrated nor written), apply schema migrations, listen (and the admin
 * listener when MINITWIT_ADMIN_TOKEN is set).  SIGTERM/SIGINT stop
 * gracefully (running requests finish, held ones are answered 503); SIGHUP
 * reloads the reloadable settings.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "csrf.h"
#include "exitcode.h"
#include "fence.h"
#include "http.h"
#include "queries.h"
#include "dsn.h"
#include "log.h"
#include "pgx.h"
#include "pw.h"
#include "schema.h"
#include "settings.h"
#include "web.h"
#include "banned.h"

#ifndef MINITWIT_VERSION
#define MINITWIT_VERSION "0.1.0"
#endif

static void usage(FILE *out)
{
	fputs("minitwitd: the MiniTwit server (simulator API on PostgreSQL)\n"
	      "\n"
	      "Usage: minitwitd [OPTION]...\n"
	      "\n"
	      "Options:\n"
	      "  -c, --config FILE    read settings from FILE (YAML; see config/minitwitd.yaml)\n"
	      "      --print-config   print the effective settings (secrets masked) and exit\n"
	      "      --migrate-only   apply schema migrations and exit\n"
	      "  -h, --help           show this help and exit\n"
	      "  -V, --version        show the version and exit\n"
	      "\n"
	      "Every setting can be overridden by the environment as MINITWIT_<SECTION>_<KEY>,\n"
	      "e.g. MINITWIT_DATABASE_DSN, MINITWIT_HTTP_LISTEN.  Passwords come from a pgpass\n"
	      "file with a line per host (PGPASSWORD would be offered to any host), never from\n"
	      "the configuration.\n"
	      "\n"
	      "Signals: SIGTERM/SIGINT stop gracefully, SIGHUP reloads the configuration.\n",
	      out);
}

/* log.level's names (lib/log.h): checked with the rest of a configuration,
 * before any of it applies. */
static bool log_level_known(const char *name)
{
	static const char *const names[] = { "debug", "info", "warn", "error" };
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcmp(name, names[i]) == 0)
			return true;
	return false;
}

/* Load and check settings into a new struct; NULL (reported) on error. */
static struct settings *load_settings(const char *path)
{
	struct settings *s = calloc(1, sizeof *s);
	struct cfg_error err;
	if (!s)
		return NULL;
	if (!cfg_load(settings_keys, settings_nkeys, path, "MINITWIT", s, &err)) {
		log_error("%s", err.msg);
		cfg_release(settings_keys, settings_nkeys, s);
		free(s);
		return NULL;
	}
	struct buf bad = BUF_INIT;
	bool ok = true;
	if (*s->http_public_origin && !csrf_origin_valid(s->http_public_origin, NULL)) {
		log_error("invalid value \"%s\" for \"http.public_origin\": expected "
			  "http(s)://host[:port]", s->http_public_origin);
		ok = false;
	} else if (!http_addr_list_valid(s->http_trusted_proxies, &bad)) {
		log_error("invalid address \"%s\" in \"http.trusted_proxies\": expected IP "
			  "addresses separated by commas", buf_str(&bad));
		ok = false;
	} else if (!log_level_known(s->log_level)) {
		log_error("invalid log.level \"%s\": expected debug, info, warn or error", s->log_level);
		ok = false;
	}
	buf_release(&bad);
	if (!ok) {
		cfg_release(settings_keys, settings_nkeys, s);
		free(s);
		return NULL;
	}
	if (s->db_pool_size < s->http_threads)
		log_warn("database.pool_size (%lld) is below http.threads (%lld): workers may wait "
			 "for a connection", (long long)s->db_pool_size, (long long)s->http_threads);
	return s;
}

/*
 * Apply the reloadable keys (settings.c's rows marked so) that live outside
 * the settings struct; every other one is read from app->cfg by each
 * request.  s was checked whole by load_settings: nothing here fails.
 */
static void apply_reloadable(const struct settings *s, struct db_pool *pool)
{
	if (!log_set_level_name(s->log_level))
		abort();	/* checked by load_settings */
	pw_set_cost((unsigned long long)s->pw_opslimit, (size_t)s->pw_memlimit_kib * 1024);
	if (pool)
		db_pool_set_timeouts(pool, (int)s->db_connect_timeout_ms, (int)s->db_acquire_timeout_ms,
				     (int)s->db_statement_timeout_ms);
}

/*
 * SIGHUP: all or nothing.  The whole new configuration is loaded and
 * checked first; when anything in it is invalid, or a key that is not
 * reloadable changed (settings.c's table says which are), nothing changes
 * and the log says why.  Else the new settings replace the current ones
 * whole: NULL when not reloaded.
 */
static struct settings *reload(const char *path, const struct settings *cur)
{
	struct settings *next = load_settings(path);
	struct buf fixed = BUF_INIT;
	if (!next) {
		log_warn("configuration not reloaded: keeping the current settings");
		return NULL;
	}
	size_t n = cfg_fixed_changes(settings_keys, settings_nkeys, cur, next, &fixed);
	if (n) {
		log_warn("configuration not reloaded: %s change%s only on restart; keeping the current "
			 "settings\nhint: restart minitwitd to apply %s, or undo %s",
			 buf_str(&fixed), n == 1 ? "s" : "", n == 1 ? "it" : "them",
			 n == 1 ? "it" : "them");
		cfg_release(settings_keys, settings_nkeys, next);
		free(next);
		next = NULL;
	}
	buf_release(&fixed);
	return next;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "print-config", no_argument, NULL, 'p' },
		{ "migrate-only", no_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config_path = NULL;
	bool print_config = false, migrate_only = false;
	int c;

	log_init("minitwitd");
	pgx_set_program("minitwitd");
	while ((c = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config_path = optarg; break;
		case 'p': print_config = true; break;
		case 'm': migrate_only = true; break;
		case 'h': usage(stdout); return EXIT_OK;
		case 'V': printf("minitwitd %s\n", MINITWIT_VERSION); return EXIT_OK;
		default:
			fputs("Try \"minitwitd --help\" for more information.\n", stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "minitwitd: unexpected argument \"%s\"\n"
				"Try \"minitwitd --help\" for more information.\n", argv[optind]);
		return EXIT_USAGE;
	}

	struct settings *cfg = load_settings(config_path);
	if (!cfg)
		return EXIT_CONFIG;
	if (print_config) {
		cfg_print(settings_keys, settings_nkeys, cfg, stdout);
		cfg_release(settings_keys, settings_nkeys, cfg);
		free(cfg);
		return EXIT_OK;
	}
	struct buf env = BUF_INIT;
	cfg_env_overrides(settings_keys, settings_nkeys, "MINITWIT", &env);
	if (env.len)
		log_info("settings from the environment, over the file: %s", env.data);
	buf_release(&env);
	if (!pw_init((unsigned)cfg->pw_max_concurrent))
		return EXIT_INTERNAL;
	apply_reloadable(cfg, NULL);

	/* Block the signals in every thread; the main thread waits for them. */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	int rc = EXIT_OK;
	struct app app = { .admin_lock = PTHREAD_MUTEX_INITIALIZER };
	char *db_dsn = NULL;
	bool hashq_ready = false;	/* where the database is (database.dsn, or where it moved) */
	atomic_store(&app.cfg, cfg);
	struct settings **retired = NULL;	/* old settings stay valid for running requests */
	size_t nretired = 0;

	struct pgx_open_opts co = {
		.connect_timeout_ms = (int)cfg->db_connect_timeout_ms,
		.attempts = (int)cfg->db_startup_attempts, .backoff_ms = 200,
	};
	fence_set_allowed_hosts(cfg->db_allowed_hosts, cfg->db_dsn);
	PGconn *mc = pgx_open(PGX_APP, cfg->db_dsn, &co);
	if (!mc) {
		rc = EXIT_TARGET;
		goto out;
	}
	mc = fence_follow(mc, cfg->db_dsn, &co, &db_dsn);
	if (!mc) {
		rc = EXIT_TARGET;
		goto out;
	}
	bool migrated = schema_migrate(mc);
	PQfinish(mc);
	if (!migrated) {
		rc = EXIT_TARGET;
		goto out;
	}
	if (migrate_only)
		goto out;

	struct db_pool_config pc = {
		.dsn = db_dsn, .size = (unsigned)cfg->db_pool_size,
		.connect_timeout_ms = (int)cfg->db_connect_timeout_ms,
		.acquire_timeout_ms = (int)cfg->db_acquire_timeout_ms,
		.statement_timeout_ms = (int)cfg->db_statement_timeout_ms,
	};
	if (!web_init(&app) || !db_pool_init(&app.pool, &pc, queries, Q_COUNT) ||
	    !hold_init(&app.hold) ||
	    !(hashq_ready = hashq_init(&app.hashq, (unsigned)cfg->pw_hash_threads,
				       (unsigned)cfg->pw_hash_queue))) {
		rc = EXIT_INTERNAL;
		goto out;
	}
	if (!http_start(&app) || !http_metrics_start(&app) || !admin_start(&app)) {
		rc = EXIT_CONFIG;
		goto out;
	}
	struct buf masked = BUF_INIT;
	dsn_mask(db_dsn, &masked);
	log_info("listening on %s (port %u), database \"%s\"", cfg->http_listen, app.port,
		 buf_str(&masked));
	buf_release(&masked);

	for (;;) {
		int sig;
		if (sigwait(&sigs, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			struct settings *cur = atomic_load(&app.cfg);
			struct settings **more = realloc(retired, (nretired + 1) * sizeof *retired);
			struct settings *next = more ? reload(config_path, cur) : NULL;
			if (!more)
				log_warn("configuration not reloaded: out of memory");
			else
				retired = more;
			if (!next)
				continue;
			retired[nretired++] = cur;
			atomic_store(&app.cfg, next);
			apply_reloadable(next, &app.pool);
			log_info("configuration reloaded");
			continue;
		}
		log_info("received %s, shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
		break;
	}
	/* held writes are answered (503) first: no suspended connection may be
	 * left when the daemon stops, and a pause waiting for writes ends */
	hold_stop(&app.hold);
	hashq_stop(&app.hashq);
	admin_stop(&app);
	http_metrics_stop(&app);
	http_stop(&app, 10000);
	log_info("stopped");
out:
	http_stop(&app, 0);	/* when the admin listener failed after it started */
	http_metrics_stop(&app);
	admin_release(&app);
	hold_release(&app.hold);
	if (hashq_ready) {
		hashq_stop(&app.hashq);	/* when a listener failed to start */
		hashq_release(&app.hashq);
	}
	db_pool_release(&app.pool);
	free(db_dsn);
	web_release(&app);
	for (size_t i = 0; i < nretired; i++) {
		cfg_release(settings_keys, settings_nkeys, retired[i]);
		free(retired[i]);
	}
	free(retired);
	cfg = atomic_load(&app.cfg);
	cfg_release(settings_keys, settings_nkeys, cfg);
	free(cfg);
	return rc;
}
