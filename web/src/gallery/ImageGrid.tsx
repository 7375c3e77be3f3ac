// The thumbnail grid: infinite scroll, click to open, drag a thumbnail to a board,
// drop files from the desktop to upload them.
import { useEffect, useRef, useState, type DragEvent } from 'react';
import type { Image } from '../api/types';
import { isFileDrag, startImageDrag } from './dnd';

interface Props {
  items: Image[];
  hasMore: boolean;
  loading: boolean;
  showOwners: boolean;
  emptyText: string;
  onOpen: (index: number) => void;
  onLoadMore: () => void;
  onUploadFiles: (files: File[]) => void;
}

/** Calls `onVisible` whenever the sentinel scrolls into view (where IntersectionObserver exists). */
function useSentinel(onVisible: () => void, active: boolean) {
  const ref = useRef<HTMLDivElement>(null);
  const callback = useRef(onVisible);
  callback.current = onVisible;
  useEffect(() => {
    const node = ref.current;
    if (!node || !active || typeof IntersectionObserver === 'undefined') return;
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((entry) => entry.isIntersecting)) callback.current();
    }, { rootMargin: '400px' });
    observer.observe(node);
    return () => observer.disconnect();
  }, [active]);
  return ref;
}

export function ImageGrid(props: Props) {
  const [dropping, setDropping] = useState(false);
  const sentinel = useSentinel(props.onLoadMore, props.hasMore && !props.loading);

  const over = (event: DragEvent) => {
    if (!isFileDrag(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = 'copy';
    setDropping(true);
  };
  const drop = (event: DragEvent) => {
    setDropping(false);
    if (!isFileDrag(event)) return;
    event.preventDefault();
    const files = Array.from(event.dataTransfer.files);
    if (files.length) props.onUploadFiles(files);
  };

  return (
    <section
      className={`grid-area${dropping ? ' drop-over' : ''}`}
      aria-label="Images"
      data-testid="image-grid"
      onDragOver={over}
      onDragEnter={over}
      onDragLeave={(e) => e.currentTarget === e.target && setDropping(false)}
      onDrop={drop}
    >
      {props.items.length === 0 && !props.loading && (
        <p className="muted empty" data-testid="grid-empty">
          {props.emptyText}
        </p>
      )}
      <ul className="grid">
        {props.items.map((image, index) => (
          <li key={image.id} className="tile" data-testid="image-tile" data-image-id={image.id}>
            <button
              type="button"
              className="tile-button"
              draggable
              onDragStart={(e) => startImageDrag(e, image.id)}
              onClick={() => props.onOpen(index)}
              aria-label={`Open image ${image.width}×${image.height}${image.starred ? ', starred' : ''}`}
            >
              <img src={image.thumbnail_url} alt="" loading="lazy" draggable={false} />
              {image.starred && (
                <span className="tile-star" aria-hidden="true">
                  ★
                </span>
              )}
              {props.showOwners && <span className="tile-owner">{image.owner_name}</span>}
            </button>
          </li>
        ))}
      </ul>
      <div ref={sentinel} className="sentinel" />
      {props.loading && <p className="muted center">Loading…</p>}
      {props.hasMore && !props.loading && (
        <button type="button" className="secondary center-block" onClick={props.onLoadMore} data-testid="load-more">
          Load more
        </button>
      )}
    </section>
  );
}
