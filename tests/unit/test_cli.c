/*
 * Unit tests for lib/cli.c (links cli, log, buf, utf8): the global options
 * sync-fdw and migrate share (cli_main), the commands' options (cli_parse)
 * and the command table (cli_find).  Messages go to stderr; only exit
 * codes, what was parsed and which command ran with which argv are
 * checked.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "exitcode.h"
#include "log.h"
#include "banned.h"

/* What the last command run saw. */
static const char *ran;
static int ran_argc;
static char *ran_argv0, *ran_argv1;

static int record(const char *name, int argc, char **argv)
{
	ran = name;
	ran_argc = argc;
	ran_argv0 = argc > 0 ? argv[0] : NULL;
	ran_argv1 = argc > 1 ? argv[1] : NULL;
	return 42;
}

static int cmd_run(int argc, char **argv)
{
	return record("run", argc, argv);
}

static int cmd_capture_install(int argc, char **argv)
{
	return record("capture install", argc, argv);
}

static int cmd_capture_remove(int argc, char **argv)
{
	return record("capture remove", argc, argv);
}

static const struct cli_command commands[] = {
	{ "run", "apply", cmd_run },
	{ "capture install", "install", cmd_capture_install },
	{ "capture remove", "remove", cmd_capture_remove },
	{ NULL, NULL, NULL },
};

static const struct cli_program program = {
	.name = "prog", .version = "1.0", .about = "prog: a test\n", .exit_codes = "Exit status: 0 ok.\n",
	.command_help = "  -h, --help\n", .commands = commands,
};

static const struct cli_globals *printed;

static int print_config(const struct cli_globals *g)
{
	printed = g;
	return 7;
}

static const struct cli_program printing = {
	.name = "prog", .version = "1.0", .about = "prog: a test\n", .exit_codes = "Exit status: 0 ok.\n",
	.command_help = "  -h, --help\n", .commands = commands, .print_config = print_config,
};

static int setup(void **state)
{
	printed = NULL;
	ran = NULL;
	ran_argc = -1;
	ran_argv0 = ran_argv1 = NULL;
	return 0;
}

/* A writable argv from literals (getopt may permute it; -Wwrite-strings
 * makes literals const), valid until the next call. */
static char store[16][64];
static char *slots[17];

static char **args(const char *const *in, int *argc)
{
	int n = 0;
	for (; in[n] && n < 16; n++) {
		snprintf(store[n], sizeof store[n], "%s", in[n]);
		slots[n] = store[n];
	}
	slots[n] = NULL;
	*argc = n;
	return slots;
}

static int main_of(const struct cli_program *p, struct cli_globals *g, const char *const *in)
{
	int argc;
	char **argv = args(in, &argc);
	return cli_main(p, g, argc, argv);
}

static int main_with(struct cli_globals *g, const char *const *in)
{
	return main_of(&program, g, in);
}

static int parse_with(const char *allowed, struct cli_opts *o, const char *const *in)
{
	int argc;
	char **argv = args(in, &argc);
	return cli_parse(argc, argv, "prog", "run", allowed, o);
}

static const struct cli_command *find_with(int argc, const char *const *in, int *used)
{
	int n;
	char **argv = args(in, &n);
	return cli_find(commands, argc, argv, used);
}

static int start_with(const char *allowed, struct cli_opts *o, const char *const *in)
{
	int argc;
	char **argv = args(in, &argc);
	return cli_start(&program, argc, argv, "run", allowed, "Usage: prog run\n", o);
}

#define ARGV(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define MAIN(g, ...) main_with((g), ARGV(__VA_ARGS__))
#define PARSE(allowed, o, ...) parse_with((allowed), (o), ARGV(__VA_ARGS__))
#define FIND(argc, used, ...) find_with((argc), ARGV(__VA_ARGS__), (used))

/* ---- cli_find ------------------------------------------------------------ */

static void test_find(void **state)
{
	int used = -1;
	const struct cli_command *c = FIND(2, &used, "run", "--once");
	assert_non_null(c);
	assert_string_equal(c->name, "run");
	assert_int_equal(used, 1);

	c = FIND(3, &used, "capture", "remove", "--json");
	assert_non_null(c);
	assert_string_equal(c->name, "capture remove");
	assert_int_equal(used, 2);

	/* a two-word command needs both words, exactly */
	assert_null(FIND(1, &used, "capture"));
	assert_null(FIND(2, &used, "capture", "installx"));
	assert_null(FIND(2, &used, "captur", "install"));
	assert_null(FIND(2, &used, "capture install", "x"));
	/* no prefixes, no case folding */
	assert_null(FIND(1, &used, "ru"));
	assert_null(FIND(1, &used, "RUN"));
	assert_null(FIND(0, &used, "run"));
}

