// Resets a forgotten password through Portcullis in headless Chromium: the login
// page's link, the forgot-password form, the emailed link (read from the gateway's
// log, email in `log` mode, as a person trying the demo would), the reset form,
// then a sign-in with the new password; a screenshot of each page.
//
// Environment: as lib.mjs says, with PORTCULLIS_LOG; PORTCULLIS_URL is also the
// tenant's public_url, PORTCULLIS_PASSWORD the current password, and
// PORTCULLIS_NEW_PASSWORD the one to set.
// Exits non-zero with a message on the first step that does not behave.
import {
  base, user, password as oldPassword, fail, fromLog, launchChromium, Screenshots,
} from './lib.mjs';

const newPassword = process.env.PORTCULLIS_NEW_PASSWORD;
const shots = new Screenshots('screenshots/forgot');

// The reset link in the log.
function linkFromLog() {
  const pattern = /(https?:\/\/[^\s"'\\]+\/\.portcullis\/reset\?token=[A-Za-z0-9_-]{43})/;
  return fromLog((log) => log.match(pattern)?.[1], 'reset link');
}

async function alertText(page) {
  return (await page.getByRole('alert').textContent()).trim();
}

const browser = await launchChromium();
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });

  // The login page links to the forgot-password form.
  await page.goto(`${base}/.portcullis/login`);
  await shots.take(page, 'login');
  await page.getByRole('link', { name: 'Forgot password?' }).click();
  await page.waitForURL('**/.portcullis/forgot');
  await shots.take(page, 'forgot');

  // The same answer whatever was typed; the link goes out in the background.
  await page.getByLabel('User name or email').fill(user);
  await page.getByRole('button', { name: 'Send reset link' }).click();
  await page.getByRole('heading', { name: 'Check your email' }).waitFor();
  const status = await page.getByRole('status').textContent();
  if (!/If an account matches/.test(status)) fail(`unexpected answer: ${status}`);
  await shots.take(page, 'forgot-sent');

  // The link from the mail points at the tenant's public URL.
  const link = await linkFromLog();
  if (!link.startsWith(`${base}/.portcullis/reset?token=`)) {
    fail(`the link ${link} is not on ${base}`);
  }
  await page.goto(link);
  await page.getByRole('heading', { name: 'Choose a new password' }).waitFor();
  await shots.take(page, 'reset');

  // Two different passwords: the page says so and keeps the form.
  await page.getByLabel('New password', { exact: true }).fill(newPassword);
  await page.getByLabel('Repeat the new password').fill(`${newPassword}x`);
  await page.getByRole('button', { name: 'Set password' }).click();
  const mismatch = await alertText(page);
  if (mismatch !== 'The two passwords differ.') fail(`mismatch message: ${mismatch}`);
  await shots.take(page, 'reset-mismatch');

  await page.getByLabel('New password', { exact: true }).fill(newPassword);
  await page.getByLabel('Repeat the new password').fill(newPassword);
  await page.getByRole('button', { name: 'Set password' }).click();
  await page.getByRole('heading', { name: 'Password changed' }).waitFor();
  await shots.take(page, 'password-changed');

  // Not signed in by the reset: the notice leads to the login page.
  await page.getByRole('link', { name: 'Sign in' }).click();
  await page.waitForURL('**/.portcullis/login');

  // The old password no longer works; the new one reaches the app.
  await page.getByLabel('User name or email').fill(user);
  await page.getByLabel('Password').fill(oldPassword);
  await page.getByRole('button', { name: 'Sign in' }).click();
  const refused = await alertText(page);
  if (refused !== 'Invalid user name or password.') fail(`the old password: ${refused}`);
  await shots.take(page, 'login-old-password');

  await page.getByLabel('User name or email').fill(user);
  await page.getByLabel('Password').fill(newPassword);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${base}/`);
  const body = await page.textContent('body');
  if (!body.includes(`Hello, ${user}`)) {
    fail(`the upstream did not greet the user: ${body.slice(0, 300)}`);
  }
  await shots.take(page, 'upstream');

  // The link worked once.
  await page.goto(link);
  await page.getByRole('heading', { name: 'This link no longer works' }).waitFor();
  await shots.take(page, 'link-used');

  console.log(JSON.stringify({ ok: true, screenshots: shots.dir, pages: shots.count }));
} finally {
  await browser.close();
}
