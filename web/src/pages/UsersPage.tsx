// Admins: the account list with status, storage, GPU use over the last day and week, adding, editing, (de)activating and deleting accounts.
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { createUser, deleteUser, listUsers, updateUser, type UserPatch } from '../api/users';
import { errorMessage } from '../api/client';
import { useAction } from '../util/useAction';
import type { User } from '../api/types';
import { ErrorBanner, InfoBanner } from '../components/ErrorBanner';
import { Modal } from '../components/Modal';
import { UserEditor } from '../users/UserEditor';
import { formatBytes, formatGpuSeconds } from '../util/format';
import { useSession } from '../session';

function AddUserForm({ onAdd }: { onAdd: (body: { email: string; display_name: string; password: string; is_admin: boolean }) => Promise<boolean> }) {
  const [email, setEmail] = useState('');
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [isAdmin, setIsAdmin] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (await onAdd({ email, display_name: name, password, is_admin: isAdmin })) {
      setEmail('');
      setName('');
      setPassword('');
      setIsAdmin(false);
    }
  };
  return (
    <form className="card add-user" onSubmit={submit} data-testid="user-add-form">
      <h2>Add a user</h2>
      <div className="field-grid">
        <label>
          Email
          <input type="email" value={email} onChange={(e) => setEmail(e.target.value)} required data-testid="user-add-email" />
        </label>
        <label>
          Display name
          <input value={name} onChange={(e) => setName(e.target.value)} required data-testid="user-add-name" />
        </label>
        <label>
          Password
          <input type="password" value={password} onChange={(e) => setPassword(e.target.value)} required autoComplete="new-password" data-testid="user-add-password" />
        </label>
      </div>
      <label className="inline-label">
        <input type="checkbox" checked={isAdmin} onChange={(e) => setIsAdmin(e.target.checked)} data-testid="user-add-admin" />
        Administrator
      </label>
      <button type="submit" className="primary" data-testid="user-add-submit">
        Add user
      </button>
    </form>
  );
}

export function UsersPage() {
  const session = useSession();
  const [users, setUsers] = useState<User[]>([]);
  const [editing, setEditing] = useState<User | null>(null);
  const [deleting, setDeleting] = useState<User | null>(null);
  const { error, info, setError, run: runAction } = useAction();

  const refresh = useCallback(() => {
    listUsers().then(setUsers, (e) => setError(errorMessage(e)));
  }, []);
  useEffect(refresh, [refresh]);

  const run = async (action: () => Promise<unknown>, done: string): Promise<boolean> => {
    const ok = await runAction(action, done);
    if (ok) refresh();
    return ok;
  };
  const save = (user: User, patch: UserPatch) => run(() => updateUser(user.id, patch), `Saved ${user.display_name}.`);

  return (
    <div className="page">
      <header className="page-header">
        <h1>Users</h1>
      </header>
      <ErrorBanner message={error} onDismiss={() => setError(null)} testId="users-error" />
      <InfoBanner message={info} testId="users-info" />
      <div className="table-wrap">
        <table className="table" data-testid="users-table">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Email</th>
              <th scope="col">Role</th>
              <th scope="col">Status</th>
              <th scope="col">Storage</th>
              <th scope="col">Weight</th>
              <th scope="col" title="GPU time used by the user's jobs in the last 24 hours / 7 days">
                GPU day / week
              </th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {users.map((user) => (
              <tr key={user.id} data-testid="user-row" data-email={user.email}>
                <td>
                  {user.display_name}
                  {user.id === session.user.id && <span className="muted"> (you)</span>}
                </td>
                <td>{user.email}</td>
                <td>{user.is_admin ? <span className="admin-badge">Admin</span> : 'User'}</td>
                <td>
                  <span className={user.is_active ? 'status status-completed' : 'status status-failed'} data-testid="user-status">
                    {user.is_active ? 'active' : 'deactivated'}
                  </span>
                </td>
                <td className="nowrap">
                  {formatBytes(user.used_bytes)} / {user.quota_bytes === null ? 'default' : formatBytes(user.quota_bytes)}
                </td>
                <td>{user.sched_weight}</td>
                <td className="nowrap" data-testid="user-gpu">
                  {formatGpuSeconds(user.gpu_seconds_day)} / {formatGpuSeconds(user.gpu_seconds_week)}
                </td>
                <td className="nowrap row">
                  <button type="button" className="small-button secondary" onClick={() => setEditing(user)} data-testid="user-edit">
                    Edit
                  </button>
                  {user.is_active ? (
                    <button type="button" className="small-button secondary" onClick={() => save(user, { is_active: false })} data-testid="user-deactivate">
                      Deactivate
                    </button>
                  ) : (
                    <button type="button" className="small-button secondary" onClick={() => save(user, { is_active: true })} data-testid="user-reactivate">
                      Reactivate
                    </button>
                  )}
                  <button type="button" className="small-button danger" onClick={() => setDeleting(user)} data-testid="user-delete">
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <AddUserForm onAdd={(body) => run(() => createUser(body), `Added ${body.display_name}.`)} />
      {editing && (
        <Modal title={`Edit ${editing.display_name}`} onClose={() => setEditing(null)} testId="user-edit-dialog">
          <ErrorBanner message={error} testId="user-edit-error" />
          <UserEditor
            user={editing}
            onCancel={() => setEditing(null)}
            onSave={async (patch) => {
              const ok = await save(editing, patch);
              if (ok) setEditing(null);
              return ok;
            }}
          />
        </Modal>
      )}
      {deleting && (
        <Modal title={`Delete ${deleting.display_name}?`} onClose={() => setDeleting(null)} testId="user-delete-dialog">
          <p>This deletes the account and everything it owns: boards, images and queue items.</p>
          <ErrorBanner message={error} testId="user-delete-error" />
          <div className="row">
            <button
              type="button"
              className="danger"
              data-testid="user-delete-confirm"
              onClick={async () => {
                if (await run(() => deleteUser(deleting.id), `Deleted ${deleting.display_name}.`)) setDeleting(null);
              }}
            >
              Delete
            </button>
            <button type="button" className="secondary" onClick={() => setDeleting(null)}>
              Keep
            </button>
          </div>
        </Modal>
      )}
    </div>
  );
}
