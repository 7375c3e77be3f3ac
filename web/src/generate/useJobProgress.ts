// Follows the caller's own jobs on the event socket: status, step progress and previews; starts
// from the queue listing the page hands over (its recent jobs), and reads it again after a resync.
import { useCallback, useEffect, useState } from 'react';
import { listQueue } from '../api/queue';
import type { QueueItem } from '../api/types';
import type { EventBus } from '../events/bus';
import { isJobEvent, type ServerEvent } from '../events/messages';
import { withListedJobs } from './listedJobs';

export interface JobProgress {
  id: string;
  status: string;
  step: number;
  total: number;
  preview: string | null;
  error: string | null;
  resultImageIds: string[];
}

export type JobMap = Record<string, JobProgress>;

function blank(id: string): JobProgress {
  return { id, status: 'pending', step: 0, total: 0, preview: null, error: null, resultImageIds: [] };
}

/** Applies one event to the job map; `myId` keeps admins from tracking other users' jobs here. */
export function applyEvent(jobs: JobMap, event: ServerEvent, myId: string): JobMap {
  if (event.type === 'progress') {
    const job = jobs[event.item_id] ?? blank(event.item_id);
    return {
      ...jobs,
      [event.item_id]: {
        ...job,
        status: 'in_progress',
        step: event.step,
        total: event.total,
        preview: event.preview ?? job.preview,
      },
    };
  }
  if (isJobEvent(event)) {
    if (event.owner_id !== myId) return jobs;
    if (event.type === 'job_deleted') {
      const { [event.item_id]: _gone, ...rest } = jobs;
      return rest;
    }
    const job = jobs[event.item_id] ?? blank(event.item_id);
    return {
      ...jobs,
      [event.item_id]: {
        ...job,
        status: event.status,
        error: event.error,
        resultImageIds: event.result_image_ids?.length ? event.result_image_ids : job.resultImageIds,
      },
    };
  }
  return jobs;
}

/**
 * The caller's jobs for the Generate page. `showListed` merges a queue listing in (the page passes
 * the one it loads with the form, so the jobs are there once the page is ready); `track` adds
 * jobs just queued.
 */
export function useJobProgress(bus: EventBus, myId: string) {
  const [jobs, setJobs] = useState<JobMap>({});
  const showListed = useCallback((items: QueueItem[]) => setJobs((old) => withListedJobs(old, items)), []);
  useEffect(() => {
    const update = (event: ServerEvent) => setJobs((old) => applyEvent(old, event, myId));
    // Events were missed while the socket was away: the listing says where the jobs are now.
    const resync = (event: ServerEvent) => {
      if (event.type === 'resync') listQueue().then(showListed, () => undefined);
    };
    const stops = [bus.subscribe('progress', update), bus.subscribe('job', update), bus.subscribe('queue', resync)];
    return () => stops.forEach((stop) => stop());
  }, [bus, myId, showListed]);
  const track = (ids: string[]) =>
    setJobs((old) => {
      const next = { ...old };
      for (const id of ids) next[id] = next[id] ?? blank(id);
      return next;
    });
  return { jobs, track, showListed };
}
