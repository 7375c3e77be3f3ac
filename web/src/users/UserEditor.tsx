// Admins: edit one account (name, admin flag, password reset, quota, scheduler weight).
import { useState, type FormEvent } from 'react';
import type { User } from '../api/types';
import type { UserPatch } from '../api/users';

const MIB = 1024 * 1024;

interface Props {
  user: User;
  onSave: (patch: UserPatch) => Promise<boolean>;
  onCancel: () => void;
}

/** Builds the patch with only what changed; quota is entered in MiB (empty = server default). */
export function buildPatch(user: User, form: { name: string; isAdmin: boolean; password: string; quotaMib: string; weight: string }): UserPatch {
  const patch: UserPatch = {};
  if (form.name.trim() !== user.display_name) patch.display_name = form.name.trim();
  if (form.isAdmin !== user.is_admin) patch.is_admin = form.isAdmin;
  if (form.password) patch.password = form.password;
  const quota = form.quotaMib.trim() === '' ? null : Math.round(Number(form.quotaMib) * MIB);
  if (quota !== user.quota_bytes) patch.quota_bytes = quota;
  const weight = Number(form.weight);
  if (form.weight.trim() !== '' && weight !== user.sched_weight) patch.sched_weight = weight;
  return patch;
}

export function UserEditor({ user, onSave, onCancel }: Props) {
  const [name, setName] = useState(user.display_name);
  const [isAdmin, setIsAdmin] = useState(user.is_admin);
  const [password, setPassword] = useState('');
  const [quotaMib, setQuotaMib] = useState(user.quota_bytes === null ? '' : String(user.quota_bytes / MIB));
  const [weight, setWeight] = useState(String(user.sched_weight));

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const ok = await onSave(buildPatch(user, { name, isAdmin, password, quotaMib, weight }));
    if (ok) setPassword('');
  };

  return (
    <form className="stack" onSubmit={submit} data-testid="user-editor">
      <label>
        Display name
        <input value={name} onChange={(e) => setName(e.target.value)} required data-testid="user-edit-name" />
      </label>
      <label className="inline-label">
        <input type="checkbox" checked={isAdmin} onChange={(e) => setIsAdmin(e.target.checked)} data-testid="user-edit-admin" />
        Administrator
      </label>
      <label>
        Reset password (leave empty to keep)
        <input type="password" value={password} onChange={(e) => setPassword(e.target.value)} autoComplete="new-password" data-testid="user-edit-password" />
      </label>
      <div className="field-grid">
        <label>
          Quota (MiB, empty = default)
          <input type="number" min={0} step="any" value={quotaMib} onChange={(e) => setQuotaMib(e.target.value)} data-testid="user-edit-quota" />
        </label>
        <label>
          Scheduler weight
          <input type="number" min={0.01} max={100} step="any" value={weight} onChange={(e) => setWeight(e.target.value)} data-testid="user-edit-weight" />
        </label>
      </div>
      <div className="row">
        <button type="submit" className="primary" data-testid="user-edit-save">
          Save
        </button>
        <button type="button" className="secondary" onClick={onCancel}>
          Close
        </button>
      </div>
    </form>
  );
}
