/*
 * cli: the subcommand skeleton; see cli.h.
 */
#include "cli.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "exitcode.h"
#include "log.h"

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
	optind = 0;	/* 0, not 1: glibc starts afresh (an earlier parse may have left state) */
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

int cli_start(const struct cli_program *p, int argc, char **argv, const char *cmd, const char *allowed,
	      const char *help, struct cli_opts *o)
{
	int rc = cli_parse(argc, argv, p->name, cmd, allowed, o);
	if (rc)
		return rc;
	if (o->help) {
		fputs(help, stdout);
		fputs(p->command_help, stdout);
		return EXIT_OK;
	}
	return -1;
}

void cli_usage(const struct cli_program *p, FILE *out)
{
	fprintf(out, "%s\nUsage: %s [--config FILE] COMMAND [OPTION]...\n\nCommands:\n", p->about, p->name);
	cli_list(p->commands, out);
	fprintf(out, "\nOptions:\n"
		     "  -c, --config FILE  the hop's configuration (default config/migration.yaml)\n"
		     "      --log-format auto|text|json\n"
		     "                     messages on stderr as lines a person reads (text) or\n"
		     "                     JSON lines (json); auto: text on a terminal (default)\n"
		     "%s"
		     "  -h, --help         show this help and exit\n"
		     "  -V, --version      show the version and exit\n\n"
		     "\"%s COMMAND --help\" describes a command.  %s",
		p->print_config ? "      --print-config the configuration in effect (file and environment),\n"
				  "                     secrets masked, and exit\n"
				: "",
		p->name, p->exit_codes);
}

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

volatile sig_atomic_t *cli_catch_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	return &stop_flag;
}

/* A usage error before the command: the message, then the hint. */
__attribute__((format(printf, 2, 3))) static int usage_error(const struct cli_program *p, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", p->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	cli_try_help(p->name, NULL);
	return EXIT_USAGE;
}

int cli_main(const struct cli_program *p, struct cli_globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "log-format", required_argument, NULL, 'L' },
		{ "print-config", no_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	g->config_path = "config/migration.yaml";
	g->config_given = false;
	g->print_config = false;
	optind = 0;	/* 0, not 1: glibc starts afresh (an earlier parse may have left state) */
	opterr = 0;
	/* +: stop at the command, whose options are its own; leading ':' tells
	 * a missing value from an unknown option */
	while ((c = getopt_long(argc, argv, "+:c:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			g->config_path = optarg;
			g->config_given = true;
			break;
		case 'L':
			if (!log_set_format_name(optarg))
				return usage_error(p, "--log-format must be auto, text or json, not \"%s\"", optarg);
			break;
		case 'P':
			if (!p->print_config)
				return usage_error(p, "unknown option \"%s\"", argv[optind - 1]);
			g->print_config = true;
			break;
		case 'h':
			cli_usage(p, stdout);
			return EXIT_OK;
		case 'V':
			printf("%s %s\n", p->name, p->version);
			return EXIT_OK;
		case ':':
			return usage_error(p, "option \"%s\" needs a value", argv[optind - 1]);
		default:
			return usage_error(p, "unknown option \"%s\"", argv[optind - 1]);
		}
	}
	if (g->print_config) {
		if (optind < argc)
			return usage_error(p, "--print-config takes no command, not \"%s\"", argv[optind]);
		return p->print_config(g);
	}
	if (optind >= argc)
		return usage_error(p, "no command given");
	int used, first = optind;
	const struct cli_command *cmd = cli_find(p->commands, argc - first, argv + first, &used);
	if (!cmd) {
		/* name both words when the first begins a two-word command */
		bool two = false;
		size_t n = strlen(argv[first]);
		for (const struct cli_command *k = p->commands; k->name && !two; k++)
			two = first + 1 < argc && strncmp(k->name, argv[first], n) == 0 && k->name[n] == ' ';
		fprintf(stderr, "%s: unknown command \"%s%s%s\"\n", p->name, argv[first], two ? " " : "",
			two ? argv[first + 1] : "");
		cli_try_help(p->name, NULL);
		return EXIT_USAGE;
	}
	first += used - 1;
	return cmd->fn(argc - first, argv + first);
}
