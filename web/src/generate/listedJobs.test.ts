// The Generate page's jobs from the queue listing: the caller's own, unfinished and recently
// finished, merged with what the event socket already told the page.
import { describe, expect, it } from 'vitest';
import type { QueueItem, QueueStatusName } from '../api/types';
import { applyEvent, type JobMap } from './useJobProgress';
import { RECENT_FINISHED, withListedJobs } from './listedJobs';

function item(id: string, status: QueueStatusName, extra: Partial<QueueItem> = {}): QueueItem {
  return {
    id,
    owner_id: 'me',
    owner_name: 'Me',
    is_mine: true,
    status,
    position: null,
    seq: 0,
    params: {},
    error: null,
    result_image_ids: [],
    created_at: '2025-01-01T00:00:00Z',
    started_at: null,
    finished_at: null,
    ...extra,
  };
}

const ids = (jobs: JobMap) => Object.keys(jobs);

describe('withListedJobs', () => {
  it('shows the caller’s queued, running and finished jobs as the listing has them, with results and errors', () => {
    const jobs = withListedJobs({}, [
      item('done', 'completed', { result_image_ids: ['img-1'] }),
      item('broke', 'failed', { error: 'out of memory' }),
      item('running', 'in_progress'),
      item('waiting', 'pending'),
    ]);
    expect(ids(jobs)).toEqual(['done', 'broke', 'running', 'waiting']);
    expect(jobs.done).toMatchObject({ status: 'completed', resultImageIds: ['img-1'], error: null });
    expect(jobs.broke).toMatchObject({ status: 'failed', error: 'out of memory' });
    expect(jobs.running).toMatchObject({ status: 'in_progress', step: 0, total: 0, preview: null });
    expect(jobs.waiting.status).toBe('pending');
  });

  it('leaves out other users’ jobs (an admin lists everyone’s)', () => {
    const jobs = withListedJobs({}, [item('theirs', 'in_progress', { is_mine: false, owner_id: 'jane' }), item('mine', 'pending')]);
    expect(ids(jobs)).toEqual(['mine']);
  });

  it('keeps every unfinished job but only the newest finished ones', () => {
    const finished = Array.from({ length: RECENT_FINISHED + 3 }, (_, i) => item(`f${i}`, 'completed'));
    const jobs = withListedJobs({}, [item('old-pending', 'pending'), ...finished]);
    expect(ids(jobs)).toEqual(['old-pending', ...finished.slice(3).map((f) => f.id)]);
  });

  it('keeps the live step and preview of a job it already follows, and a job queued since', () => {
    let jobs = applyEvent({}, { type: 'progress', item_id: 'running', step: 3, total: 8, preview: 'data:image/webp;base64,AA' }, 'me');
    jobs = { ...jobs, fresh: { id: 'fresh', status: 'pending', step: 0, total: 0, preview: null, error: null, resultImageIds: [] } };
    const merged = withListedJobs(jobs, [item('older', 'completed'), item('running', 'in_progress')]);
    expect(ids(merged)).toEqual(['older', 'running', 'fresh']);
    expect(merged.running).toMatchObject({ status: 'in_progress', step: 3, total: 8, preview: 'data:image/webp;base64,AA' });
  });

  it('takes an end the socket missed from the listing, but never goes back to an older state', () => {
    const running = applyEvent({}, { type: 'progress', item_id: 'a', step: 3, total: 8, preview: null }, 'me');
    const ended = withListedJobs(running, [item('a', 'completed', { result_image_ids: ['img-2'] })]);
    expect(ended.a).toMatchObject({ status: 'completed', resultImageIds: ['img-2'] });

    const stale = withListedJobs(ended, [item('a', 'in_progress')]);
    expect(stale.a).toMatchObject({ status: 'completed', resultImageIds: ['img-2'] });
  });
});
