/*
 * capture: the source's change log and the triggers that fill it
 * (sql/hop/capture.sql), installed and removed idempotently.  TRUNCATE of a
 * captured table is refused with an error naming the sync.
 */
#ifndef CAPTURE_H
#define CAPTURE_H

#include "hop.h"

MUST_CHECK bool capture_install(struct hop *h);

/* The same on any database: the cutover installs it on the target too, so
 * that the changes made after the switch are known (verify under load,
 * a way back). */
MUST_CHECK bool capture_install_db(PGconn *db, const struct hop_plan *plan, const char *name);
MUST_CHECK bool capture_remove_db(PGconn *db, bool *present);
/* Remove triggers and the capture schema from the source, the target's view
 * of them, and the target's own capture of changes since a cutover; works
 * from the registry on each database, so it also cleans up after a
 * configuration that changed since install. */
MUST_CHECK bool capture_remove(struct hop *h);

#endif
