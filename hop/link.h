/*
 * link: the target's view of the source through postgres_fdw: the extension,
 * the foreign server and user mapping (the password comes from the
 * environment or pgpass as libpq found it, and is never logged), the
 * source's tables imported into the staging schema, and, once capture is
 * installed, the change log in <staging>_cdc.
 */
#ifndef LINK_H
#define LINK_H

#include <jansson.h>
#include <stdbool.h>

#include "buf.h"
#include "hop.h"

/* Create or re-create the link (one target transaction); idempotent. */
MUST_CHECK bool link_create(struct hop *h);
/* Remove link and staging schemas, and the hop's state unless keep_as
 * (the row then says that stage, hop_stage_name of finished or abandoned,
 * a move the caller checked: run_finish_allowed); the ledger always stays. */
MUST_CHECK bool link_drop(struct hop *h, const char *keep_as);
/*
 * Check without changing anything: reachability of both ends, the
 * extension, privileges, a password for a non-superuser's mapping.  The
 * target's connection to the source is not tried (it would send the
 * source's password to the target as SQL text); link tries it.  *report
 * (a new reference): {"checks":[{"check","ok","hint"}...] (link --check
 * --json prints this array), "notes":[text...]}.  Returns true when
 * everything needed is there.
 */
bool link_check(const struct hop_config *cfg, json_t **report);

/* The report as text: "ok  ..." / "MISSING  ..." lines with their hints,
 * then the notes. */
void link_check_text(const json_t *report, struct buf *out);

/* (Re)import the source's capture objects into <staging>_cdc. */
MUST_CHECK bool link_import_cdc(struct hop *h);

#endif
