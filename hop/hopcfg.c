/*
 * hopcfg: loading config/migration.yaml; see hopcfg.h.
 */
#include "hopcfg.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
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

static char *xstrdup(const char *s)
{
	char *p = strdup(s ? s : "");
	if (!p)
		abort();
	return p;
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
	*out = xstrdup(n->scalar);
	return true;
}

static bool read_table(const struct cfg_doc *doc, const struct cfg_node *name,
		       const struct cfg_node *body, struct hop_table_cfg *t, struct cfg_error *err)
{
	t->line = name->line;
	t->column_no = name->column;
	if (!read_name(doc, name, "table name", &t->name, err))
		return false;
	if (!body || (body->kind == CFG_NODE_SCALAR && !body->scalar[0]))
		return true;	/* "follower:" alone: all defaults */
	if (body->kind != CFG_NODE_MAP)
		return cfg_fail(err, doc, body, "table \"%s\": expected a mapping of key, offset, "
				"refs, conflict", t->name);
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
			else
				return cfg_fail(err, doc, v, "table \"%s\": conflict must be refuse or replace",
						t->name);
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
					"\nhint: a table takes key, offset, refs and conflict", t->name, k);
		}
	}
	return true;
}

static bool read_servers(const struct cfg_doc *doc, const struct cfg_node *list,
			 struct hop_config *cfg, struct cfg_error *err)
{
	if (!list || (list->kind == CFG_NODE_SCALAR && !list->scalar[0]))
		return true;
	if (list->kind != CFG_NODE_SEQ)
		return cfg_fail(err, doc, list, "cutover.servers must be a list of "
				"{ admin_url: \"http://host:port\" }");
	cfg->servers = calloc(list->n ? list->n : 1, sizeof *cfg->servers);
	if (!cfg->servers)
		abort();
	for (size_t i = 0; i < list->n; i++) {
		const struct cfg_node *item = list->items[i];
		const struct cfg_node *url = item->kind == CFG_NODE_MAP ? cfg_node_get(item, "admin_url")
									 : NULL;
		if (item->kind == CFG_NODE_MAP)
			for (size_t k = 0; k < item->n; k++)
				if (strcmp(item->keys[k]->scalar, "admin_url") != 0)
					return cfg_fail(err, doc, item->keys[k], "cutover.servers: unknown key "
							"\"%s\"\nhint: a server takes admin_url",
							item->keys[k]->scalar);
		if (!scalar(url) || (strncmp(url->scalar, "http://", 7) != 0 &&
				     strncmp(url->scalar, "https://", 8) != 0))
			return cfg_fail(err, doc, url ? url : item,
					"cutover.servers[%zu]: admin_url must be an http:// or https:// URL", i);
		cfg->servers[cfg->nservers++].admin_url = xstrdup(url->scalar);
	}
	return true;
}

bool hopcfg_load(const char *path, struct hop_config *cfg, struct cfg_error *err)
{
	static const char *const skip[] = { "tables", "cutover.servers", NULL };
	struct cfg_doc doc = { NULL, NULL };
	bool ok = false;

	memset(cfg, 0, sizeof *cfg);
	if (path) {
		cfg->path = xstrdup(path);
		if (!cfg_doc_parse(path, &doc, err))
			goto out;
	}
	if (!cfg_load_doc(hopcfg_keys, hopcfg_nkeys, path ? &doc : NULL, skip, "MINITWIT", &cfg->s,
			  err))
		goto out;
	const struct cfg_node *root = doc.root;
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
	for (size_t i = 0; i < cfg->nservers; i++)
		free(cfg->servers[i].admin_url);
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
					t->conflict == HOP_CONFLICT_REPLACE ? "replace" : "refuse");
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
		for (size_t i = 0; i < cfg->nservers; i++)
			fprintf(out, "#   - admin_url: %s\n", cfg->servers[i].admin_url);
	}
}
