// The seed's QA plan in a real browser: an admin plus Joe and Jane in separate contexts against
// a real `atelier serve --multiuser` with a tiny CPU model.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startServer, writeTinyModel } from './server.mjs';
import { launchBrowser, screenshot } from './browser.mjs';
import { Api } from './api.mjs';
import { solidPng } from './png.mjs';
import { ADMIN, JANE, JOE, dropFile, fillGenerate, go, invoke, recordSocket, signIn, token } from './ui.mjs';

let server;
let browser;
let admin; // { page, context }
let joe;
let jane;
let adminApi;
const frames = {};

before(async () => {
  server = await startServer();
  await writeTinyModel(path.join(server.modelsDir, 'tiny'));
  browser = await launchBrowser();
  admin = await browser.newUser(server.url);
  joe = await browser.newUser(server.url);
  jane = await browser.newUser(server.url);
  frames.admin = recordSocket(admin.page);
  frames.joe = recordSocket(joe.page);
  frames.jane = recordSocket(jane.page);
});

after(async () => {
  await browser?.close();
  if (server) {
    if (process.env.E2E_SERVER_LOG) console.log(server.log());
    await server.stop();
  }
});

test('first launch asks for the administrator, then the login page', async () => {
  const { page } = admin;
  await page.goto('/');
  await page.getByTestId('setup-form').waitFor();
  await screenshot(page, '01-setup');
  await page.getByTestId('setup-token').fill('wrong-token');
  await page.getByTestId('setup-email').fill(ADMIN.email);
  await page.getByTestId('setup-name').fill(ADMIN.name);
  await page.getByTestId('setup-password').fill(ADMIN.password);
  await page.getByTestId('setup-confirm').fill(ADMIN.password);
  await page.getByTestId('setup-submit').click();
  await page.getByRole('alert').filter({ hasText: 'setup token is wrong' }).waitFor();
  await page.getByTestId('setup-token').fill(server.setupToken);
  await page.getByTestId('setup-submit').click();
  await page.getByTestId('login-form').waitFor();
  await screenshot(page, '02-login');
  await page.getByTestId('login-email').fill(ADMIN.email);
  await page.getByTestId('login-password').fill('not the password');
  await page.getByTestId('login-submit').click();
  await page.getByTestId('login-error').filter({ hasText: 'wrong email or password' }).waitFor();
  await signIn(page, ADMIN);
  await page.getByTestId('nav-user').filter({ hasText: 'Admin' }).waitFor();
  adminApi = new Api(server.url, await token(page));
});

test('the admin installs the tiny model through the Models page', async () => {
  const { page } = admin;
  await go(page, 'models');
  await page.getByTestId('install-source').fill(path.join(server.modelsDir, 'tiny'));
  await page.getByTestId('install-name').fill('tiny');
  await page.getByTestId('install-submit').click();
  await page.locator('[data-testid="install-status"][data-status="completed"]').waitFor({ timeout: 180_000 });
  await page.locator('[data-testid="model-item"][data-model-name="tiny"]').click();
  await page.getByTestId('model-default-steps').fill('4');
  await page.getByTestId('model-save').click();
  await page.getByText('Saved.').waitFor();
  await screenshot(page, '03-models-admin');
});

test('the admin adds Joe and Jane, and the last-admin guard is shown', async () => {
  const { page } = admin;
  await go(page, 'users');
  for (const user of [JOE, JANE]) {
    await page.getByTestId('user-add-email').fill(user.email);
    await page.getByTestId('user-add-name').fill(user.name);
    await page.getByTestId('user-add-password').fill(user.password);
    await page.getByTestId('user-add-submit').click();
    await page.locator(`[data-testid="user-row"][data-email="${user.email}"]`).waitFor();
  }
  await page.locator(`[data-testid="user-row"][data-email="${ADMIN.email}"] [data-testid="user-deactivate"]`).click();
  const guard = page.getByTestId('users-error');
  await guard.waitFor();
  assert.match(await guard.innerText(), /admin/i);
  await screenshot(page, '04-users-last-admin');
  // Quota and weight for Jane through the editor.
  await page.locator(`[data-testid="user-row"][data-email="${JANE.email}"] [data-testid="user-edit"]`).click();
  await page.getByTestId('user-edit-quota').fill('512');
  await page.getByTestId('user-edit-weight').fill('2');
  await page.getByTestId('user-edit-save').click();
  await page.getByTestId('users-info').filter({ hasText: 'Saved Jane' }).waitFor();
  const jane = (await adminApi.call('GET', '/auth/users')).find((u) => u.email === JANE.email);
  assert.equal(jane.quota_bytes, 512 * 1024 * 1024);
  assert.equal(jane.sched_weight, 2);
});

