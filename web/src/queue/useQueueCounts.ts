// Keeps the queue counts fresh: refetched on queue events and every few seconds as a backstop.
import { useCallback, useState } from 'react';
import { getQueueCounts } from '../api/queue';
import type { QueueCounts } from '../api/types';
import type { EventBus } from '../events/bus';
import { useQueueRefresh } from './useQueueRefresh';

export function useQueueCounts(bus: EventBus, pollMs = 10_000): QueueCounts | null {
  const [counts, setCounts] = useState<QueueCounts | null>(null);
  const refresh = useCallback(() => {
    getQueueCounts().then(setCounts, () => undefined);
  }, []);
  useQueueRefresh(bus, refresh, pollMs);
  return counts;
}
