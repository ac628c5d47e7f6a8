/*
 * driver_command: anything else that can hold writes (an orchestrator, a
 * proxy, a script): three shell command lines, pause, switch and resume,
 * each run by /bin/sh -c with MIGRATE_SOURCE_DSN and MIGRATE_TARGET_DSN in
 * its environment (never a password), its stdout sent to our stderr,
 * bounded by the step's time (max_hold_ms; resume: 10 s) after which its
 * process group is killed.  Exit status 0 means done.
 *
 * switch runs with MIGRATE_TARGET_DSN the DSN to point at: the target, or
 * the source again when a cutover rolls back after the switch.
 */
#include "driver.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"
#include "banned.h"

extern char **environ;

struct cmd {
	int calls;
	double ms;		/* the last call's */
};

/* envp: environ without MIGRATE_*_DSN, plus ours; malloc'd (strings too). */
static char **make_env(const char *source, const char *target)
{
	size_t n = 0;
	while (environ[n])
		n++;
	char **env = calloc(n + 3, sizeof *env);
	size_t k = 0;
	struct buf b = BUF_INIT;
	if (!env)
		abort();
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "MIGRATE_SOURCE_DSN=", 19) != 0 &&
		    strncmp(environ[i], "MIGRATE_TARGET_DSN=", 19) != 0)
			env[k++] = environ[i];
	buf_addf(&b, "MIGRATE_SOURCE_DSN=%s", source);
	env[k++] = buf_detach(&b);
	buf_addf(&b, "MIGRATE_TARGET_DSN=%s", target);
	env[k++] = buf_detach(&b);
	env[k] = NULL;
	return env;
}

/* Run line; true when it exited 0 within timeout_ms. */
static bool run_hook(struct driver *d, const char *step, const char *line, const char *target,
		     long timeout_ms)
{
	struct cmd *c = d->priv;
	char **env = make_env(d->ctx->source_dsn, target);
	size_t nenv = 0;
	double t0 = mono_ms_f();
	bool ok = false;
	int status = 0;

	while (env[nenv])
		nenv++;
	c->calls++;
	pid_t pid = fork();
	if (pid < 0) {
		log_error("could not run the %s command \"%s\": fork: %m", step, line);
		goto out;
	}
	if (pid == 0) {
		/* only async-signal-safe calls here: the parent has threads */
		setpgid(0, 0);
		dup2(2, 1);
		execle("/bin/sh", "sh", "-c", line, (char *)NULL, env);
		_exit(127);
	}
	setpgid(pid, pid);	/* either side may win the race */
	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			break;
		if (w < 0 && errno != EINTR) {
			log_error("could not wait for the %s command \"%s\": %m", step, line);
			goto out;
		}
		if (mono_ms_f() - t0 > (double)timeout_ms) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			log_error("the %s command \"%s\" did not finish within %ld ms: killed", step, line,
				  timeout_ms);
			goto out;
		}
		struct timespec ts = { 0, 2 * 1000000L };
		nanosleep(&ts, NULL);
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		ok = true;
	else if (WIFEXITED(status))
		log_error("the %s command \"%s\" failed: exit status %d", step, line, WEXITSTATUS(status));
	else
		log_error("the %s command \"%s\" failed: killed by signal %d", step, line,
			  WIFSIGNALED(status) ? WTERMSIG(status) : 0);
out:
	c->ms = mono_ms_f() - t0;
	free(env[nenv - 1]);
	free(env[nenv - 2]);
	free(env);
	return ok;
}

static struct cmd *cmd_of(struct driver *d)
{
	return driver_priv(d, sizeof(struct cmd));
}

/* A command whose first word is a path must name an executable. */
static bool hook_ok(const char *step, const char *line, struct buf *why)
{
	size_t len = strcspn(line, " \t");
	char *first = strndup(line, len);
	bool ok = true;
	if (!first)
		abort();
	if (strchr(first, '/') && access(first, X_OK) != 0) {
		buf_addf(why, "the %s command \"%s\" is not an executable file (%s); ", step, first,
			 strerror(errno));
		ok = false;
	}
	free(first);
	return ok;
}

static bool cmd_preflight(struct driver *d, struct buf *why)
{
	(void)cmd_of(d);
	bool ok = hook_ok("pause", d->cfg->pause, why);
	ok = hook_ok("switch", d->cfg->switch_cmd, why) && ok;
	return hook_ok("resume", d->cfg->resume, why) && ok;
}

static bool cmd_pause(struct driver *d, long timeout_ms)
{
	(void)cmd_of(d);
	return run_hook(d, "pause", d->cfg->pause, d->ctx->target_dsn, timeout_ms);
}

static bool cmd_switch(struct driver *d, const char *dsn, long timeout_ms)
{
	(void)cmd_of(d);
	return run_hook(d, "switch", d->cfg->switch_cmd, dsn, timeout_ms);
}

static bool cmd_resume(struct driver *d, long timeout_ms)
{
	(void)cmd_of(d);
	return run_hook(d, "resume", d->cfg->resume, d->switched ? d->ctx->target_dsn : d->ctx->source_dsn,
			timeout_ms);
}

static void cmd_report(struct driver *d, json_t *arr, double *max_hold)
{
	json_array_append_new(arr, json_pack("{s:s, s:s, s:b, s:f, s:b}", "kind", "command", "name",
					     d->cfg->switch_cmd, "switched", d->switched && d->ok,
					     "held_ms", d->held_ms, "resumed", d->ok));
	if (d->held_ms > *max_hold)
		*max_hold = d->held_ms;
}

static void cmd_close(struct driver *d)
{
	free(d->priv);
	d->priv = NULL;
}

const struct driver_ops driver_command_ops = {
	.kind = "command",
	.preflight = cmd_preflight,
	.pause = cmd_pause,
	.switch_to = cmd_switch,
	.resume = cmd_resume,
	.report = cmd_report,
	.close = cmd_close,
};
