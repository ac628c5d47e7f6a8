/*
 * hopcfg: loading config/migration.yaml; see hopcfg.h.
 */
#include "hopcfg.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "dsn.h"
#include "util.h"
#include "banned.h"

#define S(f) offsetof(struct hop_settings, f)

const struct cfg_key hopcfg_keys[] = {
	{ "source", "dsn", CFG_STRING, "host=127.0.0.1 port=5433 dbname=minitwit user=minitwit", 0, 0,
	  false, false, S(source_dsn), "libpq DSN of the database the hop moves from (no password)" },
	{ "target", "dsn", CFG_STRING, "host=127.0.0.1 port=5434 dbname=minitwit user=minitwit", 0, 0,
	  false, false, S(target_dsn), "libpq DSN of the database the hop moves to (no password)" },
	{ "link", "server", CFG_STRING, "minitwit_source", 0, 0, false, false, S(link_server),
	  "name of the postgres_fdw foreign server on the target; also names the hop" },
	{ "link", "schema", CFG_STRING, "minitwit_source", 0, 0, false, false, S(link_schema),
	  "staging schema on the target holding the source's tables as foreign tables" },
	{ "link", "fetch_size", CFG_INT, "10000", 100, 1000000, false, false, S(fetch_size),
	  "rows postgres_fdw fetches per round trip" },
	{ "sync", "batch_size", CFG_INT, "5000", 1, 10000000, false, false, S(sync_batch_size),
	  "changes applied per target transaction" },
	{ "sync", "interval", CFG_MILLIS, "100ms", 1, 60000, false, false, S(sync_interval_ms),
	  "--follow: pause between polls when nothing is pending" },
	{ "sync", "connect_attempts", CFG_INT, "30", 1, 100000, false, false,
	  S(sync_connect_attempts), "reconnect attempts (with backoff) after a database goes away" },
	{ "copy", "batch_rows", CFG_INT, "1000000", 1000, 1000000000, false, false,
	  S(copy_batch_rows), "rows per copy transaction (the unit of resuming after a kill)" },
	{ "copy", "workers", CFG_INT, "2", 1, 64, false, false, S(copy_workers),
	  "pieces copied at once, each over its own pair of connections" },
	{ "capture", "triggers", CFG_STRING, "row", 0, 0, false, false, S(capture_triggers),
	  "row: a trigger call per changed row (cheapest for single-row writes); statement: "
	  "statement-level insert/delete triggers with transition tables (cheapest for bulk writes)" },
	{ "capture", "function", CFG_STRING, "auto", 0, 0, false, false, S(capture_function),
	  "what the row-level triggers call: c (the sync_fdw_capture extension, installed on the "
	  "database's host: a third of PL/pgSQL's cost per write), plpgsql, or auto (c where the "
	  "extension is available)" },
	{ "cutover", "token_env", CFG_STRING, "MINITWIT_ADMIN_TOKEN", 0, 0, false, false,
	  S(cutover_token_env), "environment variable holding the servers' admin token" },
	{ "cutover", "max_hold_ms", CFG_INT, "2000", 100, 600000, false, false,
	  S(cutover_max_hold_ms), "a paused server resumes by itself after this" },
	{ "cutover", "max_lag", CFG_MILLIS, "2s", 1, 3600000, false, false, S(cutover_max_lag_ms),
	  "preflight: the sync must be at most this far behind" },
	{ "log", "level", CFG_STRING, "info", 0, 0, false, false, S(log_level),
	  "debug, info, warn or error" },
};
const size_t hopcfg_nkeys = sizeof hopcfg_keys / sizeof hopcfg_keys[0];

/* A string setting that may be absent: absent reads as "". */
static char *dup0(const char *s)
{
	return xstrdup(s ? s : "");
}

static bool scalar(const struct cfg_node *n)
{
	return n && n->kind == CFG_NODE_SCALAR;
}

/* An identifier-like name: non-empty, no NUL (any other character is quoted
 * wherever SQL is built). */
static bool read_name(const struct cfg_doc *doc, const struct cfg_node *n, const char *what,
		      char **out, struct cfg_error *err)
{
	if (!scalar(n) || !n->scalar[0])
		return cfg_fail(err, doc, n, "%s must be a non-empty name", what);
	if (strlen(n->scalar) > 63)
		return cfg_fail(err, doc, n, "%s \"%s\" is longer than PostgreSQL's 63 bytes", what,
				n->scalar);
	*out = dup0(n->scalar);
	return true;
}

