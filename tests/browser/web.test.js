#!/usr/bin/env node
// Real-browser test of minitwitd's web UI: Debian's chromium, headless,
// driven by playwright-core (no browser download: the system binary).
//
//   node tests/browser/web.test.js BASE_URL OUT_DIR OTHER_USER [FORGE_URL]
//
// OTHER_USER must exist and have posted a message (the caller creates it
// through the API).  The test signs up a new user, signs in, posts, follows
// and unfollows OTHER_USER, signs out, checks what a person sees on each
// page (visible text, not markup), and saves a PNG screenshot of every page
// under OUT_DIR.  FORGE_URL is another origin serving pages that, once
// opened, make the browser post a form to BASE_URL or open its follow link
// (post.html, register.html, follow.html; see test_browser.py): while
// signed in, each is opened and must be refused with 403.  Prints one line per step and "N passed, M failed" last;
// exits 1 on any failure.  A missing chromium or playwright-core is a
// failure, never a skip.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const [base, outDir, other, forge] = process.argv.slice(2);
if (!base || !outDir || !other) {
  console.error('usage: web.test.js BASE_URL OUT_DIR OTHER_USER');
  process.exit(2);
}

let passed = 0;
let failed = 0;

function finish(code) {
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(code);
}

let chromium;
try {
  ({ chromium } = require('playwright-core'));
} catch (e) {
  console.log(`FAIL setup: playwright-core is not installed (${e.message}); ` +
              'run `npm ci` in tests/browser');
  failed++;
  finish(1);
}
if (!fs.existsSync(CHROMIUM)) {
  console.log(`FAIL setup: no browser at ${CHROMIUM}; install Debian's chromium ` +
              '(scripts/install-deps --with-browser)');
  failed++;
  finish(1);
}

// A grey square stands in for Gravatar's pictures: the test machine may
// have no internet, and the screenshots should not depend on it.
const AVATAR = '<svg xmlns="http://www.w3.org/2000/svg" width="48" height="48">' +
  '<rect width="48" height="48" fill="#9bc"/><circle cx="24" cy="18" r="9" fill="#fff"/>' +
  '<rect x="10" y="30" width="28" height="14" rx="7" fill="#fff"/></svg>';

function expect(cond, what) {
  if (!cond) throw new Error(what);
}

