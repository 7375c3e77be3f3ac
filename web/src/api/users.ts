// Admin account management: /api/v1/auth/users.
import { request } from './client';
import type { User } from './types';

export interface UserPatch {
  display_name?: string;
  password?: string;
  is_admin?: boolean;
  is_active?: boolean;
  quota_bytes?: number | null;
  sched_weight?: number;
}

export const listUsers = () => request<User[]>('GET', '/auth/users');

export const createUser = (body: { email: string; display_name: string; password: string; is_admin: boolean }) =>
  request<User>('POST', '/auth/users', { json: body });

export const updateUser = (id: string, patch: UserPatch) => request<User>('PATCH', `/auth/users/${id}`, { json: patch });

export const deleteUser = (id: string) => request<void>('DELETE', `/auth/users/${id}`);