static bool read_table(const struct cfg_doc *doc, const struct cfg_node *name,
		       const struct cfg_node *body, struct hop_table_cfg *t, struct cfg_error *err)
{
	t->line = name->line;
	t->column_no = name->column;
	t->min_headroom = HOP_MIN_HEADROOM;
	if (!read_name(doc, name, "table name", &t->name, err))
		return false;
	if (!body || (body->kind == CFG_NODE_SCALAR && !body->scalar[0]))
		return true;	/* "follower:" alone: all defaults */
	if (body->kind != CFG_NODE_MAP)
		return cfg_fail(err, doc, body, "table \"%s\": expected a mapping of key, offset, "
				"refs, conflict, min_headroom", t->name);
	for (size_t i = 0; i < body->n; i++) {
		const char *k = body->keys[i]->scalar;
		const struct cfg_node *v = body->items[i];
		if (strcmp(k, "key") == 0) {
			if (!read_name(doc, v, "key", &t->key, err))
				return false;
		} else if (strcmp(k, "offset") == 0) {
			if (!scalar(v))
				return cfg_fail(err, doc, v, "table \"%s\": offset must be an integer or auto",
						t->name);
			t->offset_set = true;
			if (strcmp(v->scalar, "auto") == 0)
				t->offset_auto = true;
			else if (!cfg_parse_int(v->scalar, &t->offset))
				return cfg_fail(err, doc, v, "table \"%s\": invalid offset \"%s\": expected an "
						"integer (negative allowed) or auto", t->name, v->scalar);
		} else if (strcmp(k, "conflict") == 0) {
			if (scalar(v) && strcmp(v->scalar, "refuse") == 0)
				t->conflict = HOP_CONFLICT_REFUSE;
			else if (scalar(v) && strcmp(v->scalar, "replace") == 0)
				t->conflict = HOP_CONFLICT_REPLACE;
			else if (scalar(v) && strcmp(v->scalar, "append") == 0)
				t->conflict = HOP_CONFLICT_APPEND;
			else
				return cfg_fail(err, doc, v, "table \"%s\": conflict must be refuse, replace or "
						"append", t->name);
		} else if (strcmp(k, "min_headroom") == 0) {
			if (!scalar(v) || !cfg_parse_int(v->scalar, &t->min_headroom) || t->min_headroom < 0)
				return cfg_fail(err, doc, v, "table \"%s\": min_headroom must be a number of "
						"ids, 0 or more", t->name);
		} else if (strcmp(k, "refs") == 0) {
			if (v->kind != CFG_NODE_MAP)
				return cfg_fail(err, doc, v, "table \"%s\": refs must map columns to tables, "
						"e.g. { author_id: user }", t->name);
			t->refs = calloc(v->n ? v->n : 1, sizeof *t->refs);
			if (!t->refs)
				abort();
			for (size_t r = 0; r < v->n; r++) {
				struct hop_ref_cfg *ref = &t->refs[t->nrefs++];
				ref->line = v->keys[r]->line;
				ref->column_no = v->keys[r]->column;
				if (!read_name(doc, v->keys[r], "refs column", &ref->column, err) ||
				    !read_name(doc, v->items[r], "refs table", &ref->table, err))
					return false;
			}
		} else {
			return cfg_fail(err, doc, body->keys[i], "table \"%s\": unknown key \"%s\""
					"\nhint: a table takes key, offset, refs, conflict and min_headroom", t->name, k);
		}
	}
	return true;
}

/* A non-empty string value of map item key; NULL (no error) when absent. */
static bool read_str(const struct cfg_doc *doc, const struct cfg_node *map, const char *key,
		     size_t i, char **out, struct cfg_error *err)
{
	const struct cfg_node *v = cfg_node_get(map, key);
	if (!v)
		return true;
	if (!scalar(v) || !v->scalar[0])
		return cfg_fail(err, doc, v, "cutover.servers[%zu]: %s must be a non-empty string", i, key);
	*out = dup0(v->scalar);
	return true;
}

static bool only_keys(const struct cfg_doc *doc, const struct cfg_node *map, const char *const *keys,
		      const char *what, size_t i, struct cfg_error *err)
{
	for (size_t k = 0; k < map->n; k++) {
		bool known = false;
		for (const char *const *p = keys; *p; p++)
			known = known || strcmp(map->keys[k]->scalar, *p) == 0;
		if (!known)
			return cfg_fail(err, doc, map->keys[k], "cutover.servers[%zu]: unknown key \"%s\" "
					"for %s", i, map->keys[k]->scalar, what);
	}
	return true;
}

