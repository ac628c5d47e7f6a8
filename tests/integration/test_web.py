#!/usr/bin/env python3
"""Integration tests of minitwitd's web UI on a real PostgreSQL cluster.

The reference MiniTwit web tests (register, login/logout, message recording,
timelines) ported to a browser-like client with a cookie jar and CSRF
tokens, then: the layout and pages, sessions (server-side, hashed, surviving
a restart, shared by two servers, expiring, deleted at sign-out), CSRF,
bad input (overlong fields, invalid UTF-8, unknown routes), 401/403/404/405
pages, sign-in rate limiting, pagination, the stylesheet's caching, and the
legacy import with Werkzeug password hashes upgraded to argon2id.
"""
import hashlib
import html
import os
import re
import subprocess
import sys
import urllib.parse
import uuid

sys.path.insert(0, os.path.dirname(__file__))
from harness import (REPO, Cluster, Server, api, metric, q, request, run_tests,  # noqa: E402
                     scenario, test, wait_until)

COOKIE = "minitwit_session"


# the suites register many users from 127.0.0.1 through the web form
os.environ.setdefault("MINITWIT_WEB_SIGNUP_LIMIT", "100000")


class Ctx:
    pass


def setup():
    c = Ctx()
    c.db = Cluster("web")
    c.srv = Server(c.db.dsn)
    return c


def uniq(prefix="u"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class Browser:
    """What a browser does that matters here: keeps the session cookie,
    follows redirects, sends forms with the CSRF token of the page."""

    def __init__(self, url, source=None):
        self.url = url
        self.cookie = None
        self.last = None
        self.source = source        # another loopback address to send from

    def _cookie_from(self, headers):
        for k, v in headers:
            if k.lower() == "set-cookie" and v.startswith(COOKIE + "="):
                self.cookie = v.split(";")[0].split("=", 1)[1]
                return v
        return None

    def req(self, method, path, form=None, raw=None, headers=None, follow=True):
        h = dict(headers or {})
        if self.cookie:
            h["Cookie"] = f"{COOKIE}={self.cookie}"
        body = raw
        if form is not None:
            body = urllib.parse.urlencode(form).encode()
        if body is not None and "Content-Type" not in h:
            h["Content-Type"] = "application/x-www-form-urlencoded"
        st, hdrs, data = raw_request(self.url, method, path, body, h, source=self.source)
        self.set_cookie = self._cookie_from(hdrs)
        hd = {k: v for k, v in hdrs}
        hops = 0
        while follow and st in (301, 302, 303) and hops < 5:
            hops += 1
            loc = hd["Location"]
            return self.req("GET", loc, follow=True)
        self.last = (st, hd, data)
        return st, hd, data.decode("utf-8")

    def get(self, path, **kw):
        return self.req("GET", path, **kw)

    def csrf(self, page):
        m = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert m, "no CSRF token on the page"
        return html.unescape(m.group(1))

    def post_form(self, page_path, action, fields, **kw):
        """Open page_path (for its token) and post fields to action."""
        st, _, page = self.get(page_path)
        assert st == 200, (page_path, st)
        f = dict(fields)
        f["csrf_token"] = self.csrf(page)
        return self.req("POST", action, form=f, **kw)


def raw_request(base, method, path, body, headers, source=None):
    """Like harness.request, but keeps repeated headers (Set-Cookie); source
    is a loopback address to connect from ("127.0.0.2"), a distinct client."""
    import http.client
    u = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10,
                                      source_address=(source, 0) if source else None)
    h = {"Connection": "close"}
    h.update(headers)
    try:
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        return r.status, r.getheaders(), r.read()
    finally:
        conn.close()


# ---- the reference's helpers

def register(b, username, password, password2=None, email=None, **kw):
    if password2 is None:
        password2 = password
    if email is None:
        email = username + "@example.com"
    return b.post_form("/register", "/register", {"username": username, "password": password,
                                                  "password2": password2, "email": email}, **kw)


def login(b, username, password, **kw):
    return b.post_form("/login", "/login", {"username": username, "password": password}, **kw)


def register_and_login(b, username, password):
    register(b, username, password)
    return login(b, username, password)


def logout(b):
    return b.get("/logout")


def add_message(b, text):
    st, _, page = b.get("/")
    assert st == 200
    r = b.req("POST", "/add_message", form={"text": text, "csrf_token": b.csrf(page)})
    if text:
        assert "Your message was recorded" in r[2], r[2][:2000]
    return r


def follow_link(b, user, action):
    """The follow/unfollow link on the user's page (it carries the token)."""
    st, _, page = b.get("/" + urllib.parse.quote(user))
    assert st == 200
    m = re.search(r'<a class="%s" href="([^"]+)"' % action, page)
    assert m, f"no {action} link on {user}'s page"
    return html.unescape(m.group(1))


# ---- the reference tests, ported

@test
def test_register(c):
    b = Browser(c.srv.url)
    u1 = uniq("user1")
    st, _, page = register(b, u1, "default")
    assert st == 200 and "You were successfully registered and can login now" in page
    assert "<title>Sign In | MiniTwit</title>" in page
    _, _, page = register(b, u1, "default")
    assert "The username is already taken" in page
    _, _, page = register(b, "", "default")
    assert "You have to enter a username" in page
    _, _, page = register(b, uniq("meh"), "")
    assert "You have to enter a password" in page
    _, _, page = register(b, uniq("meh"), "x", "y")
    assert "The two passwords do not match" in page
    _, _, page = register(b, uniq("meh"), "foo", email="broken")
    assert "You have to enter a valid email address" in page
    # the order of the checks is the reference's
    _, _, page = register(b, "", "", "y", email="broken")
    assert "You have to enter a username" in page
    _, _, page = register(b, u1, "", "y", email="broken")
    assert "You have to enter a valid email address" in page
    _, _, page = register(b, u1, "", "y")
    assert "You have to enter a password" in page
    _, _, page = register(b, u1, "x", "y")
    assert "The two passwords do not match" in page
    # the form keeps what was typed (escaped), never the password
    _, _, page = register(b, '<b>"x"</b>', "x", "y")
    assert 'value="&lt;b&gt;&#34;x&#34;&lt;/b&gt;"' in page and '<b>"x"' not in page
    h = c.db.scalar(f"SELECT pw_hash FROM \"user\" WHERE username = '{u1}'")
    assert h.startswith("$argon2id$"), h


