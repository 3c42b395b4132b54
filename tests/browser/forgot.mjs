// Resets a forgotten password through Portcullis in headless Chromium: the login
// page's link, the forgot-password form, the emailed link (read from the gateway's
// log, email in `log` mode, as a person trying the demo would), the reset form,
// then a sign-in with the new password; a screenshot of each page.
//
// Environment: PORTCULLIS_URL (e.g. http://localhost:8080, also the tenant's
// public_url), PORTCULLIS_USER, PORTCULLIS_PASSWORD (the current password),
// PORTCULLIS_NEW_PASSWORD, PORTCULLIS_LOG (the gateway's log file), SHOTS (directory).
// Exits non-zero with a message on the first step that does not behave.
import { chromium } from 'playwright-core';
import { readFileSync, mkdirSync } from 'node:fs';

const base = process.env.PORTCULLIS_URL;
const user = process.env.PORTCULLIS_USER;
const oldPassword = process.env.PORTCULLIS_PASSWORD;
const newPassword = process.env.PORTCULLIS_NEW_PASSWORD;
const shots = process.env.SHOTS || 'screenshots/forgot';
mkdirSync(shots, { recursive: true });

function fail(msg) {
  console.error(`browser test failed: ${msg}`);
  process.exit(1);
}

let shot = 0;
async function screenshot(page, name) {
  shot += 1;
  const n = String(shot).padStart(2, '0');
  await page.screenshot({ path: `${shots}/${n}-${name}.png`, fullPage: true });
}

// The reset link in the log (written after the answer, off the request path).
async function linkFromLog() {
  const pattern = /(https?:\/\/[^\s"'\\]+\/\.portcullis\/reset\?token=[A-Za-z0-9_-]{43})/;
  for (let i = 0; i < 50; i++) {
    const found = readFileSync(process.env.PORTCULLIS_LOG, 'utf8').match(pattern);
    if (found) return found[1];
    await new Promise((r) => setTimeout(r, 100));
  }
  fail('no reset link appeared in the gateway log');
}

async function alertText(page) {
  return (await page.getByRole('alert').textContent()).trim();
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });

  // The login page links to the forgot-password form.
  await page.goto(`${base}/.portcullis/login`);
  await screenshot(page, 'login');
  await page.getByRole('link', { name: 'Forgot password?' }).click();
  await page.waitForURL('**/.portcullis/forgot');
  await screenshot(page, 'forgot');

  // The same answer whatever was typed; the link goes out in the background.
  await page.getByLabel('User name or email').fill(user);
  await page.getByRole('button', { name: 'Send reset link' }).click();
  await page.getByRole('heading', { name: 'Check your email' }).waitFor();
  const status = await page.getByRole('status').textContent();
  if (!/If an account matches/.test(status)) fail(`unexpected answer: ${status}`);
  await screenshot(page, 'forgot-sent');

  // The link from the mail points at the tenant's public URL.
  const link = await linkFromLog();
  if (!link.startsWith(`${base}/.portcullis/reset?token=`)) {
    fail(`the link ${link} is not on ${base}`);
  }
  await page.goto(link);
  await page.getByRole('heading', { name: 'Choose a new password' }).waitFor();
  await screenshot(page, 'reset');

  // Two different passwords: the page says so and keeps the form.
  await page.getByLabel('New password', { exact: true }).fill(newPassword);
  await page.getByLabel('Repeat the new password').fill(`${newPassword}x`);
  await page.getByRole('button', { name: 'Set password' }).click();
  const mismatch = await alertText(page);
  if (mismatch !== 'The two passwords differ.') fail(`mismatch message: ${mismatch}`);
  await screenshot(page, 'reset-mismatch');

  await page.getByLabel('New password', { exact: true }).fill(newPassword);
  await page.getByLabel('Repeat the new password').fill(newPassword);
  await page.getByRole('button', { name: 'Set password' }).click();
  await page.getByRole('heading', { name: 'Password changed' }).waitFor();
  await screenshot(page, 'password-changed');

  // Not signed in by the reset: the notice leads to the login page.
  await page.getByRole('link', { name: 'Sign in' }).click();
  await page.waitForURL('**/.portcullis/login');

  // The old password no longer works; the new one reaches the app.
  await page.getByLabel('User name or email').fill(user);
  await page.getByLabel('Password').fill(oldPassword);
  await page.getByRole('button', { name: 'Sign in' }).click();
  const refused = await alertText(page);
  if (refused !== 'Invalid user name or password.') fail(`the old password: ${refused}`);
  await screenshot(page, 'login-old-password');

  await page.getByLabel('User name or email').fill(user);
  await page.getByLabel('Password').fill(newPassword);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${base}/`);
  const body = await page.textContent('body');
  if (!body.includes(`Hello, ${user}`)) {
    fail(`the upstream did not greet the user: ${body.slice(0, 300)}`);
  }
  await screenshot(page, 'upstream');

  // The link worked once.
  await page.goto(link);
  await page.getByRole('heading', { name: 'This link no longer works' }).waitFor();
  await screenshot(page, 'link-used');

  console.log(JSON.stringify({ ok: true, screenshots: shots, pages: shot }));
} finally {
  await browser.close();
}
