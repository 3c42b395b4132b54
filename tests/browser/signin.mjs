// Signs in through Portcullis in headless Chromium: login, send-code, verify,
// then the upstream app, saving a screenshot of each page. The code is read from
// the gateway's log (email in `log` mode), as a person trying the demo would.
//
// Environment: PORTCULLIS_URL (e.g. http://localhost:8080), PORTCULLIS_USER,
// PORTCULLIS_PASSWORD, PORTCULLIS_LOG (the gateway's log file), SHOTS (directory).
// Exits non-zero with a message on the first step that does not behave.
import { chromium } from 'playwright-core';
import { readFileSync, mkdirSync } from 'node:fs';

const base = process.env.PORTCULLIS_URL;
const shots = process.env.SHOTS || 'screenshots';
mkdirSync(shots, { recursive: true });

function fail(msg) {
  console.error(`browser test failed: ${msg}`);
  process.exit(1);
}

async function codeFromLog(after) {
  for (let i = 0; i < 50; i++) {
    const lines = readFileSync(process.env.PORTCULLIS_LOG, 'utf8').split('\n').slice(after);
    const found = lines.map((l) => l.match(/sign-in code is (\d{6,10})/)).filter(Boolean).pop();
    if (found) return found[1];
    await new Promise((r) => setTimeout(r, 100));
  }
  fail('no code appeared in the gateway log');
}

const logLines = () => readFileSync(process.env.PORTCULLIS_LOG, 'utf8').split('\n').length;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });

  // A protected page sends the browser to the login page, keeping the return path.
  await page.goto(`${base}/app/page?x=1`);
  if (!page.url().includes('/.portcullis/login?return=')) fail(`expected the login page, got ${page.url()}`);
  await page.screenshot({ path: `${shots}/1-login.png`, fullPage: true });

  await page.getByLabel('User name or email').fill(process.env.PORTCULLIS_USER);
  await page.getByLabel('Password').fill(process.env.PORTCULLIS_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL('**/.portcullis/send-code');
  await page.screenshot({ path: `${shots}/2-send-code.png`, fullPage: true });

  const before = logLines();
  await page.getByLabel(/Email/).check();
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.waitForURL('**/.portcullis/verify-code?provider=email');
  await page.screenshot({ path: `${shots}/3-verify.png`, fullPage: true });

  // A wrong code first: the page says so and stays.
  await page.getByLabel('Code', { exact: true }).fill('000000');
  await page.getByRole('button', { name: 'Verify' }).click();
  const alert = await page.getByRole('alert').textContent();
  if (!/not right/.test(alert)) fail(`expected a wrong-code message, got ${alert}`);
  await page.screenshot({ path: `${shots}/4-verify-wrong.png`, fullPage: true });

  const code = await codeFromLog(before - 1);
  await page.getByLabel('Code', { exact: true }).fill(code);
  await page.getByLabel(/Remember this browser/).check();
  await page.getByRole('button', { name: 'Verify' }).click();
  await page.waitForURL(`${base}/app/page?x=1`);
  const body = await page.textContent('body');
  if (!body.includes(`Hello, ${process.env.PORTCULLIS_USER}`)) fail(`the upstream did not greet the user: ${body.slice(0, 300)}`);
  if (!/x-auth-methods\s*pwd,email/.test(body)) fail('the upstream did not receive x-auth-methods pwd,email');
  await page.screenshot({ path: `${shots}/5-upstream.png`, fullPage: true });

  // Sign out through the page, then a protected page asks for the login again.
  await page.goto(`${base}/.portcullis/logout`);
  await page.screenshot({ path: `${shots}/6-logout.png`, fullPage: true });
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.screenshot({ path: `${shots}/7-signed-out.png`, fullPage: true });
  await page.goto(`${base}/app/page`);
  if (!page.url().includes('/.portcullis/login')) fail('a signed-out browser reached the upstream');

  console.log(JSON.stringify({ ok: true, screenshots: shots }));
} finally {
  await browser.close();
}
