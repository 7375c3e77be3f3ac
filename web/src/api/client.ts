// The HTTP client: bearer token storage, JSON requests and the server's error format.

const TOKEN_KEY = 'atelier.token';

/** An error answer from the server (`{"error":{"code","message"}}`) or a network failure. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Reads the saved bearer token (per browser context). */
export function getToken(): string | null {
  return localStorage.getItem(TOKEN_KEY);
}

/** Saves or clears the bearer token. */
export function setToken(token: string | null): void {
  if (token) localStorage.setItem(TOKEN_KEY, token);
  else localStorage.removeItem(TOKEN_KEY);
}

let onUnauthenticated: (() => void) | null = null;

/** Registers what to do when the server says the session is gone (401 `unauthenticated`). */
export function setUnauthenticatedHandler(handler: (() => void) | null): void {
  onUnauthenticated = handler;
}

export type Query = Record<string, string | number | boolean | null | undefined>;

export interface RequestOptions {
  query?: Query;
  json?: unknown;
  body?: BodyInit;
  headers?: Record<string, string>;
}

/** Builds `/api/v1{path}?query`, skipping empty values. */
export function apiUrl(path: string, query?: Query): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null && value !== '') params.set(key, String(value));
  }
  const qs = params.toString();
  return `/api/v1${path}${qs ? `?${qs}` : ''}`;
}

/** Turns a failed response into an ApiError, using the server's message when there is one. */
export async function errorFromResponse(response: Response): Promise<ApiError> {
  let code = 'http_' + response.status;
  let message = `request failed (${response.status} ${response.statusText})`.trim();
  try {
    const body = await response.json();
    if (body && typeof body.error === 'object' && body.error) {
      code = String(body.error.code ?? code);
      message = String(body.error.message ?? message);
    }
  } catch {
    // Not JSON (a proxy page, say): keep the generic message.
  }
  return new ApiError(response.status, code, message);
}

async function send(method: string, path: string, options: RequestOptions, token: string | null): Promise<Response> {
  const headers: Record<string, string> = { ...options.headers };
  if (token) headers.Authorization = `Bearer ${token}`;
  let body = options.body;
  if (options.json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(options.json);
  }
  try {
    return await fetch(apiUrl(path, options.query), { method, headers, body });
  } catch (cause) {
    throw new ApiError(0, 'network_error', `cannot reach the server: ${(cause as Error).message}`);
  }
}

/** Sends a request and returns the parsed JSON (or undefined for 204). Throws ApiError. */
export async function request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
  const sentWith = getToken();
  let response = await send(method, path, options, sentWith);
  // A password change revokes the old session and hands this page a new token while other
  // requests may still carry the old one: those get one more try with the new token.
  const current = getToken();
  if (response.status === 401 && current && current !== sentWith) response = await send(method, path, options, current);
  if (!response.ok) {
    const error = await errorFromResponse(response);
    if (error.status === 401 && error.code === 'unauthenticated' && onUnauthenticated) onUnauthenticated();
    throw error;
  }
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

/** A readable message for anything thrown by the API helpers. */
export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}
