// Inpainting on the Generate page: Joe uses one of his images as the init image, paints a mask
// over its right half in the mask editor, sets the mask blur, and the job repaints only that part
// (the left of the image comes back bit for bit). The mask is an image of his own (category mask,
// out of his gallery) that Jane cannot read; it and its blur are shown in the queue and the viewer, the blur is recalled by "Use these
// parameters", the mask is kept across a reload, loaded again for editing, dropped when deleted,
// and removed with "Remove mask" or with the init image. Escape or a click outside the editor asks
// before a painting is thrown away. In a real browser against `atelier serve --multiuser`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './server.mjs';
import { launchBrowser, screenshot } from './browser.mjs';
import { Api } from './api.mjs';
import { decodePng } from './png.mjs';
import { addUser, createAdmin, installTinyModel } from './fixtures.mjs';
import { JANE, JOE, fillGenerate, generateReady, go, invoke, invokeAndWait, savedForm, signIn } from './ui.mjs';

let server;
let browser;
let joe;
let adminApi;
let joeApi;
let janeApi;
let joeId;

before(async () => {
  server = await startServer();
  adminApi = await createAdmin(server);
  await installTinyModel(server, adminApi);
  joeId = (await addUser(adminApi, JOE)).id;
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


/** An image's decoded pixels, by id. */
async function pixels(id) {
  const image = await joeApi.call('GET', `/images/${id}`);
  return decodePng(await joeApi.bytes(image.image_url));
}

/** How many of the pixels with x in [from, to) differ between two decoded images of one size. */
function differing(a, b, from, to) {
  assert.deepEqual([a.width, a.height, a.channels], [b.width, b.height, b.channels]);
  let count = 0;
  for (let y = 0; y < a.height; y++) {
    for (let x = from; x < to; x++) {
      const at = (y * a.width + x) * a.channels;
      if (!a.pixels.subarray(at, at + a.channels).equals(b.pixels.subarray(at, at + b.channels))) count++;
    }
  }
  return count;
}

let source; // the generated image used as the init image
let inpainted; // { job, body, image } of the inpainting job

test('Joe paints the right half of his image in the mask editor and only that part is repainted', async () => {
  const { page } = joe;
  await go(page, 'generate');
  await generateReady(page);
  await fillGenerate(page, { prompt: 'a tiny red barn', steps: 4, size: 64, seed: 7 });
  source = (await invokeAndWait(page, joeApi)).image;

  await go(page, 'gallery');
  await page.getByTestId('board-uncategorized').getByRole('button').first().click();
  await page.getByTestId('tab-images').click();
  await page.locator(`[data-testid="image-tile"][data-image-id="${source}"]`).getByRole('button').click();
  await page.getByTestId('viewer-use-init').click();
  await page.getByTestId('gen-init-thumb').waitFor();
  assert.equal(await page.getByTestId('gen-mask-thumb').count(), 0, 'a mask is set already');
  assert.equal(await page.getByTestId('gen-mask-blur').count(), 0, 'a mask blur is offered without a mask');

  await page.getByTestId('gen-mask-paint').click();
  await page.getByTestId('mask-editor').waitFor();
  const canvas = page.getByTestId('mask-canvas');
  await canvas.waitFor();
  assert.deepEqual(await canvas.evaluate((c) => [c.width, c.height]), [64, 64], 'the mask is not the init image’s size');
  await page.locator('.mask-stage img').evaluate((img) => img.decode());
  await page.getByTestId('mask-brush').focus();
  await page.keyboard.press('End');
  assert.equal(await page.getByTestId('mask-brush-value').innerText(), '160');
  // Vertical strokes over the right part only (x > 60 % of the canvas).
  const box = await canvas.boundingBox();
  assert.ok(box.y + box.height <= 860, `the canvas does not fit the window: ${JSON.stringify(box)}`);
  for (let f = 0.66; f < 1; f += 0.08) {
    const x = box.x + box.width * f;
    await page.mouse.move(x, box.y + 2);
    await page.mouse.down();
    await page.mouse.move(x, box.y + box.height - 2, { steps: 8 });
    await page.mouse.up();
  }
  // Escape and a click outside the dialog ask before throwing the painting away; keeping it loses
  // nothing (the mask below is the whole painting).
  await page.keyboard.press('Escape');
  await page.getByTestId('mask-discard-prompt').waitFor();
  await screenshot(page, '50-mask-editor-discard-prompt');
  await page.keyboard.press('Escape');
  await page.getByTestId('mask-discard-prompt').waitFor({ state: 'detached' });
  await page.mouse.click(5, 5);
  await page.getByTestId('mask-keep').click();
  await page.getByTestId('mask-discard-prompt').waitFor({ state: 'detached' });
  assert.equal(await page.getByTestId('mask-editor').count(), 1, 'the editor closed');
  await screenshot(page, '50-mask-editor');
  await page.getByTestId('mask-use').click();
  await page.getByTestId('mask-editor').waitFor({ state: 'detached' });
  await page.getByTestId('gen-mask-thumb').waitFor();
  assert.match(await page.getByTestId('gen-mask-hint').innerText(), /white part of the mask is repainted/);

  // Strength 1 is suggested, not forced: the slider stays at 0.75 until Joe moves it.
  await page.getByTestId('gen-mask-strength-hint').waitFor();
  assert.equal(await page.getByTestId('gen-strength-value').innerText(), '0.75');
  await screenshot(page, '51-generate-mask-hint');
  await page.getByTestId('gen-strength').focus();
  await page.keyboard.press('End');
  assert.equal(await page.getByTestId('gen-strength-value').innerText(), '1.00');
  await page.getByTestId('gen-mask-strength-hint').waitFor({ state: 'detached' });
  // Another seed, so the repainted part cannot come out as it was.
  await page.getByTestId('gen-seed').fill('8');
  // The mask blur starts at 8 px; more than the server takes (64) is refused by the field itself.
  const blur = page.getByTestId('gen-mask-blur');
  assert.equal(await blur.inputValue(), '8');
  await blur.fill('65');
  assert.equal(await blur.evaluate((input) => input.validity.rangeOverflow), true);
  await blur.fill('6');
  assert.equal(await blur.evaluate((input) => input.validity.valid), true);
  await screenshot(page, '52-generate-mask');

  inpainted = await invokeAndWait(page, joeApi);
  const { body, image } = inpainted;
  assert.equal(body.init_image_id, source);
  assert.equal(body.strength, 1);
  assert.match(body.mask_image_id ?? '', /^[0-9a-f-]{36}$/, JSON.stringify(body));
  assert.equal(body.mask_blur, 6, JSON.stringify(body));
  const stored = await joeApi.call('GET', `/queue/items/${inpainted.job}`);
  assert.equal(stored.params.mask_blur, 6, JSON.stringify(stored.params));
  const result = await joeApi.call('GET', `/images/${image}`);
  assert.equal(result.metadata?.atelier?.mask_image_id, body.mask_image_id, JSON.stringify(result.metadata));
  assert.equal(result.metadata?.atelier?.mask_blur, 6, JSON.stringify(result.metadata));

  // The mask: black on the left, white on the right, at the init image's size.
  const mask = await pixels(body.mask_image_id);
  assert.deepEqual([mask.width, mask.height], [64, 64]);
  const grey = (x, y) => mask.pixels[(y * 64 + x) * mask.channels];
  for (const y of [0, 20, 40, 63]) {
    for (const x of [0, 10, 20, 30]) assert.equal(grey(x, y), 0, `mask pixel ${x},${y} is not black`);
    for (const x of [48, 56, 63]) assert.equal(grey(x, y), 255, `mask pixel ${x},${y} is not white`);
  }
  assert.ok([...mask.pixels].every((v) => v === 0 || v === 255), 'the mask is not pure black and white');

  // Kept pixels come back exactly; the painted part is new.
  const init = await pixels(source);
  const made = await pixels(image);
  assert.equal(differing(init, made, 0, 16), 0, 'the left quarter of the image changed');
  const changed = differing(init, made, 44, 64);
  assert.ok(changed > 0.5 * 20 * 64, `only ${changed} of ${20 * 64} pixels on the right changed`);
});

test('the mask is Joe’s own, out of his gallery, and Jane cannot read it', async () => {
  const id = inpainted.body.mask_image_id;
  const mask = await joeApi.call('GET', `/images/${id}`);
  assert.equal(mask.owner_id, joeId);
  assert.equal(mask.category, 'mask');
  assert.equal(mask.board_id, null);
  const assets = await joeApi.call('GET', '/images?board_id=none&category=user&limit=100');
  assert.ok(!assets.items.some((i) => i.id === id), 'the mask is among his Uncategorized assets');
  const all = await joeApi.call('GET', '/images?limit=200');
  assert.ok(!all.items.some((i) => i.id === id), 'the mask is in his gallery listing');
  const masks = await joeApi.call('GET', '/images?category=mask&limit=100');
  assert.ok(masks.items.some((i) => i.id === id), 'the mask is not listed as a mask');
  await assert.rejects(janeApi.call('GET', `/images/${id}`), (e) => e.status === 404);
});

test('the queue says the job had a mask and its blur, the viewer lists them, and "Use these parameters" recalls the blur', async () => {
  const { page } = joe;
  // Another blur in the form first, so that the recall shows.
  await page.getByTestId('gen-mask-blur').fill('20');
  await Api.until(async () => (await savedForm(joeApi)).mask_blur === 20, { what: 'the mask blur to be saved' });
  await go(page, 'queue');
  const row = page.locator(`[data-testid="queue-row"][data-item-id="${inpainted.job}"]`);
  assert.equal((await row.getByTestId('params-init').innerText()).trim(), '· from image with a mask (blur 6 px, strength 1)');
  assert.ok(!(await row.innerText()).includes(inpainted.body.mask_image_id), 'the mask id is shown');

  await go(page, 'gallery');
  await page.getByTestId('board-uncategorized').getByRole('button').first().click();
  await page.getByTestId('tab-images').click();
  await page.locator(`[data-testid="image-tile"][data-image-id="${inpainted.image}"]`).getByRole('button').click();
  await page.getByTestId('meta-mask').filter({ hasText: 'yes' }).waitFor();
  assert.equal(await page.getByTestId('meta-strength').innerText(), '1');
  assert.equal(await page.getByTestId('meta-mask-blur').innerText(), '6 px');
  await screenshot(page, '53-viewer-mask');
  await page.getByTestId('viewer-use-params').click();
  await generateReady(page);
  await page.getByTestId('generate-info').filter({ hasText: 'Parameters filled in' }).waitFor();
  assert.equal(await page.getByTestId('gen-mask-blur').inputValue(), '6');
  assert.match(await page.getByTestId('gen-mask-thumb').getAttribute('src'), new RegExp(inpainted.body.mask_image_id), 'the recall changed the mask');
  await Api.until(async () => (await savedForm(joeApi)).mask_blur === 6, { what: 'the recalled mask blur to be saved' });
});

test('the mask survives a reload, opens again for editing, is dropped once deleted, and goes with Remove mask or the init image', async () => {
  const { page } = joe;
  const id = inpainted.body.mask_image_id;
  await Api.until(async () => (await savedForm(joeApi)).mask_image_id === id, { what: 'the mask to be saved' });
  await go(page, 'generate');
  await page.reload();
  await generateReady(page);
  assert.match(await page.getByTestId('gen-mask-thumb').getAttribute('src'), new RegExp(id));

  // "Edit mask" paints the saved mask again: the right of the canvas, not the left.
  await page.getByTestId('gen-mask-paint').click();
  const canvas = page.getByTestId('mask-canvas');
  await canvas.waitFor();
  const alpha = (x, y) => canvas.evaluate((c, [x, y]) => c.getContext('2d').getImageData(x, y, 1, 1).data[3], [x, y]);
  await page.waitForFunction(() => document.querySelector('[data-testid="mask-canvas"]').getContext('2d').getImageData(60, 32, 1, 1).data[3] > 0);
  assert.deepEqual([await alpha(5, 32), await alpha(60, 5), await alpha(60, 60)], [0, 255, 255]);
  // Clear, then Cancel and Discard: the mask in use stays.
  await page.getByTestId('mask-clear').click();
  assert.equal(await alpha(60, 32), 0);
  await page.getByTestId('mask-use').click();
  await page.getByTestId('mask-error').filter({ hasText: 'Paint over' }).waitFor();
  await page.getByTestId('mask-cancel').click();
  await page.getByTestId('mask-discard').click();
  await page.getByTestId('mask-editor').waitFor({ state: 'detached' });
  await page.getByTestId('gen-mask-thumb').waitFor();
  assert.match(await page.getByTestId('gen-mask-thumb').getAttribute('src'), new RegExp(id));

  await page.getByTestId('gen-mask-clear').click();
  await page.getByTestId('gen-mask-thumb').waitFor({ state: 'detached' });
  assert.equal(await page.getByTestId('gen-mask-paint').innerText(), 'Paint a mask');
  await Api.until(async () => (await savedForm(joeApi)).mask_image_id === '', { what: 'the removed mask to be saved' });

  /** Paints a dot in the middle of a new mask and uses it; returns the mask's id. */
  const paintDot = async () => {
    await page.getByTestId('gen-mask-paint').click();
    const box = await canvas.boundingBox();
    await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
    await page.getByTestId('mask-use').click();
    const thumb = page.getByTestId('gen-mask-thumb');
    await thumb.waitFor();
    return /images\/([0-9a-f-]{36})\//.exec(await thumb.getAttribute('src'))[1];
  };

  // A saved mask that is gone by the next visit is dropped, with a word; the init image stays.
  const gone = await paintDot();
  await Api.until(async () => (await savedForm(joeApi)).mask_image_id === gone, { what: 'the new mask to be saved' });
  await joeApi.call('DELETE', `/images/${gone}`);
  await page.reload();
  await generateReady(page);
  await page.getByTestId('generate-info').filter({ hasText: 'The mask is no longer available' }).waitFor();
  await page.getByTestId('gen-init-thumb').waitFor();
  assert.equal(await page.getByTestId('gen-mask-thumb').count(), 0);
  await Api.until(async () => (await savedForm(joeApi)).mask_image_id === '', { what: 'the dropped mask to be saved' });

  // Clear on the init image takes the mask with it.
  await paintDot();
  await page.getByTestId('gen-init-clear').click();
  await page.getByTestId('gen-init-none').waitFor();
  await Api.until(
    async () => {
      const s = await savedForm(joeApi);
      return s.init_image_id === '' && s.mask_image_id === '';
    },
    { what: 'the cleared init image and mask to be saved' },
  );
  const enqueued = page.waitForRequest((r) => r.method() === 'POST' && r.url().endsWith('/api/v1/queue/items'));
  await invoke(page);
  const body = (await enqueued).postDataJSON();
  assert.ok(!('mask_image_id' in body) && !('init_image_id' in body) && !('mask_blur' in body), JSON.stringify(body));
});