test('Joe and Jane sign in in separate browser contexts; neither is an admin', async () => {
  await signIn(joe.page, JOE);
  await signIn(jane.page, JANE);
  for (const { page } of [joe, jane]) {
    await go(page, 'profile');
    await page.getByTestId('profile').waitFor();
    assert.equal(await page.getByTestId('admin-badge').count(), 0);
    assert.equal(await page.getByTestId('nav-users').count(), 0);
  }
  await screenshot(joe.page, '05-profile-joe');
});

test('boards, images and assets are invisible across users', async () => {
  // Joe: a board, an asset in Uncategorized (file input) and one in his board (drag and drop).
  const page = joe.page;
  await go(page, 'gallery');
  await page.getByTestId('board-new-name').fill('Joe board');
  await page.getByTestId('board-create').click();
  await page.getByTestId('board-Joe board').waitFor();
  await page.getByTestId('board-uncategorized').getByRole('button').click();
  await page.getByTestId('upload-input').setInputFiles({ name: 'joe-red.png', mimeType: 'image/png', buffer: solidPng(96, 64, [200, 40, 40]) });
  await page.getByTestId('gallery-info').filter({ hasText: 'Uploaded 1 file' }).waitFor();
  await page.getByTestId('image-tile').first().waitFor();
  await page.getByTestId('board-Joe board').getByRole('button').first().click();
  await dropFile(page, 'image-grid', 'joe-blue.png', solidPng(64, 96, [40, 40, 200]));
  await page.getByTestId('gallery-info').filter({ hasText: 'Uploaded 1 file' }).waitFor();
  await page.getByTestId('image-tile').first().waitFor();
  await screenshot(page, '06-gallery-joe');

  // Jane: her own board and asset.
  await go(jane.page, 'gallery');
  await jane.page.getByTestId('board-new-name').fill('Jane board');
  await jane.page.getByTestId('board-create').click();
  await jane.page.getByTestId('board-Jane board').waitFor();
  await jane.page.getByTestId('board-uncategorized').getByRole('button').click();
  await jane.page.getByTestId('upload-input').setInputFiles({ name: 'jane-green.png', mimeType: 'image/png', buffer: solidPng(64, 64, [40, 200, 40]) });
  await jane.page.getByTestId('image-tile').first().waitFor();
  assert.equal(await jane.page.getByTestId('board-Joe board').count(), 0, "Jane sees Joe's board");
  assert.equal(await jane.page.getByTestId('image-tile').count(), 1, 'Jane sees only her asset');
  await jane.page.getByTestId('tab-images').click();
  await jane.page.getByTestId('grid-empty').waitFor();

  // Joe does not see Jane's board, and Jane cannot fetch Joe's images even by id.
  await page.reload();
  await page.getByTestId('board-Joe board').waitFor();
  assert.equal(await page.getByTestId('board-Jane board').count(), 0, "Joe sees Jane's board");
  const janeApi = new Api(server.url, await token(jane.page));
  const joeApi = new Api(server.url, await token(page));
  const joeImages = (await joeApi.call('GET', '/images')).items;
  assert.equal(joeImages.length, 2);
  for (const image of joeImages) {
    await assert.rejects(janeApi.call('GET', `/images/${image.id}`), (e) => e.status === 404);
  }
  const janeBoards = await janeApi.call('GET', '/boards');
  assert.deepEqual(janeBoards.boards.map((b) => b.name), ['Jane board']);
  assert.equal((await janeApi.call('GET', '/images', undefined)).items.length, 1);
});

