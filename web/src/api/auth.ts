// Calls under /api/v1/auth: status, first-run setup, login, logout and the caller's account.
import { request, setToken } from './client';
import type { AuthStatus, LoginResponse, User } from './types';

export const getAuthStatus = () => request<AuthStatus>('GET', '/auth/status');

export const setupAdmin = (body: { setup_token: string; email: string; display_name: string; password: string }) =>
  request<User>('POST', '/auth/setup', { json: body });

/** Logs in and keeps the token; the server also sets the media cookie for <img> tags. */
export async function login(email: string, password: string): Promise<LoginResponse> {
  const response = await request<LoginResponse>('POST', '/auth/login', { json: { email, password } });
  setToken(response.token);
  return response;
}

/** Ends the session on the server (best effort) and forgets the token. */
export async function logout(): Promise<void> {
  try {
    await request<void>('POST', '/auth/logout');
  } finally {
    setToken(null);
  }
}

export const getMe = () => request<User>('GET', '/auth/me');

/** Changes the caller's name and/or password; a password change returns a new token. */
export async function updateMe(body: {
  display_name?: string;
  current_password?: string;
  new_password?: string;
}): Promise<User> {
  const response = await request<{ user: User; token?: string }>('PATCH', '/auth/me', { json: body });
  if (response.token) setToken(response.token);
  return response.user;
}
