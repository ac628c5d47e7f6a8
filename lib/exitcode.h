/*
 * exitcode: every program's exit codes, in one place (docs/STYLE.md rule 5).
 * Only a program's main() exits.
 */
#ifndef EXITCODE_H
#define EXITCODE_H

enum exit_code {
	EXIT_OK = 0,
	EXIT_FAILURE_GENERIC = 1,	/* the operation failed (see the log) */
	EXIT_USAGE = 2,			/* bad command line */
	EXIT_CONFIG = 3,		/* bad configuration */
	EXIT_SOURCE = 4,		/* the source database failed or refused */
	EXIT_TARGET = 5,		/* the target database failed or refused */
	EXIT_VERIFY = 6,		/* verification found differences */
	EXIT_INTERNAL = 7,		/* a bug: please report it */
};

#endif
