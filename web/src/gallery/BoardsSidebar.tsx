// The boards list: Uncategorized and named boards with counts (and owners for admins);
// create, rename and delete; thumbnails dropped on an entry move there.
import { useState, type DragEvent, type FormEvent } from 'react';
import type { Board, BoardList } from '../api/types';
import { draggedImageId, isImageDrag } from './dnd';
import type { BoardKey } from './selection';

interface Props {
  list: BoardList | null;
  selected: BoardKey;
  showOwners: boolean;
  onSelect: (board: BoardKey) => void;
  onCreate: (name: string) => Promise<boolean>;
  onRename: (board: Board, name: string) => Promise<boolean>;
  onDelete: (board: Board) => void;
  onDropImage: (imageId: string, board: BoardKey) => void;
}

function counts(images: number, assets: number): string {
  return `${images} image${images === 1 ? '' : 's'} · ${assets} asset${assets === 1 ? '' : 's'}`;
}

function DropTarget(props: {
  board: BoardKey;
  onDropImage: Props['onDropImage'];
  children: React.ReactNode;
  className: string;
  testId: string;
}) {
  const [over, setOver] = useState(false);
  const accept = (event: DragEvent) => {
    if (!isImageDrag(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = 'move';
    setOver(true);
  };
  const drop = (event: DragEvent) => {
    setOver(false);
    const id = draggedImageId(event);
    if (!id) return;
    event.preventDefault();
    props.onDropImage(id, props.board);
  };
  return (
    <li
      className={`${props.className}${over ? ' drop-over' : ''}`}
      data-testid={props.testId}
      onDragOver={accept}
      onDragEnter={accept}
      onDragLeave={() => setOver(false)}
      onDrop={drop}
    >
      {props.children}
    </li>
  );
}

export function BoardsSidebar(props: Props) {
  const [newName, setNewName] = useState('');
  const [editing, setEditing] = useState<string | null>(null);
  const [editName, setEditName] = useState('');

  const create = async (event: FormEvent) => {
    event.preventDefault();
    if (!newName.trim()) return;
    if (await props.onCreate(newName.trim())) setNewName('');
  };
  const rename = async (event: FormEvent, board: Board) => {
    event.preventDefault();
    if (await props.onRename(board, editName.trim())) setEditing(null);
  };
  const uncategorized = props.list?.uncategorized;

  return (
    <aside className="sidebar" aria-label="Boards">
      <h2 className="sidebar-title">Boards</h2>
      <ul className="board-list">
        <DropTarget board="none" onDropImage={props.onDropImage} className="board-item" testId="board-uncategorized">
          <button
            type="button"
            className="board-select"
            aria-pressed={props.selected === 'none'}
            onClick={() => props.onSelect('none')}
          >
            <span className="board-name">Uncategorized</span>
            {uncategorized && (
              <span className="board-counts" data-testid="board-counts">
                {counts(uncategorized.image_count, uncategorized.asset_count)}
              </span>
            )}
          </button>
        </DropTarget>
        {(props.list?.boards ?? []).map((board) => (
          <DropTarget
            key={board.id}
            board={board.id}
            onDropImage={props.onDropImage}
            className="board-item"
            testId={`board-${board.name}`}
          >
            {editing === board.id ? (
              <form className="board-rename" onSubmit={(e) => rename(e, board)}>
                <label className="sr-only" htmlFor={`rename-${board.id}`}>
                  New name for {board.name}
                </label>
                <input
                  id={`rename-${board.id}`}
                  value={editName}
                  autoFocus
                  onChange={(e) => setEditName(e.target.value)}
                  onKeyDown={(e) => e.key === 'Escape' && setEditing(null)}
                  data-testid="board-rename-input"
                />
                <button type="submit" className="small-button" data-testid="board-rename-save">
                  Save
                </button>
              </form>
            ) : (
              <>
                <button
                  type="button"
                  className="board-select"
                  aria-pressed={props.selected === board.id}
                  onClick={() => props.onSelect(board.id)}
                >
                  <span className="board-name" data-testid="board-name">
                    {board.name}
                  </span>
                  {props.showOwners && (
                    <span className="board-owner" data-testid="board-owner">
                      {board.owner_name}
                    </span>
                  )}
                  <span className="board-counts" data-testid="board-counts">
                    {counts(board.image_count, board.asset_count)}
                  </span>
                </button>
                <span className="board-actions">
                  <button
                    type="button"
                    className="icon-button"
                    aria-label={`Rename board ${board.name}`}
                    data-testid="board-rename"
                    onClick={() => {
                      setEditing(board.id);
                      setEditName(board.name);
                    }}
                  >
                    ✎
                  </button>
                  <button
                    type="button"
                    className="icon-button danger"
                    aria-label={`Delete board ${board.name}`}
                    data-testid="board-delete"
                    onClick={() => props.onDelete(board)}
                  >
                    ✕
                  </button>
                </span>
              </>
            )}
          </DropTarget>
        ))}
      </ul>
      <form className="board-create" onSubmit={create}>
        <label htmlFor="new-board">New board</label>
        <div className="row">
          <input
            id="new-board"
            value={newName}
            placeholder="Board name"
            onChange={(e) => setNewName(e.target.value)}
            data-testid="board-new-name"
          />
          <button type="submit" className="small-button" data-testid="board-create">
            Add
          </button>
        </div>
      </form>
    </aside>
  );
}