@test
def test_login_logout(c):
    b = Browser(c.srv.url)
    u = uniq("user1")
    _, _, page = register_and_login(b, u, "default")
    assert "You were logged in" in page
    assert "<title>My Timeline | MiniTwit</title>" in page
    assert f"sign out [{u}]" in page
    _, _, page = logout(b)
    assert "You were logged out" in page and "<title>Public Timeline | MiniTwit</title>" in page
    assert "sign out" not in page and ">sign in</a>" in page
    _, _, page = login(b, u, "wrongpassword")
    assert "Invalid password" in page
    _, _, page = login(b, uniq("user2"), "wrongpassword")
    assert "Invalid username" in page
    # a flash is shown once
    _, _, page = login(b, u, "default")
    assert "You were logged in" in page
    _, _, page = b.get("/")
    assert "You were logged in" not in page and "ul class=\"flashes\"" not in page
    # signed in, /login and /register send you home
    st, h, _ = b.get("/login", follow=False)
    assert st == 302 and h["Location"] == "/"
    st, h, _ = b.get("/register", follow=False)
    assert st == 302 and h["Location"] == "/"


@test
def test_message_recording(c):
    b = Browser(c.srv.url)
    register_and_login(b, uniq("foo"), "default")
    add_message(b, "test message 1")
    add_message(b, "<test message 2>")
    _, _, page = b.get("/")
    assert "test message 1" in page
    assert "&lt;test message 2&gt;" in page and "<test message 2>" not in page
    add_message(b, "quotes \" and ' & amp")
    _, _, page = b.get("/")
    assert "quotes &#34; and &#39; &amp; amp" in page
    # an empty message is not stored and not flashed (as the reference)
    st, _, page = add_message(b, "")
    assert st == 200 and "Your message was recorded" not in page


@test
def test_timelines(c):
    b = Browser(c.srv.url)
    foo, bar = uniq("foo"), uniq("bar")
    register_and_login(b, foo, "default")
    add_message(b, f"the message by {foo}")
    logout(b)
    register_and_login(b, bar, "default")
    add_message(b, f"the message by {bar}")
    _, _, page = b.get("/public")
    assert f"the message by {foo}" in page and f"the message by {bar}" in page

    # bar's timeline should just show bar's message
    _, _, page = b.get("/")
    assert f"the message by {foo}" not in page and f"the message by {bar}" in page

    # now let's follow foo
    _, _, page = b.get(f"/{foo}")
    assert "You are not yet following this user." in page
    _, _, page = b.get(follow_link(b, foo, "follow"))
    assert f"You are now following &#34;{foo}&#34;" in page
    assert "You are currently following this user." in page

    # we should now see foo's message
    _, _, page = b.get("/")
    assert f"the message by {foo}" in page and f"the message by {bar}" in page

    # but on the user's page we only want the user's message
    _, _, page = b.get(f"/{bar}")
    assert f"the message by {foo}" not in page and f"the message by {bar}" in page
    assert "This is you!" in page
    _, _, page = b.get(f"/{foo}")
    assert f"the message by {foo}" in page and f"the message by {bar}" not in page
    assert f"<title>{foo}&#39;s Timeline | MiniTwit</title>" in page

    # now unfollow and check if that worked
    _, _, page = b.get(follow_link(b, foo, "unfollow"))
    assert f"You are no longer following &#34;{foo}&#34;" in page
    _, _, page = b.get("/")
    assert f"the message by {foo}" not in page and f"the message by {bar}" in page


# ---- layout and pages

@test
def test_layout_and_message_markup(c):
    b = Browser(c.srv.url)
    name = "Ærø " + uniq("Layout")
    email = "  Some.Body@Example.COM "
    register(b, name, "pw", email=email)
    login(b, name, "pw")
    add_message(b, "hello layout")
    c.db.psql(f"UPDATE message SET pub_date = 1233324256 WHERE text = 'hello layout'")
    _, _, page = b.get("/public")
    md5 = hashlib.md5(b"some.body@example.com").hexdigest()
    assert f'<img src="https://www.gravatar.com/avatar/{md5}?d=identicon&amp;s=48"' in page
    assert "&mdash; 2009-01-30 @ 14:04</small>" in page
    assert f'<a href="/{urllib.parse.quote(name)}">{html.escape(name)}</a>' in page
    assert '<ul class="messages">' in page and '<div class="navigation">' in page
    assert '<a href="/">my timeline</a>' in page and f"sign out [{name}]" in page
    # the user's own timeline has the twitbox
    _, _, page = b.get("/")
    assert f"What's on your mind {html.escape(name)}?" in page and 'action="/add_message"' in page
    # a user without messages
    b2 = Browser(c.srv.url)
    other = uniq("quiet")
    register(b2, other, "pw")
    st, _, page = b2.get(f"/{other}")
    assert st == 200 and "There's no message so far." in page
    # signed out: no follow box, the signed-out navigation
    assert "followstatus" not in page and '<a href="/register">sign up</a>' in page


@test
def test_stylesheet_is_static_and_cached(c):
    b = Browser(c.srv.url)
    _, _, page = b.get("/public")
    href = re.search(r'<link rel="stylesheet" href="([^"]+)"', page).group(1)
    assert href.startswith("/static/style.css?v="), href
    st, h, css = b.get(html.unescape(href))
    assert st == 200 and h["Content-Type"].startswith("text/css")
    assert "immutable" in h["Cache-Control"] and h["ETag"]
    assert "#CAECE9" in css
    st, h2, _ = b.get("/static/style.css")
    assert st == 200 and "immutable" not in h2["Cache-Control"] and h2["ETag"] == h["ETag"]
    st, _, body = b.get("/static/style.css", headers={"If-None-Match": h["ETag"]})
    assert st == 304 and body == ""
    st, _, page = b.get("/static/nope.css")
    assert st == 404 and "Not Found" in page


@test
def test_head_and_methods(c):
    st, h, body = request(c.srv.url, "HEAD", "/public")
    assert st == 200 and body == b"" and h["Content-Type"].startswith("text/html")
    for method, path in [("PUT", "/public"), ("DELETE", "/login"), ("GET", "/add_message"),
                         ("POST", "/public")]:
        st, h, body = request(c.srv.url, method, path, raw_body=b"")
        assert st == 405 and "Method Not Allowed" in body.decode(), (method, path, st)
        assert h["Allow"]


# ---- errors: each a page with the right status

@test
def test_unknown_routes_404(c):
    b = Browser(c.srv.url)
    for path in ["/nobody-" + uuid.uuid4().hex, "/a/b/c", "/x/y",
                 "/static/", "/%C3%A6%20nobody"]:
        st, h, page = b.get(path)
        assert st == 404, (path, st)
        assert h["Content-Type"].startswith("text/html") and "Not Found | MiniTwit" in page, path
    # the API's paths keep the API's JSON 404
    st, h, _ = request(c.srv.url, "GET", "/msgs/a/b")
    assert st == 404 and h["Content-Type"] == "application/json"
    # a bad escape or invalid UTF-8 in a web path: a 400 page
    for path in ["/%ff", "/public?x=%zz", "/a%00b"]:
        st, h, page = b.get(path)
        assert st == 400 and h["Content-Type"].startswith("text/html"), (path, st)


