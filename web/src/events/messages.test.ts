// Event routing in the client: which UI parts hear which socket messages.
import { describe, expect, it, vi } from 'vitest';
import { channelsFor, parseEvent } from './messages';
import { EventBus } from './bus';
import { applyEvent } from '../generate/useJobProgress';

describe('channelsFor', () => {
  it('routes each message type', () => {
    expect(channelsFor({ type: 'progress' })).toEqual(['progress']);
    expect(channelsFor({ type: 'job_completed' })).toEqual(['job', 'queue']);
    expect(channelsFor({ type: 'queue_changed' })).toEqual(['queue']);
    expect(channelsFor({ type: 'image_added' })).toEqual(['gallery']);
    expect(channelsFor({ type: 'image_deleted' })).toEqual(['gallery']);
    expect(channelsFor({ type: 'resync' })).toEqual(['queue']);
    expect(channelsFor({ type: 'model_install' })).toEqual(['install']);
    expect(channelsFor({ type: 'hello' })).toEqual([]);
    expect(channelsFor({ type: 'plugin_loaded' })).toEqual([]);
    expect(channelsFor({})).toEqual([]);
  });

  it('drops malformed frames', () => {
    expect(parseEvent('not json')).toBeNull();
    expect(parseEvent('[1,2]')).toBeNull();
    expect(parseEvent(new ArrayBuffer(2))).toBeNull();
    expect(parseEvent('{"type":"queue_changed"}')).toEqual({ type: 'queue_changed' });
  });
});

describe('EventBus', () => {
  it('delivers to subscribers of the right channel until they unsubscribe', () => {
    const bus = new EventBus();
    const queue = vi.fn();
    const progress = vi.fn();
    const stop = bus.subscribe('queue', queue);
    bus.subscribe('progress', progress);
    bus.publish({ type: 'queue_changed' });
    bus.publish({ type: 'progress', item_id: 'i', step: 1, total: 2, preview: null });
    expect(queue).toHaveBeenCalledOnce();
    expect(progress).toHaveBeenCalledOnce();
    stop();
    bus.publish({ type: 'queue_changed' });
    expect(queue).toHaveBeenCalledOnce();
  });
});

describe('applyEvent', () => {
  const job = (owner: string, status: string) => ({
    type: 'job_completed' as const,
    item_id: 'job1',
    owner_id: owner,
    status,
    previous: 'in_progress',
    error: null,
    result_image_ids: ['img1'],
  });

  it('tracks progress, previews and results of my jobs', () => {
    let jobs = applyEvent({}, { type: 'progress', item_id: 'job1', step: 2, total: 4, preview: 'data:image/jpeg;base64,AA' }, 'me');
    expect(jobs.job1).toMatchObject({ status: 'in_progress', step: 2, total: 4, preview: 'data:image/jpeg;base64,AA' });
    jobs = applyEvent(jobs, job('me', 'completed'), 'me');
    expect(jobs.job1).toMatchObject({ status: 'completed', resultImageIds: ['img1'] });
  });

  it("ignores other users' job events (admins receive them)", () => {
    expect(applyEvent({}, job('someone-else', 'completed'), 'me')).toEqual({});
  });
});
