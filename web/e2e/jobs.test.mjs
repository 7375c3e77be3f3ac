// The jobs panel on the Generate page across navigation: Joe's finished and queued jobs are shown
// again, with their state, when he comes back from another page (through the menu or the browser's
// Back button), and keep updating live; Jane's jobs never show there, nor Joe's on the admin's
// Generate page. In a real browser against `atelier serve --multiuser`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './server.mjs';
import { launchBrowser, screenshot } from './browser.mjs';
import { Api } from './api.mjs';
import { addUser, createAdmin, installTinyModel } from './fixtures.mjs';
import { ADMIN, JANE, JOE, fillGenerate, generateReady, go, invoke, invokeAndWait, signIn } from './ui.mjs';

let server;
let browser;
let joe;
let adminApi;
let joeApi;
let janeApi;

before(async () => {
  server = await startServer();
  adminApi = await createAdmin(server);
  await installTinyModel(server, adminApi);
  await addUser(adminApi, JOE);
  await addUser(adminApi, JANE);
  joeApi = await Api.login(server.url, JOE.email, JOE.password);
  janeApi = await Api.login(server.url, JANE.email, JANE.password);
  browser = await launchBrowser();
  joe = await browser.newUser(server.url);
  await signIn(joe.page, JOE);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** The job card of this id on the open page, in this state. */
const card = (page, id, status) => page.locator(`[data-testid="job"][data-job-id="${id}"][data-status="${status}"]`);

let done; // Joe's completed job: { job, image }
let queued; // Joe's job queued while the queue is paused
let janes; // Jane's job, queued at the same time

test('coming back to Generate shows Joe’s completed and queued jobs again, and they keep updating', async () => {
  const { page } = joe;
  await go(page, 'generate');
  await fillGenerate(page, { prompt: 'a small lighthouse', steps: 2, size: 64, seed: 3 });
  done = await invokeAndWait(page, joeApi);

  await adminApi.call('POST', '/queue/pause');
  try {
    await comeBackWhilePaused(page);
  } finally {
    await adminApi.call('POST', '/queue/resume');
  }
  // The queued job runs and ends live on the page it was not queued from.
  await card(page, queued, 'completed').getByTestId('job-result').waitFor({ timeout: 120_000 });
  assert.equal(await page.locator(`[data-job-id="${janes}"]`).count(), 0, 'Jane’s job is on Joe’s Generate page');
});

/** Queues a job for Joe and one for Jane, then leaves Generate and comes back twice. */
async function comeBackWhilePaused(page) {
  queued = await invoke(page);
  janes = (await janeApi.call('POST', '/queue/items', { model: 'tiny', prompt: 'jane only', negative_prompt: '', width: 64, height: 64, steps: 2, cfg_scale: 7, sampler: 'euler', num_images: 1 })).item_ids[0];
  await card(page, queued, 'pending').waitFor();

  // Through the menu: Gallery, then Generate again.
  await go(page, 'gallery');
  await page.getByTestId('generate-form').waitFor({ state: 'detached' });
  await go(page, 'generate');
  await generateReady(page);
  await card(page, done.job, 'completed').getByTestId('job-result').waitFor();
  await card(page, queued, 'pending').waitFor();
  assert.equal(await page.locator(`[data-job-id="${janes}"]`).count(), 0, 'Jane’s job is on Joe’s Generate page');
  assert.match(await card(page, done.job, 'completed').getByTestId('job-result').getAttribute('src'), new RegExp(done.image));
  // Newest first, as when they were queued.
  assert.deepEqual(await page.getByTestId('job').evaluateAll((cards) => cards.map((c) => c.dataset.jobId)), [queued, done.job]);
  await screenshot(page, '60-generate-jobs-after-navigation');

  // Through the browser: Queue, then Back.
  await go(page, 'queue');
  await page.getByTestId('queue-table').waitFor();
  await page.goBack();
  await generateReady(page);
  await card(page, queued, 'pending').waitFor();
  await card(page, done.job, 'completed').waitFor();
}

test('the admin’s Generate page shows none of Joe’s or Jane’s jobs', async () => {
  await Api.until(async () => (await janeApi.call('GET', `/queue/items/${janes}`)).status === 'completed', { timeoutMs: 120_000, what: 'Jane’s job to complete' });
  const admin = await browser.newUser(server.url);
  await signIn(admin.page, ADMIN);
  await go(admin.page, 'generate');
  await generateReady(admin.page);
  // The admin's queue listing has everyone's items, so the panel must pick the admin's own (none).
  const everyone = await adminApi.call('GET', '/queue/items');
  assert.ok([done.job, queued, janes].every((id) => everyone.some((i) => i.id === id)), 'the admin does not list everyone’s items');
  assert.equal(await admin.page.getByTestId('job').count(), 0);
  await admin.context.close();
});
