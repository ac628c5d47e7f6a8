/*
 * log: what the programs tell the operator, on stderr.
 *
 * A message is one primary line (STYLE.md rule 4), then optionally
 * "\ndetail: ..." and "\nhint: ..." parts: the one form every caller uses
 *
 *   log_error("could not connect to source \"%s\": %s\nhint: check the pgpass entry", ...);
 *
 * Two renderings of the same message:
 *
 *   text (stderr is a terminal, or --log-format text): lines a person reads
 *     migrate: error: could not connect to source "host=old dbname=minitwit": ...
 *     hint: check the pgpass entry
 *   json (stderr is not a terminal, or --log-format json): one line each
 *     {"ts":"2026-11-28T07:50:00.123Z","level":"error","prog":"migrate",
 *      "msg":"could not connect ...","hint":"check the pgpass entry"}
 *
 * Thread-safe (one write(2) per message).  A message must never contain a
 * password: pass DSNs through dsn_mask() (dsn.h).
 */
#ifndef LOG_H
#define LOG_H

#include <stdbool.h>

#include "buf.h"

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };
enum log_format { LOG_FORMAT_AUTO, LOG_FORMAT_TEXT, LOG_FORMAT_JSON };

void log_init(const char *prog);
/* "debug", "info", "warn", "error"; returns false for anything else. */
__attribute__((warn_unused_result)) bool log_set_level_name(const char *name);
void log_set_level(enum log_level level);
bool log_enabled(enum log_level level);

/* "auto" (text on a terminal, else json), "text", "json"; false for
 * anything else. */
__attribute__((warn_unused_result)) bool log_set_format_name(const char *name);
void log_set_format(enum log_format format);

/*
 * Render one message (primary line, then "detail: " / "hint: " parts) in
 * format (AUTO counts as JSON) into out, newline-terminated.  when is the
 * timestamp for JSON.  Exposed for the unit tests.
 */
void log_render(struct buf *out, enum log_format format, enum log_level level, const char *prog,
		const char *when, const char *msg, size_t len);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) do { if (log_enabled(LOG_DEBUG)) log_msg(LOG_DEBUG, __VA_ARGS__); } while (0)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