@test
def test_signed_out_401(c):
    b = Browser(c.srv.url)
    st, _, page = b.get("/public")
    target = uniq("t")
    register(b, target, "pw")
    for path in [f"/{target}/follow", f"/{target}/unfollow", "/nobody-here/follow"]:
        st, _, page = b.get(path)
        assert st == 401 and "Unauthorized" in page, (path, st)
    st, _, page = b.req("POST", "/add_message", form={"text": "x"})
    assert st == 401
    st, _, page = Browser(c.srv.url).req("POST", "/add_message", form={"text": "x"})
    assert st == 401
    assert c.db.scalar("SELECT count(*) FROM message WHERE text = 'x'") == "0"
    # / redirects signed-out visitors to the public timeline
    st, h, _ = Browser(c.srv.url).get("/", follow=False)
    assert st == 302 and h["Location"] == "/public"


@test
def test_follow_unknown_404(c):
    b = Browser(c.srv.url)
    me = uniq("me")
    register_and_login(b, me, "pw")
    _, _, page = b.get("/")
    token = b.csrf(page)
    st, _, page = b.get(f"/nobody-{uuid.uuid4().hex[:6]}/follow?csrf_token={token}")
    assert st == 404 and "Not Found" in page


@test
def test_csrf_tokens(c):
    """A browser (cross-site headers) needs the session's token; a valid
    token allows the request whatever the headers say."""
    b = Browser(c.srv.url)
    me, other = uniq("me"), uniq("other")
    register(b, other, "pw")
    register_and_login(b, me, "pw")
    _, _, page = b.get("/")
    good = b.csrf(page)
    forged = good[:-2] + ("AA" if not good.endswith("AA") else "BB")
    xs = {"Sec-Fetch-Site": "cross-site"}
    for form in [{"text": "csrf-x"}, {"text": "csrf-x", "csrf_token": ""},
                 {"text": "csrf-x", "csrf_token": forged}]:
        st, _, page = b.req("POST", "/add_message", form=form, headers=xs)
        assert st == 403 and "Forbidden" in page and "another site" in page, (form, st)
    assert c.db.scalar("SELECT count(*) FROM message WHERE text = 'csrf-x'") == "0"
    # follow links: a forged token does not help a cross-site request
    for q in ["", "?csrf_token=", f"?csrf_token={forged}"]:
        st, _, _ = b.get(f"/{other}/follow{q}", headers=xs)
        assert st == 403, (q, st)
    assert c.db.scalar(f"SELECT count(*) FROM follower f JOIN \"user\" u ON u.user_id = f.who_id "
                       f"WHERE u.username = '{me}'") == "0"
    # another session's token is not this session's
    b2 = Browser(c.srv.url)
    register_and_login(b2, uniq("me2"), "pw")
    st, _, _ = b2.req("POST", "/add_message", form={"text": "csrf-x", "csrf_token": good},
                      headers=xs)
    assert st == 403
    # sign-in and sign-up forms: without a session or with a wrong token
    for path, form in [("/login", {"username": me, "password": "pw"}),
                       ("/register", {"username": uniq("r"), "email": "a@b", "password": "p",
                                      "password2": "p"})]:
        st, _, _ = Browser(c.srv.url).req("POST", path, form=form, headers=xs)
        assert st == 403, (path, st)
        b3 = Browser(c.srv.url)
        b3.get(path)
        st, _, _ = b3.req("POST", path, form=dict(form, csrf_token=forged), headers=xs)
        assert st == 403, (path, st)
    # the page's valid token overrides every forged-looking header
    hostile = {"Sec-Fetch-Site": "cross-site", "Origin": "http://evil.example",
               "Referer": "http://evil.example/"}
    st, _, page = b.req("POST", "/add_message", form={"text": "csrf-ok", "csrf_token": good},
                        headers=hostile)
    assert st == 200 and "Your message was recorded" in page, st
    st, _, page = b.get(f"/{other}/follow?csrf_token={urllib.parse.quote(good)}",
                        headers=hostile)
    assert st == 200 and "You are now following" in page, st
    b4 = Browser(c.srv.url)
    _, _, page = b4.get("/login")
    st, _, page = b4.req("POST", "/login", form={"username": me, "password": "pw",
                                                 "csrf_token": b4.csrf(page)}, headers=hostile)
    assert st == 200 and "You were logged in" in page, st


def course_register(url, name, password, password2=None, email=None, **kw):
    """The course's register helper: a plain form post from a fresh client
    that never loaded the form, following the redirect."""
    form = {"username": name, "password": password,
            "password2": password if password2 is None else password2,
            "email": name + "@example.com" if email is None else email}
    return Browser(url).req("POST", "/register", form=form, **kw)


def course_login(url, name, password, **kw):
    """The course's login helper: a fresh client (its own cookie jar)."""
    b = Browser(url)
    st, h, page = b.req("POST", "/login", form={"username": name, "password": password}, **kw)
    return b, st, h, page


def messages_by(c, name):
    return c.db.scalar(f"SELECT count(*) FROM message m JOIN \"user\" u "
                       f"ON u.user_id = m.author_id WHERE u.username = '{name}'")


def follows(c, who, whom):
    return c.db.scalar(f"SELECT count(*) FROM follower f JOIN \"user\" a ON a.user_id = f.who_id "
                       f"JOIN \"user\" b ON b.user_id = f.whom_id "
                       f"WHERE a.username = '{who}' AND b.username = '{whom}'")


