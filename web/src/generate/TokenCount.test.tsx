// The token count as A1111 users read it: tokens over chunks × 75, a warning when cut, the
// weighted parts in the tooltip, and nothing at all when the count is unknown.
import { describe, expect, it } from 'vitest';
import { render, screen } from '@testing-library/react';
import type { PromptTokens } from '../api/types';
import { TokenCount, tokenCountText, weightedTitle } from './TokenCount';

const count = (tokens: number, chunks: number, more: Partial<PromptTokens> = {}): PromptTokens => ({
  tokens,
  chunks,
  max_tokens: 600,
  truncated: false,
  weighted: [],
  ...more,
});

describe('TokenCount', () => {
  it('shows the tokens over the room in their chunks', () => {
    expect(tokenCountText(count(0, 1))).toBe('0 / 75');
    expect(tokenCountText(count(12, 1))).toBe('12 / 75');
    expect(tokenCountText(count(75, 1))).toBe('75 / 75');
    expect(tokenCountText(count(82, 2))).toBe('82 / 150');
  });

  it('lists the weighted parts in the tooltip', () => {
    expect(weightedTitle(count(3, 1))).toBeUndefined();
    const weighted = count(3, 1, { weighted: [{ text: 'cat', weight: 1.5 }, { text: 'fog', weight: 0.9091 }, { text: 'red barn', weight: 1.21 }] });
    expect(weightedTitle(weighted)).toBe('Weighted: cat ×1.5, fog ×0.91, red barn ×1.21');
    render(<TokenCount id="c" count={weighted} testId="tokens" />);
    expect(screen.getByTestId('tokens').getAttribute('title')).toBe('Weighted: cat ×1.5, fog ×0.91, red barn ×1.21');
  });

  it('warns, politely, when the prompt is cut', () => {
    render(<TokenCount id="c" count={count(640, 8, { truncated: true })} testId="tokens" />);
    const counter = screen.getByTestId('tokens');
    expect(counter.textContent).toBe('640 / 600 tokens · cut at 600 tokens');
    expect(counter.className).toContain('token-count-cut');
    const live = counter.querySelector('[aria-live="polite"]');
    expect(live?.textContent).toBe(' · cut at 600 tokens');
  });

  it('announces nothing while the prompt fits', () => {
    render(<TokenCount id="c" count={count(12, 1)} testId="tokens" />);
    expect(screen.getByTestId('tokens').querySelector('[aria-live="polite"]')?.textContent).toBe('');
    expect(screen.getByTestId('tokens').className).not.toContain('token-count-cut');
  });

  it('shows nothing when the count is unknown', () => {
    const { container } = render(<TokenCount id="c" count={null} testId="tokens" />);
    expect(container.innerHTML).toBe('');
  });
});
