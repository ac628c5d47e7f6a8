/*
 * webpage: HTML of the web UI; see webpage.h.
 */
#include "webpage.h"

#include <ctype.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "md5.h"
#include "banned.h"

static void add_text(struct buf *b, const char *s)
{
	buf_add_html(b, s, strlen(s));
}

void webpage_begin(struct buf *b, const struct webpage *p, const char *title)
{
	buf_adds(b, "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>");
	add_text(b, title);
	buf_adds(b, " | MiniTwit</title>\n<link rel=\"stylesheet\" href=\"");
	add_text(b, p->css_href);
	if (p->icon_href) {
		buf_adds(b, "\">\n<link rel=\"icon\" type=\"image/svg+xml\" href=\"");
		add_text(b, p->icon_href);
	}
	buf_adds(b, "\">\n</head>\n<body>\n<div class=\"page\">\n  <h1>MiniTwit</h1>\n"
		    "  <div class=\"navigation\">\n");
	if (p->user) {
		buf_adds(b, "    <a href=\"/\">my timeline</a> |\n"
			    "    <a href=\"/public\">public timeline</a> |\n"
			    "    <a href=\"/logout\">sign out [");
		add_text(b, p->user);
		buf_adds(b, "]</a>\n");
	} else {
		buf_adds(b, "    <a href=\"/public\">public timeline</a> |\n"
			    "    <a href=\"/register\">sign up</a> |\n"
			    "    <a href=\"/login\">sign in</a>\n");
	}
	buf_adds(b, "  </div>\n");
	if (p->nflashes) {
		buf_adds(b, "  <ul class=\"flashes\">\n");
		for (size_t i = 0; i < p->nflashes; i++) {
			buf_adds(b, "    <li>");
			add_text(b, p->flashes[i]);
			buf_adds(b, "</li>\n");
		}
		buf_adds(b, "  </ul>\n");
	}
	buf_adds(b, "  <div class=\"body\">\n");
}

void webpage_end(struct buf *b)
{
	buf_adds(b, "  </div>\n  <div class=\"footer\">\n    MiniTwit &mdash; A C Application\n"
		    "  </div>\n</div>\n</body>\n</html>\n");
}

void webpage_h2(struct buf *b, const char *text)
{
	buf_adds(b, "  <h2>");
	add_text(b, text);
	buf_adds(b, "</h2>\n");
}

void webpage_para(struct buf *b, const char *text)
{
	buf_adds(b, "  <p>");
	add_text(b, text);
	buf_adds(b, "</p>\n");
}

void webpage_add_url_segment(struct buf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
			buf_addc(b, (char)c);
		} else {
			char e[3] = { '%', hex[c >> 4], hex[c & 15] };
			buf_add(b, e, 3);
		}
	}
}

void webpage_add_date(struct buf *b, int64_t epoch)
{
	time_t t = (time_t)epoch;
	struct tm tm;
	char out[32];
	if (!gmtime_r(&t, &tm) || strftime(out, sizeof out, "%Y-%m-%d @ %H:%M", &tm) == 0) {
		buf_add_int(b, epoch);
		return;
	}
	buf_adds(b, out);
}

void webpage_add_gravatar(struct buf *b, const char *email, size_t len, int size)
{
	/* Python's str.strip() and str.lower() as the original; e-mail
	 * addresses Gravatar knows are ASCII, so ASCII case folding suffices */
	while (len && isspace((unsigned char)*email))
		email++, len--;
	while (len && isspace((unsigned char)email[len - 1]))
		len--;
	struct md5_ctx c;
	unsigned char d[MD5_BYTES];
	md5_init(&c);
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)tolower((unsigned char)email[i]);
		md5_update(&c, &ch, 1);
	}
	md5_final(&c, d);
	static const char hex[] = "0123456789abcdef";
	char h[2 * MD5_BYTES];
	for (int i = 0; i < MD5_BYTES; i++) {
		h[2 * i] = hex[d[i] >> 4];
		h[2 * i + 1] = hex[d[i] & 15];
	}
	buf_adds(b, "https://www.gravatar.com/avatar/");
	buf_add(b, h, sizeof h);
	buf_addf(b, "?d=identicon&amp;s=%d", size);
}

void webpage_messages_begin(struct buf *b)
{
	buf_adds(b, "  <ul class=\"messages\">\n");
}

void webpage_message(struct buf *b, const struct webpage_msg *m)
{
	buf_adds(b, "    <li><img src=\"");
	webpage_add_gravatar(b, m->email, m->email_len, 48);
	buf_adds(b, "\" alt=\"\" width=\"48\" height=\"48\"><p>\n      <strong><a href=\"/");
	webpage_add_url_segment(b, m->username, m->username_len);
	buf_adds(b, "\">");
	buf_add_html(b, m->username, m->username_len);
	buf_adds(b, "</a></strong>\n      ");
	buf_add_html(b, m->text, m->text_len);
	buf_adds(b, "\n      <small>&mdash; ");
	webpage_add_date(b, m->pub_date);
	buf_adds(b, "</small></p></li>\n");
}