@test
def test_course_plain_client_flow(c):
    """What the course's own web tests do against the reference: plain form
    posts and links, no page loaded first, no token, no browser headers."""
    url = c.srv.url
    foo, bar = uniq("cfoo"), uniq("cbar")
    # register: the redirect to the sign-in page, with the flash
    st, h, _ = course_register(url, foo, "default", follow=False)
    assert st == 302 and h["Location"] == "/login", (st, h)
    st, _, page = course_register(url, bar, "default")
    assert st == 200 and "You were successfully registered and can login now" in page
    assert "<title>Sign In | MiniTwit</title>" in page
    for args, text in [((foo, "default"), "The username is already taken"),
                       (("", "default"), "You have to enter a username"),
                       ((uniq("meh"), ""), "You have to enter a password"),
                       ((uniq("meh"), "x", "y"), "The two passwords do not match")]:
        st, _, page = course_register(url, *args)
        assert st == 200 and text in page, (args, st)
    st, _, page = course_register(url, uniq("meh"), "foo", email="broken")
    assert "You have to enter a valid email address" in page
    # login and logout
    b, st, h, _ = course_login(url, foo, "default", follow=False)
    assert st == 302 and h["Location"] == "/"
    b, st, _, page = course_login(url, foo, "default")
    assert st == 200 and "You were logged in" in page
    st, h, _ = b.get("/logout", follow=False)
    assert st == 302 and h["Location"] == "/public"
    _, st, _, page = course_login(url, foo, "wrongpassword")
    assert "Invalid password" in page
    _, st, _, page = course_login(url, uniq("nobody"), "wrongpassword")
    assert "Invalid username" in page
    # messages
    b, _, _, _ = course_login(url, foo, "default")
    st, h, _ = b.req("POST", "/add_message", form={"text": f"the message by {foo}"},
                     follow=False)
    assert st == 302 and h["Location"] == "/"
    st, _, page = b.req("POST", "/add_message", form={"text": "<test message 2>"})
    assert st == 200 and "Your message was recorded" in page
    st, _, page = b.get("/logout")
    assert "You were logged out" in page
    assert messages_by(c, foo) == "2"
    _, _, page = Browser(url).get("/public")
    assert f"the message by {foo}" in page and "&lt;test message 2&gt;" in page
    # timelines, follow and unfollow by their plain links
    b, _, _, _ = course_login(url, bar, "default")
    b.req("POST", "/add_message", form={"text": f"the message by {bar}"})
    _, _, page = b.get("/")
    assert f"the message by {foo}" not in page and f"the message by {bar}" in page
    st, h, _ = b.get(f"/{foo}/follow", follow=False)
    assert st == 302 and h["Location"] == f"/{foo}"
    _, _, page = b.get(f"/{foo}")
    assert f"You are now following &#34;{foo}&#34;" in page
    _, _, page = b.get("/")
    assert f"the message by {foo}" in page and f"the message by {bar}" in page
    _, _, page = b.get(f"/{bar}")
    assert f"the message by {foo}" not in page and f"the message by {bar}" in page
    _, _, page = b.get(f"/{foo}")
    assert f"the message by {foo}" in page and f"the message by {bar}" not in page
    st, _, page = b.get(f"/{foo}/unfollow")
    assert st == 200 and f"You are no longer following &#34;{foo}&#34;" in page
    _, _, page = b.get("/")
    assert f"the message by {foo}" not in page and f"the message by {bar}" in page
    # the reference's status codes for the links of a signed-out client
    st, _, _ = Browser(url).get(f"/{foo}/follow")
    assert st == 401


# Browser headers of a page on another site making the victim's browser
# send a request (each one alone is enough to refuse it).
FORGED = [{"Sec-Fetch-Site": "cross-site"},
          {"Sec-Fetch-Site": "same-site"},
          {"Origin": "http://evil.example"},
          {"Origin": "null"},
          {"Referer": "http://evil.example/attack.html"},
          {"Sec-Fetch-Site": "cross-site", "Origin": "http://evil.example",
           "Referer": "http://evil.example/"}]


def refused_count(c):
    _, _, body = request(c.srv.url, "GET", "/metrics")
    return sum(int(m) for m in re.findall(
        r'^minitwit_web_refused_total\{reason="(?:cross-site|foreign-origin|null-origin|'
        r'foreign-referer)"\} (\d+)$', body.decode(), re.M))


@test
def test_forged_cross_site_requests_refused(c):
    url = c.srv.url
    victim, target = uniq("victim"), uniq("target")
    course_register(url, victim, "pw")
    course_register(url, target, "pw")
    b, _, _, _ = course_login(url, victim, "pw")
    b.get(f"/{target}/follow")      # so that unfollow has something to undo
    before = refused_count(c)
    n = 0
    for hdrs in FORGED:
        newbie = uniq("forged")
        routes = [
            ("POST", "/add_message", {"text": "forged message"}),
            ("GET", f"/{target}/unfollow", None),
            ("GET", "/logout", None),
        ]
        for method, path, form in routes:
            st, h, page = b.req(method, path, form=form, headers=hdrs, follow=False)
            n += 1
            assert st == 403 and "refused" in page, (hdrs, path, st)
            assert "Set-Cookie" not in h, (hdrs, path)
        # signed out (or the cookie withheld by SameSite): a forged sign-up,
        # a forged sign-in (login CSRF would sign the victim in as the
        # attacker), a forged post: refused as forged, not as signed out
        for path, form in [("/register", {"username": newbie, "email": "a@b", "password": "p",
                                          "password2": "p"}),
                           ("/login", {"username": target, "password": "pw"}),
                           ("/add_message", {"text": "forged message"})]:
            st, h, page = Browser(url).req("POST", path, form=form, headers=hdrs, follow=False)
            n += 1
            assert st == 403 and "refused" in page and "Set-Cookie" not in h, (hdrs, path, st)
        assert c.db.scalar(f"SELECT count(*) FROM \"user\" WHERE username = '{newbie}'") == "0"
    # the follow link too: SameSite=Lax sends the cookie with a top-level cross-site GET
    b2, _, _, _ = course_login(url, target, "pw")
    st, _, page = b2.get(f"/{victim}/follow", headers={"Sec-Fetch-Site": "cross-site"})
    n += 1
    assert st == 403 and "another site" in page
    # nothing changed: no message, still following, still signed in
    assert messages_by(c, victim) == "0"
    assert follows(c, victim, target) == "1" and follows(c, target, victim) == "0"
    _, _, page = b.get("/")
    assert f"sign out [{victim}]" in page
    assert refused_count(c) - before == n, (refused_count(c) - before, n)


