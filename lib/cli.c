/*
 * cli: subcommand tables; see cli.h.
 */
#include "cli.h"

#include <string.h>

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
