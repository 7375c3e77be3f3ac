// Single-user mode has no login, so the server itself must refuse what another web site asks
// of it: a page on another origin posting to the API (CSRF), and a page whose host name
// resolves to the server (DNS rebinding) reading it. Both are tried from a real browser.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startServer } from './server.mjs';
import { launchBrowser } from './browser.mjs';

let server;
let browser;
let attacker;
let attackerUrl;

before(async () => {
  server = await startServer({ multiuser: false });
  const port = new URL(server.url).port;
  // The other site: its page posts to the server (a simple request, which browsers send
  // without a preflight) and tries a JSON write with fetch.
  const page = `<!doctype html><title>elsewhere</title><script>
    window.results = {};
    async function attack() {
      const target = 'http://127.0.0.1:${port}';
      try { await fetch(target + '/api/v1/queue/pause', { method: 'POST', mode: 'no-cors' }); window.results.pause = 'sent'; }
      catch (e) { window.results.pause = 'error ' + e; }
      try {
        const r = await fetch(target + '/api/v1/boards', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"planted"}' });
        window.results.board = r.status;
      } catch (e) { window.results.board = 'blocked'; }
      window.results.done = true;
    }
    attack();
  </script>`;
  attacker = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(page);
  });
  await new Promise((resolve) => attacker.listen(0, '127.0.0.1', resolve));
  attackerUrl = `http://127.0.0.1:${attacker.address().port}/`;
  // Maps a made-up public name to the server's address, as a rebinding DNS server would.
  browser = await launchBrowser({ extraArgs: ['--host-resolver-rules=MAP rebind.example 127.0.0.1'] });
});

after(async () => {
  await browser?.close();
  await server?.stop();
  attacker?.close();
});

async function api(path, init) {
  const response = await fetch(`${server.url}/api/v1${path}`, init);
  return { status: response.status, body: await response.json().catch(() => null) };
}

test('a page on another origin cannot change anything', async () => {
  const { page } = await browser.newUser(attackerUrl);
  await page.goto(attackerUrl);
  await page.waitForFunction(() => window.results?.done === true);
  const status = await api('/queue/status');
  assert.equal(status.status, 200);
  assert.equal(status.body.paused, false, 'the other site paused the queue');
  const boards = await api('/boards');
  assert.ok(!JSON.stringify(boards.body).includes('planted'), 'the other site created a board');
  // What the server answered that page: the same refusal, seen from outside the browser.
  const forged = await api('/queue/pause', { method: 'POST', headers: { origin: 'http://elsewhere.example' } });
  assert.equal(forged.status, 403);
  assert.equal(forged.body.error.code, 'foreign_origin');
  // The server's own page still works.
  const own = await api('/queue/pause', { method: 'POST', headers: { origin: server.url } });
  assert.equal(own.status, 204);
  await api('/queue/resume', { method: 'POST' });
});

test('a rebinding host name reads nothing', async () => {
  const port = new URL(server.url).port;
  const { page } = await browser.newUser(`http://rebind.example:${port}`);
  const response = await page.goto(`http://rebind.example:${port}/api/v1/boards`);
  assert.equal(response.status(), 403);
  const body = JSON.parse(await page.locator('body').innerText());
  assert.equal(body.error.code, 'foreign_origin');
  // Same-origin script on that page gets the refusal too.
  const seen = await page.evaluate(async () => (await fetch('/api/v1/images')).status);
  assert.equal(seen, 403);
  // The real name keeps working.
  const { page: own } = await browser.newUser(server.url);
  await own.goto('/');
  await own.getByTestId('gallery-title').waitFor();
});