@test
def test_same_origin_browser_requests_accepted(c):
    url = c.srv.url
    me, other = uniq("same"), uniq("other")
    course_register(url, me, "pw")
    course_register(url, other, "pw")
    ok_headers = [{"Sec-Fetch-Site": "same-origin", "Origin": url, "Referer": url + "/"},
                  {"Sec-Fetch-Site": "none"},
                  {"Origin": url},
                  {"Referer": url + "/public?x=1"},
                  {"Sec-Fetch-Site": "same-site", "Origin": url},
                  {"Origin": url.replace("http://", "HTTP://")}]
    for i, hdrs in enumerate(ok_headers):
        b, st, _, page = course_login(url, me, "pw", headers=hdrs)
        assert st == 200 and "You were logged in" in page, (hdrs, st)
        st, _, page = b.req("POST", "/add_message", form={"text": f"same {i}"}, headers=hdrs)
        assert st == 200 and "Your message was recorded" in page, (hdrs, st)
        st, _, page = b.get(f"/{other}/follow", headers=hdrs)
        assert st == 200 and "You are now following" in page, (hdrs, st)
        st, _, page = b.get(f"/{other}/unfollow", headers=hdrs)
        assert st == 200 and "You are no longer following" in page, (hdrs, st)
        st, _, page = b.get("/logout", headers=hdrs)
        assert st == 200 and "You were logged out" in page, (hdrs, st)
    assert messages_by(c, me) == str(len(ok_headers))
    # the same origin on another port or scheme is another origin
    for origin in [url.replace(str(c.srv.port), str(c.srv.port + 1)),
                   url.replace("http://", "https://")]:
        st, _, _ = course_register(url, uniq("p"), "pw", headers={"Origin": origin})
        assert st == 403, origin


@test
def test_public_origin_and_secure_cookie(c):
    srv = Server(c.db.dsn, extra_env={"MINITWIT_HTTP_PUBLIC_ORIGIN": "https://minitwit.example"})
    try:
        me = uniq("pub")
        st, _, _ = course_register(srv.url, me, "pw", headers={"Origin": srv.url})
        assert st == 403, st
        st, _, page = course_register(srv.url, me, "pw",
                                      headers={"Origin": "https://minitwit.example"})
        assert st == 200 and "successfully registered" in page
        b, st, h, _ = course_login(srv.url, me, "pw", follow=False,
                                   headers={"Referer": "https://minitwit.example/login"})
        assert st == 302 and "; Secure" in b.set_cookie and "HttpOnly" in b.set_cookie
        assert "SameSite=Lax" in b.set_cookie
    finally:
        srv.stop()
    # configured, or over plain HTTP without it
    srv = Server(c.db.dsn, extra_env={"MINITWIT_WEB_COOKIE_SECURE": "true"})
    try:
        b = Browser(srv.url)
        b.get("/login")
        assert "; Secure" in b.set_cookie
    finally:
        srv.stop()
    b = Browser(c.srv.url)
    b.get("/login")
    assert "Secure" not in b.set_cookie and "HttpOnly" in b.set_cookie
    # a malformed public origin or proxy list is a configuration error
    for env in [{"MINITWIT_HTTP_PUBLIC_ORIGIN": "minitwit.example"},
                {"MINITWIT_HTTP_PUBLIC_ORIGIN": "https://minitwit.example/app"},
                {"MINITWIT_HTTP_TRUSTED_PROXIES": "127.0.0.1, proxy.example"}]:
        out = subprocess.run([os.environ.get("MINITWITD", os.path.join(REPO, "bin", "minitwitd")),
                              "--print-config"], env=dict(os.environ, **env),
                             capture_output=True, text=True)
        assert out.returncode == 3, (env, out.returncode, out.stderr)
        assert "http.public_origin" in out.stderr or "http.trusted_proxies" in out.stderr


@test
def test_overlong_fields(c):
    b = Browser(c.srv.url)
    st, _, page = register(b, "x" * 101, "pw")
    assert st == 400 and "The username is too long" in page
    st, _, page = register(b, uniq(), "pw", email="a@" + "b" * 300)
    assert st == 400 and "The email address is too long" in page
    st, _, page = register(b, uniq(), "p" * 2000)
    assert st == 400 and "The password is too long" in page
    # 100 characters of 2 bytes each are fine
    name = "æ" * 95 + uniq()[:5]
    st, _, page = register(b, name, "pw")
    assert st == 200 and "successfully registered" in page
    login(b, name, "pw")
    st, _, page = b.get("/")
    r = b.req("POST", "/add_message", form={"text": "y" * 1001, "csrf_token": b.csrf(page)})
    assert r[0] == 400 and "Your message is too long" in r[2]
    add_message(b, "ü" * 1000)
    st, _, page = b.post_form("/login", "/login", {"username": "u" * 5000, "password": "x"})
    # signed in: /login redirects home before reading the form; sign out first
    logout(b)
    st, _, page = b.post_form("/login", "/login", {"username": "u" * 5000, "password": "x"})
    assert st == 400
    # a body beyond http.max_body: 413 page
    st, _, page = b.req("POST", "/login", raw=b"username=" + b"x" * 70000)
    assert st == 413 and "Request Entity Too Large" in page


@test
def test_invalid_utf8_and_malformed_forms(c):
    b = Browser(c.srv.url)
    me = uniq("utf")
    register_and_login(b, me, "pw")
    _, _, page = b.get("/")
    tok = urllib.parse.quote(b.csrf(page))
    for body in [b"text=%ff%fe&csrf_token=" + tok.encode(), b"text=\xff&csrf_token=" + tok.encode(),
                 b"text=%zz&csrf_token=" + tok.encode(), b"text=a%00b&csrf_token=" + tok.encode()]:
        st, h, page = b.req("POST", "/add_message", raw=body)
        assert st == 400 and h["Content-Type"].startswith("text/html"), (body, st)
        assert "Bad Request" in page
    st, _, page = b.req("POST", "/add_message", raw=b'{"text": "x"}',
                        headers={"Content-Type": "application/json"})
    assert st == 415
    assert c.db.scalar(f"SELECT count(*) FROM message m JOIN \"user\" u ON u.user_id = m.author_id "
                       f"WHERE u.username = '{me}'") == "0"
    # the page still works
    add_message(b, "still fine")


@test
def test_api_and_web_share_register(c):
    name = uniq("api")
    st, _, _ = api(c.srv.url, "POST", "/register", {"username": name, "email": "a@b", "pwd": "pw"})
    assert st == 204
    b = Browser(c.srv.url)
    _, _, page = login(b, name, "pw")
    assert "You were logged in" in page      # one password scheme for both
    st, _, page = b.get(f"/{name}")
    assert "This is you!" in page
    # an API user's page and a web user's API view
    web = uniq("web")
    register(Browser(c.srv.url), web, "pw")
    st, _, raw = api(c.srv.url, "POST", f"/msgs/{web}", {"content": "from the api"})
    assert st == 204
    _, _, page = b.get(f"/{web}")
    assert "from the api" in page


# ---- sessions

def session_rows(c, where="true"):
    return int(c.db.scalar(f"SELECT count(*) FROM web_session WHERE {where}"))


