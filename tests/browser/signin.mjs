// Signs in through Portcullis in headless Chromium: login, send-code, verify,
// then the upstream app, saving a screenshot of each page. The code is read from
// the gateway's log (email in `log` mode), as a person trying the demo would.
//
// Environment: as lib.mjs says, with PORTCULLIS_LOG.
// Exits non-zero with a message on the first step that does not behave.
import {
  base, user, password, fail, fromLog, gatewayLog, launchChromium, Screenshots,
} from './lib.mjs';

const shots = new Screenshots('screenshots', 1);

// The newest code in the log after line `after`.
function codeFromLog(after) {
  return fromLog((log) => {
    const lines = log.split('\n').slice(after);
    const found = lines.map((l) => l.match(/sign-in code is (\d{6,10})/)).filter(Boolean).pop();
    return found && found[1];
  }, 'code');
}

const logLines = () => gatewayLog().split('\n').length;

const browser = await launchChromium();
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });

  // A protected page sends the browser to the login page, keeping the return path.
  await page.goto(`${base}/app/page?x=1`);
  if (!page.url().includes('/.portcullis/login?return=')) fail(`expected the login page, got ${page.url()}`);
  await shots.take(page, 'login');

  await page.getByLabel('User name or email').fill(user);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL('**/.portcullis/send-code');
  await shots.take(page, 'send-code');

  const before = logLines();
  await page.getByLabel(/Email/).check();
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.waitForURL('**/.portcullis/verify-code?provider=email');
  await shots.take(page, 'verify');

  // A wrong code first: the page says so and stays.
  await page.getByLabel('Code', { exact: true }).fill('000000');
  await page.getByRole('button', { name: 'Verify' }).click();
  const alert = await page.getByRole('alert').textContent();
  if (!/not right/.test(alert)) fail(`expected a wrong-code message, got ${alert}`);
  await shots.take(page, 'verify-wrong');

  const code = await codeFromLog(before - 1);
  await page.getByLabel('Code', { exact: true }).fill(code);
  await page.getByLabel(/Remember this browser/).check();
  await page.getByRole('button', { name: 'Verify' }).click();
  await page.waitForURL(`${base}/app/page?x=1`);
  const body = await page.textContent('body');
  if (!body.includes(`Hello, ${user}`)) fail(`the upstream did not greet the user: ${body.slice(0, 300)}`);
  if (!/x-auth-methods\s*pwd,email/.test(body)) fail('the upstream did not receive x-auth-methods pwd,email');
  await shots.take(page, 'upstream');

  // Sign out through the page, then a protected page asks for the login again.
  await page.goto(`${base}/.portcullis/logout`);
  await shots.take(page, 'logout');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await shots.take(page, 'signed-out');
  await page.goto(`${base}/app/page`);
  if (!page.url().includes('/.portcullis/login')) fail('a signed-out browser reached the upstream');

  console.log(JSON.stringify({ ok: true, screenshots: shots.dir, pages: shots.count }));
} finally {
  await browser.close();
}
