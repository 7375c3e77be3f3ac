// The generation workers, their devices and loaded models (admins only: /api/v1/workers).
import { request } from './client';
import type { Worker } from './types';

export const listWorkers = () => request<Worker[]>('GET', '/workers');

/** Forgets a worker that stopped reporting (409 `worker_online` while it still reports, 404 `worker_not_found`). */
export const forgetWorker = (name: string) => request<void>('DELETE', `/workers/${encodeURIComponent(name)}`);