@test
def test_session_is_hashed_and_cookie_flags(c):
    b = Browser(c.srv.url)
    me = uniq("s")
    register(b, me, "pw")
    b.get("/login")
    st, h, _ = login(b, me, "pw", follow=False)
    assert st == 302 and h["Location"] == "/"
    setc = b.set_cookie
    assert "HttpOnly" in setc and "SameSite=Lax" in setc and "Path=/" in setc, setc
    assert "Secure" not in setc
    token = b.cookie
    assert len(token) == 43
    want = hashlib.sha256(token.encode()).hexdigest()
    rows = c.db.psql(f"SELECT encode(token_hash, 'hex') FROM web_session s JOIN \"user\" u "
                     f"ON u.user_id = s.user_id WHERE u.username = '{me}'")
    assert rows == [[want]], rows
    assert session_rows(c, f"token_hash::text LIKE '%{token}%' OR csrf_token = '{token}'") == 0
    # signing in replaced the anonymous session (new token)
    assert b.cookie != getattr(b, "anon", None)


@test
def test_session_fixation_and_logout_deletes(c):
    b = Browser(c.srv.url)
    me = uniq("fix")
    register(b, me, "pw")
    b.get("/login")
    anon = b.cookie
    login(b, me, "pw")
    assert b.cookie != anon
    # the anonymous token planted before sign-in is not signed in
    b2 = Browser(c.srv.url)
    b2.cookie = anon
    st, h, _ = b2.get("/", follow=False)
    assert st == 302 and h["Location"] == "/public"
    signed = b.cookie
    logout(b)
    assert b.cookie != signed
    b3 = Browser(c.srv.url)
    b3.cookie = signed
    st, h, _ = b3.get("/", follow=False)
    assert st == 302 and h["Location"] == "/public"
    assert session_rows(c, f"user_id = (SELECT user_id FROM \"user\" WHERE username = '{me}')") == 0


@test
def test_session_survives_restart_and_is_shared(c):
    srv = Server(c.db.dsn)
    try:
        b = Browser(srv.url)
        me = uniq("restart")
        register_and_login(b, me, "pw")
        add_message(b, "before the restart")
        srv.stop()
        srv2 = Server(c.db.dsn)
        srv3 = Server(c.db.dsn)
        try:
            for s in (srv2, srv3):
                b.url = s.url
                st, _, page = b.get("/")
                assert st == 200 and f"sign out [{me}]" in page, s.url
                assert "before the restart" in page
            # a flash set on one server shows on the other
            b.url = srv2.url
            _, _, page = b.get("/")
            b.req("POST", "/add_message", form={"text": "cross", "csrf_token": b.csrf(page)},
                  follow=False)
            b.url = srv3.url
            _, _, page = b.get("/")
            assert "Your message was recorded" in page and "cross" in page
        finally:
            srv2.stop()
            srv3.stop()
    finally:
        srv.stop()


@test
def test_expired_session(c):
    b = Browser(c.srv.url)
    me = uniq("exp")
    register_and_login(b, me, "pw")
    st, _, page = b.get("/")
    assert st == 200
    tok = b.csrf(page)
    c.db.psql(f"UPDATE web_session SET expires_at = extract(epoch FROM now())::bigint - 1 "
              f"WHERE user_id = (SELECT user_id FROM \"user\" WHERE username = '{me}')")
    st, h, _ = b.get("/", follow=False)
    assert st == 302 and h["Location"] == "/public"
    st, _, page = b.req("POST", "/add_message", form={"text": "late", "csrf_token": tok})
    assert st == 401
    # a short configured TTL: the cookie's Max-Age says it, the row expires
    srv = Server(c.db.dsn, extra_env={"MINITWIT_WEB_SESSION_TTL": "60s"})
    try:
        b2 = Browser(srv.url)
        register(b2, me + "x", "pw")
        login(b2, me + "x", "pw", follow=False)
        assert "Max-Age=60;" in b2.set_cookie
        left = int(c.db.scalar(f"SELECT expires_at - extract(epoch FROM now())::bigint "
                               f"FROM web_session WHERE user_id = (SELECT user_id FROM \"user\" "
                               f"WHERE username = '{me}x')"))
        assert 55 <= left <= 61, left
    finally:
        srv.stop()
    # garbage: a forged or malformed cookie is just "signed out"
    for bad in ["x", "A" * 43, "A" * 44 + ";", "%00"]:
        b3 = Browser(c.srv.url)
        b3.cookie = bad
        st, _, page = b3.get("/public")
        assert st == 200 and "sign out" not in page


# ---- rate limiting

def login_from(url, source, name, password, headers=None):
    """A plain sign-in from a client at another loopback address."""
    b = Browser(url, source=source)
    st, h, page = b.req("POST", "/login", form={"username": name, "password": password},
                        headers=headers, follow=False)
    return st, h, page


def refusals(url, reason):
    _, _, body = request(url, "GET", "/metrics")
    m = re.search(r'^minitwit_web_refused_total\{reason="%s"\} (\d+)$' % reason, body.decode(),
                  re.M)
    return int(m.group(1))


LIMITS = {"MINITWIT_WEB_LOGIN_LIMIT_USER": "3", "MINITWIT_WEB_LOGIN_LIMIT_ADDR": "6",
          "MINITWIT_WEB_LOGIN_WINDOW": "10m", "MINITWIT_WEB_LOGIN_DELAY": "1s",
          "MINITWIT_WEB_LOGIN_MAX_DELAY": "3s"}


@test
def test_login_limits_per_client(c):
    srv = Server(c.db.dsn, extra_env=LIMITS)
    try:
        me = uniq("rl")
        course_register(srv.url, me, "right")
        # client A fails 3 times for me: A must wait, even with the right password
        for _ in range(3):
            st, _, page = login_from(srv.url, "127.0.0.2", me, "wrong")
            assert st == 200 and "Invalid password" in page
        st, h, page = login_from(srv.url, "127.0.0.2", me, "right")
        assert st == 429 and "Too many failed sign-ins" in page, (st, page[:500])
        assert h["Retry-After"] == "1", h
        assert refusals(srv.url, "login-delay-client-user") == 1
        # ... but the user, from a client that has not failed, is never refused
        st, h, _ = login_from(srv.url, "127.0.0.3", me, "right")
        assert st == 302 and h["Location"] == "/", st
        # nor after failing less than the limit there
        for _ in range(2):
            login_from(srv.url, "127.0.0.3", me, "wrong")
        st, _, _ = login_from(srv.url, "127.0.0.3", me, "right")
        assert st == 302
        # A's delay grows with each failure after it: 1s, then 2s
        wait_until(lambda: login_from(srv.url, "127.0.0.2", me, "wrong")[0] == 200,
                   timeout=5, what="client A's first delay to end")
        st, h, _ = login_from(srv.url, "127.0.0.2", me, "right")
        assert st == 429 and h["Retry-After"] == "2", (st, h)
        # after the wait, A's right password is accepted and clears A's count
        wait_until(lambda: login_from(srv.url, "127.0.0.2", me, "right")[0] == 302,
                   timeout=5, what="client A's second delay to end")
        for _ in range(2):      # (A has 4 of its 6 failures as a client now)
            st, _, page = login_from(srv.url, "127.0.0.2", me, "wrong")
            assert st == 200 and "Invalid password" in page
        # per client, whatever the names: 6 failures, then even new names wait
        for i in range(6):
            st, _, page = login_from(srv.url, "127.0.0.4", uniq("nobody"), "x")
            assert st == 200 and "Invalid username" in page, i
        st, h, page = login_from(srv.url, "127.0.0.4", me, "right")
        assert st == 429 and 500 < int(h["Retry-After"]) <= 600, (st, h)
        assert refusals(srv.url, "login-limit-client") == 1
        st, _, _ = login_from(srv.url, "127.0.0.5", me, "right")
        assert st == 302
        # the simulator API's /register is not a sign-in and is not limited
        for i in range(10):
            st, _, _ = api(srv.url, "POST", "/register",
                           {"username": uniq("sim"), "email": "a@b", "pwd": "pw"})
            assert st == 204, (i, st)
        # another server process has its own counters (documented: per process)
        st, _, _ = login_from(c.srv.url, "127.0.0.2", me, "right")
        assert st == 302
    finally:
        srv.stop()


