/*
 * report: printing the engine's reports; see report.h.
 */
#include "report.h"

#include <stdio.h>
#include <stdlib.h>

#include "util.h"
#include "banned.h"

void report_json(struct buf *out, const json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(15) | JSON_ENCODE_ANY);
	if (!s)
		abort();	/* out of memory, or a report built wrong */
	buf_adds(out, s);
	buf_addc(out, '\n');
	free(s);
}

void report_render(struct buf *out, json_t *report, bool json, report_text_fn *text)
{
	if (!report)
		return;
	if (json)
		report_json(out, report);
	else
		text(report, out);
	json_decref(report);
}

void report_print(json_t *j)
{
	struct buf line = BUF_INIT;
	report_json(&line, j);
	fputs(line.data, stdout);
	fflush(stdout);
	buf_release(&line);
	json_decref(j);
}

json_t *report_string(const char *s)
{
	if (!s)
		return json_null();
	json_t *v = json_string(s);
	if (v)
		return v;
	/* not UTF-8 (a SQL_ASCII database's names): JSON cannot carry the
	 * bytes, so each non-ASCII one becomes '?' */
	char *c = xstrdup(s);
	for (char *p = c; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	v = json_string(c);
	free(c);
	return v;
}
