/*
 * log: what the programs tell the operator, on stderr.
 *
 * A message is a problem (STYLE.md rule 4): a primary line, an optional
 * detail and an optional hint (struct problem).  Callers either log one
 * built as a struct (log_problem), or write its text form, the one form
 * used everywhere a problem is text: the message, then "\ndetail: ..."
 * and "\nhint: ..." lines
 *
 *   log_error("could not connect to source \"%s\": %s\nhint: check the pgpass entry", ...);
 *
 * Two renderings of the same problem:
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
#include "util.h"

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };
enum log_format { LOG_FORMAT_AUTO, LOG_FORMAT_TEXT, LOG_FORMAT_JSON };

void log_init(const char *prog);
/* "debug", "info", "warn", "error"; returns false for anything else. */
MUST_CHECK bool log_set_level_name(const char *name);
void log_set_level(enum log_level level);
bool log_enabled(enum log_level level);

/* "auto" (text on a terminal, else json), "text", "json"; false for
 * anything else. */
MUST_CHECK bool log_set_format_name(const char *name);
void log_set_format(enum log_format format);

/* What went wrong (msg), why (detail) and what to do (hint): each owned
 * by the struct; detail and hint may be NULL. */
struct problem {
	char *msg;
	char *detail;
	char *hint;
};

/* A problem of copies of msg, detail and hint (either may be NULL). */
void problem_init(struct problem *p, const char *msg, const char *detail, const char *hint);
/* A problem from its text form (msg, then "\ndetail: " and "\nhint: "
 * parts, each running to the next; trailing newlines dropped). */
void problem_parse(struct problem *p, const char *text, size_t len);
void problem_release(struct problem *p);
/* The text form, newline-terminated: "msg\ndetail: d\nhint: h\n". */
void problem_text(const struct problem *p, struct buf *out);

/*
 * Render one problem in format (AUTO counts as JSON) into out,
 * newline-terminated: text lines, or a JSON object with "msg" and, when
 * set, "detail" and "hint" fields (built with jansson, report.h: a byte
 * of a text that is not UTF-8 shows as '?').  when is the timestamp for JSON.
 * Exposed for the unit tests.
 */
void log_render(struct buf *out, enum log_format format, enum log_level level, const char *prog,
		const char *when, const struct problem *p);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Log a problem built as a struct (its fields are never parsed). */
void log_problem(enum log_level level, const struct problem *p);

#define log_debug(...) do { if (log_enabled(LOG_DEBUG)) log_msg(LOG_DEBUG, __VA_ARGS__); } while (0)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
