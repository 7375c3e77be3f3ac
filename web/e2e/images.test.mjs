// Boards, stars, image to image, the workers panel, each user's GPU time, infinite scroll, a phone-sized viewport,
// recalling an image's parameters (CLIP skip and seamless tiling included), a model's CLIP skip default and retrying
// a canceled job,
// in a real browser against `atelier serve --multiuser` with the tiny CPU model.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './server.mjs';
import { launchBrowser, screenshot } from './browser.mjs';
import { Api } from './api.mjs';
import { solidPng } from './png.mjs';
import { addUser, createAdmin, installTinyModel } from './fixtures.mjs';
import { ADMIN, JOE, fillGenerate, go, invoke, recordSocket, savedForm, signIn } from './ui.mjs';

let server;
let browser;
let admin;
let joe;
let adminApi;
let joeApi;
let joeFrames;

before(async () => {
  server = await startServer();
  adminApi = await createAdmin(server);
  await installTinyModel(server, adminApi);
  await addUser(adminApi, JOE);
  joeApi = await Api.login(server.url, JOE.email, JOE.password);
  browser = await launchBrowser();
  admin = await browser.newUser(server.url);
  joe = await browser.newUser(server.url);
  joeFrames = recordSocket(joe.page);
  await signIn(admin.page, ADMIN);
  await signIn(joe.page, JOE);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const board = (page, name) => page.getByTestId(`board-${name}`);
const boardId = async (name) => (await joeApi.call('GET', '/boards')).boards.find((b) => b.name === name)?.id;

test('boards: rename, delete moving the images to Uncategorized, delete with the images', async () => {
  const { page } = joe;
  await go(page, 'gallery');
  await page.getByTestId('board-new-name').fill('Sketches');
  await page.getByTestId('board-create').click();
  await board(page, 'Sketches').waitFor();
  const kept = await joeApi.upload('kept.png', solidPng(32, 32, [200, 200, 40]), await boardId('Sketches'));

  await board(page, 'Sketches').getByTestId('board-rename').click();
  await page.getByTestId('board-rename-input').fill('Drafts');
  await page.getByTestId('board-rename-save').click();
  await board(page, 'Drafts').waitFor();
  assert.equal(await board(page, 'Sketches').count(), 0);
  assert.ok(await boardId('Drafts'), 'the server does not have the new name');

  await board(page, 'Drafts').getByTestId('board-delete').click();
  await page.getByTestId('board-delete-dialog').waitFor();
  await screenshot(page, '21-board-delete-dialog');
  await page.getByTestId('board-delete-move').click();
  await board(page, 'Drafts').waitFor({ state: 'detached' });
  assert.equal((await joeApi.call('GET', `/images/${kept.id}`)).board_id, null, 'the image did not move to Uncategorized');

  const trashId = (await joeApi.call('POST', '/boards', { name: 'Trash' })).id;
  const dropped = await joeApi.upload('dropped.png', solidPng(32, 32, [90, 90, 90]), trashId);
  await page.reload();
  await board(page, 'Trash').getByTestId('board-delete').click();
  await page.getByTestId('board-delete-all').click();
  await board(page, 'Trash').waitFor({ state: 'detached' });
  await assert.rejects(joeApi.call('GET', `/images/${dropped.id}`), (e) => e.status === 404);
  await joeApi.call('GET', `/images/${kept.id}`);
});

test('a starred image comes first in the grid', async () => {
  const { page } = joe;
  // Uncategorized assets, newest first: the two uploads below, then "kept" from the first test.
  await joeApi.upload('second.png', solidPng(32, 32, [40, 200, 200]));
  await joeApi.upload('third.png', solidPng(32, 32, [200, 40, 200]));
  await page.reload();
  await board(page, 'uncategorized').getByRole('button').first().click();
  await page.getByTestId('tab-assets').click();
  const tiles = page.getByTestId('image-tile');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="image-tile"]').length === 3);
  const oldest = await tiles.last().getAttribute('data-image-id');
  assert.notEqual(await tiles.first().getAttribute('data-image-id'), oldest);

  await tiles.last().getByRole('button').click();
  await page.getByTestId('viewer-star').click();
  await page.locator('[data-testid="viewer-star"][aria-pressed="true"]').waitFor();
  await page.getByTestId('modal-close').click();
  await page.locator(`[data-testid="image-tile"]:first-child[data-image-id="${oldest}"]`).waitFor();
  assert.match(await tiles.first().getByRole('button').getAttribute('aria-label'), /starred/);
  await screenshot(page, '22-gallery-starred-first');
});

test('image to image: Joe starts from his generated image and gets a new one', async () => {
  const { page } = joe;
  await go(page, 'generate');
  await fillGenerate(page, { prompt: 'a tiny red barn', steps: 4, size: 64, seed: 7 });
  const first = await invoke(page);
  await page.locator(`[data-job-id="${first}"][data-status="completed"]`).waitFor({ timeout: 120_000 });
  const [source] = (await joeApi.call('GET', `/queue/items/${first}`)).result_image_ids;

  await go(page, 'gallery');
  await board(page, 'uncategorized').getByRole('button').first().click();
  await page.getByTestId('tab-images').click();
  await page.locator(`[data-testid="image-tile"][data-image-id="${source}"]`).getByRole('button').click();
  await page.getByTestId('viewer-use-init').waitFor();
  await screenshot(page, '23-viewer-use-init');
  await page.getByTestId('viewer-use-init').click();
  await page.getByTestId('gen-init-thumb').waitFor();
  assert.equal(new URL(page.url()).pathname, '/generate');
  assert.equal(await page.getByTestId('gen-strength-value').innerText(), '0.75');
  // The slider from the keyboard: five steps of 0.05 down.
  await page.getByTestId('gen-strength').focus();
  for (let i = 0; i < 5; i++) await page.keyboard.press('ArrowLeft');
  assert.equal(await page.getByTestId('gen-strength-value').innerText(), '0.50');
  await page.getByText('Runs 2 of 4 steps').waitFor();
  await screenshot(page, '24-generate-init-image');

  const enqueued = page.waitForRequest((r) => r.method() === 'POST' && r.url().endsWith('/api/v1/queue/items'));
  const job = await invoke(page);
  const body = (await enqueued).postDataJSON();
  assert.equal(body.init_image_id, source);
  assert.equal(body.strength, 0.5);
  await page.locator(`[data-job-id="${job}"][data-status="completed"]`).waitFor({ timeout: 120_000 });
  const totals = new Set(joeFrames.filter((m) => m.type === 'progress' && m.item_id === job).map((m) => m.total));
  assert.deepEqual([...totals], [2], 'progress does not count floor(4 × 0.5) steps');
  const [made] = (await joeApi.call('GET', `/queue/items/${job}`)).result_image_ids;
  assert.ok(made && made !== source);

  await go(page, 'gallery');
  await page.locator(`[data-testid="image-tile"][data-image-id="${made}"]`).waitFor();
  assert.equal(await page.getByTestId('image-tile').count(), 2);

  await go(page, 'queue');
  const row = page.locator(`[data-testid="queue-row"][data-item-id="${job}"]`);
  assert.equal((await row.getByTestId('params-init').innerText()).trim(), '· from image (strength 0.5)');
  assert.ok(!(await row.innerText()).includes(source), 'the init image id is shown');
  await screenshot(page, '25-queue-init-image');
});

test('the init image and strength survive a reload, and a deleted one is dropped', async () => {
  const { page } = joe;
  await go(page, 'generate');
  await page.reload();
  await page.getByTestId('generate-form').and(page.locator('[aria-busy="false"]')).waitFor();
  await page.getByTestId('gen-init-thumb').waitFor();
  assert.equal(await page.getByTestId('gen-strength-value').innerText(), '0.50');

  const state = (await joeApi.call('GET', '/ui/state')).state.generate;
  await joeApi.call('DELETE', `/images/${state.init_image_id}`);
  await page.reload();
  await page.getByTestId('generate-form').and(page.locator('[aria-busy="false"]')).waitFor();
  await page.getByTestId('gen-init-none').waitFor();
  await page.getByTestId('generate-info').filter({ hasText: 'no longer available' }).waitFor();
  assert.equal(await page.getByTestId('gen-prompt').inputValue(), 'a tiny red barn');
  await screenshot(page, '26-generate-init-dropped');
  await Api.until(async () => !(await savedForm(joeApi)).init_image_id, { what: 'the cleared init image to be saved' });
});

test('admins see the workers panel with the CPU worker and its loaded model; users do not', async () => {
  const { page } = admin;
  await go(page, 'models');
  const row = page.locator('[data-testid="worker-row"][data-online="true"]');
  await row.waitFor();
  assert.equal(await page.getByTestId('worker-row').count(), 1);
  assert.equal(await row.getByTestId('worker-device').innerText(), 'cpu');
  assert.match(await row.getByTestId('worker-model').first().innerText(), /^tiny · [\d.]+ MiB$/);
  await screenshot(page, '27-models-workers-admin');

  await go(joe.page, 'models');
  await joe.page.getByTestId('model-list').waitFor();
  assert.equal(await joe.page.getByTestId('workers-panel').count(), 0);
  await assert.rejects(joeApi.call('GET', '/workers'), (e) => e.status === 403);
});

test('admins see each user’s GPU time for the last day and week on the Users page', async () => {
  // Joe generated in the tests above: the workers charged his jobs' measured GPU time.
  const { page } = admin;
  await go(page, 'users');
  const cell = page.locator(`[data-testid="user-row"][data-email="${JOE.email}"] [data-testid="user-gpu"]`);
  await cell.waitFor();
  const [day, week] = (await cell.innerText()).split(' / ');
  assert.match(day, /^\d+(\.\d)? (s|min|h)$/);
  assert.notEqual(day, '0 s', 'Joe generated, so his GPU time is not zero');
  assert.ok(week, 'the week column is shown');
  const fromApi = (await adminApi.call('GET', '/auth/users')).find((u) => u.email === JOE.email);
  assert.ok(fromApi.gpu_seconds_day > 0 && fromApi.gpu_seconds_week >= fromApi.gpu_seconds_day);
  await cell.scrollIntoViewIfNeeded();
  const box = await cell.boundingBox();
  const viewport = page.viewportSize();
  assert.ok(box && box.x + box.width <= viewport.width && box.y + box.height <= viewport.height, 'the GPU column is in view');
  await screenshot(page, '27b-users-gpu-time');
  // At phone size the table scrolls inside its box; the page does not scroll sideways.
  await page.setViewportSize({ width: 390, height: 844 });
  try {
    await cell.waitFor();
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 390), 'the Users page overflows sideways');
    await screenshot(page, '27c-users-narrow');
  } finally {
    await page.setViewportSize({ width: 1280, height: 860 });
  }
  await assert.rejects(joeApi.call('GET', '/auth/users'), (e) => e.status === 403);
});

