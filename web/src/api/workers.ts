// The generation workers, their devices and loaded models (admins only: /api/v1/workers).
import { request } from './client';
import type { Worker } from './types';

export const listWorkers = () => request<Worker[]>('GET', '/workers');