/* A PgBouncer database name, sent quoted to its admin console. */
static bool pgb_name_ok(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      *s == '_' || *s == '-' || *s == '.'))
			return false;
	return true;
}

static bool read_server(const struct cfg_doc *doc, const struct cfg_node *item, size_t i,
			struct hop_server_cfg *s, struct cfg_error *err)
{
	static const char *const url_keys[] = { "admin_url", NULL };
	static const char *const dns_keys[] = { "admin_dns", NULL };
	static const char *const pgb_keys[] = { "pgbouncer", "database", "databases_file", NULL };
	static const char *const cmd_keys[] = { "command", NULL };
	static const char *const hook_keys[] = { "pause", "switch", "resume", NULL };
	const char *hint = "hint: an entry takes one of admin_url, admin_dns, pgbouncer (with database "
			   "and databases_file) or command (with pause, switch and resume)";

	s->line = item->line;
	s->column_no = item->column;
	if (item->kind != CFG_NODE_MAP)
		return cfg_fail(err, doc, item, "cutover.servers[%zu] must be a mapping\n%s", i, hint);
	int kinds = !!cfg_node_get(item, "admin_url") + !!cfg_node_get(item, "admin_dns") +
		    !!cfg_node_get(item, "pgbouncer") + !!cfg_node_get(item, "command");
	if (kinds != 1)
		return cfg_fail(err, doc, item, "cutover.servers[%zu]: %s kinds given\n%s", i,
				kinds ? "several" : "no", hint);
	if (cfg_node_get(item, "admin_url")) {
		const struct cfg_node *url = cfg_node_get(item, "admin_url");
		s->kind = HOP_SERVER_ADMIN_URL;
		if (!only_keys(doc, item, url_keys, "admin_url", i, err))
			return false;
		if (!scalar(url) || (strncmp(url->scalar, "http://", 7) != 0 &&
				     strncmp(url->scalar, "https://", 8) != 0))
			return cfg_fail(err, doc, url, "cutover.servers[%zu]: admin_url must be an http:// or "
					"https:// URL", i);
		return read_str(doc, item, "admin_url", i, &s->admin_url, err);
	}
	if (cfg_node_get(item, "admin_dns")) {
		s->kind = HOP_SERVER_ADMIN_DNS;
		if (!only_keys(doc, item, dns_keys, "admin_dns", i, err) ||
		    !read_str(doc, item, "admin_dns", i, &s->admin_dns, err))
			return false;
		const char *colon = strrchr(s->admin_dns, ':');
		int64_t port = 0;
		if (!colon || colon == s->admin_dns || !cfg_parse_int(colon + 1, &port) || port < 1 ||
		    port > 65535 || strchr(s->admin_dns, '/'))
			return cfg_fail(err, doc, cfg_node_get(item, "admin_dns"), "cutover.servers[%zu]: "
					"admin_dns must be \"name:port\", e.g. \"tasks.minitwitd:8081\"", i);
		return true;
	}
	if (cfg_node_get(item, "pgbouncer")) {
		s->kind = HOP_SERVER_PGBOUNCER;
		if (!only_keys(doc, item, pgb_keys, "pgbouncer", i, err) ||
		    !read_str(doc, item, "pgbouncer", i, &s->pgbouncer, err) ||
		    !read_str(doc, item, "database", i, &s->database, err) ||
		    !read_str(doc, item, "databases_file", i, &s->databases_file, err))
			return false;
		if (!s->database || !s->databases_file)
			return cfg_fail(err, doc, item, "cutover.servers[%zu]: pgbouncer needs database (the "
					"[databases] entry the application uses) and databases_file (the "
					"file holding it)", i);
		if (!pgb_name_ok(s->database))
			return cfg_fail(err, doc, cfg_node_get(item, "database"), "cutover.servers[%zu]: "
					"database \"%s\" must be letters, digits, _, - or .", i, s->database);
		if (s->databases_file[0] != '/')
			return cfg_fail(err, doc, cfg_node_get(item, "databases_file"), "cutover.servers[%zu]: "
					"databases_file must be an absolute path", i);
		return true;
	}
	const struct cfg_node *cmd = cfg_node_get(item, "command");
	s->kind = HOP_SERVER_COMMAND;
	if (!only_keys(doc, item, cmd_keys, "command", i, err))
		return false;
	if (cmd->kind != CFG_NODE_MAP)
		return cfg_fail(err, doc, cmd, "cutover.servers[%zu]: command must map pause, switch and "
				"resume to commands", i);
	if (!only_keys(doc, cmd, hook_keys, "command", i, err) ||
	    !read_str(doc, cmd, "pause", i, &s->pause, err) ||
	    !read_str(doc, cmd, "switch", i, &s->switch_cmd, err) ||
	    !read_str(doc, cmd, "resume", i, &s->resume, err))
		return false;
	if (!s->pause || !s->switch_cmd || !s->resume)
		return cfg_fail(err, doc, cmd, "cutover.servers[%zu]: command needs pause, switch and "
				"resume", i);
	return true;
}

