// Launches Debian's chromium through playwright-core and gives each user an isolated context.
import { chromium } from 'playwright-core';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { webDir } from './server.mjs';

export const artifactsDir = path.join(webDir, 'e2e', 'artifacts');

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** A browser; `newUser()` opens an independent context (own localStorage and cookies). */
export async function launchBrowser({ extraArgs = [] } = {}) {
  // Playwright gives the browser a fresh, empty temporary profile (--user-data-dir) of its own.
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: [...ARGS, ...extraArgs],
    headless: true,
  });
  await mkdir(artifactsDir, { recursive: true });
  return {
    browser,
    async newUser(baseURL) {
      const context = await browser.newContext({ baseURL, viewport: { width: 1280, height: 860 } });
      const page = await context.newPage();
      page.on('pageerror', (error) => console.error(`[page error] ${error.message}`));
      return { context, page };
    },
    async close() {
      await browser.close().catch(() => undefined);
    },
  };
}

/** Saves a full-page screenshot under e2e/artifacts/. */
export async function screenshot(page, name) {
  const file = path.join(artifactsDir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
