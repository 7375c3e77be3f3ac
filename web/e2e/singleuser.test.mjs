// Single-user mode: no setup, no login, no logout, no user admin and no owner names.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './server.mjs';
import { launchBrowser, screenshot } from './browser.mjs';

let server;
let browser;

before(async () => {
  server = await startServer({ multiuser: false });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('single-user mode opens the gallery without login and hides user features', async () => {
  const { page } = await browser.newUser(server.url);
  await page.goto('/');
  await page.getByTestId('gallery-title').waitFor();
  for (const id of ['login-form', 'setup-form', 'nav-profile', 'nav-users', 'nav-user', 'owner-filter']) {
    assert.equal(await page.getByTestId(id).count(), 0, `${id} shown in single-user mode`);
  }
  await page.getByTestId('board-new-name').fill('Solo board');
  await page.getByTestId('board-create').click();
  await page.getByTestId('board-Solo board').waitFor();
  assert.equal(await page.getByTestId('board-owner').count(), 0, 'owner names shown in single-user mode');
  await page.getByTestId('nav-models').click();
  await page.getByTestId('install-panel').waitFor();
  await page.getByTestId('nav-queue').click();
  await page.getByTestId('queue-empty').waitFor();
  await page.getByTestId('nav-gallery').click();
  await page.getByTestId('board-Solo board').waitFor();
  await screenshot(page, '17-single-user');
});