/* ---- cli_parse ----------------------------------------------------------- */

static void test_parse_allowed_options(void **state)
{
	struct cli_opts o;
	assert_int_equal(PARSE("jofb", &o, "run", "--once", "--json", "--batch-size", "250"), 0);
	assert_true(o.once && o.json && !o.follow && !o.help && !o.check);
	assert_int_equal(o.batch_size, 250);
	assert_int_equal(PARSE("jofb", &o, "run", "--batch-size=7", "--follow"), 0);
	assert_true(o.follow && !o.once && !o.json);	/* zeroed first */
	assert_int_equal(o.batch_size, 7);
	assert_int_equal(PARSE("", &o, "run"), 0);
	assert_false(o.help);
	/* --help and -h are always allowed */
	assert_int_equal(PARSE("", &o, "run", "--help"), 0);
	assert_true(o.help);
	assert_int_equal(PARSE("", &o, "run", "-h"), 0);
	assert_true(o.help);
	assert_int_equal(PARSE("da", &o, "run", "--dry-run", "--abandon"), 0);
	assert_true(o.dry_run && o.abandon);
	assert_int_equal(PARSE("k", &o, "run", "--check"), 0);
	assert_true(o.check);
}

static void test_parse_refuses(void **state)
{
	struct cli_opts o;
	/* an option this command does not take, though another does */
	assert_int_equal(PARSE("j", &o, "run", "--once"), EXIT_USAGE);
	assert_int_equal(PARSE("", &o, "run", "--json"), EXIT_USAGE);
	/* unknown, short or long */
	assert_int_equal(PARSE("jofb", &o, "run", "--frobnicate"), EXIT_USAGE);
	assert_int_equal(PARSE("jofb", &o, "run", "-x"), EXIT_USAGE);
	/* --batch-size: a positive integer, nothing after it */
	assert_int_equal(PARSE("b", &o, "run", "--batch-size", "0"), EXIT_USAGE);
	assert_int_equal(PARSE("b", &o, "run", "--batch-size", "-3"), EXIT_USAGE);
	assert_int_equal(PARSE("b", &o, "run", "--batch-size", "12x"), EXIT_USAGE);
	assert_int_equal(PARSE("b", &o, "run", "--batch-size", ""), EXIT_USAGE);
	assert_int_equal(PARSE("b", &o, "run", "--batch-size"), EXIT_USAGE);
	/* no arguments besides options */
	assert_int_equal(PARSE("j", &o, "run", "extra"), EXIT_USAGE);
	assert_int_equal(PARSE("j", &o, "run", "--json", "extra"), EXIT_USAGE);
}

/* ---- cli_main: the global options, the same in every program ------------- */

static void test_main_dispatch(void **state)
{
	struct cli_globals g;
	assert_int_equal(MAIN(&g, "prog", "run", "--once"), 42);
	assert_string_equal(ran, "run");
	assert_int_equal(ran_argc, 2);
	assert_string_equal(ran_argv0, "run");
	assert_string_equal(ran_argv1, "--once");
	assert_false(g.config_given);
	assert_string_equal(g.config_path, "config/migration.yaml");

	/* a two-word command gets its last word as argv[0] */
	assert_int_equal(MAIN(&g, "prog", "capture", "install", "--json"), 42);
	assert_string_equal(ran, "capture install");
	assert_int_equal(ran_argc, 2);
	assert_string_equal(ran_argv0, "install");
	assert_string_equal(ran_argv1, "--json");
}

static void test_main_config_forms(void **state)
{
	struct cli_globals g;
	assert_int_equal(MAIN(&g, "prog", "--config", "a.yaml", "run"), 42);
	assert_true(g.config_given);
	assert_string_equal(g.config_path, "a.yaml");
	assert_int_equal(MAIN(&g, "prog", "--config=b.yaml", "run"), 42);
	assert_string_equal(g.config_path, "b.yaml");
	assert_int_equal(MAIN(&g, "prog", "-c", "c.yaml", "run"), 42);
	assert_string_equal(g.config_path, "c.yaml");
	assert_int_equal(MAIN(&g, "prog", "-cd.yaml", "run"), 42);
	assert_string_equal(g.config_path, "d.yaml");
	/* the last one counts; the command's own options are not globals */
	assert_int_equal(MAIN(&g, "prog", "-c", "e.yaml", "--config", "f.yaml", "run", "--config"), 42);
	assert_string_equal(g.config_path, "f.yaml");
	assert_string_equal(ran_argv1, "--config");
	/* each run starts from the default */
	assert_int_equal(MAIN(&g, "prog", "run"), 42);
	assert_false(g.config_given);
	assert_string_equal(g.config_path, "config/migration.yaml");
}