static bool read_servers(const struct cfg_doc *doc, const struct cfg_node *list,
			 struct hop_config *cfg, struct cfg_error *err)
{
	if (!list || (list->kind == CFG_NODE_SCALAR && !list->scalar[0]))
		return true;
	if (list->kind != CFG_NODE_SEQ)
		return cfg_fail(err, doc, list, "cutover.servers must be a list of entries such as "
				"{ admin_url: \"http://host:port\" }");
	cfg->servers = calloc(list->n ? list->n : 1, sizeof *cfg->servers);
	if (!cfg->servers)
		abort();
	for (size_t i = 0; i < list->n; i++)
		if (!read_server(doc, list->items[i], i, &cfg->servers[cfg->nservers++], err))
			return false;
	return true;
}

bool hopcfg_load(const char *path, struct hop_config *cfg, struct cfg_error *err)
{
	static const char *const skip[] = { "tables", "cutover.servers", NULL };
	struct cfg_doc doc = { NULL, NULL };
	bool ok = false;

	memset(cfg, 0, sizeof *cfg);
	if (path) {
		cfg->path = dup0(path);
		if (!cfg_doc_parse(path, &doc, err))
			goto out;
	}
	if (!cfg_load_doc(hopcfg_keys, hopcfg_nkeys, path ? &doc : NULL, skip, "MINITWIT", &cfg->s,
			  err))
		goto out;
	const struct cfg_node *root = doc.root;
	/* hop_open names the change log's schema "<link.schema>_cdc":
	 * PostgreSQL would cut a longer name to 63 bytes, silently */
	if (strlen(cfg->s.link_schema) + strlen("_cdc") > 63) {
		const struct cfg_node *link = root && root->kind == CFG_NODE_MAP ? cfg_node_get(root, "link")
										  : NULL;
		const struct cfg_node *at = cfg_node_get(link, "schema");
		const char *env = getenv("MINITWIT_LINK_SCHEMA");
		static const char fmt[] = "link.schema \"%s\" is longer than 59 bytes: its change log "
					  "schema \"%s_cdc\" would pass PostgreSQL's 63";
		if (at && !(env && !strcmp(env, cfg->s.link_schema)))
			cfg_fail(err, &doc, at, fmt, cfg->s.link_schema, cfg->s.link_schema);
		else {	/* the environment's value */
			int n = snprintf(err->msg, sizeof err->msg, "environment MINITWIT_LINK_SCHEMA: ");
			snprintf(err->msg + n, sizeof err->msg - (size_t)n, fmt, cfg->s.link_schema,
				 cfg->s.link_schema);
		}
		goto out;
	}
	const struct cfg_node *tables = root && root->kind == CFG_NODE_MAP ? cfg_node_get(root, "tables")
									    : NULL;
	if (tables && !(tables->kind == CFG_NODE_SCALAR && !tables->scalar[0])) {
		if (tables->kind != CFG_NODE_MAP) {
			cfg_fail(err, &doc, tables, "tables must map table names to their settings");
			goto out;
		}
		cfg->tables_listed = true;
		cfg->tables = calloc(tables->n ? tables->n : 1, sizeof *cfg->tables);
		if (!cfg->tables)
			abort();
		for (size_t i = 0; i < tables->n; i++) {
			if (!read_table(&doc, tables->keys[i], tables->items[i], &cfg->tables[cfg->ntables++],
					err))
				goto out;
		}
	}
	const struct cfg_node *cut = root && root->kind == CFG_NODE_MAP ? cfg_node_get(root, "cutover")
									 : NULL;
	if (cut && cut->kind == CFG_NODE_MAP && !read_servers(&doc, cfg_node_get(cut, "servers"), cfg, err))
		goto out;
	ok = true;
out:
	cfg_doc_release(&doc);
	return ok;
}

