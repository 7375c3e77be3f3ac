import { describe, expect, it } from 'vitest';
import { applyQueueEvent, withItem } from './queueEvents';
import type { QueueItem } from '../api/types';
import type { ServerEvent } from '../events/messages';

function item(id: string, seq: number, extra: Partial<QueueItem> = {}): QueueItem {
  return {
    id, seq, owner_id: null, owner_name: 'Jane', is_mine: false, status: 'pending', position: seq,
    params: '<hidden>', error: null, result_image_ids: [], created_at: '2026-12-07T10:00:00Z',
    started_at: null, finished_at: null, ...extra,
  };
}

const changed = (item_id: string, status: string) => ({ type: 'queue_changed', item_id, status }) as unknown as ServerEvent;

describe('applyQueueEvent', () => {
  it('updates the named item in place and leaves the others alone', () => {
    const items = [item('a', 1), item('b', 2)];
    const next = applyQueueEvent(items, changed('a', 'in_progress'));
    expect(Array.isArray(next)).toBe(true);
    const list = next as QueueItem[];
    expect(list[0]).toMatchObject({ id: 'a', status: 'in_progress', position: null });
    expect(list[1]).toBe(items[1]);
  });

  it('carries the owner event\'s error and results', () => {
    const items = [item('a', 1, { is_mine: true })];
    const event = {
      type: 'job_completed', item_id: 'a', owner_id: 'me', status: 'completed', previous: 'in_progress',
      error: null, result_image_ids: ['img'],
    } as ServerEvent;
    const [a] = applyQueueEvent(items, event) as QueueItem[];
    expect(a.status).toBe('completed');
    expect(a.result_image_ids).toEqual(['img']);
    expect(a.finished_at).not.toBeNull();
  });

  it('asks for an item it does not hold, removes deleted ones and ignores bare events', () => {
    const items = [item('a', 1)];
    expect(applyQueueEvent(items, changed('z', 'pending'))).toEqual({ missing: 'z' });
    expect(applyQueueEvent(items, changed('a', 'deleted'))).toEqual([]);
    expect(applyQueueEvent(items, { type: 'queue_changed' } as ServerEvent)).toBe(items);
  });
});

describe('withItem', () => {
  it('inserts in queue order and replaces an older copy', () => {
    const items = [item('a', 1), item('c', 3)];
    expect(withItem(items, item('b', 2)).map((i) => i.id)).toEqual(['a', 'b', 'c']);
    expect(withItem(items, item('d', 9)).map((i) => i.id)).toEqual(['a', 'c', 'd']);
    expect(withItem(items, item('a', 1, { status: 'canceled' }))[0].status).toBe('canceled');
  });

  it('keeps a copy that is further along than a late answer', () => {
    const items = [item('a', 1, { status: 'in_progress' })];
    expect(withItem(items, item('a', 1, { status: 'pending' }))).toBe(items);
  });
});