@test
def test_login_limit_concurrent_guesses(c):
    """The check and the count are one step: 30 guesses at once get no more
    than the limit checked."""
    import concurrent.futures
    srv = Server(c.db.dsn, extra_env=dict(LIMITS, MINITWIT_WEB_LOGIN_DELAY="10m",
                                          MINITWIT_WEB_LOGIN_MAX_DELAY="10m"))
    try:
        me = uniq("race")
        course_register(srv.url, me, "right")
        with concurrent.futures.ThreadPoolExecutor(30) as ex:
            got = list(ex.map(lambda _: login_from(srv.url, "127.0.0.6", me, "guess")[0],
                              range(30)))
        assert got.count(200) == 3 and got.count(429) == 27, got
        st, _, _ = login_from(srv.url, "127.0.0.6", me, "right")
        assert st == 429
        st, _, _ = login_from(srv.url, "127.0.0.7", me, "right")
        assert st == 302
    finally:
        srv.stop()


@test
def test_login_limits_behind_trusted_proxy(c):
    srv = Server(c.db.dsn, extra_env=dict(LIMITS, MINITWIT_HTTP_TRUSTED_PROXIES="127.0.0.1"))
    try:
        me = uniq("xff")
        course_register(srv.url, me, "right")
        # from the proxy, X-Forwarded-For names the client
        for _ in range(3):
            st, _, _ = login_from(srv.url, None, me, "wrong",
                                  headers={"X-Forwarded-For": "10.0.0.1"})
            assert st == 200
        st, _, _ = login_from(srv.url, None, me, "right", headers={"X-Forwarded-For": "10.0.0.1"})
        assert st == 429
        st, _, _ = login_from(srv.url, None, me, "right", headers={"X-Forwarded-For": "10.0.0.2"})
        assert st == 302
        # a client's own X-Forwarded-For before the proxy's entry is not believed
        st, _, _ = login_from(srv.url, None, me, "right",
                              headers={"X-Forwarded-For": "10.0.0.2, 10.0.0.1"})
        assert st == 429
        # a chain of trusted proxies is skipped from the right
        st, _, _ = login_from(srv.url, None, me, "right",
                              headers={"X-Forwarded-For": "10.0.0.1, 127.0.0.1"})
        assert st == 429
        # from elsewhere the header is ignored: the peer's address counts
        for i in range(3):
            st, _, _ = login_from(srv.url, "127.0.0.2", me, "wrong",
                                  headers={"X-Forwarded-For": f"10.1.0.{i}"})
            assert st == 200
        st, _, _ = login_from(srv.url, "127.0.0.2", me, "right",
                              headers={"X-Forwarded-For": "10.1.0.99"})
        assert st == 429
    finally:
        srv.stop()


# ---- pagination

@test
def test_pagination(c):
    b = Browser(c.srv.url)
    me, friend = uniq("pg"), uniq("pgf")
    register(b, friend, "pw")
    register_and_login(b, me, "pw")
    c.db.psql(f"INSERT INTO message (author_id, text, pub_date, flagged) "
              f"SELECT u.user_id, 'page msg ' || g, 1600000000 + g, 0 "
              f"FROM \"user\" u, generate_series(1, 65) g WHERE u.username = '{me}'")
    c.db.psql(f"INSERT INTO message (author_id, text, pub_date, flagged) "
              f"SELECT u.user_id, 'friend msg ' || g, 1600000000 + g, g % 2 "
              f"FROM \"user\" u, generate_series(1, 40) g WHERE u.username = '{friend}'")

    def walk(path):
        seen = []
        pages = 0
        while path:
            st, _, page = b.get(path)
            assert st == 200, (path, st)
            pages += 1
            texts = re.findall(r"\n      ((?:page|friend) msg \d+)\n", page)
            seen.append(texts)
            m = re.search(r'<a class="older" href="([^"]+)"', page)
            path = html.unescape(m.group(1)) if m else None
        return seen

    pages = walk(f"/{me}")
    assert [len(p) for p in pages] == [30, 30, 5], [len(p) for p in pages]
    flat = [t for p in pages for t in p]
    assert flat == [f"page msg {g}" for g in range(65, 0, -1)]
    # my timeline merges a followed author's unflagged messages
    b.get(follow_link(b, friend, "follow"))
    flat = [t for p in walk("/") for t in p]
    assert len(flat) == 65 + 20 and len(set(flat)) == len(flat)
    assert "friend msg 1" not in flat and "friend msg 2" in flat
    # newest first across both authors (ties broken by id)
    assert flat[0] in ("page msg 65", "friend msg 39")
    st, _, page = b.get("/public")
    assert page.count("<li><img") == 30 and 'class="older"' in page
    for bad in ["/public?before=x", "/public?before=1:", "/public?before=:1",
                "/public?before=99999999999:1"]:
        st, _, _ = b.get(bad)
        assert st == 400, bad


# ---- legacy import

