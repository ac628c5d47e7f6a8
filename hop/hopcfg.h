/*
 * hopcfg: the hop's configuration (config/migration.yaml), shared by
 * sync-fdw and migrate: the operators' interface.
 *
 * Fixed keys (source.dsn, link.server, sync.batch_size, ...) go through a
 * cfg key table, so each is overridable by the environment as
 * MINITWIT_<SECTION>_<KEY> (MINITWIT_SOURCE_DSN, MINITWIT_TARGET_DSN, ...).
 * The per-table map and the list of servers have their own shape and are
 * read from the YAML tree here, keeping file:line:column for messages.
 */
#ifndef HOPCFG_H
#define HOPCFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfg.h"
#include "util.h"

enum hop_conflict {
	HOP_CONFLICT_DEFAULT,	/* refuse for generated keys, replace for natural ones */
	HOP_CONFLICT_REFUSE,	/* a source id equal to a target id is refused by plan */
	HOP_CONFLICT_REPLACE,	/* the source row replaces the target's (state tables) */
	HOP_CONFLICT_APPEND,	/* no primary key: the source's rows go beside the target's */
};

/* tables.<name>.min_headroom when not given: new source ids an explicit
 * offset must leave room for before a shifted id meets a target id */
#define HOP_MIN_HEADROOM 1000000

struct hop_ref_cfg {
	char *column;		/* referring column of this table */
	char *table;		/* the table whose key it refers to */
	int line, column_no;
};

struct hop_table_cfg {
	char *name;		/* exact PostgreSQL name, case-sensitive */
	int line, column_no;
	char *key;		/* NULL: the table's single-column integer primary key */
	bool offset_set;	/* offset given in the file */
	bool offset_auto;	/* offset: auto */
	int64_t offset;
	enum hop_conflict conflict;
	int64_t min_headroom;	/* ids an explicit offset must leave free (HOP_MIN_HEADROOM) */
	struct hop_ref_cfg *refs;
	size_t nrefs;
};

/* One entry of cutover.servers: what holds the application's writes during
 * the cutover (hop/driver.h).  Exactly one kind per entry. */
enum hop_server_kind {
	HOP_SERVER_ADMIN_URL,	/* a minitwitd admin API */
	HOP_SERVER_ADMIN_DNS,	/* every minitwitd a name resolves to ("name:port") */
	HOP_SERVER_PGBOUNCER,	/* a PgBouncer admin console */
	HOP_SERVER_COMMAND,	/* pause/switch/resume commands */
};

struct hop_server_cfg {
	enum hop_server_kind kind;
	char *admin_url;	/* admin_url */
	char *admin_dns;	/* admin_dns: "name:port" */
	char *pgbouncer;	/* pgbouncer: the admin console's DSN */
	char *database;		/*   the [databases] entry the application uses */
	char *databases_file;	/*   the file holding that entry */
	char *pause, *switch_cmd, *resume;	/* command: shell command lines */
	int line, column_no;
};

struct hop_settings {
	char *source_dsn;
	char *target_dsn;
	char *link_server;
	char *link_schema;
	int64_t fetch_size;
	int64_t sync_batch_size;
	int64_t sync_interval_ms;
	int64_t sync_connect_attempts;
	int64_t copy_batch_rows;
	int64_t copy_workers;
	char *capture_triggers;		/* "row" or "statement" */
	char *capture_function;		/* "auto", "c" or "plpgsql" */
	char *cutover_token_env;
	int64_t cutover_max_hold_ms;
	int64_t cutover_max_lag_ms;
	char *log_level;
};

struct hop_config {
	char *path;			/* NULL when built from defaults */
	struct hop_settings s;
	bool tables_listed;		/* false: every table of the source's public schema */
	struct hop_table_cfg *tables;
	size_t ntables;
	struct hop_server_cfg *servers;
	size_t nservers;
};

extern const struct cfg_key hopcfg_keys[];
extern const size_t hopcfg_nkeys;

/* Load path (NULL: defaults and environment only); false with err filled. */
MUST_CHECK bool hopcfg_load(const char *path, struct hop_config *cfg,
						     struct cfg_error *err);
void hopcfg_release(struct hop_config *cfg);

/* The table's entry, or NULL. */
const struct hop_table_cfg *hopcfg_table(const struct hop_config *cfg, const char *name);

/* Print the effective configuration (passwords masked) as YAML. */
void hopcfg_print(const struct hop_config *cfg, FILE *out);

#endif