test("each user's previews and progress reach only that user", async () => {
  await go(joe.page, 'generate');
  await fillGenerate(joe.page, { prompt: 'joe secret prompt', negative: 'joe negative', steps: 6, size: 64, seed: 42, board: 'Joe board' });
  await go(jane.page, 'generate');
  await fillGenerate(jane.page, { prompt: 'jane private prompt', steps: 5, size: 64 });

  const joeJob = await invoke(joe.page);
  await joe.page.locator(`[data-job-id="${joeJob}"][data-status="completed"]`).waitFor({ timeout: 120_000 });
  await joe.page.locator(`[data-job-id="${joeJob}"] [data-testid="job-result"]`).waitFor();
  const janeJob = await invoke(jane.page);
  await jane.page.locator(`[data-job-id="${janeJob}"][data-status="completed"]`).waitFor({ timeout: 120_000 });
  await screenshot(joe.page, '07-generate-joe');
  await screenshot(jane.page, '08-generate-jane');

  const progress = (who, id) => frames[who].filter((m) => m.type === 'progress' && m.item_id === id);
  assert.ok(progress('joe', joeJob).length > 0, 'Joe gets progress for his job');
  assert.ok(progress('joe', joeJob).some((m) => m.preview?.startsWith('data:image/')), 'Joe gets previews');
  assert.ok(progress('jane', janeJob).length > 0, 'Jane gets progress for her job');
  assert.equal(progress('jane', joeJob).length, 0, "Jane gets Joe's progress");
  assert.equal(progress('joe', janeJob).length, 0, "Joe gets Jane's progress");
  assert.equal(progress('admin', joeJob).length + progress('admin', janeJob).length, 0, 'the admin gets previews');
  // The UI shows no card for the other user's job.
  assert.equal(await jane.page.locator(`[data-job-id="${joeJob}"]`).count(), 0);
  assert.equal(await joe.page.locator(`[data-job-id="${janeJob}"]`).count(), 0);
  // Other users' events carry what everyone's queue listing shows (the item's id and status),
  // never parameters, progress, results, errors or the owner's id.
  const aboutJoes = frames.jane.filter((m) => JSON.stringify(m).includes(joeJob));
  assert.ok(aboutJoes.length > 0, 'Jane hears that Joe\'s item changed');
  for (const m of aboutJoes) {
    assert.deepEqual(Object.keys(m).sort(), ['item_id', 'status', 'type'], JSON.stringify(m));
    assert.equal(m.type, 'queue_changed');
  }
  assert.ok(!JSON.stringify(frames.jane).includes('joe secret prompt'), "Joe's prompt reached Jane");
});

test("a reload restores each user's own last parameters, with no leakage", async () => {
  for (const { page } of [joe, jane]) await page.reload();
  await joe.page.getByTestId('generate-form').and(joe.page.locator('[aria-busy="false"]')).waitFor();
  await jane.page.getByTestId('generate-form').and(jane.page.locator('[aria-busy="false"]')).waitFor();
  assert.equal(await joe.page.getByTestId('gen-prompt').inputValue(), 'joe secret prompt');
  assert.equal(await joe.page.getByTestId('gen-negative').inputValue(), 'joe negative');
  assert.equal(await joe.page.getByTestId('gen-steps').inputValue(), '6');
  assert.equal(await joe.page.getByTestId('gen-seed').inputValue(), '42');
  assert.ok(await joe.page.getByTestId('gen-seed-fixed').isChecked());
  assert.equal(await joe.page.getByTestId('gen-board').locator('option:checked').innerText(), 'Joe board');
  assert.equal(await jane.page.getByTestId('gen-prompt').inputValue(), 'jane private prompt');
  assert.equal(await jane.page.getByTestId('gen-steps').inputValue(), '5');
  assert.ok(await jane.page.getByTestId('gen-seed-random').isChecked());
  const janeHtml = await jane.page.content();
  assert.ok(!janeHtml.includes('joe secret prompt'), "Joe's prompt appears in Jane's page");
  await screenshot(jane.page, '09-generate-jane-restored');
});

