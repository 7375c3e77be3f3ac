// LoRAs on the Generate page: the tiny model's LoRA installed as a model of its own, shown as a
// LoRA on the Models page, offered for the model, added from the keyboard with a weight, sent
// with the job, recorded in the image, shown in the viewer and the queue, kept across a reload,
// recalled by "Use these parameters" and removed again, in a real browser against
// `atelier serve --multiuser`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startServer } from './server.mjs';
import { launchBrowser, screenshot } from './browser.mjs';
import { Api } from './api.mjs';
import { pixelData } from './png.mjs';
import { addUser, createAdmin, installModel, installTinyModel } from './fixtures.mjs';
import { JOE, fillGenerate, generateReady, go, invokeAndWait, savedForm, signIn } from './ui.mjs';

let server;
let browser;
let joe;
let adminApi;
let joeApi;

const CHOSEN = [{ name: 'tiny-lora', weight: 0.8 }];

before(async () => {
  server = await startServer();
  adminApi = await createAdmin(server);
  const lora = path.join(server.modelsDir, 'tiny-lora.safetensors');
  await installTinyModel(server, adminApi, { lora });
  const installed = await installModel(adminApi, lora, 'tiny-lora');
  assert.deepEqual([installed.type, installed.base], ['lora', 'sd-1']);
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

const focused = (locator) => locator.evaluate((element) => element === document.activeElement);
const weight = (page) => page.getByTestId('gen-lora-weight-tiny-lora');

/** The first image of a completed job: its id, metadata and pixel rows. */
async function result(job) {
  const [id] = (await joeApi.call('GET', `/queue/items/${job}`)).result_image_ids;
  const image = await joeApi.call('GET', `/images/${id}`);
  return { id, metadata: image.metadata, pixels: pixelData(await joeApi.bytes(image.image_url)) };
}

let withLora; // the job and image made with tiny-lora at 0.8

test('the Models page lists the LoRA as an SD 1.x LoRA, without default settings', async () => {
  const { page } = joe;
  await go(page, 'models');
  const item = page.locator('[data-testid="model-item"][data-model-name="tiny-lora"]');
  assert.match(await item.innerText(), /SD 1\.x · LoRA/);
  await item.click();
  assert.equal(await page.getByTestId('model-base').innerText(), 'SD 1.x');
  assert.equal(await page.getByTestId('model-type').innerText(), 'LoRA');
  assert.equal(await page.getByTestId('model-defaults').count(), 0, 'a LoRA offers default generation settings');
  await page.locator('[data-testid="model-item"][data-model-name="tiny"]').click();
  await page.getByTestId('model-defaults').waitFor();
});

test('Joe adds the LoRA from the keyboard at weight 0.8, the job sends it and the image records it', async () => {
  const { page } = joe;
  await go(page, 'generate');
  await generateReady(page);
  assert.equal(await page.getByTestId('gen-lora').count(), 0, 'a LoRA is chosen by default');
  const add = page.getByTestId('gen-lora-add');
  const labels = (await add.locator('option').allInnerTexts()).map((t) => t.trim());
  assert.deepEqual(labels, ['tiny-lora (SD 1.x)']);

  // The picker, Tab to Add, Enter: focus lands on the new LoRA's weight.
  await add.focus();
  await page.keyboard.press('Tab');
  await page.keyboard.press('Enter');
  await weight(page).waitFor();
  assert.ok(await focused(weight(page)), 'the new weight is not focused');
  assert.equal(await weight(page).inputValue(), '1');
  await page.keyboard.press('Control+A');
  await page.keyboard.type('0.8');
  assert.equal(await add.count(), 0, 'the picker stays with every fitting LoRA chosen');
  await fillGenerate(page, { prompt: 'a tiny green boat', steps: 2, size: 64, seed: 11 });
  await screenshot(page, '41-generate-lora');

  const { job, body } = await invokeAndWait(page, joeApi);
  assert.deepEqual(body.loras, CHOSEN);
  withLora = { job, ...(await result(job)) };
  assert.deepEqual(withLora.metadata?.atelier?.loras, CHOSEN, JSON.stringify(withLora.metadata));
});

test('the queue shows the LoRA in the job’s parameters to its owner', async () => {
  const { page } = joe;
  await go(page, 'queue');
  const row = page.locator(`[data-testid="queue-row"][data-item-id="${withLora.job}"]`);
  assert.equal((await row.getByTestId('params-loras').innerText()).trim(), '· LoRAs tiny-lora × 0.8');
  await screenshot(page, '42-queue-lora');
});

test('the image viewer shows the LoRA line', async () => {
  const { page } = joe;
  await go(page, 'gallery');
  await page.getByTestId('board-uncategorized').getByRole('button').first().click();
  await page.getByTestId('tab-images').click();
  await page.locator(`[data-testid="image-tile"][data-image-id="${withLora.id}"]`).getByRole('button').click();
  await page.getByTestId('image-viewer').waitFor();
  await page.getByTestId('meta-loras').filter({ hasText: 'tiny-lora × 0.8' }).waitFor();
  assert.equal(await page.getByTestId('meta-model').innerText(), 'tiny');
  await screenshot(page, '43-viewer-lora');
  await page.getByTestId('modal-close').click();
});

test('the LoRA choice survives a reload', async () => {
  const { page } = joe;
  await Api.until(async () => JSON.stringify((await savedForm(joeApi)).loras) === JSON.stringify(CHOSEN), { what: 'the LoRA choice to be saved' });
  await go(page, 'generate');
  await page.reload();
  await generateReady(page);
  assert.equal(await page.getByTestId('gen-lora').count(), 1);
  assert.equal(await weight(page).inputValue(), '0.8');
});

test('removing the LoRA sends none, and the same seed gives other pixels', async () => {
  const { page } = joe;
  await page.getByTestId('gen-lora-remove-tiny-lora').focus();
  await page.keyboard.press('Enter');
  await page.getByTestId('gen-lora').waitFor({ state: 'detached' });
  assert.ok(await focused(page.getByTestId('gen-lora-add')), 'focus did not return to the LoRA picker');
  await screenshot(page, '44-generate-lora-picker');
  await fillGenerate(page, { prompt: 'a tiny green boat', steps: 2, size: 64, seed: 11 });
  const { job, body } = await invokeAndWait(page, joeApi);
  assert.ok(!('loras' in body), `LoRAs were sent: ${JSON.stringify(body)}`);
  const plain = await result(job);
  assert.ok(!plain.metadata?.atelier?.loras, JSON.stringify(plain.metadata));
  assert.ok(!plain.pixels.equals(withLora.pixels), 'the LoRA did not change the image');
  await Api.until(async () => (await savedForm(joeApi)).loras.length === 0, { what: 'the removal to be saved' });
});

test('use these parameters recalls the image’s LoRA with its weight', async () => {
  const { page } = joe;
  await page.goto(`/generate?recall=${withLora.id}`);
  await generateReady(page);
  await page.getByTestId('generate-info').filter({ hasText: 'filled in from the image' }).waitFor();
  assert.equal(await weight(page).inputValue(), '0.8');
  await Api.until(async () => JSON.stringify((await savedForm(joeApi)).loras) === JSON.stringify(CHOSEN), { what: 'the recalled LoRA to be saved' });
});
