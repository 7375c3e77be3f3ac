// The caller's recent jobs as the queue listing has them, merged into the Generate page's job map:
// so that coming back to Generate (or missing events while the socket reconnected) shows them
// again. Pure; the listing is fetched by the page (and by useJobProgress on a resync).
import type { QueueItem } from '../api/types';
import type { JobMap, JobProgress } from './useJobProgress';

/** How many of the caller's finished jobs (the newest) are shown again besides the unfinished ones. */
export const RECENT_FINISHED = 10;

const FINISHED = ['completed', 'failed', 'canceled'];

/** How far along its life a status is: an item only moves forward (bar a suspension back to pending). */
function stage(status: string): number {
  if (FINISHED.includes(status)) return 2;
  return status === 'in_progress' ? 1 : 0;
}

/** A job card from a listed item; its step count comes with the next progress event. */
function fromItem(item: QueueItem): JobProgress {
  return { id: item.id, status: item.status, step: 0, total: 0, preview: null, error: item.error, resultImageIds: item.result_image_ids };
}

/** The caller's own items to show, oldest first: every unfinished one and the newest finished ones. */
export function recentOwnItems(items: QueueItem[]): QueueItem[] {
  const own = items.filter((item) => item.is_mine);
  const finished = own.filter((item) => FINISHED.includes(item.status));
  const shownFinished = new Set(finished.slice(-RECENT_FINISHED).map((item) => item.id));
  return own.filter((item) => !FINISHED.includes(item.status) || shownFinished.has(item.id));
}

/**
 * Merges a queue listing (oldest first, as the API sends it) into the job map. A job the map
 * already follows keeps its live state (step, preview) unless the listing has it further along
 * (an end missed while the socket was away): any later change arrives as an event anyway.
 * Listed jobs come first, in the listing's order; jobs only the map knows (just queued) follow.
 */
export function withListedJobs(jobs: JobMap, items: QueueItem[]): JobMap {
  const next: JobMap = {};
  for (const item of recentOwnItems(items)) {
    const known = jobs[item.id];
    if (!known) next[item.id] = fromItem(item);
    else if (stage(item.status) > stage(known.status)) next[item.id] = { ...fromItem(item), preview: known.preview };
    else next[item.id] = known;
  }
  for (const [id, job] of Object.entries(jobs)) if (!next[id]) next[id] = job;
  return next;
}
