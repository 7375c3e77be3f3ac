// A user's S3 access keys (/api/v1/s3/keys): the secret comes back once, on creation.
import { request } from './client';
import type { NewS3Key, S3Key } from './types';

export const listS3Keys = () => request<S3Key[]>('GET', '/s3/keys');

export const createS3Key = (label: string, readOnly: boolean) =>
  request<NewS3Key>('POST', '/s3/keys', { json: { label, read_only: readOnly } });

/** Revokes a key: the next S3 request signed with it is refused. */
export const revokeS3Key = (id: string) => request<void>('DELETE', `/s3/keys/${encodeURIComponent(id)}`);

export const relabelS3Key = (id: string, label: string) =>
  request<S3Key>('PATCH', `/s3/keys/${encodeURIComponent(id)}`, { json: { label } });