static void test_main_log_format(void **state)
{
	struct cli_globals g;
	assert_int_equal(MAIN(&g, "prog", "--log-format", "json", "run"), 42);
	assert_int_equal(MAIN(&g, "prog", "--log-format=text", "run"), 42);
	ran = NULL;
	assert_int_equal(MAIN(&g, "prog", "--log-format", "xml", "run"), EXIT_USAGE);
	assert_int_equal(MAIN(&g, "prog", "--log-format=", "run"), EXIT_USAGE);
	assert_null(ran);
	assert_true(log_set_format_name("auto"));
}

static void test_main_usage_errors(void **state)
{
	struct cli_globals g;
	assert_int_equal(MAIN(&g, "prog"), EXIT_USAGE);				/* no command */
	assert_int_equal(MAIN(&g, "prog", "-c", "x.yaml"), EXIT_USAGE);
	assert_int_equal(MAIN(&g, "prog", "--config"), EXIT_USAGE);		/* no value */
	assert_int_equal(MAIN(&g, "prog", "--log-format"), EXIT_USAGE);
	assert_int_equal(MAIN(&g, "prog", "--frobnicate", "run"), EXIT_USAGE);	/* unknown */
	assert_int_equal(MAIN(&g, "prog", "-x", "run"), EXIT_USAGE);
	assert_int_equal(MAIN(&g, "prog", "--json", "run"), EXIT_USAGE);	/* a command's option */
	assert_int_equal(MAIN(&g, "prog", "bogus"), EXIT_USAGE);
	assert_int_equal(MAIN(&g, "prog", "capture"), EXIT_USAGE);
	assert_int_equal(MAIN(&g, "prog", "capture", "bogus"), EXIT_USAGE);
	assert_null(ran);
}

/* --print-config: the program's to answer, with no command; unknown to a
 * program that does not print its configuration */
static void test_main_print_config(void **state)
{
	struct cli_globals g;
	assert_int_equal(main_of(&printing, &g, ARGV("prog", "--config", "x.yaml", "--print-config")), 7);
	assert_ptr_equal(printed, &g);
	assert_true(g.print_config);
	assert_string_equal(g.config_path, "x.yaml");
	assert_null(ran);
	printed = NULL;
	assert_int_equal(main_of(&printing, &g, ARGV("prog", "--print-config", "run")), EXIT_USAGE);
	assert_null(printed);
	assert_null(ran);
	assert_int_equal(MAIN(&g, "prog", "--print-config"), EXIT_USAGE);	/* program without it */
	assert_false(g.print_config);
	assert_int_equal(MAIN(&g, "prog", "run"), 42);
	assert_false(g.print_config);
}

static void test_main_help_and_version(void **state)
{
	struct cli_globals g;
	assert_int_equal(MAIN(&g, "prog", "--help", "run"), EXIT_OK);
	assert_int_equal(MAIN(&g, "prog", "-h"), EXIT_OK);
	assert_int_equal(MAIN(&g, "prog", "--version"), EXIT_OK);
	assert_int_equal(MAIN(&g, "prog", "-V", "bogus"), EXIT_OK);
	assert_null(ran);
	/* a command's --help is the command's */
	assert_int_equal(MAIN(&g, "prog", "run", "--help"), 42);
	assert_string_equal(ran_argv1, "--help");
}

/* cli_start: --help answered with the program's common lines, else go on */
static void test_start(void **state)
{
	struct cli_opts o;
	assert_int_equal(start_with("", &o, ARGV("run", "--help")), EXIT_OK);
	assert_int_equal(start_with("j", &o, ARGV("run", "--json")), -1);
	assert_true(o.json);
	assert_int_equal(start_with("", &o, ARGV("run", "--json")), EXIT_USAGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_find, setup),
		cmocka_unit_test_setup(test_parse_allowed_options, setup),
		cmocka_unit_test_setup(test_parse_refuses, setup),
		cmocka_unit_test_setup(test_main_dispatch, setup),
		cmocka_unit_test_setup(test_main_config_forms, setup),
		cmocka_unit_test_setup(test_main_log_format, setup),
		cmocka_unit_test_setup(test_main_usage_errors, setup),
		cmocka_unit_test_setup(test_main_print_config, setup),
		cmocka_unit_test_setup(test_main_help_and_version, setup),
		cmocka_unit_test_setup(test_start, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
