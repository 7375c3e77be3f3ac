// Prompt text as the engine reads it: the token count, the chunks of 75 and the weighted parts.
import { request } from './client';
import type { PromptTokens } from './types';

/** Counts a prompt's tokens (any signed-in user; 422 `validation_failed` beyond 4000 characters). */
export const countPromptTokens = (prompt: string) => request<PromptTokens>('POST', '/prompts/tokens', { json: { prompt } });
