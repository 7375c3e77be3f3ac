// Applies live events to a listed queue in place: the item an event names changes status (and,
// for the owner and admins, error and results) without fetching the whole queue again. Pure,
// unit-tested; positions of waiting items are the server's and are refreshed by a slow poll.
import type { QueueItem, QueueStatusName } from '../api/types';
import { isJobEvent, type ServerEvent } from '../events/messages';

const FINISHED = new Set(['completed', 'failed', 'canceled']);

/** What an event says about one item, if anything. */
export function itemChange(event: ServerEvent): { id: string; status: string; error?: string | null; results?: string[] } | null {
  if (event.type === 'queue_changed') {
    if (typeof event.item_id !== 'string' || typeof event.status !== 'string') return null;
    return { id: event.item_id, status: event.status };
  }
  if (isJobEvent(event)) {
    return { id: event.item_id, status: event.status, error: event.error, results: event.result_image_ids };
  }
  return null;
}

/**
 * The list after `event`: the named item updated (removed for `deleted`), or the list itself when
 * the event names no item. Returns `{ missing: id }` for an item the list does not hold yet (a
 * new one), which the caller fetches by id and adds with `withItem`.
 */
export function applyQueueEvent(items: QueueItem[], event: ServerEvent): QueueItem[] | { missing: string } {
  const change = itemChange(event);
  if (!change) return items;
  const index = items.findIndex((item) => item.id === change.id);
  if (change.status === 'deleted') return index < 0 ? items : items.filter((item) => item.id !== change.id);
  if (index < 0) return { missing: change.id };
  const old = items[index];
  const updated: QueueItem = {
    ...old,
    status: change.status as QueueStatusName,
    position: change.status === 'pending' ? old.position : null,
    error: change.error !== undefined ? change.error : old.error,
    result_image_ids: change.results ?? old.result_image_ids,
    finished_at: FINISHED.has(change.status) ? (old.finished_at ?? new Date().toISOString()) : old.finished_at,
  };
  const next = items.slice();
  next[index] = updated;
  return next;
}

const STAGE: Record<string, number> = { pending: 0, in_progress: 1, completed: 2, failed: 2, canceled: 2 };

/**
 * `items` with `item` in queue order, replacing an older copy of it; a copy already further along
 * (an event applied while the item was being fetched) is kept.
 */
export function withItem(items: QueueItem[], item: QueueItem): QueueItem[] {
  const current = items.find((other) => other.id === item.id);
  if (current && (STAGE[current.status] ?? 0) > (STAGE[item.status] ?? 0)) return items;
  const rest = items.filter((other) => other.id !== item.id);
  const at = rest.findIndex((other) => other.seq > item.seq);
  if (at < 0) return [...rest, item];
  return [...rest.slice(0, at), item, ...rest.slice(at)];
}
