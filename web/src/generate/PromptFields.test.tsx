// The prompt fields: both textareas are described by their token count and by the one short
// line on the weighting syntax; each field is counted on its own.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { act, fireEvent, render, screen } from '@testing-library/react';
import type { PromptTokens } from '../api/types';
import { PromptFields, PROMPT_HINT } from './PromptFields';
import { COUNT_DELAY_MS } from './usePromptTokens';

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

const answer = (tokens: number, chunks: number, more: Partial<PromptTokens> = {}): PromptTokens => ({
  tokens,
  chunks,
  max_tokens: 600,
  truncated: false,
  weighted: [],
  ...more,
});

describe('PromptFields', () => {
  it('describes both prompts with their count and the weighting hint, once', () => {
    render(<PromptFields prompt="" negativePrompt="" onPrompt={vi.fn()} onNegativePrompt={vi.fn()} countTokens={vi.fn()} />);
    const hint = screen.getByTestId('gen-prompt-hint');
    expect(hint.textContent).toBe(PROMPT_HINT);
    expect(PROMPT_HINT).toMatch(/\(word:1\.3\) strengthens, \[word\] weakens/);
    const fields = [
      ['Prompt', 'gen-prompt-tokens'],
      ['Negative prompt', 'gen-negative-tokens'],
    ];
    for (const [label, counter] of fields) {
      const described = screen.getByLabelText(label).getAttribute('aria-describedby')?.split(' ');
      expect(described).toEqual([screen.getByTestId(counter).id, hint.id]);
    }
    expect(screen.getAllByText(PROMPT_HINT)).toHaveLength(1);
  });

  it('reports each field’s edits', () => {
    const onPrompt = vi.fn();
    const onNegativePrompt = vi.fn();
    render(<PromptFields prompt="" negativePrompt="" onPrompt={onPrompt} onNegativePrompt={onNegativePrompt} countTokens={vi.fn()} />);
    fireEvent.change(screen.getByTestId('gen-prompt'), { target: { value: '((castle))' } });
    fireEvent.change(screen.getByTestId('gen-negative'), { target: { value: '[fog]' } });
    expect(onPrompt).toHaveBeenCalledWith('((castle))');
    expect(onNegativePrompt).toHaveBeenCalledWith('[fog]');
  });

  it('counts each field on its own, asking the server only for the one with text', async () => {
    vi.useFakeTimers();
    const countTokens = vi.fn(async (prompt: string) => (prompt === 'long' ? answer(82, 2) : answer(2, 1)));
    render(<PromptFields prompt="long" negativePrompt="" onPrompt={vi.fn()} onNegativePrompt={vi.fn()} countTokens={countTokens} />);
    expect(screen.queryByTestId('gen-prompt-tokens')).toBeNull(); // not counted yet
    expect(screen.getByTestId('gen-negative-tokens').textContent).toBe('0 / 75 tokens');

    await act(async () => vi.advanceTimersByTime(COUNT_DELAY_MS));
    expect(countTokens.mock.calls).toEqual([['long']]);
    expect(screen.getByTestId('gen-prompt-tokens').textContent).toBe('82 / 150 tokens');
  });

  it('asks the server with the session and hides the count when the call fails', async () => {
    vi.useFakeTimers();
    localStorage.setItem('atelier.token', 'tok');
    const fetch = vi.fn(async () => new Response(JSON.stringify({ error: { code: 'validation_failed', message: 'too long' } }), { status: 422 }));
    vi.stubGlobal('fetch', fetch);
    render(<PromptFields prompt="a cat" negativePrompt="" onPrompt={vi.fn()} onNegativePrompt={vi.fn()} />);
    await act(async () => vi.advanceTimersByTime(COUNT_DELAY_MS));

    expect(fetch).toHaveBeenCalledTimes(1);
    const [url, init] = fetch.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe('/api/v1/prompts/tokens');
    expect(init.method).toBe('POST');
    expect(JSON.parse(String(init.body))).toEqual({ prompt: 'a cat' });
    expect((init.headers as Record<string, string>).Authorization).toBe('Bearer tok');
    expect(screen.queryByTestId('gen-prompt-tokens')).toBeNull();
    expect(screen.getByTestId('gen-negative-tokens').textContent).toBe('0 / 75 tokens');
  });
});
