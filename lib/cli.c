/*
 * cli: subcommand tables; see cli.h.
 */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "exitcode.h"

#include "banned.h"

const struct cli_command *cli_find(const struct cli_command *cmds, int argc, char **argv, int *used)
{
	for (const struct cli_command *c = cmds; c->name; c++) {
		const char *space = strchr(c->name, ' ');
		if (!space) {
			if (argc >= 1 && strcmp(argv[0], c->name) == 0) {
				*used = 1;
				return c;
			}
			continue;
		}
		size_t n = (size_t)(space - c->name);
		if (argc >= 2 && strlen(argv[0]) == n && strncmp(argv[0], c->name, n) == 0 &&
		    strcmp(argv[1], space + 1) == 0) {
			*used = 2;
			return c;
		}
	}
	return NULL;
}

void cli_try_help(const char *prog, const char *cmd)
{
	if (cmd)
		fprintf(stderr, "Try \"%s %s --help\" for more information.\n", prog, cmd);
	else
		fprintf(stderr, "Try \"%s --help\" for more information.\n", prog);
}

void cli_list(const struct cli_command *cmds, FILE *out)
{
	for (const struct cli_command *c = cmds; c->name; c++)
		fprintf(out, "  %-18s %s\n", c->name, c->summary);
}

int cli_parse(int argc, char **argv, const char *prog, const char *cmd, const char *allowed,
	      struct cli_opts *o)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ "check", no_argument, NULL, 'k' },
		{ "once", no_argument, NULL, 'o' },
		{ "follow", no_argument, NULL, 'f' },
		{ "dry-run", no_argument, NULL, 'd' },
		{ "batch-size", required_argument, NULL, 'b' },
		{ "abandon", no_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	memset(o, 0, sizeof *o);
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		if (c != 'h' && c != '?' && !strchr(allowed, c))
			c = '?';
		switch (c) {
		case 'h': o->help = true; break;
		case 'j': o->json = true; break;
		case 'k': o->check = true; break;
		case 'o': o->once = true; break;
		case 'f': o->follow = true; break;
		case 'd': o->dry_run = true; break;
		case 'a': o->abandon = true; break;
		case 'b': {
			char *end;
			o->batch_size = strtol(optarg, &end, 10);
			if (*end || o->batch_size < 1) {
				fprintf(stderr, "%s %s: invalid --batch-size \"%s\": expected a positive "
						"integer\n", prog, cmd, optarg);
				cli_try_help(prog, cmd);
				return EXIT_USAGE;
			}
			break;
		}
		default:
			fprintf(stderr, "%s %s: unknown option \"%s\"\n", prog, cmd, argv[optind - 1]);
			cli_try_help(prog, cmd);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s %s: unexpected argument \"%s\"\n", prog, cmd, argv[optind]);
		cli_try_help(prog, cmd);
		return EXIT_USAGE;
	}
	return 0;
}