void webpage_messages_end(struct buf *b, size_t count)
{
	if (!count)
		buf_adds(b, "    <li><em>There's no message so far.</em></li>\n");
	buf_adds(b, "  </ul>\n");
}

void webpage_older_link(struct buf *b, const char *base, int64_t pub_date, int64_t message_id)
{
	buf_adds(b, "  <div class=\"pagination\"><a class=\"older\" href=\"");
	add_text(b, base);
	buf_addf(b, "?before=%" PRId64 ":%" PRId64 "\">older messages &rarr;</a></div>\n", pub_date,
		 message_id);
}

static void csrf_field(struct buf *b, const char *csrf)
{
	buf_adds(b, "<input type=\"hidden\" name=\"csrf_token\" value=\"");
	add_text(b, csrf);
	buf_adds(b, "\">");
}

void webpage_twitbox(struct buf *b, const char *user, const char *csrf, int64_t maxlen)
{
	buf_adds(b, "  <div class=\"twitbox\">\n    <h3>What's on your mind ");
	add_text(b, user);
	buf_adds(b, "?</h3>\n    <form action=\"/add_message\" method=\"post\">");
	csrf_field(b, csrf);
	buf_addf(b, "\n      <p><input type=\"text\" name=\"text\" size=\"60\" maxlength=\"%" PRId64
		    "\"><!--\n      --><input type=\"submit\" value=\"Share\"></p>\n    </form>\n"
		    "  </div>\n", maxlen);
}

void webpage_followstatus(struct buf *b, enum webpage_follow st, const char *profile,
			  const char *csrf)
{
	buf_adds(b, "  <div class=\"followstatus\">\n");
	if (st == WEBPAGE_SELF) {
		buf_adds(b, "    This is you!\n");
	} else {
		bool f = st == WEBPAGE_FOLLOWING;
		buf_adds(b, f ? "    You are currently following this user.\n    <a class=\"unfollow\" href=\"/"
			      : "    You are not yet following this user.\n    <a class=\"follow\" href=\"/");
		webpage_add_url_segment(b, profile, strlen(profile));
		buf_adds(b, f ? "/unfollow?csrf_token=" : "/follow?csrf_token=");
		webpage_add_url_segment(b, csrf, strlen(csrf));
		buf_adds(b, f ? "\">Unfollow user</a>.\n" : "\">Follow user</a>.\n");
	}
	buf_adds(b, "  </div>\n");
}

static void form_error(struct buf *b, const char *error)
{
	if (!error)
		return;
	buf_adds(b, "  <div class=\"error\"><strong>Error:</strong> ");
	add_text(b, error);
	buf_adds(b, "</div>\n");
}

static void text_field(struct buf *b, const char *label, const char *type, const char *name,
		       const char *value, const char *autocomplete)
{
	buf_addf(b, "      <dt><label for=\"%s\">%s</label>\n      <dd><input type=\"%s\" id=\"%s\" "
		    "name=\"%s\" size=\"30\" autocomplete=\"%s\"", name, label, type, name, name,
		 autocomplete);
	if (value) {
		buf_adds(b, " value=\"");
		add_text(b, value);
		buf_adds(b, "\"");
	}
	buf_adds(b, ">\n");
}

void webpage_login_form(struct buf *b, const char *csrf, const char *error, const char *username)
{
	webpage_h2(b, "Sign In");
	form_error(b, error);
	buf_adds(b, "  <form action=\"/login\" method=\"post\">");
	csrf_field(b, csrf);
	buf_adds(b, "\n    <dl>\n");
	text_field(b, "Username:", "text", "username", username ? username : "", "username");
	text_field(b, "Password:", "password", "password", NULL, "current-password");
	buf_adds(b, "    </dl>\n    <div class=\"actions\"><input type=\"submit\" value=\"Sign In\"></div>\n"
		    "  </form>\n");
}

void webpage_register_form(struct buf *b, const char *csrf, const char *error,
			   const char *username, const char *email)
{
	webpage_h2(b, "Sign Up");
	form_error(b, error);
	buf_adds(b, "  <form action=\"/register\" method=\"post\">");
	csrf_field(b, csrf);
	buf_adds(b, "\n    <dl>\n");
	text_field(b, "Username:", "text", "username", username ? username : "", "username");
	text_field(b, "E-Mail:", "text", "email", email ? email : "", "email");
	text_field(b, "Password:", "password", "password", NULL, "new-password");
	text_field(b, "Password <small>(repeat)</small>:", "password", "password2", NULL,
		   "new-password");
	buf_adds(b, "    </dl>\n    <div class=\"actions\"><input type=\"submit\" value=\"Sign Up\"></div>\n"
		    "  </form>\n");
}
