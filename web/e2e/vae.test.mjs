// Choosing a VAE on the Generate page: the tiny model's own VAE file installed as a model of its
// own, offered for the model, sent with the job, recorded in the image, kept across a reload and
// recalled by "Use these parameters", in a real browser against `atelier serve --multiuser`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startServer } from './server.mjs';
import { launchBrowser, screenshot } from './browser.mjs';
import { Api } from './api.mjs';
import { addUser, createAdmin, installModel, installTinyModel } from './fixtures.mjs';
import { JOE, fillGenerate, generateReady, go, invoke, savedForm, signIn } from './ui.mjs';

let server;
let browser;
let joe;
let adminApi;
let joeApi;

before(async () => {
  server = await startServer();
  adminApi = await createAdmin(server);
  await installTinyModel(server, adminApi);
  // The tiny model's own VAE weights: a single-file VAE for any base.
  const vae = await installModel(adminApi, path.join(server.modelsDir, 'tiny', 'vae', 'diffusion_pytorch_model.safetensors'), 'tiny-vae');
  assert.deepEqual([vae.type, vae.base], ['vae', 'any']);
  await addUser(adminApi, JOE);
  joeApi = await Api.login(server.url, JOE.email, JOE.password);
  browser = await launchBrowser();
  joe = await browser.newUser(server.url);
  await signIn(joe.page, JOE);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});


/** The parameters recorded in the first image of a completed job (its `atelier` PNG chunk). */
async function recorded(job) {
  const [id] = (await joeApi.call('GET', `/queue/items/${job}`)).result_image_ids;
  const image = await joeApi.call('GET', `/images/${id}`);
  return { id, metadata: image.metadata };
}

let withVae; // the image made with tiny-vae
let withOwn; // the image made with the model's own VAE

test('Joe picks the installed VAE for the tiny model, and the image records it', async () => {
  const { page } = joe;
  await go(page, 'generate');
  await generateReady(page);
  const model = page.getByTestId('gen-model');
  assert.deepEqual((await model.locator('option').allInnerTexts()).map((t) => t.trim()), ['tiny (SD 1.x)']);
  const select = page.getByTestId('gen-vae');
  assert.equal(await select.inputValue(), '', 'the model’s own VAE is not the default');
  const labels = (await select.locator('option').allInnerTexts()).map((t) => t.trim());
  assert.deepEqual(labels, ['The model\'s own', 'tiny-vae (Any)']);
  await select.selectOption({ label: 'tiny-vae (Any)' });
  await fillGenerate(page, { prompt: 'a tiny green boat', steps: 2, size: 64, seed: 11 });
  await screenshot(page, '40-generate-vae');

  const enqueued = page.waitForRequest((r) => r.method() === 'POST' && r.url().endsWith('/api/v1/queue/items'));
  const job = await invoke(page);
  assert.equal((await enqueued).postDataJSON().vae, 'tiny-vae');
  await page.locator(`[data-job-id="${job}"][data-status="completed"]`).waitFor({ timeout: 120_000 });
  const { id, metadata } = await recorded(job);
  withVae = id;
  assert.equal(metadata?.atelier?.vae, 'tiny-vae');
  assert.ok(JSON.stringify(metadata).includes('"vae":"tiny-vae"'), JSON.stringify(metadata));
});

test('the VAE choice survives a reload', async () => {
  const { page } = joe;
  await Api.until(async () => (await savedForm(joeApi)).vae === 'tiny-vae', { what: 'the VAE choice to be saved' });
  await page.reload();
  await generateReady(page);
  assert.equal(await page.getByTestId('gen-vae').inputValue(), 'tiny-vae');
});

test('the model’s own VAE is sent as no VAE and recorded as none', async () => {
  const { page } = joe;
  await page.getByTestId('gen-vae').selectOption('');
  await fillGenerate(page, { prompt: 'a tiny green boat', steps: 2, size: 64, seed: 11 });
  const enqueued = page.waitForRequest((r) => r.method() === 'POST' && r.url().endsWith('/api/v1/queue/items'));
  const job = await invoke(page);
  assert.ok(!('vae' in (await enqueued).postDataJSON()), 'a VAE is sent for the model’s own');
  await page.locator(`[data-job-id="${job}"][data-status="completed"]`).waitFor({ timeout: 120_000 });
  const { id, metadata } = await recorded(job);
  withOwn = id;
  assert.ok(!metadata?.atelier?.vae, JSON.stringify(metadata));
});

test('use these parameters recalls the image’s VAE, or the model’s own', async () => {
  const { page } = joe;
  await page.goto(`/generate?recall=${withVae}`);
  await generateReady(page);
  await page.getByTestId('generate-info').filter({ hasText: 'filled in from the image' }).waitFor();
  assert.equal(await page.getByTestId('gen-vae').inputValue(), 'tiny-vae');
  await Api.until(async () => (await savedForm(joeApi)).vae === 'tiny-vae', { what: 'the recalled VAE to be saved' });

  await page.goto(`/generate?recall=${withOwn}`);
  await generateReady(page);
  await page.getByTestId('generate-info').filter({ hasText: 'filled in from the image' }).waitFor();
  assert.equal(await page.getByTestId('gen-vae').inputValue(), '');
  await Api.until(async () => (await savedForm(joeApi)).vae === '', { what: 'the recalled model’s own VAE to be saved' });
});
