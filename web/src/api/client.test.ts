// Unit tests of the API client: bearer header, JSON bodies and the server's error format.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiError, apiUrl, errorMessage, request, setToken, setUnauthenticatedHandler } from './client';

function answer(status: number, body: unknown) {
  return vi.fn(async () => new Response(body === undefined ? null : JSON.stringify(body), { status }));
}

/** The ApiError a request fails with. */
async function failure(promise: Promise<unknown>): Promise<ApiError> {
  try {
    await promise;
  } catch (error) {
    return error as ApiError;
  }
  throw new Error('the request succeeded');
}

afterEach(() => {
  vi.unstubAllGlobals();
  setUnauthenticatedHandler(null);
});

describe('request', () => {
  it('sends the bearer token and a JSON body', async () => {
    const fetch = answer(200, { ok: true });
    vi.stubGlobal('fetch', fetch);
    setToken('abc');
    await expect(request('POST', '/boards', { json: { name: 'Cats' } })).resolves.toEqual({ ok: true });
    const [url, init] = fetch.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe('/api/v1/boards');
    expect((init.headers as Record<string, string>).Authorization).toBe('Bearer abc');
    expect(init.body).toBe('{"name":"Cats"}');
  });

  it('turns the error body into an ApiError with the readable message', async () => {
    vi.stubGlobal('fetch', answer(403, { error: { code: 'queue_item_not_owned', message: 'you can cancel only your own items' } }));
    const error = await failure(request('POST', '/queue/items/x/cancel'));
    expect(error).toBeInstanceOf(ApiError);
    expect(error.status).toBe(403);
    expect(error.code).toBe('queue_item_not_owned');
    expect(errorMessage(error)).toBe('you can cancel only your own items');
  });

  it('keeps a generic message when the body is not JSON', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => new Response('<html>bad gateway</html>', { status: 502 })));
    const error = await failure(request('GET', '/boards'));
    expect(error.code).toBe('http_502');
    expect(error.message).toContain('502');
  });

  it('reports network failures as ApiError', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => Promise.reject(new TypeError('Failed to fetch'))));
    const error = await failure(request('GET', '/boards'));
    expect(error.code).toBe('network_error');
  });

  it('calls the unauthenticated handler on 401 unauthenticated only', async () => {
    const handler = vi.fn();
    setUnauthenticatedHandler(handler);
    vi.stubGlobal('fetch', answer(401, { error: { code: 'invalid_credentials', message: 'wrong email or password' } }));
    await request('POST', '/auth/login').catch(() => undefined);
    expect(handler).not.toHaveBeenCalled();
    vi.stubGlobal('fetch', answer(401, { error: { code: 'unauthenticated', message: 'sign in' } }));
    await request('GET', '/auth/me').catch(() => undefined);
    expect(handler).toHaveBeenCalledOnce();
  });

  it('retries once with a token that replaced the one a request was sent with', async () => {
    const handler = vi.fn();
    setUnauthenticatedHandler(handler);
    setToken('old');
    const fetch = vi.fn(async (_url: string, init: RequestInit) => {
      const auth = (init.headers as Record<string, string>).Authorization;
      if (auth === 'Bearer old') {
        setToken('new'); // the password change's answer arrived while this request was out
        return new Response(JSON.stringify({ error: { code: 'unauthenticated', message: 'sign in' } }), { status: 401 });
      }
      return new Response(JSON.stringify({ ok: auth }), { status: 200 });
    });
    vi.stubGlobal('fetch', fetch);
    await expect(request('GET', '/queue/status')).resolves.toEqual({ ok: 'Bearer new' });
    expect(fetch).toHaveBeenCalledTimes(2);
    expect(handler).not.toHaveBeenCalled();
  });

  it('returns undefined for 204', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => new Response(null, { status: 204 })));
    await expect(request('DELETE', '/boards/x')).resolves.toBeUndefined();
  });
});

describe('apiUrl', () => {
  it('skips empty query values', () => {
    expect(apiUrl('/images', { board_id: 'none', cursor: undefined, owner_id: '', limit: 50 })).toBe('/api/v1/images?board_id=none&limit=50');
  });
});
