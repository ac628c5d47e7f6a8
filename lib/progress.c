/*
 * progress: rendering the engine's progress reports; see progress.h.
 */
#include "progress.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <unistd.h>

#include "log.h"
#include "report.h"
#include "banned.h"

void progress_out_init(struct progress_out *out, bool json)
{
	out->json = json;
	out->tty = isatty(STDERR_FILENO);
}

json_t *progress_json(const struct progress *p)
{
	if (p->kind == PROGRESS_COPY)
		return json_pack("{s:s, s:o, s:I, s:I, s:I, s:f, s:b}", "event", "copy", "table", report_string(p->table),
				 "rows", (json_int_t)p->rows, "total", (json_int_t)p->total,
				 "rows_per_s", (json_int_t)llround(p->rows_per_s),
				 "eta_s", round(p->eta_s * 10) / 10, "done", p->final);
	return json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:f}", "event", p->final ? "done" : "progress",
			 "batches", (json_int_t)p->batches, "fetched", (json_int_t)p->fetched,
			 "applied", (json_int_t)p->applied, "skipped", (json_int_t)p->skipped,
			 "fallbacks", (json_int_t)p->fallbacks, "rate", round(p->rate * 10) / 10);
}

void progress_text(const struct progress *p, struct buf *out)
{
	if (p->kind == PROGRESS_COPY)
		buf_addf(out, "copy %-20s %10" PRId64 " / %-10" PRId64 " rows  %9.0f rows/s  ETA %5.1f s", p->table,
			 p->rows, p->total, p->rows_per_s, p->eta_s);
	else
		buf_addf(out, "apply: %" PRId64 " changes applied (%" PRId64 " skipped: already copied) in %" PRId64
			      " batches, %.0f changes/s", p->applied, p->skipped, p->batches, p->rate);
}

void progress_show(const struct progress *p, void *arg)
{
	const struct progress_out *o = arg;
	if (o->json) {
		report_print(progress_json(p));
	}
	if (!o->tty && !p->final)
		return;
	struct buf line = BUF_INIT;
	progress_text(p, &line);
	if (o->tty)
		fprintf(stderr, "\r%s%s", line.data, p->final ? "\n" : "");
	else
		log_info("%s", line.data);
	buf_release(&line);
}
