// Page-level helpers for the browser tests: sign in, fill the Generate form, record socket frames.

export const ADMIN = { email: 'admin@example.com', name: 'Administrator', password: 'Sup3rSecret-Pass' };
export const JOE = { email: 'joeuser@example.com', name: 'Joe', password: 'TestPassword123' };
export const JANE = { email: 'janeuser@example.com', name: 'Jane', password: 'TestPassword123' };

export async function signIn(page, user) {
  await page.goto('/login');
  await page.getByTestId('login-email').fill(user.email);
  await page.getByTestId('login-password').fill(user.password);
  await page.getByTestId('login-submit').click();
  await page.getByTestId('nav-user').waitFor();
}

export async function go(page, nav) {
  await page.getByTestId(`nav-${nav}`).click();
}

/** Waits until the open Generate page has loaded the form's saved state. */
export function generateReady(page) {
  return page.getByTestId('generate-form').and(page.locator('[aria-busy="false"]')).waitFor();
}

/** The Generate form as the server keeps it for the user behind `api`. */
export async function savedForm(api) {
  return (await api.call('GET', '/ui/state')).state.generate;
}

/** Fills the Generate form (the page must be open and loaded). */
export async function fillGenerate(page, { prompt, negative = '', steps, size, seed, board }) {
  await generateReady(page);
  await page.getByTestId('gen-prompt').fill(prompt);
  await page.getByTestId('gen-negative').fill(negative);
  if (steps !== undefined) await page.getByTestId('gen-steps').fill(String(steps));
  if (size !== undefined) {
    await page.getByTestId('gen-width').fill(String(size));
    await page.getByTestId('gen-height').fill(String(size));
  }
  if (seed !== undefined) {
    await page.getByTestId('gen-seed-fixed').check();
    await page.getByTestId('gen-seed').fill(String(seed));
  }
  if (board !== undefined) await page.getByTestId('gen-board').selectOption({ label: board });
}

/** Clicks Invoke and returns the id of the queued job once its card shows. */
export async function invoke(page) {
  // The job's id comes from the enqueue response, and then its card is awaited: counting cards
  // raced with events that remove other cards (a cleared queue) at the same moment.
  const enqueued = page.waitForResponse(
    (r) => r.request().method() === 'POST' && r.url().endsWith('/api/v1/queue/items'),
  );
  await page.getByTestId('invoke').click();
  const response = await enqueued;
  const [job] = (await response.json()).item_ids;
  await page.getByTestId('generate-info').waitFor();
  await page.locator(`[data-testid="job"][data-job-id="${job}"]`).waitFor();
  return job;
}

/**
 * Clicks Invoke and waits for the job to complete; returns its id, the request body sent and its
 * first image's id (read through `api`, the same user's).
 */
export async function invokeAndWait(page, api) {
  const enqueued = page.waitForRequest((r) => r.method() === 'POST' && r.url().endsWith('/api/v1/queue/items'));
  const job = await invoke(page);
  const body = (await enqueued).postDataJSON();
  await page.locator(`[data-job-id="${job}"][data-status="completed"]`).waitFor({ timeout: 120_000 });
  const [image] = (await api.call('GET', `/queue/items/${job}`)).result_image_ids;
  return { job, body, image };
}

/** Records every JSON message the page's event socket receives. */
export function recordSocket(page) {
  const messages = [];
  page.on('websocket', (socket) => {
    if (!socket.url().includes('/api/v1/events')) return;
    socket.on('framereceived', ({ payload }) => {
      try {
        messages.push(JSON.parse(String(payload)));
      } catch {
        // Binary or malformed frames are not ours.
      }
    });
  });
  return messages;
}

export async function token(page) {
  return page.evaluate(() => localStorage.getItem('atelier.token'));
}

/** Drops a file onto an element the way a desktop drag would (a synthetic DataTransfer). */
export async function dropFile(page, testId, name, bytes) {
  await page.getByTestId(testId).evaluate(
    (element, { name, data }) => {
      const transfer = new DataTransfer();
      transfer.items.add(new File([new Uint8Array(data)], name, { type: 'image/png' }));
      for (const type of ['dragenter', 'dragover', 'drop']) {
        element.dispatchEvent(new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: transfer }));
      }
    },
    { name, data: Array.from(bytes) },
  );
}
