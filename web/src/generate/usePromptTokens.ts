// Counts one prompt field's tokens as the user types, by asking the server once typing pauses.
// At most one request per field is in flight: text typed meanwhile waits for it, and an answer
// for text that has changed since is dropped. An empty field counts as 0 without asking. When
// the server cannot count, the count is unknown (null) and the page carries on without it.
import { useEffect, useRef, useState } from 'react';
import { countPromptTokens } from '../api/prompts';
import type { PromptTokens } from '../api/types';

/** How long typing must pause before the text is counted. */
export const COUNT_DELAY_MS = 250;

/** What an empty field counts as, known without asking: one empty chunk. */
export const EMPTY_PROMPT_TOKENS: PromptTokens = { tokens: 0, chunks: 1, max_tokens: 600, truncated: false, weighted: [] };

/** Asks for a prompt's count; the API call unless a test hands in another. */
export type CountTokens = (prompt: string) => Promise<PromptTokens>;

export interface PromptTokenCount {
  /** The latest count (while newer text is being counted, the older text's), or null when unknown. */
  count: PromptTokens | null;
  /** Whether `count` is for the text as it is now. */
  current: boolean;
}

/** The count of one piece of text; `count` null when the server could not count it. */
interface Answer {
  text: string;
  count: PromptTokens | null;
}

const EMPTY_ANSWER: Answer = { text: '', count: EMPTY_PROMPT_TOKENS };

const isBlank = (text: string) => text.trim() === '';

/** Counts `text`'s tokens, debounced, one request at a time, dropping stale answers. */
export function usePromptTokens(text: string, countTokens: CountTokens = countPromptTokens): PromptTokenCount {
  const [answer, setAnswer] = useState<Answer | null>(isBlank(text) ? EMPTY_ANSWER : null);
  const latestText = useRef(text);
  const counter = useRef(countTokens);
  const inFlight = useRef<string | null>(null); // the text being counted now
  const waiting = useRef<string | null>(null); // the text to count once that answer is in
  const mounted = useRef(true);

  useEffect(() => {
    counter.current = countTokens;
  });

  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);

  useEffect(() => {
    latestText.current = text;
    if (isBlank(text)) {
      // So that text typed into a cleared field shows 0, not the count from before, until counted.
      setAnswer(EMPTY_ANSWER);
      return;
    }

    /** Keeps an answer only if it is for the text as it is now, and the page is still open. */
    const settle = (counted: string, count: PromptTokens | null) => {
      if (mounted.current && counted === latestText.current) setAnswer({ text: counted, count });
    };

    /** Sends one request, or leaves the text waiting while another is in flight. */
    const ask = (asked: string) => {
      if (inFlight.current !== null) {
        waiting.current = inFlight.current === asked ? null : asked;
        return;
      }
      inFlight.current = asked;
      counter.current(asked)
        .then(
          (count) => settle(asked, count),
          () => settle(asked, null),
        )
        .finally(() => {
          inFlight.current = null;
          const next = waiting.current;
          waiting.current = null;
          // Text typed after `next` was queued has a timer of its own and asks when that fires.
          if (next !== null && next === latestText.current && mounted.current) ask(next);
        });
    };

    const timer = setTimeout(() => ask(text), COUNT_DELAY_MS);
    return () => clearTimeout(timer);
  }, [text]);

  if (isBlank(text)) return { count: EMPTY_PROMPT_TOKENS, current: true };
  if (answer === null) return { count: null, current: false };
  return { count: answer.count, current: answer.text === text };
}