test('infinite scroll: a board with 55 images loads more than the first 50 on scrolling', async () => {
  const { page } = joe;
  const manyId = (await joeApi.call('POST', '/boards', { name: 'Many' })).id;
  for (let i = 0; i < 55; i++) await joeApi.upload(`many-${i}.png`, solidPng(8, 8, [i * 4, 100, 255 - i * 4]), manyId);
  await go(page, 'gallery');
  await page.reload();
  await board(page, 'Many').getByRole('button').first().click();
  await page.getByTestId('tab-assets').click();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="image-tile"]').length >= 50);
  await page.getByTestId('image-tile').last().scrollIntoViewIfNeeded();
  await page.mouse.wheel(0, 10_000);
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="image-tile"]').length > 50);
  assert.equal(await page.getByTestId('image-tile').count(), 55);
});

test('a phone-sized viewport (390x844): Gallery and Generate fit without sideways scrolling', async () => {
  const { page } = joe;
  await page.setViewportSize({ width: 390, height: 844 });
  try {
    await go(page, 'gallery');
    await board(page, 'uncategorized').getByRole('button').first().click();
    await page.getByTestId('image-tile').first().waitFor();
    await page.evaluate(() => window.scrollTo(0, 0));
    await screenshot(page, '28-gallery-narrow');
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 390), 'the Gallery overflows sideways');
    await go(page, 'generate');
    await page.getByTestId('generate-form').and(page.locator('[aria-busy="false"]')).waitFor();
    await page.evaluate(() => window.scrollTo(0, 0));
    await screenshot(page, '29-generate-narrow');
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 390), 'Generate overflows sideways');
  } finally {
    await page.setViewportSize({ width: 1280, height: 860 });
  }
});