test('queue: others\' params are <hidden>, the X/Y badge, and cancel rights', async () => {
  await adminApi.call('POST', '/queue/pause');
  await adminApi.call('DELETE', '/queue/items?all=true');
  // Joe queues a job while the queue is paused.
  const joeJob = await invoke(joe.page);
  await go(joe.page, 'queue');
  await joe.page.getByTestId('queue-badge').filter({ hasText: '1/1' }).waitFor();

  await go(jane.page, 'queue');
  const joeRowForJane = jane.page.locator(`[data-testid="queue-row"][data-item-id="${joeJob}"]`);
  await joeRowForJane.waitFor();
  assert.equal(await joeRowForJane.getByTestId('params-hidden').innerText(), '<hidden>');
  assert.equal((await joeRowForJane.getByTestId('queue-owner').innerText()).trim(), 'Joe');
  await jane.page.getByTestId('queue-badge').filter({ hasText: '0/1' }).waitFor();
  assert.ok(!(await jane.page.content()).includes('joe secret prompt'));
  // Jane tries to cancel Joe's job: refused with a clear message.
  await joeRowForJane.getByTestId('queue-cancel').click();
  await jane.page.getByTestId('queue-error').filter({ hasText: 'only your own' }).waitFor();
  await screenshot(jane.page, '10-queue-jane-refused');
  // Joe sees his own params and cancels his job.
  const joeRow = joe.page.locator(`[data-testid="queue-row"][data-item-id="${joeJob}"]`);
  assert.equal(await joeRow.getByTestId('params-prompt').innerText(), 'joe secret prompt');
  await screenshot(joe.page, '11-queue-joe');
  await joeRow.getByTestId('queue-cancel').click();
  await joe.page.locator(`[data-testid="queue-row"][data-item-id="${joeJob}"][data-status="canceled"]`).waitFor();
  await joe.page.getByTestId('queue-badge').filter({ hasText: '0/0' }).waitFor();
});

test("the admin can cancel Joe's job; Joe cannot cancel the admin's", async () => {
  await go(joe.page, 'generate');
  const joeJob = await invoke(joe.page);
  await go(admin.page, 'generate');
  await fillGenerate(admin.page, { prompt: 'admin prompt', steps: 3, size: 64 });
  const adminJob = await invoke(admin.page);

  await go(joe.page, 'queue');
  const adminRow = joe.page.locator(`[data-testid="queue-row"][data-item-id="${adminJob}"]`);
  await adminRow.getByTestId('params-hidden').waitFor();
  await joe.page.getByTestId('queue-badge').filter({ hasText: '1/2' }).waitFor();
  await adminRow.getByTestId('queue-cancel').click();
  await joe.page.getByTestId('queue-error').filter({ hasText: 'only your own' }).waitFor();
  assert.equal(await adminRow.getAttribute('data-status'), 'pending');

  await go(admin.page, 'queue');
  const joeRow = admin.page.locator(`[data-testid="queue-row"][data-item-id="${joeJob}"]`);
  await joeRow.waitFor();
  assert.equal((await joeRow.getByTestId('queue-owner').innerText()).trim(), 'Joe');
  await screenshot(admin.page, '12-queue-admin');
  await joeRow.getByTestId('queue-cancel').click();
  await admin.page.locator(`[data-testid="queue-row"][data-item-id="${joeJob}"][data-status="canceled"]`).waitFor();
  await joe.page.locator(`[data-testid="queue-row"][data-item-id="${joeJob}"][data-status="canceled"]`).waitFor();
  await adminApi.call('POST', '/queue/resume');
  await admin.page.locator(`[data-testid="queue-row"][data-item-id="${adminJob}"][data-status="completed"]`).waitFor({ timeout: 120_000 });
});

