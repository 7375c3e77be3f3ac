// Per-user UI state kept on the server (GET/PUT /api/v1/ui/state), e.g. the Generate form.
import { request } from './client';

export type UiState = Record<string, unknown>;

export async function loadUiState(): Promise<UiState> {
  const response = await request<{ state: UiState }>('GET', '/ui/state');
  return response?.state ?? {};
}

export const saveUiState = (state: UiState) => request<{ state: UiState }>('PUT', '/ui/state', { json: { state } });