test('use these parameters: the viewer fills Generate with an image’s original parameters', async () => {
  const { page } = joe;
  const form = page.getByTestId('generate-form').and(page.locator('[aria-busy="false"]'));
  await go(page, 'generate');
  await fillGenerate(page, { prompt: 'a recalled lighthouse', negative: 'fog', steps: 3, size: 64, seed: 4321 });
  await page.getByTestId('gen-cfg').fill('6.5');
  await page.getByTestId('gen-sampler').selectOption('ddim');
  // The tiny SD 1.x model's text encoder has 2 layers: CLIP skip 2 reads the first.
  assert.equal(await page.getByTestId('gen-clip-skip').inputValue(), '1');
  await page.getByTestId('gen-clip-skip').fill('2');
  // Seamless tiling left to right only: sent as true, the other axis left out.
  assert.equal(await page.getByTestId('gen-seamless-x').isChecked(), false);
  await page.getByTestId('gen-seamless-x').check();
  const enqueued = page.waitForRequest((r) => r.method() === 'POST' && r.url().endsWith('/api/v1/queue/items'));
  const job = await invoke(page);
  const sent = (await enqueued).postDataJSON();
  assert.equal(sent.clip_skip, 2);
  assert.equal(sent.seamless_x, true);
  assert.ok(!('seamless_y' in sent), 'seamless_y is sent while off');
  await page.locator(`[data-job-id="${job}"][data-status="completed"]`).waitFor({ timeout: 120_000 });
  const item = await joeApi.call('GET', `/queue/items/${job}`);
  assert.equal(item.status, 'completed');
  assert.equal(item.params.clip_skip, 2);
  assert.equal(item.params.seamless_x, true);
  assert.ok(!('seamless_y' in item.params), 'the server stores seamless_y: false');
  const [made] = item.result_image_ids;

  await go(page, 'queue');
  const row = page.locator(`[data-testid="queue-row"][data-item-id="${job}"]`);
  assert.equal((await row.getByTestId('params-clip-skip').innerText()).trim(), '· CLIP skip 2');
  assert.equal((await row.getByTestId('params-seamless').innerText()).trim(), '· seamless X');
  await go(page, 'generate');

  await fillGenerate(page, { prompt: 'something else', negative: 'rain', steps: 5, size: 72 });
  await page.getByTestId('gen-cfg').fill('9');
  await page.getByTestId('gen-sampler').selectOption('euler_a');
  await page.getByTestId('gen-clip-skip').fill('1');
  await page.getByTestId('gen-seamless-x').uncheck();
  await page.getByTestId('gen-seamless-y').check();
  await page.getByTestId('gen-seed-random').check();
  await Api.until(
    async () => {
      const s = await savedForm(joeApi);
      return s.seedMode === 'random' && s.cfg_scale === 9 && s.clip_skip === 1 && s.seamless_x === false && s.seamless_y === true;
    },
    { what: 'the changed form to be saved' },
  );

  await go(page, 'gallery');
  await board(page, 'uncategorized').getByRole('button').first().click();
  await page.getByTestId('tab-images').click();
  await page.locator(`[data-testid="image-tile"][data-image-id="${made}"]`).getByRole('button').click();
  await page.getByTestId('viewer-use-params').waitFor();
  assert.equal(await page.getByTestId('meta-clip-skip').innerText(), '2');
  assert.equal(await page.getByTestId('meta-seamless-tiling').innerText(), 'X');
  await screenshot(page, '30-viewer-use-params');
  await page.getByTestId('viewer-use-params').click();
  await form.waitFor();
  await page.getByTestId('generate-info').filter({ hasText: 'filled in from the image' }).waitFor();
  assert.equal(new URL(page.url()).search, '', 'the ?recall query stays in the address');
  const values = {};
  for (const id of ['gen-model', 'gen-prompt', 'gen-negative', 'gen-width', 'gen-height', 'gen-steps', 'gen-cfg', 'gen-sampler', 'gen-clip-skip', 'gen-seed', 'gen-board']) {
    values[id] = await page.getByTestId(id).inputValue();
  }
  assert.deepEqual(values, {
    'gen-model': 'tiny',
    'gen-prompt': 'a recalled lighthouse',
    'gen-negative': 'fog',
    'gen-width': '64',
    'gen-height': '64',
    'gen-steps': '3',
    'gen-cfg': '6.5',
    'gen-sampler': 'ddim',
    'gen-clip-skip': '2',
    'gen-seed': '4321',
    'gen-board': '',
  });
  assert.ok(await page.getByTestId('gen-seed-fixed').isChecked(), 'the seed is not fixed');
  // The image tiled left to right only: its top–bottom axis (absent, so off) replaces the form's.
  assert.deepEqual([await page.getByTestId('gen-seamless-x').isChecked(), await page.getByTestId('gen-seamless-y').isChecked()], [true, false]);
  await page.getByTestId('gen-init-none').waitFor();
  await screenshot(page, '31-generate-recalled');
  // The recalled form is saved as the server-side UI state, as any change is.
  await Api.until(
    async () => {
      const s = await savedForm(joeApi);
      return s.prompt === 'a recalled lighthouse' && s.seedMode === 'fixed' && s.seed === 4321 && s.sampler === 'ddim' && s.cfg_scale === 6.5 && s.clip_skip === 2 && s.seamless_x === true && s.seamless_y === false;
    },
    { what: 'the recalled form to be saved' },
  );
});

