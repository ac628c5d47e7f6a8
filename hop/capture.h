/*
 * capture: the source's change log and the triggers that fill it
 * (sql/hop/capture.sql), installed and removed idempotently.  TRUNCATE of a
 * captured table is refused with an error naming the sync.
 */
#ifndef CAPTURE_H
#define CAPTURE_H

#include <stdint.h>

#include "hop.h"
#include "sqlgen.h"

/*
 * Install on the hop's source, with the configured trigger mode.  When the
 * hop exists on the target, the change sequence is moved above what it has
 * read (a change log removed and installed again restarts at 1), and the
 * change log is imported into <staging>_cdc.
 */
MUST_CHECK bool capture_install(struct hop *h);

/*
 * The same on any database: the cutover installs it on the target too, so
 * that the changes made after the switch are known (verify under load,
 * a way back).  name: the sync's, for the TRUNCATE error.  cfg: the
 * triggers' level and function (capture.triggers, capture.function; the C
 * function where this database's host has the extension sync_fdw_capture
 * and the configuration allows it; installing again in another mode
 * replaces the triggers).  The tables are numbered as plan numbers them
 * (changes.tbl) and recorded with their oids (sync_fdw_src.tables); a
 * registry that numbered them otherwise is rewritten in one locked
 * transaction with the pending changes renumbered (see register_tables in
 * capture.c).  above: the change ids a reader has already seen
 * (0: none); a change sequence below it is moved above it, never down.
 * *used (may be NULL): the mode installed.
 */
MUST_CHECK bool capture_install_db(PGconn *db, const struct hop_plan *plan, const char *name,
				   const struct hop_config *cfg, int64_t above,
				   enum sqlgen_capture_mode *used);
/*
 * Whether the capture read through c was installed for the plan's tables:
 * table number i (changes.tbl, baked into the triggers) must be the plan's
 * i-th table, by schema-qualified name and by the oid recorded at install.
 * c and schema: the source and "sync_fdw_src", or the target and the hop's
 * <staging>_cdc (through the link; inside a transaction it reads the same
 * remote snapshot as the changes).  A different list (tables reordered,
 * added or removed in the configuration since capture install, or a table
 * made again) becomes a plan problem, logged and recorded as the hop's
 * last error, with the fix; false also when it could not be read (logged).
 */
MUST_CHECK bool capture_check(struct hop *h, PGconn *c, const char *schema);
/* The same for plan: when the source has capture, a mismatch is added to
 * the plan's problems, quietly and writing nothing; false only when the
 * source could not be read (logged). */
MUST_CHECK bool capture_check_plan(struct hop *h);
/*
 * install records a fingerprint of sql/hop/capture.sql (the change log, its
 * views and functions) in sync_fdw_src.settings; a reader started against
 * objects from another version of sync-fdw warns, with the fix (capture
 * install again, which keeps the change log).  Quiet when db is NULL or has
 * no capture.  where: "source" or "target", for the message.
 */
void capture_warn_if_outdated(PGconn *db, const char *where);
/* capture.triggers and capture.function (validated by hop_config_load) as
 * the mode wished for; SQLGEN_CAPTURE_C may become SQLGEN_CAPTURE_ROW on a
 * host without the extension (capture.function auto). */
enum sqlgen_capture_mode capture_mode(const struct hop_config *cfg);
/* "row-level triggers in C (extension sync_fdw_capture)", ... */
const char *capture_mode_name(enum sqlgen_capture_mode mode);
MUST_CHECK bool capture_remove_db(PGconn *db, bool *present);

/* An answer that may not be had: an error is never "no". */
enum capture_answer { CAPTURE_ERROR = -1, CAPTURE_NO = 0, CAPTURE_YES = 1 };

enum capture_where {
	CAPTURE_ON_SOURCE,	/* the hop's change log on the source (sync_fdw_src.changes) */
	CAPTURE_ON_TARGET,	/* the target's record of changes since a cutover (the same, there) */
	CAPTURE_LINKED,		/* the source's change log as the target reads it through the link,
				 * imported by this version (<staging>_cdc.captured) */
};

/*
 * The one answer to "is capture installed / linked?": CAPTURE_YES or
 * CAPTURE_NO from the database's catalog, CAPTURE_ERROR (logged) when the
 * catalog could not be read, which callers must not take for either.
 */
MUST_CHECK enum capture_answer capture_present(struct hop *h, enum capture_where where);
/* Remove triggers and the capture schema from the source, the target's view
 * of them, and the target's own capture of changes since a cutover; works
 * from the registry on each database, so it also cleans up after a
 * configuration that changed since install. */
MUST_CHECK bool capture_remove(struct hop *h);

#endif
