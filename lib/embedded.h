/*
 * embedded: SQL files compiled into the programs by tools/embed.
 */
#ifndef EMBEDDED_H
#define EMBEDDED_H

#include <stddef.h>

struct embedded_file {
	const char *name;	/* base name, e.g. "001_initial.sql" */
	const char *text;	/* NUL-terminated */
	size_t len;
};

#endif
