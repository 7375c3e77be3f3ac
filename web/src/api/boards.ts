// Boards: list (with Uncategorized and counts), create, rename, delete.
import { request } from './client';
import type { Board, BoardList } from './types';

/** Admins may pass an owner id to see one user's boards and Uncategorized. */
export const listBoards = (ownerId?: string) => request<BoardList>('GET', '/boards', { query: { owner_id: ownerId } });

export const createBoard = (name: string) => request<Board>('POST', '/boards', { json: { name } });

export const renameBoard = (id: string, name: string) => request<Board>('PATCH', `/boards/${id}`, { json: { name } });

/** Deletes a board; its images move to Uncategorized unless `deleteImages`. */
export const deleteBoard = (id: string, deleteImages: boolean) =>
  request<void>('DELETE', `/boards/${id}`, { query: { images: deleteImages ? 'delete' : 'move' } });
