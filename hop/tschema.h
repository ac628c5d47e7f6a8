/*
 * tschema: the target's tables, created from the source's definition when
 * the target lacks them: columns with their types, NOT NULL and defaults
 * (identity columns stay identity columns, serial defaults get their
 * sequence), primary keys, unique, check and foreign-key constraints, and
 * the other indexes.  Tables that exist are compared by plan instead.
 */
#ifndef TSCHEMA_H
#define TSCHEMA_H

#include "hop.h"

/* Create what the target lacks (one transaction); *created gets the count.
 * The caller re-plans afterwards. */
MUST_CHECK bool tschema_create(struct hop *h, int *created);

#endif
