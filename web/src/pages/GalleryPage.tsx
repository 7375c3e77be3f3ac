// The gallery: boards sidebar, Images/Assets tabs, the thumbnail grid and the viewer.
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { createBoard, deleteBoard, listBoards, renameBoard } from '../api/boards';
import { moveImage, uploadImage } from '../api/images';
import { listUsers } from '../api/users';
import { errorMessage } from '../api/client';
import type { Board, BoardList, Category, Image, User } from '../api/types';
import { BoardsSidebar } from '../gallery/BoardsSidebar';
import { ImageGrid } from '../gallery/ImageGrid';
import { ImageViewer } from '../gallery/ImageViewer';
import { useImagePages } from '../gallery/useImagePages';
import { filterFor, selectionKey, type BoardKey, type GallerySelection } from '../gallery/selection';
import { ErrorBanner, InfoBanner } from '../components/ErrorBanner';
import { Modal } from '../components/Modal';
import { useSession } from '../session';

/** "1 image", "3 images". */
const plural = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;

export function GalleryPage() {
  const session = useSession();
  const adminView = session.multiuser && session.isAdmin;
  const [selection, setSelection] = useState<GallerySelection>({ board: 'none', category: 'general' });
  const [boards, setBoards] = useState<BoardList | null>(null);
  const [users, setUsers] = useState<User[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [info, setInfo] = useState<string | null>(null);
  /** The open image, by id: starring reorders the grid under the viewer. */
  const [viewingId, setViewingId] = useState<string | null>(null);
  const [deleting, setDeleting] = useState<Board | null>(null);
  const uploadInput = useRef<HTMLInputElement>(null);

  const pages = useImagePages(filterFor(selection), selectionKey(selection));

  const refreshBoards = useCallback(() => {
    listBoards(selection.ownerId).then(setBoards, (e) => setError(errorMessage(e)));
  }, [selection.ownerId]);
  useEffect(refreshBoards, [refreshBoards]);

  useEffect(() => {
    if (adminView) listUsers().then(setUsers, () => undefined);
  }, [adminView]);

  // A finished job of ours may have added images here.
  useEffect(
    () =>
      session.bus.subscribe('job', (event) => {
        if (event.type === 'job_completed') {
          refreshBoards();
          pages.reload();
        }
      }),
    [session.bus, refreshBoards, pages.reload],
  );

  // Images added or deleted elsewhere (another tab, an S3 client, a script): refresh, at most
  // every half second however many arrive.
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | null = null;
    const stop = session.bus.subscribe('gallery', () => {
      if (timer) return;
      timer = setTimeout(() => {
        timer = null;
        refreshBoards();
        pages.reload();
      }, 500);
    });
    return () => {
      stop();
      if (timer) clearTimeout(timer);
    };
  }, [session.bus, refreshBoards, pages.reload]);

  const selectBoard = (board: BoardKey) => {
    setViewingId(null);
    setSelection((s) => ({ ...s, board }));
  };
  const run = async (action: () => Promise<void>): Promise<boolean> => {
    setError(null);
    try {
      await action();
      return true;
    } catch (e) {
      setError(errorMessage(e));
      return false;
    }
  };

  const onCreate = (name: string) =>
    run(async () => {
      const board = await createBoard(name);
      refreshBoards();
      selectBoard(board.id);
    });
  const onRename = (board: Board, name: string) =>
    run(async () => {
      await renameBoard(board.id, name);
      refreshBoards();
    });
  const onDeleteConfirmed = (board: Board, deleteImages: boolean) =>
    run(async () => {
      await deleteBoard(board.id, deleteImages);
      setDeleting(null);
      if (selection.board === board.id) selectBoard('none');
      else pages.reload();
      refreshBoards();
    });
  const onDropImage = (imageId: string, board: BoardKey) =>
    run(async () => {
      await moveImage(imageId, board === 'none' ? null : board);
      if (board !== selection.board) pages.remove(imageId);
      refreshBoards();
      setInfo('Image moved.');
    });
  const onUploadFiles = async (files: File[]) => {
    setInfo(null);
    const target = selection.board === 'none' ? null : selection.board;
    let done = 0;
    for (const file of files) {
      const ok = await run(async () => {
        await uploadImage(file, target);
      });
      if (!ok) break;
      done += 1;
    }
    if (done > 0) {
      setInfo(`Uploaded ${done} file${done === 1 ? '' : 's'} to Assets.`);
      if (selection.category === 'user') pages.reload();
      else setSelection((s) => ({ ...s, category: 'user' }));
      refreshBoards();
    }
  };

  const setCategory = (category: Category) => {
    setViewingId(null);
    setSelection((s) => ({ ...s, category }));
  };
  const boardName = useMemo(() => {
    if (selection.board === 'none') return 'Uncategorized';
    return boards?.boards.find((b) => b.id === selection.board)?.name ?? 'Board';
  }, [selection.board, boards]);
  const viewing = viewingId === null ? -1 : pages.items.findIndex((i) => i.id === viewingId);
  const viewed: Image | null = viewing >= 0 ? pages.items[viewing] : null;

  return (
    <div className="gallery">
      <BoardsSidebar
        list={boards}
        selected={selection.board}
        showOwners={adminView}
        onSelect={selectBoard}
        onCreate={onCreate}
        onRename={onRename}
        onDelete={setDeleting}
        onDropImage={onDropImage}
      />
      <section className="gallery-main">
        <header className="page-header">
          <h1 data-testid="gallery-title">{boardName}</h1>
          {adminView && (
            <label className="inline-label">
              Owner
              <select
                value={selection.ownerId ?? ''}
                onChange={(e) => setSelection({ board: 'none', category: selection.category, ownerId: e.target.value || undefined })}
                data-testid="owner-filter"
              >
                <option value="">All users (my Uncategorized)</option>
                {users.map((u) => (
                  <option key={u.id} value={u.id}>
                    {u.display_name} ({u.email})
                  </option>
                ))}
              </select>
            </label>
          )}
          <div className="tabs" role="tablist" aria-label="Kind">
            <button type="button" role="tab" aria-selected={selection.category === 'general'} onClick={() => setCategory('general')} data-testid="tab-images">
              Images
            </button>
            <button type="button" role="tab" aria-selected={selection.category === 'user'} onClick={() => setCategory('user')} data-testid="tab-assets">
              Assets
            </button>
          </div>
          <button type="button" className="secondary" onClick={() => uploadInput.current?.click()} data-testid="upload-button">
            Upload…
          </button>
          <input
            ref={uploadInput}
            type="file"
            accept="image/png,image/jpeg,image/webp"
            multiple
            hidden
            data-testid="upload-input"
            onChange={(e) => {
              const files = Array.from(e.target.files ?? []);
              e.target.value = '';
              if (files.length) void onUploadFiles(files);
            }}
          />
        </header>
        <ErrorBanner message={error ?? pages.error} onDismiss={() => setError(null)} testId="gallery-error" />
        <InfoBanner message={info} testId="gallery-info" />
        <ImageGrid
          items={pages.items}
          hasMore={pages.hasMore}
          loading={pages.loading}
          showOwners={adminView}
          emptyText={
            selection.category === 'user'
              ? 'No assets here. Drop image files here to upload them.'
              : 'No images here yet. Generate some, or drag images here from another board.'
          }
          onOpen={(index) => setViewingId(pages.items[index]?.id ?? null)}
          onLoadMore={pages.loadMore}
          onUploadFiles={onUploadFiles}
        />
      </section>
      {viewed && (
        <ImageViewer
          image={viewed}
          boards={boards?.boards ?? []}
          showOwner={adminView}
          onClose={() => setViewingId(null)}
          onPrevious={viewing > 0 ? () => setViewingId(pages.items[viewing - 1].id) : undefined}
          onNext={viewing < pages.items.length - 1 ? () => setViewingId(pages.items[viewing + 1].id) : undefined}
          onChanged={(image) => {
            if ((image.board_id ?? 'none') !== selection.board) {
              pages.remove(image.id);
              setViewingId(null);
            } else if (image.starred !== viewed.starred) {
              // Starred images come first: load the listing again in its new order.
              pages.replace(image);
              pages.reload();
            } else pages.replace(image);
            refreshBoards();
          }}
          onDeleted={(id) => {
            pages.remove(id);
            setViewingId(null);
            refreshBoards();
          }}
        />
      )}
      {deleting && (
        <Modal title={`Delete board “${deleting.name}”`} onClose={() => setDeleting(null)} testId="board-delete-dialog">
          <p>
            It holds {plural(deleting.image_count, 'image')} and {plural(deleting.asset_count, 'asset')}. What should happen to them?
          </p>
          <div className="row">
            <button type="button" className="secondary" onClick={() => onDeleteConfirmed(deleting, false)} data-testid="board-delete-move">
              Move them to Uncategorized
            </button>
            <button type="button" className="danger" onClick={() => onDeleteConfirmed(deleting, true)} data-testid="board-delete-all">
              Delete them too
            </button>
          </div>
        </Modal>
      )}
    </div>
  );
}