@test
def test_import_legacy_and_pbkdf2_upgrade(c):
    # the legacy database: the scenario's end state as the reference app
    # stores it (scripts/scenario.py), Werkzeug pbkdf2 hashes included
    rows = scenario.read_rows(scenario.default_scenario())
    want = scenario.end_state(rows)
    n_users, n_msgs = len(want["users"]), len(want["tweets"])
    legacy = scenario.legacy_db()
    name, (_, password) = next(iter(want["users"].items()))     # the first to register
    who = name.replace("'", "''")
    timeline = sum(1 for u, _, _ in want["tweets"] if u == name or (name, u) in want["follows"])
    db = Cluster("legacy")
    srv = None
    try:
        out = subprocess.run([os.path.join(REPO, "scripts", "import-legacy"), "--migrate", legacy, db.dsn],
                             capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        assert db.scalar('SELECT count(*) FROM "user"') == str(n_users)
        assert db.scalar("SELECT count(*) FROM message") == str(n_msgs)
        assert db.scalar("SELECT count(*) FROM follower") == str(len(want["follows"]))
        # a second import is refused, nothing doubled
        again = subprocess.run([os.path.join(REPO, "scripts", "import-legacy"), legacy, db.dsn],
                               capture_output=True, text=True)
        assert again.returncode == 1 and "not empty" in again.stderr, again.stderr
        assert db.scalar("SELECT count(*) FROM message") == str(n_msgs)

        old = db.scalar(f"SELECT pw_hash FROM \"user\" WHERE username = '{who}'")
        assert old.startswith("pbkdf2:sha256:"), old

        srv = Server(db.dsn)
        b = Browser(srv.url)
        _, _, page = login(b, name, password + "x")
        assert "Invalid password" in page
        assert db.scalar(f"SELECT pw_hash FROM \"user\" WHERE username = '{who}'") == old
        _, _, page = login(b, name, password)
        assert "You were logged in" in page and f"sign out [{html.escape(name)}]" in page
        new = db.scalar(f"SELECT pw_hash FROM \"user\" WHERE username = '{who}'")
        assert new.startswith("$argon2id$"), new
        # the legacy data shows: his timeline and the people he follows
        _, _, page = b.get("/")
        assert page.count("<li><img") == min(30, timeline), (page.count("<li><img"), timeline)
        logout(b)
        _, _, page = login(b, name, password)
        assert "You were logged in" in page
        # the sequences continue past the imported ids
        logout(b)
        fresh = uniq("new")
        register(b, fresh, "pw")
        assert int(db.scalar(f"SELECT user_id FROM \"user\" WHERE username = '{fresh}'")) > n_users
        api(srv.url, "POST", "/msgs/" + q(name), {"content": "after import"})
        assert int(db.scalar("SELECT message_id FROM message WHERE text = 'after import'")) > n_msgs
    finally:
        if srv:
            srv.stop()
        db.stop()




@test
def test_unknown_user_sign_in_checks_a_hash(c):
    """A sign-in for a name that does not exist checks the password against
    a dummy hash, as a wrong password does, so that its time does not tell
    which names exist; the message stays the course's."""
    b = Browser(c.srv.url, source="127.0.0.9")
    me = uniq("tim")
    register(b, me, "pw")
    v0 = metric(c.srv.url, "minitwit_password_verifications_total")
    st, _, page = login(Browser(c.srv.url, source="127.0.0.9"), me, "wrong")
    assert st == 200 and "Invalid password" in page
    v1 = metric(c.srv.url, "minitwit_password_verifications_total")
    assert v1 == v0 + 1, (v0, v1)
    st, _, page = login(Browser(c.srv.url, source="127.0.0.9"), uniq("nobody"), "pw")
    assert st == 200 and "Invalid username" in page
    assert metric(c.srv.url, "minitwit_password_verifications_total") == v1 + 1


@test
def test_anonymous_forms_store_no_session(c):
    """The sign-in and sign-up forms of a visitor without a session create
    no row: their token comes from a nonce in the cookie; it still lets
    that visitor's form through whatever the headers say, and no other."""
    me = uniq("nonce")
    register(Browser(c.srv.url), me, "pw")
    before = session_rows(c)
    hostile = {"Sec-Fetch-Site": "cross-site", "Origin": "http://evil.example"}
    pages = []
    for path in ("/login", "/register", "/login"):
        b = Browser(c.srv.url)
        st, _, page = b.get(path)
        assert st == 200 and b.cookie and "Max-Age=3600" in b.set_cookie, (path, st)
        pages.append((b, b.csrf(page)))
    assert session_rows(c) == before
    (b1, t1), (b2, t2), (b3, t3) = pages
    assert len({t1, t2, t3}) == 3 and len({b1.cookie, b2.cookie, b3.cookie}) == 3
    # the same visitor keeps its nonce and token
    _, _, page = b1.get("/login")
    assert b1.csrf(page) == t1 and session_rows(c) == before
    # another visitor's token is not this one's
    st, _, _ = b3.req("POST", "/login", form={"username": me, "password": "pw", "csrf_token": t1},
                      headers=hostile)
    assert st == 403
    st, _, page = b1.req("POST", "/login", form={"username": me, "password": "pw",
                                                 "csrf_token": t1}, headers=hostile)
    assert st == 200 and "You were logged in" in page, st
    assert session_rows(c) == before + 1


@test
def test_web_sign_ups_limited_per_client_not_the_api(c):
    """web.signup_limit sign-ups per client address through the web form,
    then 429 with Retry-After; other clients and the simulator API's
    /register (the simulator registers hundreds from one address) go on."""
    srv = Server(c.db.dsn, extra_env={"MINITWIT_WEB_SIGNUP_LIMIT": "3"})

    def sign_up(source, name):
        return Browser(srv.url, source=source).req(
            "POST", "/register", form={"username": name, "password": "pw", "password2": "pw",
                                       "email": "a@b"})
    try:
        for i in range(3):
            st, _, page = sign_up("127.0.0.21", uniq("lim"))
            assert st == 200 and "You were successfully registered" in page, (i, st)
        name = uniq("lim")
        st, h, page = sign_up("127.0.0.21", name)
        assert st == 429 and "Too many sign-ups" in page, st
        assert int(h["Retry-After"]) > 0
        assert c.db.scalar(f"SELECT count(*) FROM \"user\" WHERE username = '{name}'") == "0"
        st, _, page = sign_up("127.0.0.22", uniq("lim"))
        assert st == 200 and "You were successfully registered" in page
        for i in range(10):
            st, _, _ = api(srv.url, "POST", "/register", {"username": uniq("sim"), "email": "a@b",
                                                          "pwd": "pw"})
            assert st == 204, (i, st)
        st, _, body = request(srv.url, "GET", "/metrics")
        assert 'minitwit_web_refused_total{reason="signup-limit-client"} 1' in body.decode()
    finally:
        srv.stop()

if __name__ == "__main__":
    sys.exit(run_tests(setup=setup))
