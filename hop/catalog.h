/*
 * catalog: what a database holds, read from pg_catalog: tables of a schema,
 * their columns with types, primary keys, single-column foreign keys, the
 * sequence behind each identity/serial column.  Used on both ends of a hop.
 */
#ifndef CATALOG_H
#define CATALOG_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cat_column {
	char *name;
	char *type;		/* format_type(): "integer", "text", "character varying(20)" */
	bool notnull;
	char *sequence;		/* identity/serial sequence (qualified), or NULL */
};

struct cat_fk {
	char *column;		/* referring column */
	char *ref_table;	/* referenced table (same schema) */
	char *ref_column;
};

struct cat_index {
	char *name;
	char *def;		/* pg_get_indexdef */
	bool primary;
};

struct cat_table {
	char *name;
	struct cat_column *cols;
	size_t ncols;
	size_t *pk;		/* indexes into cols, in key order */
	size_t npk;
	struct cat_fk *fks;
	size_t nfks;
	struct cat_index *indexes;
	size_t nindexes;
};

struct cat {
	struct cat_table *tables;
	size_t ntables;
};

/* Read every ordinary table of schema; false (logged) on error. */
__attribute__((warn_unused_result)) bool cat_read(PGconn *c, const char *schema, const char *what,
						   struct cat *out);
void cat_release(struct cat *cat);

const struct cat_table *cat_table(const struct cat *cat, const char *name);
/* Column index, or -1. */
int cat_column(const struct cat_table *t, const char *name);

#endif
