/*
 * Unit tests for minitwitd's route tables (api.c, web.c, admin.c): each
 * front end says in one table row per route whether a cutover holds it,
 * and a row that may write must say so, or a new endpoint would run on the
 * old database during a pause.  Links minitwitd but its main (the rows
 * name their handlers); nothing is started.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "admin.h"
#include "api.h"
#include "route.h"
#include "web.h"
#include "banned.h"

struct table {
	const char *name;
	const struct route_entry *t;
	size_t n;
};

/* api, web, admin: filled in main (the sizes are not constants here) */
static struct table filled[3];

/* Rows the tests look up by hand, so that a table emptied by mistake fails. */
static const struct route_entry *find(const struct table *tb, const char *path, unsigned method)
{
	struct route_found f;
	struct buf arg = BUF_INIT;
	route_find(tb->t, tb->n, path, method, NULL, &arg, &f);
	buf_release(&arg);
	return f.route;
}

static void test_rows_well_formed(void **state)
{
	for (size_t k = 0; k < 3; k++) {
		const struct table *tb = &filled[k];
		assert_true(tb->n > 0);
		for (size_t i = 0; i < tb->n; i++) {
			const struct route_entry *r = &tb->t[i];
			const char *lt = strchr(r->pattern, '<');
			if (r->pattern[0] != '/' || !r->methods || (r->methods & ~ROUTE_ANY) || !r->handle ||
			    (lt && (!strchr(lt, '>') || strchr(lt + 1, '<'))) || r->metric >= MR_COUNT)
				fail_msg("%s: malformed row \"%s\"", tb->name, r->pattern);
			/* the rows of one path take each method once */
			for (size_t j = 0; j < i; j++)
				if (strcmp(tb->t[j].pattern, r->pattern) == 0 &&
				    (tb->t[j].methods & r->methods))
					fail_msg("%s: \"%s\" takes a method twice", tb->name, r->pattern);
		}
	}
}

/* The contract: every row a method other than GET or HEAD reaches is a
 * write held during a pause (the admin API's control rows are what end
 * the pause, and never held); no row of the main listener is a control. */
static void test_writes_held(void **state)
{
	for (size_t k = 0; k < 3; k++) {
		const struct table *tb = &filled[k];
		bool admin = strcmp(tb->name, "admin") == 0;
		for (size_t i = 0; i < tb->n; i++) {
			const struct route_entry *r = &tb->t[i];
			if (admin) {
				if (r->hold != ROUTE_CONTROL)
					fail_msg("admin: \"%s\" is not a control row", r->pattern);
				continue;
			}
			if (r->hold == ROUTE_CONTROL)
				fail_msg("%s: \"%s\" is a control row outside the admin API", tb->name,
					 r->pattern);
			if ((r->methods & ~ROUTE_READS) && r->hold != ROUTE_WRITE)
				fail_msg("%s: \"%s\" takes a method that may write but is not held",
					 tb->name, r->pattern);
			/* a password hashed before the request runs is a sign-up's */
			if (r->password && r->hold != ROUTE_WRITE)
				fail_msg("%s: \"%s\" hashes a password but is not a write", tb->name,
					 r->pattern);
		}
	}
}

/* An API row that stores ?latest= writes when it is there. */
static void test_api_latest_held(void **state)
{
	const struct table *tb = &filled[0];
	for (size_t i = 0; i < tb->n; i++)
		if ((tb->t[i].flags & API_LATEST) && tb->t[i].hold == ROUTE_READ)
			fail_msg("api: \"%s\" stores ?latest= but is a read", tb->t[i].pattern);
}

/* The routes known to write, looked up as a request would be. */
static void test_known_writes(void **state)
{
	static const struct {
		size_t table;
		const char *path;
		unsigned method;
		enum route_hold hold;
	} cases[] = {
		{ 0, "/msgs/bob", ROUTE_POST, ROUTE_WRITE },
		{ 0, "/fllws/bob", ROUTE_POST, ROUTE_WRITE },
		{ 0, "/msgs", ROUTE_GET, ROUTE_WRITE_IF_LATEST },
		{ 0, "/msgs/bob", ROUTE_GET, ROUTE_WRITE_IF_LATEST },
		{ 0, "/latest", ROUTE_GET, ROUTE_READ },
		{ 0, "/healthz", ROUTE_GET, ROUTE_READ },
		{ 1, "/logout", ROUTE_GET, ROUTE_WRITE },
		{ 1, "/bob/follow", ROUTE_GET, ROUTE_WRITE },
		{ 1, "/bob/unfollow", ROUTE_GET, ROUTE_WRITE },
		{ 1, "/add_message", ROUTE_POST, ROUTE_WRITE },
		{ 1, "/login", ROUTE_POST, ROUTE_WRITE },
		{ 1, "/register", ROUTE_POST, ROUTE_WRITE },
		{ 1, "/public", ROUTE_GET, ROUTE_READ },
		{ 1, "/bob", ROUTE_GET, ROUTE_READ },
		{ 2, "/admin/pause", ROUTE_POST, ROUTE_CONTROL },
		{ 2, "/admin/status", ROUTE_GET, ROUTE_CONTROL },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		const struct route_entry *r = find(&filled[cases[i].table], cases[i].path,
						   cases[i].method);
		if (!r)
			fail_msg("no row for %s", cases[i].path);
		if (r->hold != cases[i].hold)
			fail_msg("%s: hold %d, expected %d", cases[i].path, (int)r->hold,
				 (int)cases[i].hold);
	}
	/* both sign-ups hash their password off the workers */
	assert_non_null(find(&filled[1], "/register", ROUTE_POST)->password);
	assert_non_null(api_frontend.routes[1].password);
	assert_string_equal(api_frontend.routes[1].pattern, "/register");
}

/* The API claims its paths; the web UI answers the rest.  (POST /register
 * is the API's by its Content-Type: integration tests.) */
static void test_claims(void **state)
{
	assert_false(api_frontend.catch_all);
	assert_true(web_frontend.catch_all);
	const struct route_entry *t = api_frontend.routes;
	size_t n = api_frontend.nroutes;
	static const char *const api[] = { "/latest", "/msgs", "/msgs/a", "/msgs/a/b", "/fllws",
					   "/fllws/x?no=3", "/healthz", "/metrics", "/msgs/%zz" };
	static const char *const web[] = { "/", "/public", "/login", "/bob", "/bob/follow",
					   "/static/style.css", "/latestx" };
	for (size_t i = 0; i < sizeof api / sizeof *api; i++)
		if (!route_claims(t, n, api[i], NULL))
			fail_msg("the API does not claim %s", api[i]);
	for (size_t i = 0; i < sizeof web / sizeof *web; i++)
		if (route_claims(t, n, web[i], NULL))
			fail_msg("the API claims %s", web[i]);
}

int main(void)
{
	filled[0] = (struct table){ "api", api_frontend.routes, api_frontend.nroutes };
	filled[1] = (struct table){ "web", web_frontend.routes, web_frontend.nroutes };
	filled[2] = (struct table){ "admin", admin_routes, admin_nroutes };
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows_well_formed),
		cmocka_unit_test(test_writes_held),
		cmocka_unit_test(test_api_latest_held),
		cmocka_unit_test(test_known_writes),
		cmocka_unit_test(test_claims),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
