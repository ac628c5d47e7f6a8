/*
 * cfg: YAML configuration through a table of keys.
 *
 * Every program describes its settings as an array of struct cfg_key (one row
 * per "section.key": type, default, bounds, whether it is a secret and whether
 * SIGHUP may reload it, and where in the program's settings struct the value
 * lives).  cfg_load() fills that struct from, in increasing priority:
 *   1. the defaults in the table,
 *   2. the YAML file (a mapping of sections, each a mapping of scalars),
 *   3. the environment: <PREFIX>_<SECTION>_<KEY> upper-cased, '.' and '-' as '_'
 *      (MINITWIT_DATABASE_DSN, MINITWIT_HTTP_LISTEN).
 * An unknown section or key, a value of the wrong type or out of bounds is an
 * error that names file:line:column (or the environment variable).
 *
 * For configs whose shape is not a fixed table (migration.yaml's per-table
 * map), cfg_doc_parse() gives the YAML as a tree of nodes that keep their
 * position, so a caller can report errors with file:line:column as well.
 *
 * lib/ never exits and never prints to stdout: errors are returned as text in
 * struct cfg_error for the caller to report.
 */
#ifndef CFG_H
#define CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "buf.h"
#include "util.h"


enum cfg_type {
	CFG_STRING,	/* char * (malloc'd, owned by the settings struct); NULL when empty default */
	CFG_INT,	/* int64_t, bounded by min..max */
	CFG_BOOL,	/* bool: true/false/yes/no/on/off/1/0 */
	CFG_MILLIS,	/* int64_t milliseconds: "250ms", "2s", "1m", or a bare integer (ms) */
};

struct cfg_key {
	const char *section;	/* "http" */
	const char *name;	/* "listen" */
	enum cfg_type type;
	const char *def;	/* default as text, parsed like a file value; NULL = unset */
	int64_t min, max;	/* bounds for CFG_INT / CFG_MILLIS (ignored when min == max == 0) */
	bool secret;		/* masked by cfg_print (and DSN passwords are always masked) */
	bool reloadable;	/* SIGHUP may change it */
	size_t offset;		/* offsetof(settings struct, field) */
	const char *help;	/* one line, shown by --print-config comments */
};

struct cfg_doc;

struct cfg_error {
	char msg[1024];		/* "config/x.yaml:3:5: unknown key \"http.lisen\"" */
};

/*
 * Fill *settings (zeroed by the caller) from defaults, the file at path (may
 * be NULL: defaults and environment only) and the environment variables
 * named with env_prefix (e.g. "MINITWIT"; NULL: no environment overrides).
 * Returns false with err filled on the first problem; *settings must still be
 * released with cfg_release() in both cases.
 */
MUST_CHECK bool cfg_load(const struct cfg_key *keys, size_t nkeys,
			 const char *path, const char *env_prefix,
			 void *settings, struct cfg_error *err);

/*
 * The same from an already parsed document (doc may be NULL): for configs
 * that mix fixed keys with sections of their own shape.  Sections ("tables")
 * and keys ("cutover.servers") named in skip, a NULL-terminated list, are not
 * looked at; the caller reads them from the document itself.
 */
MUST_CHECK bool cfg_load_doc(const struct cfg_key *keys, size_t nkeys,
			     const struct cfg_doc *doc, const char *const *skip,
			     const char *env_prefix, void *settings, struct cfg_error *err);

/*
 * Append to out the names of the environment variables (<PREFIX>_...) that
 * are set for keys of the table and so override the file, separated by
 * ", "; nothing when none is.  Names only: the values may be secrets.
 */
void cfg_env_overrides(const struct cfg_key *keys, size_t nkeys, const char *env_prefix,
		       struct buf *out);

/*
 * A reload's check: compare two settings structs filled from the same
 * table and append to out the names of the keys that differ but are not
 * reloadable, each quoted, separated by ", "; returns how many.  Names
 * only: the values may be secrets.
 */
size_t cfg_fixed_changes(const struct cfg_key *keys, size_t nkeys, const void *cur,
			 const void *next, struct buf *out);

/* Free the strings cfg_load() stored in *settings; safe on a zeroed struct. */
void cfg_release(const struct cfg_key *keys, size_t nkeys, void *settings);

/*
 * Print the effective settings as YAML (sections in table order), secrets
 * shown as "********" and passwords inside DSN strings masked.
 */
void cfg_print(const struct cfg_key *keys, size_t nkeys, const void *settings,
	       FILE *out);

/* Parse one value of the given type; used for files and environment alike. */
MUST_CHECK bool cfg_parse_bool(const char *text, bool *out);
MUST_CHECK bool cfg_parse_int(const char *text, int64_t *out);
MUST_CHECK bool cfg_parse_millis(const char *text, int64_t *out);

/* ---- the YAML tree, for configs that are not a fixed table ---- */

enum cfg_node_kind { CFG_NODE_SCALAR, CFG_NODE_MAP, CFG_NODE_SEQ };

struct cfg_node {
	enum cfg_node_kind kind;
	int line, column;		/* 1-based, where the node starts */
	char *scalar;			/* CFG_NODE_SCALAR: the text */
	bool quoted;			/* CFG_NODE_SCALAR: was written quoted */
	/* CFG_NODE_MAP: keys[i] -> items[i]; CFG_NODE_SEQ: items[i] */
	struct cfg_node **keys;
	struct cfg_node **items;
	size_t n;
};

struct cfg_doc {
	char *path;			/* as given, for messages */
	struct cfg_node *root;		/* NULL for an empty document */
};

/* Parse a YAML file into a tree (anchors/aliases refused). */
MUST_CHECK bool cfg_doc_parse(const char *path, struct cfg_doc *doc,
			      struct cfg_error *err);
/* Same from memory (path used only in messages). */
MUST_CHECK bool cfg_doc_parse_string(const char *text, size_t len,
				     const char *path, struct cfg_doc *doc,
				     struct cfg_error *err);
void cfg_doc_release(struct cfg_doc *doc);

/* Look a key up in a CFG_NODE_MAP; NULL when absent or node is not a map. */
const struct cfg_node *cfg_node_get(const struct cfg_node *map, const char *key);

/* Format "path:line:col: <fmt>" into err; returns false for `return cfg_fail(...)`. */
bool cfg_fail(struct cfg_error *err, const struct cfg_doc *doc,
	      const struct cfg_node *at, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
