/*
 * cli: the skeleton every command-line program shares (docs/STYLE.md rule 6):
 * a table of subcommands, each with its own getopt_long options and --help,
 * and the same answer to an unknown option everywhere.
 */
#ifndef CLI_H
#define CLI_H

#include <stdbool.h>
#include <stdio.h>

struct cli_command {
	const char *name;	/* "run", or "capture install" for two words */
	const char *summary;	/* one line for the program's --help */
	int (*fn)(int argc, char **argv);	/* argv[0] is the command name */
};

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

/* Find the command named by argv[0] (and argv[1] for two-word commands);
 * *used is how many words matched. */
const struct cli_command *cli_find(const struct cli_command *cmds, int argc, char **argv, int *used);

/* "Try "prog cmd --help" for more information." on stderr. */
void cli_try_help(const char *prog, const char *cmd);

/* The list of commands for a program's --help. */
void cli_list(const struct cli_command *cmds, FILE *out);

#endif
