// The generation queue: enqueue, list, cancel, retry, clear, counts and admin pause/resume.
import { request } from './client';
import type { GenerationParams, QueueCounts, QueueItem } from './types';

export const enqueue = (params: GenerationParams) =>
  request<{ item_ids: string[] }>('POST', '/queue/items', { json: params });

export const listQueue = () => request<QueueItem[]>('GET', '/queue/items');

export const cancelItem = (id: string) => request<QueueItem>('POST', `/queue/items/${id}/cancel`);

export const retryItem = (id: string) => request<{ item_ids: string[] }>('POST', `/queue/items/${id}/retry`);

export const clearFinished = (all: boolean) =>
  request<{ deleted: number }>('DELETE', '/queue/items', { query: { all: all || undefined } });

export const getQueueCounts = () => request<QueueCounts>('GET', '/queue/status');

export const pauseQueue = () => request<void>('POST', '/queue/pause');

export const resumeQueue = () => request<void>('POST', '/queue/resume');
