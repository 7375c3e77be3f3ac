// Drag-and-drop payloads: thumbnails carry an image id; files dropped from the desktop are uploads.
import type { DragEvent } from 'react';

export const IMAGE_MIME = 'application/x-atelier-image';

export function startImageDrag(event: DragEvent, imageId: string): void {
  event.dataTransfer.setData(IMAGE_MIME, imageId);
  event.dataTransfer.setData('text/plain', imageId);
  event.dataTransfer.effectAllowed = 'move';
}

/** The dragged image's id, if the drag is one of our thumbnails. */
export function draggedImageId(event: DragEvent): string | null {
  return event.dataTransfer.getData(IMAGE_MIME) || null;
}

export function isImageDrag(event: DragEvent): boolean {
  return Array.from(event.dataTransfer.types).includes(IMAGE_MIME);
}

export function isFileDrag(event: DragEvent): boolean {
  return Array.from(event.dataTransfer.types).includes('Files');
}
