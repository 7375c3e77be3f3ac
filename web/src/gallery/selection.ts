// Which part of the gallery is shown: a board or Uncategorized, images or assets, whose.
import type { Category } from '../api/types';
import type { ImageFilter } from '../api/images';

/** 'none' is Uncategorized; otherwise a board id. */
export type BoardKey = 'none' | string;

export interface GallerySelection {
  board: BoardKey;
  category: Category;
  /** Admins: whose boards and Uncategorized; undefined = every board, own Uncategorized. */
  ownerId?: string;
}

export function filterFor(selection: GallerySelection): ImageFilter {
  return {
    boardId: selection.board,
    category: selection.category,
    ownerId: selection.board === 'none' ? selection.ownerId : undefined,
    starredFirst: true,
  };
}

export function selectionKey(selection: GallerySelection): string {
  return `${selection.board}|${selection.category}|${selection.ownerId ?? ''}`;
}
