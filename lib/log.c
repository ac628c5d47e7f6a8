/*
 * log: JSON-lines logging on stderr; see log.h.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "banned.h"

static const char *log_prog = "minitwit";
static enum log_level log_min = LOG_INFO;
static const char *const level_names[] = { "debug", "info", "warn", "error" };

void log_init(const char *prog)
{
	log_prog = prog;
}

void log_set_level(enum log_level level)
{
	log_min = level;
}

bool log_set_level_name(const char *name)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(name, level_names[i]) == 0) {
			log_min = (enum log_level)i;
			return true;
		}
	return false;
}

bool log_enabled(enum log_level level)
{
	return level >= log_min;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	if (level < log_min)
		return;
	struct buf msg = BUF_INIT, line = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vaddf(&msg, fmt, ap);
	va_end(ap);

	struct timespec ts;
	struct tm tm;
	char when[40];
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);

	buf_addf(&line, "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\",\"prog\":", when,
		 ts.tv_nsec / 1000000, level_names[level]);
	buf_add_json_str(&line, log_prog, strlen(log_prog));
	buf_adds(&line, ",\"msg\":");
	buf_add_json_str(&line, msg.data, msg.len);
	buf_adds(&line, "}\n");
	/* one write: lines from several threads never interleave */
	ssize_t n = write(STDERR_FILENO, line.data, line.len);
	(void)n;
	buf_release(&msg);
	buf_release(&line);
}