async function main() {
  fs.mkdirSync(outDir, { recursive: true });
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'minitwit-chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 900, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  await ctx.route('https://www.gravatar.com/**',
                  (route) => route.fulfill({ status: 200, contentType: 'image/svg+xml', body: AVATAR }));
  const page = ctx.pages()[0] || await ctx.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  // a refused forged request is logged as a failed load: expected there only
  let forging = false;
  page.on('console', (m) => {
    if (m.type() === 'error' && !(forging && m.text().includes('status of 403'))) errors.push(m.text());
  });

  const me = 'chromium-' + Math.random().toString(36).slice(2, 8);
  const pw = 'correct horse ' + Math.random().toString(36).slice(2, 6);
  const text = 'Hello from a real browser <b>not bold</b> & "quoted"';
  let shot = 0;

  async function visible() {
    return page.innerText('body');
  }
  async function screenshot(name) {
    shot++;
    const file = path.join(outDir, `${String(shot).padStart(2, '0')}-${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
  }
  async function submit(selector) {
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click(selector)]);
  }
  async function step(name, fn) {
    try {
      await fn();
      await screenshot(name);
      passed++;
      console.log(`ok   ${name}`);
    } catch (e) {
      failed++;
      console.log(`FAIL ${name}: ${e.message}`);
      try { await screenshot(name + '-failed'); } catch (_) { /* the page may be gone */ }
    }
  }

  await step('public-timeline', async () => {
    await page.goto(base + '/', { waitUntil: 'load' });
    expect(new URL(page.url()).pathname === '/public', 'signed out, / goes to /public');
    expect(await page.title() === 'Public Timeline | MiniTwit', 'title ' + await page.title());
    const body = await visible();
    expect(body.includes('public timeline | sign up | sign in'), 'signed-out navigation');
    // the stylesheet applied: the original's teal header
    const bg = await page.$eval('h1', (h) => getComputedStyle(h).backgroundColor);
    expect(bg === 'rgb(110, 204, 196)', 'h1 background ' + bg);
  });

  await step('sign-up', async () => {
    await page.click('text=sign up');
    await page.waitForURL('**/register');
    expect(await page.title() === 'Sign Up | MiniTwit', 'title');
    await page.fill('input[name=username]', me);
    await page.fill('input[name=email]', me + '@example.com');
    await page.fill('input[name=password]', pw);
    await page.fill('input[name=password2]', pw + 'typo');
    await submit('input[type=submit]');
    expect((await visible()).includes('Error: The two passwords do not match'), 'mismatch error');
    await page.fill('input[name=password]', pw);
    await page.fill('input[name=password2]', pw);
    await submit('input[type=submit]');
    expect(new URL(page.url()).pathname === '/login', 'redirected to /login: ' + page.url());
    expect((await visible()).includes('You were successfully registered and can login now'),
           'registered flash');
  });

  await step('sign-in', async () => {
    await page.fill('input[name=username]', me);
    await page.fill('input[name=password]', 'wrong');
    await submit('input[type=submit]');
    expect((await visible()).includes('Error: Invalid password'), 'wrong password refused');
    await page.fill('input[name=password]', pw);
    await submit('input[type=submit]');
    const body = await visible();
    expect(body.includes('You were logged in'), 'logged-in flash');
    expect(await page.title() === 'My Timeline | MiniTwit', 'title ' + await page.title());
    expect(body.includes(`sign out [${me}]`), 'signed-in navigation');
    expect(body.includes(`What's on your mind ${me}?`), 'twitbox');
    expect(body.includes("There's no message so far."), 'empty timeline');
  });

  await step('post-message', async () => {
    await page.fill('input[name=text]', text);
    await submit('input[value=Share]');
    const body = await visible();
    expect(body.includes('Your message was recorded'), 'recorded flash');
    // shown as the text typed, not as markup
    expect(body.includes(text), 'message text visible as typed');
    expect(await page.$('ul.messages b') === null, 'no <b> element from the message');
    expect(/\d{4}-\d\d-\d\d @ \d\d:\d\d/.test(body), 'date format');
    const src = await page.$eval('ul.messages img', (i) => i.getAttribute('src'));
    expect(/^https:\/\/www\.gravatar\.com\/avatar\/[0-9a-f]{32}\?d=identicon&s=48$/.test(src),
           'gravatar ' + src);
  });

  await step('follow', async () => {
    await page.goto(base + '/' + encodeURIComponent(other), { waitUntil: 'load' });
    expect((await visible()).includes('You are not yet following this user.'), 'not following');
    await submit('a.follow');
    const body = await visible();
    expect(body.includes(`You are now following "${other}"`), 'follow flash');
    expect(body.includes('You are currently following this user.'), 'now following');
    await page.click('text=my timeline');
    await page.waitForURL(base + '/');
    expect((await visible()).includes(`message from ${other}`), "followed user's message on my timeline");
  });

  await step('unfollow', async () => {
    await page.goto(base + '/' + encodeURIComponent(other), { waitUntil: 'load' });
    await submit('a.unfollow');
    const body = await visible();
    expect(body.includes(`You are no longer following "${other}"`), 'unfollow flash');
    expect(body.includes('You are not yet following this user.'), 'not following again');
    await page.goto(base + '/', { waitUntil: 'load' });
    expect(!(await visible()).includes(`message from ${other}`), 'gone from my timeline');
  });

  // Another site's page makes the signed-in browser send a request: the
  // browser labels it cross-site and minitwitd refuses it, whatever the
  // cookie (SameSite=Lax withholds it from the POSTs, not from the link).
  async function forged(pageName, target) {
    forging = true;
    try {
      const answer = page.waitForResponse((r) => r.url() === target, { timeout: 15000 });
      await page.goto(forge + '/' + pageName, { waitUntil: 'commit' });
      const r = await answer;
      await page.waitForURL(target);
      await page.waitForLoadState('load');
      // (playwright may not report the Sec-Fetch-* headers the network
      // stack adds; test_browser.py reads which rule refused it in /metrics)
      const site = (await r.request().allHeaders())['sec-fetch-site'];
      expect(site === undefined || site === 'cross-site', 'Sec-Fetch-Site ' + site);
      expect(r.status() === 403, 'status ' + r.status());
      const body = await visible();
      expect(body.includes('This request was refused'), 'the refusal says why: ' + body.slice(0, 300));
      expect(await page.title() === 'Forbidden | MiniTwit', 'title ' + await page.title());
    } finally {
      forging = false;
    }
  }
  if (forge) {
    await step('cross-site-post-refused', async () => {
      await forged('post.html', base + '/add_message');
    });
    await step('cross-site-register-refused', async () => {
      await forged('register.html', base + '/register');
    });
    await step('cross-site-follow-link-refused', async () => {
      await forged('follow.html', base + '/' + encodeURIComponent(other) + '/follow');
      // nothing changed, and the user is still signed in
      await page.goto(base + '/' + encodeURIComponent(other), { waitUntil: 'load' });
      const body = await visible();
      expect(body.includes('You are not yet following this user.'), 'still not following');
      expect(body.includes(`sign out [${me}]`), 'still signed in');
      await page.goto(base + '/', { waitUntil: 'load' });
      expect(!(await visible()).includes('forged by another site'), 'no forged message');
    });
  }

  await step('sign-out', async () => {
    await page.click(`text=sign out [${me}]`);
    await page.waitForURL('**/public');
    const body = await visible();
    expect(body.includes('You were logged out'), 'logged-out flash');
    expect(body.includes('public timeline | sign up | sign in'), 'signed-out navigation');
    expect(body.includes(text), 'the message is on the public timeline');
    // the session cookie is HttpOnly: scripts cannot read it
    expect(!(await page.evaluate(() => document.cookie)).includes('minitwit_session'), 'HttpOnly');
  });

  await step('no-page-errors', async () => {
    expect(errors.length === 0, 'console errors: ' + errors.join('; '));
  });

  await ctx.close();
  fs.rmSync(profile, { recursive: true, force: true });
}

main().then(() => finish(failed ? 1 : 0)).catch((e) => {
  failed++;
  console.log(`FAIL browser: ${e.stack || e}`);
  finish(1);
});
