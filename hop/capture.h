/*
 * capture: the source's change log and the triggers that fill it
 * (sql/hop/capture.sql), installed and removed idempotently.  TRUNCATE of a
 * captured table is refused with an error naming the sync.
 */
#ifndef CAPTURE_H
#define CAPTURE_H

#include "hop.h"

MUST_CHECK bool capture_install(struct hop *h);
/* Remove triggers and the capture schema from the source (and the target's
 * view of them); works from the source's own registry, so it also cleans up
 * after a configuration that changed since install. */
MUST_CHECK bool capture_remove(struct hop *h);

#endif
