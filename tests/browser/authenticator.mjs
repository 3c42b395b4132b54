// Sets up an authenticator app through Portcullis in headless Chromium, then signs
// in with it and with a recovery code, saving a screenshot of each page. The app is
// played by this script: it reads the key off the set-up page, as a person types it
// into their phone, and computes RFC 6238 codes with node:crypto.
//
// Environment: as lib.mjs says; PORTCULLIS_USER is a user with no app yet, on a
// tenant with when_no_provider = "enrol".
// Exits non-zero with a message on the first step that does not behave.
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  base, user, password, fail, launchChromium, Screenshots, sleep,
} from './lib.mjs';

const shots = new Screenshots('screenshots');

// ----- The authenticator app --------------------------------------------------------

// RFC 4648 base32, read as people paste it: any case, spaces, padding.
function base32Decode(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const clean = text.replace(/[\s=-]/g, '').toUpperCase();
  let bits = 0;
  let value = 0;
  const out = [];
  for (const ch of clean) {
    const v = alphabet.indexOf(ch);
    if (v < 0) fail(`the key ${text} is not base32`);
    value = (value << 5) | v;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

// RFC 4226 HOTP with RFC 6238's counter: six digits of HMAC-SHA1 over the step.
function codeAtStep(secret, step) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const hs = createHmac('sha1', secret).update(counter).digest();
  const offset = hs[19] & 0x0f;
  const binary = hs.readUInt32BE(offset) & 0x7fffffff;
  return String(binary % 1_000_000).padStart(6, '0');
}

// Check the app against RFC 6238 Appendix B before trusting it (6 of the 8 digits).
if (codeAtStep(Buffer.from('12345678901234567890'), Math.floor(59 / 30)) !== '287082'
  || codeAtStep(Buffer.from('12345678901234567890'), Math.floor(1111111109 / 30)) !== '081804') {
  fail('the script\'s own TOTP does not match the RFC 6238 test vectors');
}

const currentStep = () => Math.floor(Date.now() / 30000);

// Waits out the last seconds of a step, so the gateway reads the code in the step
// it was made for.
async function roomInStep(ms = 3000) {
  const left = 30000 - (Date.now() % 30000);
  if (left < ms) await sleep(left + 50);
}

// ----- The walk -----------------------------------------------------------------------

async function signInWithPassword(page, next) {
  await page.goto(`${base}/app/page?x=1`);
  if (!page.url().includes('/.portcullis/login?return=')) fail(`expected the login page, got ${page.url()}`);
  await page.getByLabel('User name or email').fill(user);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`**${next}`);
}

async function expectUpstream(page, methods) {
  await page.waitForURL(`${base}/app/page?x=1`);
  const body = await page.textContent('body');
  if (!body.includes(`Hello, ${user}`)) fail(`the upstream did not greet the user: ${body.slice(0, 300)}`);
  if (!new RegExp(`x-auth-methods\\s*${methods}`).test(body)) fail(`the upstream did not receive x-auth-methods ${methods}`);
}

async function signOut(page) {
  await page.goto(`${base}/.portcullis/logout`);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.goto(`${base}/app/page`);
  if (!page.url().includes('/.portcullis/login')) fail('a signed-out browser reached the upstream');
}

async function chooseTheApp(page, name) {
  await page.waitForURL('**/.portcullis/send-code');
  await page.getByLabel(/Authenticator app/).check();
  await shots.take(page, name);
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.waitForURL('**/.portcullis/verify-code?provider=authenticator');
}

