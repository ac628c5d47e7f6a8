/*
 * report: how the programs print what the engine returns.  The engine
 * (hop/) builds each report once, as a jansson object (plan_json,
 * verify_run, link_check, apply_status, cutover_run) with a text rendering
 * of that object beside it (verify_text, ...); it prints neither.  The
 * programs print one or the other: --json prints the object as one
 * compact line on stdout.  Progress reports: progress.h.
 */
#ifndef REPORT_H
#define REPORT_H

#include <jansson.h>
#include <stdbool.h>

#include "buf.h"

/* Append j as one compact JSON line (newline-terminated); reals with 15
 * significant digits (0.1 stays "0.1"). */
void report_json(struct buf *out, const json_t *j);

/* A report's text form for a terminal. */
typedef void report_text_fn(const json_t *report, struct buf *out);

/* Append report to out as JSON (json) or as text, then release it (a new
 * reference; NULL appends nothing). */
void report_render(struct buf *out, json_t *report, bool json, report_text_fn *text);

/* Print j (a new reference, released) as one JSON line on stdout. */
void report_print(json_t *j);

/* A new JSON string of s (non-ASCII bytes of a string that is not UTF-8
 * as '?'), or null when s is NULL. */
json_t *report_string(const char *s);

#endif
