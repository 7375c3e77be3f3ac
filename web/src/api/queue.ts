// The generation queue: enqueue, list, cancel, retry, clear, counts and admin pause/resume.
import { request } from './client';
import type { GenerationParams, QueueCounts, QueueItem } from './types';

export const enqueue = (params: GenerationParams) =>
  request<{ item_ids: string[] }>('POST', '/queue/items', { json: params });

/** Items per page of the queue listing (the server's largest page). */
export const QUEUE_PAGE = 500;

/** The whole queue in queue order, page by page (each page follows the last one's `seq`). */
export async function listQueue(): Promise<QueueItem[]> {
  const items: QueueItem[] = [];
  let after: number | undefined;
  for (;;) {
    const page = await request<QueueItem[]>('GET', '/queue/items', { query: { limit: QUEUE_PAGE, after } });
    items.push(...page);
    if (page.length < QUEUE_PAGE) return items;
    after = page[page.length - 1].seq;
  }
}

/** One item (redacted if it is another user's). */
export const getQueueItem = (id: string) => request<QueueItem>('GET', `/queue/items/${id}`);

export const cancelItem = (id: string) => request<QueueItem>('POST', `/queue/items/${id}/cancel`);

export const retryItem = (id: string) => request<{ item_ids: string[] }>('POST', `/queue/items/${id}/retry`);

export const clearFinished = (all: boolean) =>
  request<{ deleted: number }>('DELETE', '/queue/items', { query: { all: all || undefined } });

export const getQueueCounts = () => request<QueueCounts>('GET', '/queue/status');

export const pauseQueue = () => request<void>('POST', '/queue/pause');

export const resumeQueue = () => request<void>('POST', '/queue/resume');
