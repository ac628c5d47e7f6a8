/*
 * Unit tests for minitwitd/webpage.c: every user string escaped, the
 * original's structure and texts, dates, Gravatar addresses, URL segments.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "webpage.h"
#include "banned.h"

static int setup(void **state)
{
	struct buf *b = calloc(1, sizeof *b);
	*state = b;
	return b ? 0 : -1;
}

static int teardown(void **state)
{
	buf_release(*state);
	free(*state);
	return 0;
}

#define HAS(b, s) assert_non_null(strstr(buf_str(b), (s)))
#define HASNT(b, s) assert_null(strstr(buf_str(b), (s)))

static void test_layout_signed_out(void **state)
{
	struct buf *b = *state;
	struct webpage p = { .css_href = "/static/style.css?v=1" };
	webpage_begin(b, &p, "Public Timeline");
	webpage_end(b);
	HAS(b, "<title>Public Timeline | MiniTwit</title>");
	HAS(b, "<a href=\"/public\">public timeline</a> |");
	HAS(b, "<a href=\"/register\">sign up</a> |");
	HAS(b, "<a href=\"/login\">sign in</a>");
	HAS(b, "href=\"/static/style.css?v=1\"");
	HASNT(b, "sign out");
	HASNT(b, "flashes");
}

static void test_layout_signed_in_escapes(void **state)
{
	struct buf *b = *state;
	const char *flashes[] = { "You are now following \"<b>&x'\"" };
	struct webpage p = { .user = "<i>me</i>", .flashes = flashes, .nflashes = 1,
			     .css_href = "/s" };
	webpage_begin(b, &p, "<i>me</i>'s Timeline");
	webpage_end(b);
	HAS(b, "<title>&lt;i&gt;me&lt;/i&gt;&#39;s Timeline | MiniTwit</title>");
	HAS(b, "<a href=\"/\">my timeline</a> |");
	HAS(b, "sign out [&lt;i&gt;me&lt;/i&gt;]</a>");
	HAS(b, "<ul class=\"flashes\">");
	HAS(b, "<li>You are now following &#34;&lt;b&gt;&amp;x&#39;&#34;</li>");
	HASNT(b, "<i>");
}

static void test_message_and_empty(void **state)
{
	struct buf *b = *state;
	struct webpage_msg m = { .username = "Roger Histand", .username_len = 13,
				 .text = "<test message 2>", .text_len = 16, .pub_date = 1233324256,
				 .email = " Roger+Histand@HOTMAIL.com ", .email_len = 27 };
	webpage_messages_begin(b);
	webpage_message(b, &m);
	webpage_messages_end(b, 1);
	HAS(b, "<ul class=\"messages\">");
	HAS(b, "<a href=\"/Roger%20Histand\">Roger Histand</a>");
	HAS(b, "&lt;test message 2&gt;");
	HASNT(b, "<test message 2>");
	HAS(b, "<small>&mdash; 2009-01-30 @ 14:04</small>");
	/* md5("roger+histand@hotmail.com") */
	HAS(b, "https://www.gravatar.com/avatar/66b7c47c852ea3ec8263f338019ee567?d=identicon&amp;s=48");
	HASNT(b, "There's no message so far.");
	buf_reset(b);
	webpage_messages_begin(b);
	webpage_messages_end(b, 0);
	HAS(b, "<li><em>There's no message so far.</em></li>");
}

static void test_pieces(void **state)
{
	struct buf *b = *state;
	webpage_add_url_segment(b, "a b/c?d&e%f\xc3\xa6~_.-Z9", 19);
	assert_string_equal(buf_str(b), "a%20b%2Fc%3Fd%26e%25f%C3%A6~_.-Z9");
	buf_reset(b);
	webpage_add_date(b, 0);
	assert_string_equal(buf_str(b), "1970-01-01 @ 00:00");
	buf_reset(b);
	webpage_add_date(b, 1582246860);
	assert_string_equal(buf_str(b), "2020-02-21 @ 01:01");
	buf_reset(b);
	webpage_older_link(b, "/Roger%20Histand", 1233324256, 42);
	HAS(b, "href=\"/Roger%20Histand?before=1233324256:42\"");
}

static void test_follow_box_and_forms(void **state)
{
	struct buf *b = *state;
	webpage_followstatus(b, WEBPAGE_SELF, "me", "tok");
	HAS(b, "This is you!");
	buf_reset(b);
	webpage_followstatus(b, WEBPAGE_FOLLOWING, "a b", "t-_k");
	HAS(b, "You are currently following this user.");
	HAS(b, "<a class=\"unfollow\" href=\"/a%20b/unfollow?csrf_token=t-_k\">Unfollow user</a>.");
	buf_reset(b);
	webpage_followstatus(b, WEBPAGE_NOT_FOLLOWING, "x", "t");
	HAS(b, "You are not yet following this user.");
	HAS(b, "<a class=\"follow\" href=\"/x/follow?csrf_token=t\">Follow user</a>.");
	buf_reset(b);
	webpage_login_form(b, "tok\"", "Invalid <password>", "\"me\"");
	HAS(b, "<h2>Sign In</h2>");
	HAS(b, "<div class=\"error\"><strong>Error:</strong> Invalid &lt;password&gt;</div>");
	HAS(b, "name=\"csrf_token\" value=\"tok&#34;\"");
	HAS(b, "value=\"&#34;me&#34;\"");
	buf_reset(b);
	webpage_register_form(b, "t", NULL, NULL, "e@x");
	HAS(b, "<h2>Sign Up</h2>");
	HAS(b, "name=\"password2\"");
	HAS(b, "value=\"e@x\"");
	HASNT(b, "class=\"error\"");
	buf_reset(b);
	webpage_twitbox(b, "<me>", "t", 1000);
	HAS(b, "What's on your mind &lt;me&gt;?");
	HAS(b, "action=\"/add_message\"");
	HAS(b, "maxlength=\"1000\"");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_layout_signed_out, setup, teardown),
		cmocka_unit_test_setup_teardown(test_layout_signed_in_escapes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_message_and_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pieces, setup, teardown),
		cmocka_unit_test_setup_teardown(test_follow_box_and_forms, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