test('an admin sets and clears the tiny model’s CLIP skip default on the Models page (1 to 4)', async () => {
  const { page } = admin;
  const tinyDefaults = async () => (await adminApi.call('GET', '/models')).find((m) => m.name === 'tiny').defaults;
  await go(page, 'models');
  await page.locator('[data-testid="model-item"][data-model-name="tiny"]').click();
  const field = page.getByTestId('model-default-clip_skip');
  assert.equal(await field.inputValue(), '');
  await field.fill('5');
  await page.getByTestId('model-save').click();
  await page.getByTestId('model-error').filter({ hasText: 'clip_skip must be between 1 and 4' }).waitFor();
  assert.equal((await tinyDefaults()).clip_skip, undefined);

  await field.fill('2');
  await page.getByTestId('model-save').click();
  await page.getByText('Saved.').waitFor();
  assert.deepEqual(await tinyDefaults(), { steps: 4, clip_skip: 2 });
  await page.reload();
  await page.locator('[data-testid="model-item"][data-model-name="tiny"]').click();
  // The details load after the click; wait for the stored default to show.
  await page.waitForFunction(
    () => document.querySelector('[data-testid="model-default-clip_skip"]')?.value === '2',
  );

  await field.fill('');
  await page.getByTestId('model-save').click();
  await Api.until(async () => !('clip_skip' in (await tinyDefaults())), { what: 'the cleared CLIP skip default' });
  assert.deepEqual(await tinyDefaults(), { steps: 4 });
});