void hopcfg_release(struct hop_config *cfg)
{
	for (size_t i = 0; i < cfg->ntables; i++) {
		struct hop_table_cfg *t = &cfg->tables[i];
		free(t->name);
		free(t->key);
		for (size_t r = 0; r < t->nrefs; r++) {
			free(t->refs[r].column);
			free(t->refs[r].table);
		}
		free(t->refs);
	}
	free(cfg->tables);
	for (size_t i = 0; i < cfg->nservers; i++) {
		struct hop_server_cfg *sv = &cfg->servers[i];
		free(sv->admin_url);
		free(sv->admin_dns);
		free(sv->pgbouncer);
		free(sv->database);
		free(sv->databases_file);
		free(sv->pause);
		free(sv->switch_cmd);
		free(sv->resume);
	}
	free(cfg->servers);
	cfg_release(hopcfg_keys, hopcfg_nkeys, &cfg->s);
	free(cfg->path);
	memset(cfg, 0, sizeof *cfg);
}

const struct hop_table_cfg *hopcfg_table(const struct hop_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->ntables; i++)
		if (strcmp(cfg->tables[i].name, name) == 0)
			return &cfg->tables[i];
	return NULL;
}

static void yaml_str(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', out);
		fputc(*s, out);
	}
	fputc('"', out);
}

void hopcfg_print(const struct hop_config *cfg, FILE *out)
{
	cfg_print(hopcfg_keys, hopcfg_nkeys, &cfg->s, out);
	if (!cfg->tables_listed)
		fputs("# tables: not listed: every table of the source's public schema\n", out);
	else {
		fputs("tables:\n", out);
		for (size_t i = 0; i < cfg->ntables; i++) {
			const struct hop_table_cfg *t = &cfg->tables[i];
			fputs("  ", out);
			yaml_str(out, t->name);
			fputs(": {", out);
			const char *sep = " ";
			if (t->key) {
				fprintf(out, "%skey: ", sep);
				yaml_str(out, t->key);
				sep = ", ";
			}
			if (t->offset_set) {
				if (t->offset_auto)
					fprintf(out, "%soffset: auto", sep);
				else
					fprintf(out, "%soffset: %lld", sep, (long long)t->offset);
				sep = ", ";
			}
			if (t->conflict != HOP_CONFLICT_DEFAULT) {
				fprintf(out, "%sconflict: %s", sep,
					t->conflict == HOP_CONFLICT_REPLACE  ? "replace"
					: t->conflict == HOP_CONFLICT_APPEND ? "append"
									     : "refuse");
				sep = ", ";
			}
			if (t->min_headroom != HOP_MIN_HEADROOM) {
				fprintf(out, "%smin_headroom: %lld", sep, (long long)t->min_headroom);
				sep = ", ";
			}
			if (t->nrefs) {
				fprintf(out, "%srefs: {", sep);
				for (size_t r = 0; r < t->nrefs; r++) {
					fputs(r ? ", " : " ", out);
					yaml_str(out, t->refs[r].column);
					fputs(": ", out);
					yaml_str(out, t->refs[r].table);
				}
				fputs(" }", out);
			}
			fputs(" }\n", out);
		}
	}
	if (cfg->nservers) {
		fputs("# cutover.servers:\n", out);
		for (size_t i = 0; i < cfg->nservers; i++) {
			const struct hop_server_cfg *sv = &cfg->servers[i];
			struct buf b = BUF_INIT;
			switch (sv->kind) {
			case HOP_SERVER_ADMIN_URL:
				dsn_mask_url(sv->admin_url, &b);
				fprintf(out, "#   - admin_url: %s\n", buf_str(&b));
				break;
			case HOP_SERVER_ADMIN_DNS:
				fprintf(out, "#   - admin_dns: %s\n", sv->admin_dns);
				break;
			case HOP_SERVER_PGBOUNCER:
				dsn_mask(sv->pgbouncer, &b);
				fprintf(out, "#   - pgbouncer: %s\n#     database: %s\n#     databases_file: %s\n",
					buf_str(&b), sv->database, sv->databases_file);
				break;
			case HOP_SERVER_COMMAND:
				fprintf(out, "#   - command: { pause: %s, switch: %s, resume: %s }\n", sv->pause,
					sv->switch_cmd, sv->resume);
				break;
			}
			buf_release(&b);
		}
	}
}
