// The event socket's messages and how the client routes them to listeners (pure, unit-tested).

export interface ProgressEvent {
  type: 'progress';
  item_id: string;
  step: number;
  total: number;
  preview: string | null;
}

export interface JobEvent {
  type:
    | 'job_queued'
    | 'job_started'
    | 'job_suspended'
    | 'job_completed'
    | 'job_failed'
    | 'job_canceled'
    | 'job_deleted'
    | 'queue_item_status';
  item_id: string;
  owner_id: string;
  status: string;
  previous: string | null;
  error: string | null;
  result_image_ids: string[];
}

export interface InstallEvent {
  type: 'model_install';
  id: string;
  status: string;
  bytes_done?: number;
  bytes_total?: number | null;
  error?: string | null;
  [key: string]: unknown;
}

export type ServerEvent =
  | ProgressEvent
  | JobEvent
  | InstallEvent
  | { type: 'queue_changed'; item_id?: string; status?: string }
  | { type: 'image_added' | 'image_deleted'; image_id: string; board_id: string | null }
  | { type: 'resync'; missed?: number }
  | { type: 'hello'; user_id: string; is_admin: boolean };

/** The channels a UI part can listen on. */
export type Channel = 'progress' | 'job' | 'queue' | 'install' | 'gallery';

const JOB_TYPES = new Set([
  'job_queued',
  'job_started',
  'job_suspended',
  'job_completed',
  'job_failed',
  'job_canceled',
  'job_deleted',
  'queue_item_status',
]);

/**
 * Says which channels a message goes to. Job changes also mean "the queue changed"; a bare
 * `queue_changed` (another user's item) and `resync` only refresh the queue; unknown types go nowhere.
 */
export function channelsFor(message: { type?: unknown }): Channel[] {
  const type = typeof message.type === 'string' ? message.type : '';
  if (type === 'progress') return ['progress'];
  if (JOB_TYPES.has(type)) return ['job', 'queue'];
  if (type === 'queue_changed' || type === 'resync') return ['queue'];
  if (type === 'model_install') return ['install'];
  if (type === 'image_added' || type === 'image_deleted') return ['gallery'];
  return [];
}

/** True for an item status change (job_queued, job_started, …). */
export function isJobEvent(event: ServerEvent): event is JobEvent {
  return JOB_TYPES.has(event.type);
}

/** Parses one socket frame; anything that is not a JSON object with a type is ignored. */
export function parseEvent(data: unknown): ServerEvent | null {
  if (typeof data !== 'string') return null;
  try {
    const value = JSON.parse(data);
    if (value && typeof value === 'object' && typeof value.type === 'string') return value as ServerEvent;
  } catch {
    // A malformed frame is dropped.
  }
  return null;
}