test('retry: with the queue paused, Joe cancels a job and retries it, and a new pending item appears', async () => {
  const { page } = joe;
  await adminApi.call('POST', '/queue/pause');
  try {
    await go(page, 'generate');
    await fillGenerate(page, { prompt: 'a retried windmill', steps: 2, size: 64, seed: 9 });
    const job = await invoke(page);
    await go(page, 'queue');
    const row = (id, status) => page.locator(`[data-testid="queue-row"][data-item-id="${id}"][data-status="${status}"]`);
    await row(job, 'pending').getByTestId('queue-cancel').click();
    await row(job, 'canceled').getByTestId('queue-retry').click();
    await page.getByTestId('queue-info').filter({ hasText: 'Queued again.' }).waitFor();
    const fresh = page.locator('[data-testid="queue-row"][data-mine="true"][data-status="pending"]');
    await fresh.waitFor();
    const retried = await fresh.getAttribute('data-item-id');
    assert.notEqual(retried, job);
    const item = await joeApi.call('GET', `/queue/items/${retried}`);
    assert.equal(item.status, 'pending');
    assert.equal(item.params.prompt, 'a retried windmill');
    assert.equal((await joeApi.call('GET', `/queue/items/${job}`)).status, 'canceled');
    await screenshot(page, '32-queue-retried');

    // Admins retry anyone's failed or canceled item, and it is queued for its owner again.
    await go(admin.page, 'queue');
    const adminRow = admin.page.locator(`[data-testid="queue-row"][data-item-id="${job}"][data-status="canceled"]`);
    await adminRow.getByTestId('queue-retry').click();
    const answer = admin.page.getByTestId('queue-info').or(admin.page.getByTestId('queue-error'));
    await answer.waitFor();
    assert.equal(await answer.innerText(), 'Queued again.');
    const joes = (await joeApi.call('GET', '/queue/items')).filter(
      (i) => i.is_mine && i.status === 'pending' && i.params.prompt === 'a retried windmill',
    );
    assert.equal(joes.length, 2, 'Joe now has his own retry and the admin\'s, both his');
  } finally {
    await adminApi.call('POST', '/queue/resume');
  }
});
