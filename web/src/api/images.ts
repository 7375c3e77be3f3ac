// Images: paged listing, one image with metadata, star, move, delete and uploads.
import { request } from './client';
import type { Category, Image, ImagePage } from './types';

export interface ImageFilter {
  /** A board id, 'none' for Uncategorized, or undefined for everything. */
  boardId?: string;
  category?: Category;
  ownerId?: string;
  /** Starred images before the others (each group newest first). */
  starredFirst?: boolean;
  cursor?: string | null;
  limit?: number;
}

export const listImages = (filter: ImageFilter) =>
  request<ImagePage>('GET', '/images', {
    query: {
      board_id: filter.boardId,
      category: filter.category,
      owner_id: filter.ownerId,
      starred_first: filter.starredFirst || undefined,
      cursor: filter.cursor ?? undefined,
      limit: filter.limit ?? 50,
    },
  });

/** The thumbnail of an image by id (the media cookie authorizes <img> requests). */
export const thumbnailUrl = (id: string) => `/api/v1/images/${id}/thumbnail`;

export const getImage = (id: string) => request<Image>('GET', `/images/${id}`);

export const starImage = (id: string, starred: boolean) => request<Image>('PATCH', `/images/${id}`, { json: { starred } });

/** Moves an image to a board (null: Uncategorized). */
export const moveImage = (id: string, boardId: string | null) =>
  request<Image>('PATCH', `/images/${id}`, { json: { board_id: boardId } });

export const deleteImage = (id: string) => request<void>('DELETE', `/images/${id}`);

/**
 * Uploads a file as an asset into a board (or Uncategorized), or as an inpainting mask
 * (`category` 'mask': in no board, out of the gallery, swept once nothing uses it).
 */
export function uploadImage(file: File, boardId?: string | null, category?: 'user' | 'mask'): Promise<Image> {
  const form = new FormData();
  form.append('file', file, file.name);
  return request<Image>('POST', '/images', { body: form, query: { board_id: boardId ?? undefined, category } });
}
