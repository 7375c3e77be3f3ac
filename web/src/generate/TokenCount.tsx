// One prompt field's token count, as A1111 users know it: "82 / 150" is 82 tokens in chunks of 75
// (the denominator grows by 75 per chunk), with a warning once the text is cut at 600 tokens and
// the weighted parts in the tooltip. Only the warning is announced; the count is read with the field.
import type { PromptTokens } from '../api/types';

/** The tokens the text encoder reads per chunk. */
export const CHUNK_TOKENS = 75;

/** "82 / 150": the tokens over the room in the chunks they take. */
export function tokenCountText(count: PromptTokens): string {
  return `${count.tokens} / ${count.chunks * CHUNK_TOKENS}`;
}

/** "Weighted: cat ×1.5, fog ×0.91", or undefined when nothing is weighted. */
export function weightedTitle(count: PromptTokens): string | undefined {
  if (count.weighted.length === 0) return undefined;
  const parts = count.weighted.map((part) => `${part.text} ×${Number(part.weight.toFixed(2))}`);
  return `Weighted: ${parts.join(', ')}`;
}

interface Props {
  /** Referenced by the field's aria-describedby. */
  id: string;
  /** The count, or null to show nothing (the server could not count). */
  count: PromptTokens | null;
  testId: string;
}

export function TokenCount({ id, count, testId }: Props) {
  if (count === null) return null;
  return (
    <p
      id={id}
      className={`token-count small ${count.truncated ? 'token-count-cut' : 'muted'}`}
      title={weightedTitle(count)}
      data-testid={testId}
      data-truncated={count.truncated}
    >
      <span>{tokenCountText(count)}</span>
      <span className="sr-only"> tokens</span>
      <span aria-live="polite">{count.truncated ? ` · cut at ${count.max_tokens} tokens` : ''}</span>
    </p>
  );
}
