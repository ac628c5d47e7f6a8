/*
 * cli: the skeleton every command-line program with subcommands shares
 * (docs/STYLE.md rule 6): sync-fdw and migrate.
 *
 *   PROG [GLOBAL OPTION]... COMMAND [OPTION]...
 *
 * cli_main parses the global options the same way in every program
 * (-c/--config FILE, --log-format auto|text|json, --print-config,
 * -h/--help, -V/--version), finds the command in the program's table and
 * runs it.
 * Commands do not each have an option table: there is one set of
 * subcommand options (struct cli_opts, parsed by cli_parse with
 * getopt_long), and each command names the subset it accepts; anything
 * else is answered the same way everywhere ("unknown option", then
 * Try "PROG COMMAND --help") with the usage exit code.  Conflicting
 * options are the command's to check after parsing.
 */
#ifndef CLI_H
#define CLI_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

struct cli_command {
	const char *name;	/* "run", or "capture install" for two words */
	const char *summary;	/* one line for the program's --help */
	int (*fn)(int argc, char **argv);	/* argv[0] is the command's last word */
};

struct cli_globals;

struct cli_program {
	const char *name;	/* "migrate" */
	const char *version;
	const char *about;	/* --help's first line(s), before "Usage:" */
	const char *exit_codes;	/* --help's last lines: the exit statuses it uses */
	const char *command_help;	/* appended to every command's --help */
	const struct cli_command *commands;	/* ends with a NULL name */
	/* --print-config: print the effective configuration (secrets masked)
	 * on stdout and return the exit code; NULL: the option is unknown */
	int (*print_config)(const struct cli_globals *g);
};

/* What the global options set; cli_main fills it before running a command. */
struct cli_globals {
	const char *config_path;	/* -c/--config; "config/migration.yaml" if not given */
	bool config_given;
	bool print_config;		/* --print-config (then no command) */
};

/*
 * Parse the global options into *g, then run the command named next
 * (argv[0] of the command's argv is its last word) and return its exit
 * code; or answer --help / --version (0), or say what is wrong on stderr
 * and return the usage code.
 */
int cli_main(const struct cli_program *p, struct cli_globals *g, int argc, char **argv);

/* The options subcommands share; each command allows a subset. */
struct cli_opts {
	bool help, json, check, once, follow, dry_run, abandon;
	long batch_size;
};

/*
 * Parse a subcommand's options (argv[0] is the command).  allowed lists the
 * short codes accepted besides --help: j json, k check, o once, f follow,
 * d dry-run, b batch-size, a abandon.  Returns 0, or the usage exit code after a
 * message on stderr.
 */
int cli_parse(int argc, char **argv, const char *prog, const char *cmd, const char *allowed,
	      struct cli_opts *o);

/*
 * cli_parse for command cmd of program p, answering --help with help and
 * p->command_help on stdout.  Returns -1 to go on, or the exit code to
 * return (0 after --help).
 */
int cli_start(const struct cli_program *p, int argc, char **argv, const char *cmd, const char *allowed,
	      const char *help, struct cli_opts *o);

/* Find the command named by argv[0] (and argv[1] for two-word commands);
 * *used is how many words matched. */
const struct cli_command *cli_find(const struct cli_command *cmds, int argc, char **argv, int *used);

/* "Try "prog cmd --help" for more information." on stderr. */
void cli_try_help(const char *prog, const char *cmd);

/* The list of commands for a program's --help. */
void cli_list(const struct cli_command *cmds, FILE *out);

/*
 * SIGINT and SIGTERM set the flag returned (0 until then) instead of
 * ending the process: long commands pass it to the engine as their stop
 * flag, stop at the next safe point and say how to resume.
 */
volatile sig_atomic_t *cli_catch_signals(void);

/* A program's --help: about, usage, commands, global options, exit codes. */
void cli_usage(const struct cli_program *p, FILE *out);

#endif
