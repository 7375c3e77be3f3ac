// Accounts in a real browser: keyboard-only login, the admin's reactivate / password reset /
// delete, and the profile's rename and password change (old token revoked, new password works).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './server.mjs';
import { launchBrowser, screenshot } from './browser.mjs';
import { Api } from './api.mjs';
import { addUser, createAdmin } from './fixtures.mjs';
import { ADMIN, JANE, JOE as JOE_AT_START, go, signIn, token } from './ui.mjs';

let server;
let browser;
let admin;
let joe;
let adminApi;
/** Joe's password changes twice below. */
const JOE = { ...JOE_AT_START };

before(async () => {
  server = await startServer();
  adminApi = await createAdmin(server);
  await addUser(adminApi, JOE);
  await addUser(adminApi, JANE);
  browser = await launchBrowser();
  admin = await browser.newUser(server.url);
  joe = await browser.newUser(server.url);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const userRow = (page, email) => page.locator(`[data-testid="user-row"][data-email="${email}"]`);

test('the login form works from the keyboard alone: Tab into the fields, type, Enter', async () => {
  const { page } = admin;
  await page.goto('/login');
  await page.getByTestId('login-form').waitFor();
  const focused = () => page.evaluate(() => document.activeElement?.getAttribute('data-testid'));
  await page.keyboard.press('Tab');
  assert.equal(await focused(), 'login-email');
  await page.keyboard.type(ADMIN.email);
  await page.keyboard.press('Tab');
  assert.equal(await focused(), 'login-password');
  await page.keyboard.type(ADMIN.password);
  await screenshot(page, '18-login-keyboard');
  await page.keyboard.press('Enter');
  await page.getByTestId('nav-user').filter({ hasText: ADMIN.name }).waitFor();
});

test('the admin deactivates and reactivates Joe, resets his password, and Joe signs in with it', async () => {
  const { page } = admin;
  await go(page, 'users');
  const row = userRow(page, JOE.email);
  await row.getByTestId('user-deactivate').click();
  await row.getByTestId('user-status').filter({ hasText: 'deactivated' }).waitFor();
  await assert.rejects(Api.login(server.url, JOE.email, JOE.password), (e) => e.status >= 400 && e.status < 500);
  await row.getByTestId('user-reactivate').click();
  await row.getByTestId('user-status').filter({ hasText: /^active$/ }).waitFor();
  await Api.login(server.url, JOE.email, JOE.password);

  JOE.password = 'Reset-By-Admin-42';
  await row.getByTestId('user-edit').click();
  await page.getByTestId('user-edit-password').fill(JOE.password);
  await page.getByTestId('user-edit-save').click();
  await page.getByTestId('users-info').filter({ hasText: `Saved ${JOE.name}` }).waitFor();
  await signIn(joe.page, JOE);
  await joe.page.getByTestId('nav-user').filter({ hasText: JOE.name }).waitFor();
});

test('the admin deletes Jane after confirming; she can no longer sign in', async () => {
  const { page } = admin;
  const row = userRow(page, JANE.email);
  await row.getByTestId('user-delete').click();
  await page.getByTestId('user-delete-dialog').waitFor();
  await screenshot(page, '19-users-delete-confirm');
  await page.getByTestId('user-delete-confirm').click();
  await page.getByTestId('users-info').filter({ hasText: `Deleted ${JANE.name}` }).waitFor();
  await row.waitFor({ state: 'detached' });
  const emails = (await adminApi.call('GET', '/auth/users')).map((u) => u.email);
  assert.ok(!emails.includes(JANE.email), 'Jane is still listed');
  await assert.rejects(Api.login(server.url, JANE.email, JANE.password), (e) => e.status === 401);
});

test('Joe renames himself and changes his password: the old token stops working', async () => {
  const { page } = joe;
  await go(page, 'profile');
  await page.getByTestId('profile-name-input').fill('Joseph');
  await page.getByTestId('profile-name-save').click();
  await page.getByTestId('profile-info').filter({ hasText: 'Name saved' }).waitFor();
  await page.getByTestId('nav-user').filter({ hasText: 'Joseph' }).waitFor();
  assert.equal(await page.getByTestId('profile-name').innerText(), 'Joseph');

  // A mismatched confirmation is caught before anything is sent.
  const newPassword = 'Changed-By-Joe-77';
  await page.getByTestId('profile-current-password').fill(JOE.password);
  await page.getByTestId('profile-new-password').fill(newPassword);
  await page.getByTestId('profile-confirm-password').fill('something else');
  await page.getByTestId('profile-password-save').click();
  await page.getByTestId('profile-error').filter({ hasText: 'do not match' }).waitFor();

  const oldToken = await token(page);
  await page.getByTestId('profile-confirm-password').fill(newPassword);
  await page.getByTestId('profile-password-save').click();
  await page.getByTestId('profile-info').filter({ hasText: 'Password changed' }).waitFor();
  await screenshot(page, '20-profile-changed');
  await assert.rejects(new Api(server.url, oldToken).call('GET', '/auth/me'), (e) => e.status === 401);
  assert.notEqual(await token(page), oldToken, 'the page did not take the new token');
  // The page carries on with the new token.
  await go(page, 'gallery');
  await page.getByTestId('gallery-title').waitFor();
  assert.equal(await page.getByTestId('login-form').count(), 0);
  await assert.rejects(Api.login(server.url, JOE.email, JOE.password), (e) => e.status === 401);
  JOE.password = newPassword;
  const me = await (await Api.login(server.url, JOE.email, JOE.password)).call('GET', '/auth/me');
  assert.equal(me.display_name, 'Joseph');
});