test('models are read-only for users', async () => {
  const { page } = joe;
  await go(page, 'models');
  await page.locator('[data-testid="model-item"][data-model-name="tiny"]').click();
  await page.getByTestId('model-details').waitFor();
  await page.getByTestId('model-readonly').waitFor();
  for (const id of ['model-save', 'model-delete', 'install-panel', 'install-submit', 'install-upload']) {
    assert.equal(await page.getByTestId(id).count(), 0, `${id} shown to a user`);
  }
  assert.equal(await page.getByTestId('model-default-steps').inputValue(), '4');
  assert.ok(await page.getByTestId('model-name').getAttribute('readonly') !== null);
  await screenshot(page, '13-models-joe');
  const joeApi = new Api(server.url, await token(page));
  const [model] = await joeApi.call('GET', '/models');
  await assert.rejects(joeApi.call('PATCH', `/models/${model.id}`, { description: 'x' }), (e) => e.status === 403);
});

test('Jane logs out; the admin signs in there and sees, moves and deletes everyone\'s images', async () => {
  const page = jane.page;
  await go(page, 'profile');
  await page.getByTestId('logout').click();
  await page.getByTestId('login-form').waitFor();
  assert.equal(await token(page), null);
  await screenshot(page, '14-logged-out');

  await signIn(page, ADMIN);
  await go(page, 'gallery');
  const joeBoard = page.getByTestId('board-Joe board');
  await joeBoard.waitFor();
  assert.equal((await joeBoard.getByTestId('board-owner').innerText()).trim(), 'Joe');
  assert.equal((await page.getByTestId('board-Jane board').getByTestId('board-owner').innerText()).trim(), 'Jane');

  // Joe's Uncategorized through the owner filter: his asset is there.
  const users = await adminApi.call('GET', '/auth/users');
  const joeUser = users.find((u) => u.email === JOE.email);
  await page.getByTestId('owner-filter').selectOption(joeUser.id);
  await page.getByTestId('tab-assets').click();
  const tile = page.getByTestId('image-tile').first();
  await tile.waitFor();
  const movedId = await tile.getAttribute('data-image-id');
  await screenshot(page, '15-gallery-admin');
  // Drag it onto Joe's board in the sidebar.
  await tile.getByRole('button').dragTo(page.getByTestId('board-Joe board'));
  await page.getByTestId('gallery-info').filter({ hasText: 'Image moved' }).waitFor();
  const moved = await adminApi.call('GET', `/images/${movedId}`);
  const joeBoardId = (await adminApi.call('GET', `/boards?owner_id=${joeUser.id}`)).boards[0].id;
  assert.equal(moved.board_id, joeBoardId);

  // Open Joe's board, view an image with its metadata, and delete one.
  await page.getByTestId('board-Joe board').getByRole('button').first().click();
  await page.getByTestId('tab-images').click();
  await page.getByTestId('image-tile').first().getByRole('button').click();
  await page.getByTestId('image-viewer').waitFor();
  await page.getByTestId('meta-prompt').filter({ hasText: 'joe secret prompt' }).waitFor();
  assert.equal(await page.getByTestId('meta-seed').innerText(), '42');
  await screenshot(page, '16-viewer-admin');
  await page.getByTestId('viewer-delete').click();
  await page.getByTestId('viewer-delete-confirm').click();
  await page.getByTestId('image-viewer').waitFor({ state: 'detached' });
  const left = await adminApi.call('GET', `/images?board_id=${joeBoardId}&category=general`);
  assert.equal(left.items.length, 0);

  // The admin's Generate form holds the admin's parameters, not Jane's.
  await go(page, 'generate');
  await page.getByTestId('generate-form').and(page.locator('[aria-busy="false"]')).waitFor();
  assert.equal(await page.getByTestId('gen-prompt').inputValue(), 'admin prompt');
});

test('logout ends the session for the API too', async () => {
  const page = joe.page;
  const before = await token(page);
  await go(page, 'profile');
  await page.getByTestId('logout').click();
  await page.getByTestId('login-form').waitFor();
  await assert.rejects(new Api(server.url, before).call('GET', '/auth/me'), (e) => e.status === 401);
});
