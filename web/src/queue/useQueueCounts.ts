// Keeps the queue counts fresh: refetched on queue events and every few seconds as a backstop.
import { useCallback, useEffect, useState } from 'react';
import { getQueueCounts } from '../api/queue';
import type { QueueCounts } from '../api/types';
import type { EventBus } from '../events/bus';

export function useQueueCounts(bus: EventBus, pollMs = 10_000): QueueCounts | null {
  const [counts, setCounts] = useState<QueueCounts | null>(null);
  const refresh = useCallback(() => {
    getQueueCounts().then(setCounts, () => undefined);
  }, []);
  useEffect(() => {
    refresh();
    const stop = bus.subscribe('queue', refresh);
    const timer = setInterval(refresh, pollMs);
    return () => {
      stop();
      clearInterval(timer);
    };
  }, [bus, refresh, pollMs]);
  return counts;
}
