// S3 access from the Profile page in a real browser: Joe creates a key (the secret is shown once,
// with settings to paste), the real `aws` CLI uploads with it, his open gallery shows the new
// board and image without a reload, and a key revoked on the page stops working at once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, webDir } from './server.mjs';
import { launchBrowser, screenshot } from './browser.mjs';
import { addUser, createAdmin } from './fixtures.mjs';
import { solidPng } from './png.mjs';
import { JOE, go, signIn } from './ui.mjs';

const AWS = path.resolve(webDir, '..', '.venv', 'bin', 'aws');

let server;
let browser;
let joe;
/** Joe's key from the page: [access key id, secret]. */
let key;

before(async () => {
  server = await startServer({ s3: true });
  const adminApi = await createAdmin(server);
  await addUser(adminApi, JOE);
  browser = await launchBrowser();
  joe = await browser.newUser(server.url);
  await signIn(joe.page, JOE);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

function aws(args) {
  const env = {
    ...process.env,
    AWS_ACCESS_KEY_ID: key[0],
    AWS_SECRET_ACCESS_KEY: key[1],
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
  };
  return spawnSync(AWS, ['--endpoint-url', server.s3Url, ...args], { env, encoding: 'utf8', timeout: 120_000 });
}

test('Joe creates an S3 key on his Profile page and sees its secret once, with settings to paste', async () => {
  const { page } = joe;
  await go(page, 'profile');
  const card = page.getByTestId('s3-keys');
  await card.waitFor();
  assert.equal(await page.getByTestId('s3-endpoint').textContent(), server.s3Url);
  await page.getByTestId('s3-no-keys').waitFor();
  await page.getByTestId('s3-label').fill('laptop');
  await page.getByTestId('s3-create').click();
  await page.getByTestId('s3-new-key').waitFor();
  key = [await page.getByTestId('s3-new-id').textContent(), await page.getByTestId('s3-new-secret').textContent()];
  assert.match(key[0], /^AT[A-Z2-7]{18}$/);
  assert.equal(key[1].length, 40);
  const box = await page.getByTestId('s3-new-key').boundingBox();
  const viewport = page.viewportSize();
  assert.ok(box.y >= 0 && box.y + box.height <= viewport.height, `the whole secret box is in view after the click (${JSON.stringify(box)})`);
  const row = page.getByTestId('s3-key-row');
  assert.equal(await row.count(), 1);
  assert.match(await row.textContent(), /laptop/);
  await screenshot(page, '72-profile-s3-new-key');
  await row.getByTestId('s3-relabel').click();
  await row.getByTestId('s3-label-edit').fill('work laptop');
  await row.getByTestId('s3-label-save').click();
  await page.getByTestId('s3-info').filter({ hasText: 'Label saved' }).waitFor();
  assert.match(await row.textContent(), /work laptop/);
  await page.getByTestId('s3-new-done').click();
  await page.getByTestId('s3-new-key').waitFor({ state: 'detached' });
  assert.ok(!(await page.content()).includes(key[1]), 'the secret is gone from the page');
});

test('an aws upload appears in Joe\'s open gallery without a reload', async () => {
  const { page } = joe;
  await go(page, 'gallery');
  await page.getByTestId('board-new-name').waitFor();
  const dir = await mkdtemp(path.join(tmpdir(), 'atelier-s3-'));
  const file = path.join(dir, 'beach.png');
  await writeFile(file, solidPng(48, 32, [40, 120, 200]));
  const done = aws(['s3', 'cp', file, 's3://images/Trips/beach.png']);
  assert.equal(done.status, 0, done.stderr);
  await page.getByTestId('board-name').filter({ hasText: 'Trips' }).waitFor({ timeout: 10_000 });
  await screenshot(page, '73-gallery-after-s3-upload');
  const listed = aws(['s3', 'ls', 's3://images/Trips/']);
  assert.match(listed.stdout, /beach\.png/);
});

test('a key revoked on the page is refused on the next request; the page works at phone size', async () => {
  const { page } = joe;
  await go(page, 'profile');
  await page.setViewportSize({ width: 390, height: 844 });
  try {
    const row = page.getByTestId('s3-key-row');
    await row.waitFor();
    await row.getByTestId('s3-revoke').scrollIntoViewIfNeeded();
    assert.ok(await row.getByTestId('s3-revoke').isVisible());
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page is ${overflow}px wider than the phone`);
    await screenshot(page, '74-profile-s3-phone');
    await row.getByTestId('s3-revoke').click();
    await page.getByTestId('s3-info').filter({ hasText: 'Revoked' }).waitFor();
    await page.getByTestId('s3-no-keys').waitFor();
    const refused = aws(['s3', 'ls', 's3://images/']);
    assert.notEqual(refused.status, 0);
    assert.match(refused.stderr, /InvalidAccessKeyId/);
  } finally {
    await page.setViewportSize({ width: 1280, height: 860 });
  }
});
