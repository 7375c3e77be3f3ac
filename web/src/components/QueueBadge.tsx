// The "X/Y" queue badge: your pending items / everyone's pending items.
import type { QueueCounts } from '../api/types';

export function badgeText(counts: QueueCounts): string {
  return `${counts.mine_pending}/${counts.total_pending}`;
}

export function QueueBadge({ counts, testId = 'queue-badge' }: { counts: QueueCounts | null; testId?: string }) {
  if (!counts) return null;
  const text = badgeText(counts);
  return (
    <span
      className={counts.total_pending > 0 ? 'badge badge-active' : 'badge'}
      data-testid={testId}
      aria-label={`${counts.mine_pending} of your items pending, ${counts.total_pending} pending in all`}
      title="your pending / all pending"
    >
      {text}
    </span>
  );
}
