/*
 * progress: what a long step (the copy, the apply) reports while it works,
 * and the one way the programs show it.
 *
 * The engine (hop/) never prints: it fills a struct progress and calls the
 * callback its options carry (copy_opts, apply_opts), at most a few times
 * a second and once more at the end (final).  The programs install
 * progress_show with a struct progress_out, which renders each report:
 *
 *   --json           one JSON line on stdout per report (the contract
 *                    scripts and benchmarks parse):
 *                      {"event":"copy","table":"user","rows":N,"total":N,
 *                       "rows_per_s":N,"eta_s":F,"done":B}
 *                      {"event":"progress"|"done","batches":N,"fetched":N,
 *                       "applied":N,"skipped":N,"fallbacks":N,"rate":F}
 *   stderr a terminal: one line rewritten in place (\r), ended at the final
 *                    report
 *   otherwise        the final report as a log line (log.h: JSON lines
 *                    unless --log-format text)
 */
#ifndef PROGRESS_H
#define PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "buf.h"

enum progress_kind {
	PROGRESS_COPY,		/* one table's rows */
	PROGRESS_APPLY,		/* the changes applied so far */
};

struct progress {
	enum progress_kind kind;
	bool final;		/* the last report of the table (copy) or the run (apply) */
	/* PROGRESS_COPY */
	const char *table;
	int64_t rows, total;
	double rows_per_s, eta_s;
	/* PROGRESS_APPLY */
	int64_t batches, fetched, applied, skipped, fallbacks;
	double rate;		/* changes per second over the last second */
};

typedef void progress_fn(const struct progress *p, void *arg);

/* How the program shows progress; progress_show's arg. */
struct progress_out {
	bool json;		/* --json: JSON lines on stdout */
	bool tty;		/* stderr is a terminal */
};

/* json: --json was given; tty is read from stderr. */
void progress_out_init(struct progress_out *out, bool json);

/* The callback the programs install (arg: a struct progress_out). */
void progress_show(const struct progress *p, void *arg);

/* The report as the JSON object of --json (new reference). */
json_t *progress_json(const struct progress *p);
/* The report as one line of text, without a newline. */
void progress_text(const struct progress *p, struct buf *out);

#endif
