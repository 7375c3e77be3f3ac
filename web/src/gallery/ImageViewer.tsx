// The image viewer: the full image, its generation parameters, star, move, delete, previous/next,
// "Use as init image" (your own images) which opens Generate with it selected, and "Use these
// parameters" (your own generated images) which opens Generate with its parameters filled in.
import { useEffect, useState } from 'react';
import { deleteImage, getImage, moveImage, starImage } from '../api/images';
import { errorMessage } from '../api/client';
import type { Board, Image } from '../api/types';
import { Modal } from '../components/Modal';
import { ErrorBanner } from '../components/ErrorBanner';
import { formatBytes, formatDate } from '../util/format';
import { generationParams, metadataRows } from './metadata';
import { navigate } from '../router';
import { useSession } from '../session';

interface Props {
  image: Image;
  boards: Board[];
  showOwner: boolean;
  onClose: () => void;
  onPrevious?: () => void;
  onNext?: () => void;
  onChanged: (image: Image) => void;
  onDeleted: (id: string) => void;
}

export function ImageViewer({ image, boards, showOwner, onClose, onPrevious, onNext, onChanged, onDeleted }: Props) {
  const session = useSession();
  const [full, setFull] = useState<Image | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [confirmDelete, setConfirmDelete] = useState(false);

  useEffect(() => {
    setFull(null);
    setConfirmDelete(false);
    getImage(image.id).then(setFull, (e) => setError(errorMessage(e)));
  }, [image.id]);

  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      const target = event.target as HTMLElement;
      if (target.tagName === 'SELECT' || target.tagName === 'INPUT') return;
      if (event.key === 'ArrowLeft') onPrevious?.();
      if (event.key === 'ArrowRight') onNext?.();
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [onPrevious, onNext]);

  const current = full ?? image;
  // Images can only move between boards of their own owner.
  const targets = boards.filter((b) => b.owner_id === current.owner_id);

  const act = async (action: () => Promise<void>) => {
    setError(null);
    try {
      await action();
    } catch (e) {
      setError(errorMessage(e));
    }
  };
  const toggleStar = () =>
    act(async () => {
      const updated = await starImage(current.id, !current.starred);
      setFull(updated);
      onChanged(updated);
    });
  const move = (board: string) =>
    act(async () => {
      const updated = await moveImage(current.id, board === 'none' ? null : board);
      setFull(updated);
      onChanged(updated);
    });
  const remove = () =>
    act(async () => {
      await deleteImage(current.id);
      onDeleted(current.id);
    });

  const rows = metadataRows(full?.metadata);
  const mine = current.owner_id === session.user.id;
  const recallable = mine && generationParams(full?.metadata) !== null;
  return (
    <Modal title="Image" onClose={onClose} testId="image-viewer" wide>
      <div className="viewer">
        <div className="viewer-image">
          <img src={current.image_url} alt={rows.find((r) => r.label === 'Prompt')?.value ?? 'image'} data-testid="viewer-image" />
          <div className="row viewer-nav">
            <button type="button" className="secondary" onClick={onPrevious} disabled={!onPrevious} aria-label="Previous image">
              ‹ Previous
            </button>
            <button type="button" className="secondary" onClick={onNext} disabled={!onNext} aria-label="Next image">
              Next ›
            </button>
          </div>
        </div>
        <div className="viewer-side">
          <ErrorBanner message={error} onDismiss={() => setError(null)} />
          <div className="row">
            <button
              type="button"
              className="secondary"
              aria-pressed={current.starred}
              onClick={toggleStar}
              data-testid="viewer-star"
            >
              {current.starred ? '★ Starred' : '☆ Star'}
            </button>
            <a className="button secondary" href={current.image_url} download>
              Download
            </a>
          </div>
          {/* The server takes only the caller's own images as init images. */}
          {mine && (
            <div className="row">
              <button
                type="button"
                className="secondary"
                onClick={() => navigate(`/generate?init=${encodeURIComponent(current.id)}`)}
                data-testid="viewer-use-init"
              >
                Use as init image
              </button>
              {recallable && (
                <button
                  type="button"
                  className="secondary"
                  onClick={() => navigate(`/generate?recall=${encodeURIComponent(current.id)}`)}
                  data-testid="viewer-use-params"
                >
                  Use these parameters
                </button>
              )}
            </div>
          )}
          <label>
            Board
            <select value={current.board_id ?? 'none'} onChange={(e) => move(e.target.value)} data-testid="viewer-move">
              <option value="none">Uncategorized</option>
              {targets.map((b) => (
                <option key={b.id} value={b.id}>
                  {b.name}
                </option>
              ))}
            </select>
          </label>
          <dl className="metadata" data-testid="viewer-metadata">
            {showOwner && (
              <>
                <dt>Owner</dt>
                <dd data-testid="viewer-owner">{current.owner_name}</dd>
              </>
            )}
            {rows.map((row) => (
              <div key={row.label} className="meta-row">
                <dt>{row.label}</dt>
                <dd data-testid={`meta-${row.label.toLowerCase().replace(/\s+/g, '-')}`}>{row.value}</dd>
              </div>
            ))}
            <dt>Size</dt>
            <dd>
              {current.width}×{current.height} · {formatBytes(current.byte_size)} · {current.content_type}
            </dd>
            <dt>Kind</dt>
            <dd>{current.category === 'user' ? 'Asset (uploaded)' : 'Generated image'}</dd>
            <dt>Created</dt>
            <dd>{formatDate(current.created_at)}</dd>
          </dl>
          {confirmDelete ? (
            <div className="confirm" role="group" aria-label="Confirm delete">
              <span>Delete this image for good?</span>
              <button type="button" className="danger" onClick={remove} data-testid="viewer-delete-confirm">
                Delete
              </button>
              <button type="button" className="secondary" onClick={() => setConfirmDelete(false)}>
                Keep
              </button>
            </div>
          ) : (
            <button type="button" className="danger" onClick={() => setConfirmDelete(true)} data-testid="viewer-delete">
              Delete image
            </button>
          )}
        </div>
      </div>
    </Modal>
  );
}
