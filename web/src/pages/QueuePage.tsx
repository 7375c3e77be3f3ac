// The queue: every user's items (others' parameters hidden), owners, cancel, retry (your own failed
// or canceled items; admins: anyone's), pause for admins.
import { useCallback, useEffect, useRef, useState } from 'react';
import { cancelItem, clearFinished, getQueueCounts, getQueueItem, listQueue, pauseQueue, resumeQueue, retryItem } from '../api/queue';
import { errorMessage } from '../api/client';
import { useAction } from '../util/useAction';
import { applyQueueEvent, withItem } from '../queue/queueEvents';
import type { QueueCounts, QueueItem } from '../api/types';
import { ErrorBanner, InfoBanner } from '../components/ErrorBanner';
import { ParamsSummary } from '../components/ParamsSummary';
import { QueueBadge } from '../components/QueueBadge';
import { formatDate } from '../util/format';
import { useSession } from '../session';

const UNFINISHED = ['pending', 'in_progress'];
const RETRYABLE = ['failed', 'canceled'];

export function QueueTable({ items, showOwner, retryAny = false, onCancel, onRetry }: {
  items: QueueItem[];
  showOwner: boolean;
  /** Offer Retry on every user's items (admins), not only on the caller's own. */
  retryAny?: boolean;
  onCancel: (item: QueueItem) => void;
  onRetry: (item: QueueItem) => void;
}) {
  if (items.length === 0) return <p className="muted" data-testid="queue-empty">The queue is empty.</p>;
  return (
    <div className="table-wrap">
      <table className="table" data-testid="queue-table">
        <thead>
          <tr>
            <th scope="col">#</th>
            <th scope="col">Status</th>
            {showOwner && <th scope="col">Owner</th>}
            <th scope="col">Parameters</th>
            <th scope="col">Submitted</th>
            <th scope="col">
              <span className="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {items.map((item) => (
            <tr key={item.id} data-testid="queue-row" data-item-id={item.id} data-mine={item.is_mine} data-status={item.status}>
              <td>{item.position ?? ''}</td>
              <td>
                <span className={`status status-${item.status}`} data-testid="queue-status">
                  {item.status.replace('_', ' ')}
                </span>
                {item.error && <div className="error-text small">{item.error}</div>}
              </td>
              {showOwner && (
                <td data-testid="queue-owner">
                  {item.owner_name}
                  {item.is_mine && <span className="muted"> (you)</span>}
                </td>
              )}
              <td>
                <ParamsSummary params={item.params} />
              </td>
              <td className="nowrap">{formatDate(item.created_at)}</td>
              <td className="nowrap">
                {UNFINISHED.includes(item.status) && (
                  <button type="button" className="small-button" onClick={() => onCancel(item)} data-testid="queue-cancel">
                    Cancel
                  </button>
                )}
                {(item.is_mine || retryAny) && RETRYABLE.includes(item.status) && (
                  <button type="button" className="small-button secondary" onClick={() => onRetry(item)} data-testid="queue-retry">
                    Retry
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function QueuePage() {
  const session = useSession();
  const [items, setItems] = useState<QueueItem[]>([]);
  const itemsRef = useRef(items);
  itemsRef.current = items;
  const [counts, setCounts] = useState<QueueCounts | null>(null);
  const { error, info, setError, run: runAction } = useAction();

  const refresh = useCallback(() => {
    listQueue().then(setItems, (e) => setError(errorMessage(e)));
    getQueueCounts().then(setCounts, () => undefined);
  }, []);
  useEffect(() => {
    // The whole listing now and every few seconds (positions, and anything missed while the socket
    // was away); each event only updates the item it names, fetching that one item if it is new.
    refresh();
    const timer = setInterval(refresh, 5000);
    const fetching = new Set<string>();
    const stop = session.bus.subscribe('queue', (event) => {
      if (event.type === 'resync') return refresh();
      getQueueCounts().then(setCounts, () => undefined);
      const change = applyQueueEvent(itemsRef.current, event);
      if (Array.isArray(change)) {
        setItems((items) => {
          const next = applyQueueEvent(items, event);
          return Array.isArray(next) ? next : items;
        });
      } else if (!fetching.has(change.missing)) {
        // A new item: fetch it once (later events for it are applied when it is listed).
        fetching.add(change.missing);
        getQueueItem(change.missing)
          .then((item) => setItems((now) => withItem(now, item)), () => undefined)
          .finally(() => fetching.delete(change.missing));
      }
    });
    return () => {
      stop();
      clearInterval(timer);
    };
  }, [session.bus, refresh]);

  const run = async (action: () => Promise<unknown>, done: string, failedPrefix = '') => {
    await runAction(action, done, failedPrefix);
    refresh();
  };
  const cancel = (item: QueueItem) => run(() => cancelItem(item.id), 'Canceled.', 'Cannot cancel: ');
  const retry = (item: QueueItem) => run(() => retryItem(item.id), 'Queued again.', 'Cannot retry: ');

  return (
    <div className="page">
      <header className="page-header">
        <h1>
          Queue <QueueBadge counts={counts} testId="queue-page-badge" />
        </h1>
        {counts?.paused && (
          <span className="badge badge-warn" data-testid="queue-paused">
            paused
          </span>
        )}
        <div className="row">
          <button type="button" className="secondary" onClick={() => run(() => clearFinished(false), 'Cleared your finished items.')} data-testid="queue-clear">
            Clear my finished
          </button>
          {session.isAdmin && (
            <>
              <button type="button" className="secondary" onClick={() => run(() => clearFinished(true), 'Cleared all finished items.')}>
                Clear all finished
              </button>
              {counts?.paused ? (
                <button type="button" className="secondary" onClick={() => run(resumeQueue, 'Resumed.')} data-testid="queue-resume">
                  Resume
                </button>
              ) : (
                <button type="button" className="secondary" onClick={() => run(pauseQueue, 'Paused.')} data-testid="queue-pause">
                  Pause
                </button>
              )}
            </>
          )}
        </div>
      </header>
      <ErrorBanner message={error} onDismiss={() => setError(null)} testId="queue-error" />
      <InfoBanner message={info} testId="queue-info" />
      <QueueTable items={items} showOwner={session.multiuser} retryAny={session.isAdmin} onCancel={cancel} onRetry={retry} />
    </div>
  );
}
