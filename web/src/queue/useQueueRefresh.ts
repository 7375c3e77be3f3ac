// Calls a refresh function now, on every queue event and every few seconds as a backstop (events
// can be missed while the socket reconnects). Used by the queue views and the workers panel.
import { useEffect } from 'react';
import type { EventBus } from '../events/bus';

/** `refresh` should be stable (useCallback), or the timer restarts on every render. */
export function useQueueRefresh(bus: EventBus, refresh: () => void, pollMs: number): void {
  useEffect(() => {
    refresh();
    const stop = bus.subscribe('queue', refresh);
    const timer = setInterval(refresh, pollMs);
    return () => {
      stop();
      clearInterval(timer);
    };
  }, [bus, refresh, pollMs]);
}
