/*
 * tschema: the target's tables, created from the source's definition when
 * the target lacks them: columns with their types, NOT NULL and defaults
 * (identity columns stay identity columns with their sequence's name and
 * options; a serial column's sequence is created with the source's options
 * and owned by the column again; a sequence another default names is
 * created when the target lacks it), primary keys, unique, check and foreign-key constraints, and
 * the other indexes.  Tables that exist are compared by plan instead.
 */
#ifndef TSCHEMA_H
#define TSCHEMA_H

#include "hop.h"

/* Create what the target lacks (one transaction); *created gets the count.
 * The caller re-plans afterwards. */
MUST_CHECK bool tschema_create(struct hop *h, int *created);

#endif
