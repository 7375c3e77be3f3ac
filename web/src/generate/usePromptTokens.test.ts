// The prompt token count over time: asked once typing pauses, one request at a time, answers for
// old text dropped, no request for an empty field, and no count when the server cannot count.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { act, renderHook } from '@testing-library/react';
import type { PromptTokens } from '../api/types';
import { COUNT_DELAY_MS, EMPTY_PROMPT_TOKENS, usePromptTokens } from './usePromptTokens';

const counted = (tokens: number): PromptTokens => ({
  tokens,
  chunks: Math.max(1, Math.ceil(tokens / 75)),
  max_tokens: 600,
  truncated: false,
  weighted: [],
});

/** A count request the test answers when it wants to. */
interface Pending {
  prompt: string;
  answer: (count: PromptTokens) => Promise<void>;
  fail: () => Promise<void>;
}

/** A fake counter that records requests and leaves them open. */
function fakeCounter() {
  const requests: Pending[] = [];
  const countTokens = vi.fn(
    (prompt: string) =>
      new Promise<PromptTokens>((resolve, reject) => {
        requests.push({
          prompt,
          answer: (count) => act(async () => resolve(count)),
          fail: () => act(async () => reject(new Error('no server'))),
        });
      }),
  );
  return { countTokens, requests };
}

/** Renders the hook for `text`; `type` changes the text as a keystroke would. */
function renderCount(text: string, countTokens: (prompt: string) => Promise<PromptTokens>) {
  const hook = renderHook(({ value }) => usePromptTokens(value, countTokens), { initialProps: { value: text } });
  return { ...hook, type: (value: string) => hook.rerender({ value }) };
}

const pause = (ms = COUNT_DELAY_MS) => act(async () => vi.advanceTimersByTime(ms));

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

describe('usePromptTokens', () => {
  it('asks once typing pauses, with the text as it is then', async () => {
    const { countTokens, requests } = fakeCounter();
    const { result, type } = renderCount('a', countTokens);
    type('a c');
    await pause(COUNT_DELAY_MS - 1);
    type('a cat');
    await pause(COUNT_DELAY_MS - 1);
    expect(countTokens).not.toHaveBeenCalled();
    expect(result.current).toEqual({ count: null, current: false });

    await pause(1);
    expect(countTokens).toHaveBeenCalledTimes(1);
    expect(requests[0].prompt).toBe('a cat');
    await requests[0].answer(counted(2));
    expect(result.current).toEqual({ count: counted(2), current: true });
  });

  it('counts an empty field as 0 / 75 without asking', async () => {
    const { countTokens } = fakeCounter();
    const { result, type } = renderCount('', countTokens);
    expect(result.current).toEqual({ count: EMPTY_PROMPT_TOKENS, current: true });
    type('   ');
    await pause(COUNT_DELAY_MS * 4);
    expect(countTokens).not.toHaveBeenCalled();
    expect(result.current.count).toEqual(EMPTY_PROMPT_TOKENS);
  });

  it('keeps one request in flight and asks for the newest text when it is answered', async () => {
    const { countTokens, requests } = fakeCounter();
    const { result, type } = renderCount('a', countTokens);
    await pause();
    type('a red');
    await pause();
    type('a red barn');
    await pause();
    expect(requests.map((r) => r.prompt)).toEqual(['a']);

    await requests[0].answer(counted(1)); // for "a": stale, dropped
    expect(result.current).toEqual({ count: null, current: false });
    expect(requests.map((r) => r.prompt)).toEqual(['a', 'a red barn']);

    await requests[1].answer(counted(3));
    expect(result.current).toEqual({ count: counted(3), current: true });
    expect(countTokens).toHaveBeenCalledTimes(2);
  });

  it('never lets an answer for old text overwrite the count of newer text', async () => {
    const { countTokens, requests } = fakeCounter();
    const { result, type } = renderCount('cat', countTokens);
    await pause();
    await requests[0].answer(counted(1));

    type('cat on a mat');
    await pause();
    type('cat on a mat, sunset');
    await requests[1].answer(counted(4)); // "cat on a mat" is no longer the text
    expect(result.current).toEqual({ count: counted(1), current: false });

    await pause();
    expect(requests[2].prompt).toBe('cat on a mat, sunset');
    await requests[2].answer(counted(6));
    expect(result.current).toEqual({ count: counted(6), current: true });
  });

  it('shows 0 again for text typed into a cleared field until it is counted', async () => {
    const { countTokens, requests } = fakeCounter();
    const { result, type } = renderCount('a long prompt', countTokens);
    await pause();
    await requests[0].answer(counted(80));
    type('');
    expect(result.current.count).toEqual(EMPTY_PROMPT_TOKENS);
    type('d');
    expect(result.current).toEqual({ count: EMPTY_PROMPT_TOKENS, current: false });
  });

  it('hides the count when the server cannot count, and counts again on the next edit', async () => {
    const { countTokens, requests } = fakeCounter();
    const { result, type } = renderCount('a cat', countTokens);
    await pause();
    await requests[0].fail();
    expect(result.current).toEqual({ count: null, current: true });

    type('a cat, sitting');
    await pause();
    await requests[1].answer(counted(4));
    expect(result.current).toEqual({ count: counted(4), current: true });
  });

  it('asks nothing once the field is gone', async () => {
    const { countTokens } = fakeCounter();
    const { unmount } = renderCount('a cat', countTokens);
    unmount();
    await pause();
    expect(countTokens).not.toHaveBeenCalled();
  });
});
