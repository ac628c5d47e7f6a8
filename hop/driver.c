/*
 * driver: the set of a cutover's drivers, each step on all at once; see
 * driver.h.
 */
#include "driver.h"

#include <curl/curl.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "banned.h"

void *driver_priv(struct driver *d, size_t size)
{
	if (!d->priv) {
		d->priv = calloc(1, size);
		if (!d->priv)
			abort();
	}
	return d->priv;
}

char *driver_dsn_without_password(const char *dsn)
{
	char *err = NULL;
	PQconninfoOption *opts = PQconninfoParse(dsn, &err);
	struct buf out = BUF_INIT;

	PQfreemem(err);
	if (!opts)
		return NULL;
	for (PQconninfoOption *o = opts; o->keyword; o++) {
		if (!o->val || strcmp(o->keyword, "password") == 0)
			continue;
		if (out.len)
			buf_addc(&out, ' ');
		buf_addf(&out, "%s='", o->keyword);
		for (const char *p = o->val; *p; p++) {
			if (*p == '\'' || *p == '\\')
				buf_addc(&out, '\\');
			buf_addc(&out, *p);
		}
		buf_addc(&out, '\'');
	}
	PQconninfoFree(opts);
	buf_adds(&out, "");	/* an empty DSN is still a string */
	return buf_detach(&out);
}

void drivers_open(struct driver_set *s, const struct hop_config *cfg)
{
	memset(s, 0, sizeof *s);
	/* libcurl's global state before any thread uses it (refcounted) */
	curl_global_init(CURL_GLOBAL_DEFAULT);
	s->ctx.source_dsn = driver_dsn_without_password(cfg->s.source_dsn);
	s->ctx.target_dsn = cfg->s.target_dsn;
	s->ctx.token_env = cfg->s.cutover_token_env;
	s->ctx.token = getenv(cfg->s.cutover_token_env);
	s->ctx.max_hold_ms = (long)cfg->s.cutover_max_hold_ms;
	s->d = calloc(cfg->nservers ? cfg->nservers : 1, sizeof *s->d);
	if (!s->d)
		abort();
	for (size_t i = 0; i < cfg->nservers; i++) {
		struct driver *d = &s->d[s->n++];
		d->cfg = &cfg->servers[i];
		d->ctx = &s->ctx;
		switch (d->cfg->kind) {
		case HOP_SERVER_ADMIN_URL:
		case HOP_SERVER_ADMIN_DNS:
			d->ops = &driver_minitwitd_ops;
			break;
		case HOP_SERVER_PGBOUNCER:
			d->ops = &driver_pgbouncer_ops;
			break;
		case HOP_SERVER_COMMAND:
			d->ops = &driver_command_ops;
			break;
		}
	}
}

void drivers_close(struct driver_set *s)
{
	bool opened = s->d != NULL;
	for (size_t i = 0; i < s->n; i++)
		if (s->d[i].ops->close)
			s->d[i].ops->close(&s->d[i]);
	free(s->d);
	free(s->ctx.source_dsn);
	if (opened)
		curl_global_cleanup();
	memset(s, 0, sizeof *s);
}

/* ---- one step on every driver, a thread each ---- */

enum step { STEP_PREFLIGHT, STEP_PAUSE, STEP_SWITCH, STEP_BACK, STEP_RESUME };

struct job {
	struct driver *d;
	enum step step;
	struct buf why;
	pthread_t thread;
	bool started;
};

static void *job_run(void *arg)
{
	struct job *j = arg;
	struct driver *d = j->d;
	long hold = d->ctx->max_hold_ms;

	switch (j->step) {
	case STEP_PREFLIGHT:
		d->ok = d->ops->preflight(d, &j->why);
		break;
	case STEP_PAUSE:
		d->paused = true;	/* even a partial pause must be undone */
		d->pause_at = mono_ms_f();
		d->ok = d->ops->pause(d, hold);
		break;
	case STEP_SWITCH:
		d->ok = d->ops->switch_to(d, d->ctx->target_dsn, hold);
		d->switched = d->ok;
		break;
	case STEP_BACK:
		d->ok = d->ops->switch_to(d, d->ctx->source_dsn, hold);
		d->switched = !d->ok;
		break;
	case STEP_RESUME:
		d->ok = d->ops->resume(d, 10000);
		d->held_ms = mono_ms_f() - d->pause_at;
		break;
	}
	return NULL;
}

/* Run step on the drivers selected (all when sel is NULL); false when any
 * failed.  Reasons of a preflight are appended to why. */
static bool run_all(struct driver_set *s, enum step step, const bool *sel, struct buf *why)
{
	struct job *jobs = calloc(s->n ? s->n : 1, sizeof *jobs);
	bool all = true;
	size_t ran = 0;

	if (!jobs)
		abort();
	for (size_t i = 0; i < s->n; i++) {
		jobs[i].d = &s->d[i];
		jobs[i].step = step;
		if (sel && !sel[i])
			continue;
		ran++;
	}
	for (size_t i = 0; i < s->n; i++) {
		if (sel && !sel[i])
			continue;
		/* one driver alone runs here; a thread that cannot start runs here too */
		if (ran > 1 && pthread_create(&jobs[i].thread, NULL, job_run, &jobs[i]) == 0)
			jobs[i].started = true;
		else
			job_run(&jobs[i]);
	}
	for (size_t i = 0; i < s->n; i++) {
		if (sel && !sel[i])
			continue;
		if (jobs[i].started)
			pthread_join(jobs[i].thread, NULL);
		all = all && s->d[i].ok;
		if (why && jobs[i].why.len)
			buf_adds(why, jobs[i].why.data);
		buf_release(&jobs[i].why);
	}
	free(jobs);
	return all;
}

bool drivers_preflight(struct driver_set *s, struct buf *why)
{
	bool ok = true;
	if (!s->ctx.source_dsn) {
		buf_adds(why, "source.dsn does not parse; ");
		ok = false;
	}
	return run_all(s, STEP_PREFLIGHT, NULL, why) && ok;
}

bool drivers_check(const struct hop_config *cfg, struct buf *why)
{
	struct driver_set s;
	drivers_open(&s, cfg);
	bool ok = drivers_preflight(&s, why);
	drivers_close(&s);
	return ok;
}

bool drivers_pause(struct driver_set *s)
{
	return run_all(s, STEP_PAUSE, NULL, NULL);
}

bool drivers_switch(struct driver_set *s)
{
	return run_all(s, STEP_SWITCH, NULL, NULL);
}

bool drivers_resume(struct driver_set *s)
{
	return run_all(s, STEP_RESUME, NULL, NULL);
}

void drivers_rollback(struct driver_set *s)
{
	bool *sel = calloc(s->n ? s->n : 1, sizeof *sel);
	bool any = false;

	if (!sel)
		abort();
	for (size_t i = 0; i < s->n; i++)
		any = (sel[i] = s->d[i].switched) || any;
	if (any && !run_all(s, STEP_BACK, sel, NULL))
		log_error("a server could not be pointed back at the source (see above)");
	any = false;
	for (size_t i = 0; i < s->n; i++)
		any = (sel[i] = s->d[i].paused) || any;
	if (any && !run_all(s, STEP_RESUME, sel, NULL))
		log_error("a server could not be resumed (see above)");
	free(sel);
}

double drivers_report(struct driver_set *s, json_t *arr)
{
	double max_hold = 0;
	for (size_t i = 0; i < s->n; i++)
		s->d[i].ops->report(&s->d[i], arr, &max_hold);
	return max_hold;
}
