/*
 * log: operator messages on stderr, as text or JSON lines; see log.h.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "banned.h"

static const char *log_prog = "minitwit";
static enum log_level log_min = LOG_INFO;
static enum log_format log_fmt = LOG_FORMAT_AUTO;
static const char *const level_names[] = { "debug", "info", "warn", "error" };
static const char *const format_names[] = { "auto", "text", "json" };

void log_init(const char *prog)
{
	log_prog = prog;
}

void log_set_level(enum log_level level)
{
	log_min = level;
}

/* The index of name in names[0..n), or -1. */
static int name_index(const char *const *names, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(name, names[i]) == 0)
			return i;
	return -1;
}

bool log_set_level_name(const char *name)
{
	int i = name_index(level_names, 4, name);
	if (i >= 0)
		log_min = (enum log_level)i;
	return i >= 0;
}

bool log_enabled(enum log_level level)
{
	return level >= log_min;
}

void log_set_format(enum log_format format)
{
	log_fmt = format;
}

bool log_set_format_name(const char *name)
{
	int i = name_index(format_names, 3, name);
	if (i >= 0)
		log_fmt = (enum log_format)i;
	return i >= 0;
}

/* The parts of a message: primary text, then "\ndetail: " and "\nhint: "
 * parts (each may be absent; a part runs to the next one). */
struct parts {
	const char *msg, *detail, *hint;
	size_t msg_len, detail_len, hint_len;
};

static void split(const char *m, size_t len, struct parts *p)
{
	memset(p, 0, sizeof p[0]);
	p->msg = m;
	p->msg_len = len;
	const char *end = m + len;
	const char **cur = &p->msg;
	size_t *cur_len = &p->msg_len;
	for (const char *s = m; s < end; s++) {
		if (*s != '\n')
			continue;
		size_t rest = (size_t)(end - s - 1);
		if (rest >= 8 && strncmp(s + 1, "detail: ", 8) == 0) {
			*cur_len = (size_t)(s - *cur);
			p->detail = s + 9;
			cur = &p->detail;
			cur_len = &p->detail_len;
		} else if (rest >= 6 && strncmp(s + 1, "hint: ", 6) == 0) {
			*cur_len = (size_t)(s - *cur);
			p->hint = s + 7;
			cur = &p->hint;
			cur_len = &p->hint_len;
		} else
			continue;
	}
	*cur_len = (size_t)(end - *cur);
}

void log_render(struct buf *out, enum log_format format, enum log_level level, const char *prog,
		const char *when, const char *msg, size_t len)
{
	struct parts p;
	while (len && msg[len - 1] == '\n')
		len--;
	split(msg, len, &p);
	if (format == LOG_FORMAT_TEXT) {
		buf_adds(out, prog);
		buf_adds(out, ": ");
		if (level != LOG_INFO) {
			buf_adds(out, level_names[level]);
			buf_adds(out, ": ");
		}
		buf_add(out, p.msg, p.msg_len);
		if (p.detail) {
			buf_adds(out, "\ndetail: ");
			buf_add(out, p.detail, p.detail_len);
		}
		if (p.hint) {
			buf_adds(out, "\nhint: ");
			buf_add(out, p.hint, p.hint_len);
		}
		buf_addc(out, '\n');
		return;
	}
	buf_addf(out, "{\"ts\":\"%s\",\"level\":\"%s\",\"prog\":", when, level_names[level]);
	buf_add_json_str(out, prog, strlen(prog));
	buf_adds(out, ",\"msg\":");
	buf_add_json_str(out, p.msg, p.msg_len);
	if (p.detail) {
		buf_adds(out, ",\"detail\":");
		buf_add_json_str(out, p.detail, p.detail_len);
	}
	if (p.hint) {
		buf_adds(out, ",\"hint\":");
		buf_add_json_str(out, p.hint, p.hint_len);
	}
	buf_adds(out, "}\n");
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
	char date[32], when[48];
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(when, sizeof when, "%s.%03ldZ", date, ts.tv_nsec / 1000000);

	enum log_format f = log_fmt;
	if (f == LOG_FORMAT_AUTO)
		f = isatty(STDERR_FILENO) ? LOG_FORMAT_TEXT : LOG_FORMAT_JSON;
	log_render(&line, f, level, log_prog, when, msg.data ? msg.data : "", msg.len);
	/* one write: lines from several threads never interleave */
	ssize_t n = write(STDERR_FILENO, line.data, line.len);
	(void)n;
	buf_release(&msg);
	buf_release(&line);
}
