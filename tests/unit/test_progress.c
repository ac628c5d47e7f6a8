/*
 * Unit tests for lib/progress.c and lib/report.c: the progress reports the
 * engine hands to the programs, as the JSON lines --json prints (their keys
 * and value types are what scripts and benchmarks parse) and as text; and
 * where progress_show sends them: JSON on stdout, a final message on a
 * stderr that is no terminal, nothing before.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "progress.h"
#include "report.h"
#include "banned.h"

static const struct progress copy_final = { .kind = PROGRESS_COPY, .final = true, .table = "user",
					    .rows = 1500, .total = 2000, .rows_per_s = 1234.6, .eta_s = 0.4049 };
static const struct progress apply_mid = { .kind = PROGRESS_APPLY, .batches = 3, .fetched = 10,
					   .applied = 9, .skipped = 1, .fallbacks = 0, .rate = 12.34 };

static void json_line(const struct progress *p, struct buf *out)
{
	json_t *j = progress_json(p);
	buf_reset(out);
	report_json(out, j);
	json_decref(j);
}

static void test_json_lines(void **state)
{
	struct buf b = BUF_INIT;
	(void)state;
	json_line(&copy_final, &b);
	assert_string_equal(b.data, "{\"event\":\"copy\",\"table\":\"user\",\"rows\":1500,\"total\":2000,"
				    "\"rows_per_s\":1235,\"eta_s\":0.4,\"done\":true}\n");
	json_line(&apply_mid, &b);
	assert_string_equal(b.data, "{\"event\":\"progress\",\"batches\":3,\"fetched\":10,\"applied\":9,"
				    "\"skipped\":1,\"fallbacks\":0,\"rate\":12.3}\n");
	struct progress done = apply_mid;
	done.final = true;
	json_line(&done, &b);
	assert_non_null(strstr(b.data, "{\"event\":\"done\","));
	/* a table name that is not UTF-8 still makes a JSON line */
	struct progress odd = copy_final;
	odd.table = "caf\xe9";
	json_line(&odd, &b);
	assert_non_null(strstr(b.data, "\"table\":\"caf?\""));
	buf_release(&b);
}

static void test_text(void **state)
{
	struct buf b = BUF_INIT;
	(void)state;
	progress_text(&copy_final, &b);
	assert_string_equal(b.data, "copy user                       1500 / 2000       rows       1235 rows/s  ETA   0.4 s");
	buf_reset(&b);
	progress_text(&apply_mid, &b);
	assert_string_equal(b.data, "apply: 9 changes applied (1 skipped: already copied) in 3 batches, 12 changes/s");
	buf_release(&b);
}

/* What fd (1 or 2) received while f ran, into out. */
static void capture(int fd, void (*f)(void), struct buf *out)
{
	char path[] = "/tmp/test_progress-XXXXXX";
	int tmp = mkstemp(path);
	assert_true(tmp >= 0);
	fflush(NULL);
	int saved = dup(fd);
	dup2(tmp, fd);
	f();
	fflush(NULL);
	dup2(saved, fd);
	close(saved);
	buf_reset(out);
	char chunk[512];
	ssize_t n;
	lseek(tmp, 0, SEEK_SET);
	while ((n = read(tmp, chunk, sizeof chunk)) > 0)
		buf_add(out, chunk, (size_t)n);
	close(tmp);
	unlink(path);
}

static struct progress_out out;

static void show_mid(void)
{
	progress_show(&apply_mid, &out);
}

static void show_final(void)
{
	progress_show(&copy_final, &out);
}

static void test_show_without_terminal(void **state)
{
	struct buf b = BUF_INIT;
	(void)state;
	log_set_format(LOG_FORMAT_JSON);
	out = (struct progress_out){ .json = false, .tty = false };
	capture(STDERR_FILENO, show_mid, &b);
	assert_int_equal(b.len, 0);		/* nothing until the end */
	capture(STDOUT_FILENO, show_mid, &b);
	assert_int_equal(b.len, 0);		/* no --json: nothing on stdout */
	capture(STDERR_FILENO, show_final, &b);
	/* the final figures: one log line (JSON here), never bare text */
	assert_non_null(strstr(b.data, "\"level\":\"info\""));
	assert_non_null(strstr(b.data, "\"msg\":\"copy user "));
	assert_null(strchr(b.data, '\r'));

	out.json = true;
	capture(STDOUT_FILENO, show_mid, &b);
	assert_string_equal(b.data, "{\"event\":\"progress\",\"batches\":3,\"fetched\":10,\"applied\":9,"
				    "\"skipped\":1,\"fallbacks\":0,\"rate\":12.3}\n");
	buf_release(&b);
}

static void test_show_on_terminal(void **state)
{
	struct buf b = BUF_INIT;
	(void)state;
	out = (struct progress_out){ .json = false, .tty = true };
	capture(STDERR_FILENO, show_mid, &b);
	assert_string_equal(b.data, "\rapply: 9 changes applied (1 skipped: already copied) in 3 batches, 12 changes/s");
	capture(STDERR_FILENO, show_final, &b);
	assert_true(b.data[0] == '\r' && b.data[b.len - 1] == '\n');
	buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_lines),
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_show_without_terminal),
		cmocka_unit_test(test_show_on_terminal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
