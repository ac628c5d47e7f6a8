/*
 * catalog: what a database holds, read from pg_catalog: tables of a schema,
 * their columns with types, primary keys, single-column foreign keys, the
 * sequences the columns draw from.  Used on both ends of a hop.
 */
#ifndef CATALOG_H
#define CATALOG_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "util.h"

struct cat_column {
	char *name;
	char *type;		/* format_type(): "integer", "text", "character varying(20)" */
	bool notnull;
	char *sequence;		/* a sequence the column draws from (qualified), or NULL */
	char identity;		/* attidentity: 'a' ALWAYS, 'd' BY DEFAULT, '\0' none */
};

/*
 * A column drawing from a sequence: its identity sequence, a sequence owned
 * by it (serial), or one its default names (nextval of a sequence shared
 * with other tables).  Found through pg_depend, never by the sequence's name.
 */
struct cat_seq_use {
	char *sequence;		/* quoted and qualified: public."Member_id_seq" */
	char *table;		/* the column's table, in the schema read */
	char *column;
	char *type;		/* the column's format_type() */
	char kind;		/* 'i' identity, 'a' owned by the column, 'd' named by its default */
	int64_t increment;	/* the sequence's */
	int64_t min, max;	/* its bounds */
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
	struct cat_seq_use *seqs;	/* ordered by sequence, table, column; one per pair */
	size_t nseqs;
};

/* Read every ordinary table of schema; false (logged) on error. */
MUST_CHECK bool cat_read(PGconn *c, const char *schema, const char *what,
						   struct cat *out);
void cat_release(struct cat *cat);

/* Read only the sequence uses of the columns of schema's tables into cat
 * (which must be empty or released); false (logged) on error. */
MUST_CHECK bool cat_read_sequences(PGconn *c, const char *schema,
							     const char *what, struct cat *out);

const struct cat_table *cat_table(const struct cat *cat, const char *name);
/* Column index, or -1. */
int cat_column(const struct cat_table *t, const char *name);

#endif
