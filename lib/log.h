/*
 * log: structured logs as JSON lines on stderr.
 *
 *   {"ts":"2026-11-28T07:50:00.123Z","level":"info","prog":"minitwitd","msg":"listening on 127.0.0.1:8080"}
 *
 * Thread-safe (one write(2) per line).  Messages follow docs/STYLE.md rule 4; a
 * message must never contain a password: pass DSNs through dsn_mask() (dsn.h).
 */
#ifndef LOG_H
#define LOG_H

#include <stdbool.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_init(const char *prog);
/* "debug", "info", "warn", "error"; returns false for anything else. */
__attribute__((warn_unused_result)) bool log_set_level_name(const char *name);
void log_set_level(enum log_level level);
bool log_enabled(enum log_level level);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) do { if (log_enabled(LOG_DEBUG)) log_msg(LOG_DEBUG, __VA_ARGS__); } while (0)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
