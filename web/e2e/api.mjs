// Direct API calls for test fixtures and checks the UI cannot make (e.g. reading as another user).

export class Api {
  constructor(baseUrl, token = null) {
    this.baseUrl = baseUrl;
    this.token = token;
  }

  async call(method, path, body) {
    const headers = {};
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const response = await fetch(`${this.baseUrl}/api/v1${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    const json = text ? JSON.parse(text) : undefined;
    if (!response.ok) {
      const error = new Error(`${method} ${path}: ${response.status} ${text}`);
      error.status = response.status;
      error.code = json?.error?.code;
      throw error;
    }
    return json;
  }

  /** The raw bytes at an API path or a server path (e.g. an image's `image_url`). */
  async bytes(path) {
    const url = path.startsWith('/api/') ? `${this.baseUrl}${path}` : `${this.baseUrl}/api/v1${path}`;
    const response = await fetch(url, { headers: this.token ? { Authorization: `Bearer ${this.token}` } : {} });
    if (!response.ok) throw new Error(`GET ${path}: ${response.status} ${await response.text()}`);
    return Buffer.from(await response.arrayBuffer());
  }

  /** Uploads PNG bytes as an asset (multipart, as the Gallery does), into a board or Uncategorized. */
  async upload(name, bytes, boardId) {
    const form = new FormData();
    form.append('file', new Blob([bytes], { type: 'image/png' }), name);
    const query = boardId ? `?board_id=${encodeURIComponent(boardId)}` : '';
    const response = await fetch(`${this.baseUrl}/api/v1/images${query}`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${this.token}` },
      body: form,
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`POST /images: ${response.status} ${text}`);
    return JSON.parse(text);
  }

  static async login(baseUrl, email, password) {
    const api = new Api(baseUrl);
    const { token } = await api.call('POST', '/auth/login', { email, password });
    api.token = token;
    return api;
  }

  /** Waits until `check()` returns a truthy value, polling. */
  static async until(check, { timeoutMs = 60_000, intervalMs = 250, what = 'condition' } = {}) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await check();
      if (value) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }
}
