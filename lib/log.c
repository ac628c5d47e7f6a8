/*
 * log: operator messages on stderr, as text or JSON lines; see log.h.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "report.h"
#include "util.h"
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

void problem_init(struct problem *p, const char *msg, const char *detail, const char *hint)
{
	p->msg = xstrdup(msg ? msg : "");
	p->detail = detail ? xstrdup(detail) : NULL;
	p->hint = hint ? xstrdup(hint) : NULL;
}

void problem_parse(struct problem *p, const char *m, size_t len)
{
	while (len && m[len - 1] == '\n')
		len--;
	/* each part runs to the start of the next: [start, end) per part */
	const char *end = m + len, *start[3] = { m, NULL, NULL }, *stop[3] = { end, end, end };
	int cur = 0;
	for (const char *s = m; s < end; s++) {
		if (*s != '\n')
			continue;
		size_t rest = (size_t)(end - s - 1);
		int next = rest >= 8 && strncmp(s + 1, "detail: ", 8) == 0 ? 1 :
			   rest >= 6 && strncmp(s + 1, "hint: ", 6) == 0 ? 2 : -1;
		if (next < 0)
			continue;
		stop[cur] = s;
		cur = next;
		start[cur] = s + 1 + (next == 1 ? 8 : 6);
		stop[cur] = end;
	}
	p->msg = xstrndup(m, (size_t)(stop[0] - m));
	p->detail = start[1] ? xstrndup(start[1], (size_t)(stop[1] - start[1])) : NULL;
	p->hint = start[2] ? xstrndup(start[2], (size_t)(stop[2] - start[2])) : NULL;
}

void problem_release(struct problem *p)
{
	free(p->msg);
	free(p->detail);
	free(p->hint);
	memset(p, 0, sizeof *p);
}

void problem_text(const struct problem *p, struct buf *out)
{
	buf_adds(out, p->msg ? p->msg : "");
	if (p->detail) {
		buf_adds(out, "\ndetail: ");
		buf_adds(out, p->detail);
	}
	if (p->hint) {
		buf_adds(out, "\nhint: ");
		buf_adds(out, p->hint);
	}
	buf_addc(out, '\n');
}

void log_render(struct buf *out, enum log_format format, enum log_level level, const char *prog,
		const char *when, const struct problem *p)
{
	if (format == LOG_FORMAT_TEXT) {
		buf_adds(out, prog);
		buf_adds(out, ": ");
		if (level != LOG_INFO) {
			buf_adds(out, level_names[level]);
			buf_adds(out, ": ");
		}
		problem_text(p, out);
		return;
	}
	json_t *j = json_pack("{s:s, s:s, s:o, s:o}", "ts", when, "level", level_names[level],
			      "prog", report_string(prog), "msg", report_string(p->msg ? p->msg : ""));
	if (p->detail)
		json_object_set_new(j, "detail", report_string(p->detail));
	if (p->hint)
		json_object_set_new(j, "hint", report_string(p->hint));
	report_json(out, j);
	json_decref(j);
}

static void write_problem(enum log_level level, const struct problem *p)
{
	struct buf line = BUF_INIT;
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
	log_render(&line, f, level, log_prog, when, p);
	/* one write: lines from several threads never interleave */
	ssize_t n = write(STDERR_FILENO, line.data, line.len);
	(void)n;
	buf_release(&line);
}

void log_problem(enum log_level level, const struct problem *p)
{
	if (level >= log_min)
		write_problem(level, p);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	if (level < log_min)
		return;
	struct buf msg = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vaddf(&msg, fmt, ap);
	va_end(ap);
	struct problem p;
	problem_parse(&p, msg.data ? msg.data : "", msg.len);
	write_problem(level, &p);
	problem_release(&p);
	buf_release(&msg);
}
