// The token counts under the Generate page's prompts, against the real server's tokenizer: Joe
// types a 100-word prompt key by key and sees it take a second chunk ("/ 150"), counted once his
// typing pauses rather than per key; a short weighted prompt shows its small count with the
// weights in the tooltip, and on a slow server the count of the text typed before it is dropped
// (one request at a time); a negative prompt past 600 tokens is flagged as cut; an empty field
// shows 0 / 75 without asking; a prompt the server refuses (over 4000 characters) hides the count
// and shows no error. In a real browser against `atelier serve --multiuser`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './server.mjs';
import { launchBrowser, screenshot } from './browser.mjs';
import { Api } from './api.mjs';
import { addUser, createAdmin } from './fixtures.mjs';
import { JOE, generateReady, go, signIn } from './ui.mjs';

let server;
let browser;
let joe;
let joeApi;

before(async () => {
  server = await startServer();
  const adminApi = await createAdmin(server);
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

const VOCABULARY = 'a red barn in the green field under blue sky with white clouds and tall old trees near quiet river at golden hour'.split(' ');

/** `count` words of plain prompt text (no commas, no weights). */
const words = (count) => Array.from({ length: count }, (_, i) => VOCABULARY[i % VOCABULARY.length]).join(' ');

/** Follows the page's token count requests: how many, the prompts asked, and the most in flight at once. */
function recordCountRequests(page) {
  const seen = { prompts: [], inFlight: 0, mostInFlight: 0 };
  const isCount = (request) => request.method() === 'POST' && request.url().endsWith('/api/v1/prompts/tokens');
  const done = (request) => {
    if (isCount(request)) seen.inFlight--;
  };
  page.on('request', (request) => {
    if (!isCount(request)) return;
    seen.prompts.push(request.postDataJSON().prompt);
    seen.inFlight++;
    seen.mostInFlight = Math.max(seen.mostInFlight, seen.inFlight);
  });
  page.on('requestfinished', done);
  page.on('requestfailed', done);
  return seen;
}

/** Records every text the counter `testId` shows from now on; the returned function reads them. */
async function recordCountTexts(page, testId) {
  await page.evaluate((testId) => {
    const texts = [];
    const record = () => {
      const text = document.querySelector(`[data-testid="${testId}"]`)?.textContent ?? null;
      if (texts.at(-1) !== text) texts.push(text);
    };
    record();
    new MutationObserver(record).observe(document.body, { subtree: true, childList: true, characterData: true });
    window.__countTexts = texts;
  }, testId);
  return () => page.evaluate(() => window.__countTexts);
}

/** Waits until the counter `testId` reads exactly `text` (its visible count, then " tokens" for screen readers). */
async function countReads(page, testId, text) {
  await page.waitForFunction(
    ({ testId, text }) => document.querySelector(`[data-testid="${testId}"]`)?.textContent === text,
    { testId, text },
  );
}

test('Joe types a 100-word prompt and sees it take a second chunk of 75 tokens', async (t) => {
  const { page } = joe;
  await go(page, 'generate');
  await generateReady(page);
  await countReads(page, 'gen-prompt-tokens', '0 / 75 tokens');
  await countReads(page, 'gen-negative-tokens', '0 / 75 tokens');

  const prompt = words(100);
  const expected = await joeApi.call('POST', '/prompts/tokens', { prompt });
  assert.equal(expected.chunks, 2, `the 100-word prompt takes ${expected.chunks} chunks`);
  assert.equal(expected.truncated, false);

  const requests = recordCountRequests(page);
  await page.getByTestId('gen-prompt').pressSequentially(prompt);
  await countReads(page, 'gen-prompt-tokens', `${expected.tokens} / 150 tokens`);
  assert.ok(expected.tokens > 75 && expected.tokens <= 150, `${expected.tokens} tokens`);
  assert.equal(requests.prompts.at(-1), prompt, 'the last count was not for the whole prompt');
  assert.ok(requests.prompts.length < prompt.length / 10, `${requests.prompts.length} requests for ${prompt.length} keystrokes`);
  t.diagnostic(`${requests.prompts.length} count requests for ${prompt.length} keystrokes`);
  assert.equal(requests.mostInFlight, 1, 'two count requests were in flight at once');
  assert.equal(await page.getByTestId('gen-prompt-tokens').getAttribute('title'), null, 'a tooltip without weighted parts');
  assert.equal(await page.getByTestId('gen-negative-tokens').textContent(), '0 / 75 tokens');
  assert.ok(!requests.prompts.includes(''), 'an empty field was counted by the server');
  await screenshot(page, '70-generate-token-count');
});

test('a short weighted prompt shows its small count and its weights, never an older text’s', async () => {
  const { page } = joe;
  const older = 'a (red:1.3) barn';
  const prompt = 'a (red:1.3) barn, [fog]';
  const expected = await joeApi.call('POST', '/prompts/tokens', { prompt });
  const olderCount = (await joeApi.call('POST', '/prompts/tokens', { prompt: older })).tokens;
  assert.ok(expected.tokens < 10 && olderCount !== expected.tokens, `${olderCount} then ${expected.tokens} tokens`);

  // A slow server: the count for `older` is still on its way when `prompt` is typed.
  await page.route('**/api/v1/prompts/tokens', async (route) => {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await route.continue();
  });
  const shown = await recordCountTexts(page, 'gen-prompt-tokens');
  const requests = recordCountRequests(page);
  const olderAsked = page.waitForRequest((r) => r.url().endsWith('/api/v1/prompts/tokens') && r.postDataJSON().prompt === older);
  await page.getByTestId('gen-prompt').fill(older);
  await olderAsked;
  await page.getByTestId('gen-prompt').fill(prompt);
  await countReads(page, 'gen-prompt-tokens', `${expected.tokens} / 75 tokens`);
  await page.unroute('**/api/v1/prompts/tokens');

  assert.deepEqual(requests.prompts, [older, prompt]);
  assert.equal(requests.mostInFlight, 1, 'two count requests were in flight at once');
  const texts = await shown();
  assert.ok(!texts.includes(`${olderCount} / 75 tokens`), `the older text's count was shown: ${texts.join(' | ')}`);
  const counter = page.getByTestId('gen-prompt-tokens');
  assert.equal(await counter.getAttribute('title'), 'Weighted: red ×1.3, fog ×0.91');
  assert.equal(await counter.getAttribute('data-truncated'), 'false');
});

test('a negative prompt past 600 tokens is flagged as cut, and 0 / 75 once cleared', async () => {
  const { page } = joe;
  const negative = words(700);
  const expected = await joeApi.call('POST', '/prompts/tokens', { prompt: negative });
  assert.equal(expected.truncated, true);

  await page.getByTestId('gen-negative').fill(negative);
  await countReads(page, 'gen-negative-tokens', `${expected.tokens} / 600 tokens · cut at 600 tokens`);
  const counter = page.getByTestId('gen-negative-tokens');
  assert.equal(await counter.getAttribute('data-truncated'), 'true');
  assert.equal(await counter.locator('[aria-live="polite"]').textContent(), ' · cut at 600 tokens');
  await screenshot(page, '71-generate-token-count-cut');

  await page.getByTestId('gen-negative').fill('');
  await countReads(page, 'gen-negative-tokens', '0 / 75 tokens');
  assert.equal(await page.getByTestId('gen-negative-tokens').getAttribute('data-truncated'), 'false');
});

test('a prompt the server refuses hides its count and leaves the page usable', async () => {
  const { page } = joe;
  const refused = page.waitForResponse((r) => r.url().endsWith('/api/v1/prompts/tokens') && r.status() === 422);
  await page.getByTestId('gen-prompt').fill('x'.repeat(4001));
  await refused;
  await page.getByTestId('gen-prompt-tokens').waitFor({ state: 'detached' });
  assert.equal(await page.getByTestId('generate-error').count(), 0, 'an error banner for the count');

  await page.getByTestId('gen-prompt').fill('a cat');
  const expected = await joeApi.call('POST', '/prompts/tokens', { prompt: 'a cat' });
  await countReads(page, 'gen-prompt-tokens', `${expected.tokens} / 75 tokens`);
});
