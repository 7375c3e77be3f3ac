// The "X/Y" badge: your pending items over everyone's.
import { describe, expect, it } from 'vitest';
import { render, screen } from '@testing-library/react';
import { QueueBadge, badgeText } from './QueueBadge';

const counts = { mine_pending: 1, mine_in_progress: 1, total_pending: 3, total_in_progress: 1, paused: false };

describe('QueueBadge', () => {
  it('shows mine/all pending', () => {
    expect(badgeText(counts)).toBe('1/3');
    render(<QueueBadge counts={counts} />);
    const badge = screen.getByTestId('queue-badge');
    expect(badge.textContent).toBe('1/3');
    expect(badge.getAttribute('aria-label')).toBe('1 of your items pending, 3 pending in all');
  });

  it('renders nothing before the counts arrive', () => {
    const { container } = render(<QueueBadge counts={null} />);
    expect(container.textContent).toBe('');
  });
});
