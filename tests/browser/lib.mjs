// What the browser walks share: their settings from the environment, failing with
// a message, headless Chromium, numbered screenshots and reading the gateway's log.
//
// Environment: PORTCULLIS_URL (e.g. http://localhost:8080), PORTCULLIS_USER,
// PORTCULLIS_PASSWORD, PORTCULLIS_LOG (the gateway's log file, for the walks that
// read it), SHOTS (directory), CHROMIUM (optional, default /usr/bin/chromium).
import { chromium } from 'playwright-core';
import { mkdirSync, readFileSync } from 'node:fs';

export const base = process.env.PORTCULLIS_URL;
export const user = process.env.PORTCULLIS_USER;
export const password = process.env.PORTCULLIS_PASSWORD;

export function fail(msg) {
  console.error(`browser test failed: ${msg}`);
  process.exit(1);
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Headless Chromium with nothing of its own going on the network.
export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

// Full-page screenshots in SHOTS (or `fallback`), numbered in the order taken:
// `01-login.png`, `02-…` (with `digits` = 2).
export class Screenshots {
  constructor(fallback, digits = 2) {
    this.dir = process.env.SHOTS || fallback;
    this.digits = digits;
    this.count = 0;
    mkdirSync(this.dir, { recursive: true });
  }

  async take(page, name) {
    this.count += 1;
    const n = String(this.count).padStart(this.digits, '0');
    await page.screenshot({ path: `${this.dir}/${n}-${name}.png`, fullPage: true });
  }
}

// The gateway's log (PORTCULLIS_LOG) as it is now.
export const gatewayLog = () => readFileSync(process.env.PORTCULLIS_LOG, 'utf8');

// Waits up to five seconds for `find(log)` to return something, and returns it; the
// gateway writes codes and links after its answer, off the request path.
export async function fromLog(find, what) {
  for (let i = 0; i < 50; i++) {
    const found = find(gatewayLog());
    if (found) return found;
    await sleep(100);
  }
  fail(`no ${what} appeared in the gateway log`);
}
