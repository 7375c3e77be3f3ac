// The Generate page's job map over time: a listing to start from, live events on top of it, and
// the listing read again when the socket says events were missed.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { act, renderHook, waitFor } from '@testing-library/react';
import { EventBus } from '../events/bus';
import type { QueueItem } from '../api/types';
import { useJobProgress } from './useJobProgress';

afterEach(() => {
  vi.unstubAllGlobals();
});

const listed = (id: string, status: QueueItem['status'], result_image_ids: string[] = []): QueueItem => ({
  id,
  owner_id: 'me',
  owner_name: 'Me',
  is_mine: true,
  status,
  position: null,
  seq: 0,
  params: {},
  error: null,
  result_image_ids,
  created_at: '2025-01-01T00:00:00Z',
  started_at: null,
  finished_at: null,
});

const jobEvent = (item_id: string, type: 'job_started' | 'job_completed', status: string, result_image_ids: string[] = []) => ({
  type,
  item_id,
  owner_id: 'me',
  status,
  previous: null,
  error: null,
  result_image_ids,
});

describe('useJobProgress', () => {
  it('starts from the listed jobs and follows them live', () => {
    const bus = new EventBus();
    const { result } = renderHook(() => useJobProgress(bus, 'me'));
    act(() => result.current.showListed([listed('done', 'completed', ['img-1']), listed('queued', 'pending')]));
    expect(Object.keys(result.current.jobs)).toEqual(['done', 'queued']);

    act(() => bus.publish(jobEvent('queued', 'job_started', 'in_progress')));
    act(() => bus.publish({ type: 'progress', item_id: 'queued', step: 2, total: 4, preview: null }));
    expect(result.current.jobs.queued).toMatchObject({ status: 'in_progress', step: 2, total: 4 });
    act(() => bus.publish(jobEvent('queued', 'job_completed', 'completed', ['img-2'])));
    expect(result.current.jobs.queued).toMatchObject({ status: 'completed', resultImageIds: ['img-2'] });
    expect(result.current.jobs.done).toMatchObject({ status: 'completed', resultImageIds: ['img-1'] });
  });

  it('reads the listing again after a resync, and takes the ends it missed from it', async () => {
    const fetch = vi.fn(async () => new Response(JSON.stringify([listed('a', 'completed', ['img-3']), listed('b', 'pending')]), { status: 200 }));
    vi.stubGlobal('fetch', fetch);
    const bus = new EventBus();
    const { result } = renderHook(() => useJobProgress(bus, 'me'));
    act(() => result.current.showListed([listed('a', 'in_progress')]));

    act(() => bus.publish({ type: 'resync' }));
    await waitFor(() => expect(result.current.jobs.a?.status).toBe('completed'));
    expect(result.current.jobs.a.resultImageIds).toEqual(['img-3']);
    expect(result.current.jobs.b?.status).toBe('pending');
    expect(fetch).toHaveBeenCalledTimes(1);
    expect(String((fetch.mock.calls[0] as unknown[])[0])).toBe('/api/v1/queue/items?limit=500');

    // Other queue events (someone else's item) are no reason to read it again.
    act(() => bus.publish({ type: 'queue_changed' }));
    expect(fetch).toHaveBeenCalledTimes(1);
  });
});