const browser = await launchChromium();
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  const page = await context.newPage();

  // 1. The password, then the set-up page: a user without an app must set one up.
  await page.goto(`${base}/app/page?x=1`);
  await shots.take(page, 'login');
  await signInWithPassword(page, '/.portcullis/enrol');
  const qr = page.locator('figure.qr svg');
  if (await qr.count() !== 1) fail('no inline SVG QR code on the set-up page');
  const key = (await page.locator('dd.secret').textContent()).trim();
  await page.getByText('Show the setup link').click();
  const uri = (await page.locator('p.secret-small').textContent()).trim();
  const secret = base32Decode(key.toLowerCase());
  if (secret.length !== 20) fail(`expected a 160-bit key, got ${secret.length} bytes`);
  if (!uri.startsWith('otpauth://totp/') || !uri.includes(`secret=${key.replace(/\s/g, '')}&`)) {
    fail(`the setup link ${uri} does not carry the key ${key}`);
  }
  await shots.take(page, 'set-up');

  // A wrong code first: the page says so and keeps the same key.
  await page.getByLabel('Code from the app').fill('12345');
  await page.getByRole('button', { name: 'Turn on' }).click();
  const alert = await page.getByRole('alert').textContent();
  if (!/not right/.test(alert)) fail(`expected a wrong-code message, got ${alert}`);
  if ((await page.locator('dd.secret').textContent()).trim() !== key) fail('the key changed after a wrong code');
  await shots.take(page, 'set-up-wrong-code');

  await roomInStep();
  const setUpStep = currentStep();
  await page.getByLabel('Code from the app').fill(codeAtStep(secret, setUpStep));
  await page.getByRole('button', { name: 'Turn on' }).click();

  // 2. Ten recovery codes, and a download holding them.
  await page.waitForSelector('ul.codes');
  const codes = (await page.locator('ul.codes li').allTextContents()).map((c) => c.trim());
  if (codes.length !== 10 || !codes.every((c) => /^[2-9A-HJKMNP-Z]{5}-[2-9A-HJKMNP-Z]{5}$/.test(c))) {
    fail(`expected ten XXXXX-XXXXX recovery codes, got ${JSON.stringify(codes)}`);
  }
  const href = await page.locator('a[download]').getAttribute('href');
  if (!href.startsWith('data:text/plain')) fail(`the download is not a text file: ${href.slice(0, 40)}`);
  const linked = decodeURIComponent(href.slice(href.indexOf(',') + 1));
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('link', { name: /Download/ }).click(),
  ]);
  const saved = readFileSync(await download.path(), 'utf8');
  for (const c of codes) {
    if (!linked.includes(c)) fail(`recovery code ${c} is not in the download link`);
    if (!saved.includes(c)) fail(`recovery code ${c} is not in the downloaded file`);
  }
  if (download.suggestedFilename() !== 'recovery-codes.txt') fail(`downloaded as ${download.suggestedFilename()}`);
  await shots.take(page, 'recovery-codes');

  await page.getByRole('link', { name: 'Continue' }).click();
  await expectUpstream(page, 'pwd,authenticator');
  await shots.take(page, 'upstream-after-set-up');

  await page.goto(`${base}/.portcullis/account`);
  if (!(await page.textContent('body')).includes('You have 10 recovery codes left.')) fail('the account page does not count ten codes');
  await shots.take(page, 'account');
  await signOut(page);

  // 3. Signing in with the app: the next step's code (the set-up used this one).
  await signInWithPassword(page, '/.portcullis/send-code');
  await chooseTheApp(page, 'send-code');
  await shots.take(page, 'verify-app');
  await roomInStep();
  await page.getByLabel('Code', { exact: true }).fill(codeAtStep(secret, Math.max(currentStep(), setUpStep + 1)));
  await page.getByRole('button', { name: 'Verify' }).click();
  await expectUpstream(page, 'pwd,authenticator');
  await shots.take(page, 'upstream-app-code');
  await signOut(page);

  // 4. Signing in with a recovery code instead.
  await signInWithPassword(page, '/.portcullis/send-code');
  await chooseTheApp(page, 'send-code-again');
  await page.getByText('Use a recovery code instead').click();
  await page.getByLabel('Recovery code').fill(codes[0]);
  await shots.take(page, 'verify-recovery-code');
  await page.getByRole('button', { name: 'Use recovery code' }).click();
  await expectUpstream(page, 'pwd,recovery');
  await shots.take(page, 'upstream-recovery-code');

  await page.goto(`${base}/.portcullis/account`);
  const account = await page.textContent('body');
  if (!account.includes('You have 9 recovery codes left.')) fail('the account page does not count the used code');
  if (!account.includes('Last used')) fail('the account page does not show the last use');
  await shots.take(page, 'account-after-recovery');
  await signOut(page);

  // 5. The used recovery code is dead.
  await signInWithPassword(page, '/.portcullis/send-code');
  await chooseTheApp(page, 'send-code-reuse');
  await page.getByText('Use a recovery code instead').click();
  await page.getByLabel('Recovery code').fill(codes[0]);
  await page.getByRole('button', { name: 'Use recovery code' }).click();
  const reused = await page.getByRole('alert').textContent();
  if (!/already used/.test(reused)) fail(`expected the used code to be refused, got ${reused}`);
  await shots.take(page, 'verify-recovery-code-reused');

  console.log(JSON.stringify({ ok: true, screenshots: shots.dir, pages: shots.count }));
} finally {
  await browser.close();
}
