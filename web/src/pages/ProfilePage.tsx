// Profile: the caller's name and role, renaming, password change and logout.
import { useState, type FormEvent } from 'react';
import { updateMe } from '../api/auth';
import { errorMessage } from '../api/client';
import { ErrorBanner, InfoBanner } from '../components/ErrorBanner';
import { formatBytes } from '../util/format';
import { useSession } from '../session';

export function ProfilePage() {
  const session = useSession();
  const { user } = session;
  const [name, setName] = useState(user.display_name);
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [confirm, setConfirm] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [info, setInfo] = useState<string | null>(null);

  const run = async (action: () => Promise<void>) => {
    setError(null);
    setInfo(null);
    try {
      await action();
    } catch (e) {
      setError(errorMessage(e));
    }
  };
  const rename = (event: FormEvent) => {
    event.preventDefault();
    return run(async () => {
      session.setUser(await updateMe({ display_name: name }));
      setInfo('Name saved.');
    });
  };
  const changePassword = (event: FormEvent) => {
    event.preventDefault();
    if (next !== confirm) return setError('the new passwords do not match');
    return run(async () => {
      session.setUser(await updateMe({ current_password: current, new_password: next }));
      setCurrent('');
      setNext('');
      setConfirm('');
      setInfo('Password changed. Your other sessions were signed out.');
    });
  };

  return (
    <div className="page narrow">
      <header className="page-header">
        <h1>Profile</h1>
      </header>
      <section className="card" data-testid="profile">
        <p className="profile-name">
          <span data-testid="profile-name">{user.display_name}</span>
          {user.is_admin && (
            <span className="admin-badge" data-testid="admin-badge">
              Admin
            </span>
          )}
        </p>
        <p className="muted" data-testid="profile-email">{user.email}</p>
        <p className="muted small">
          Storage used: {formatBytes(user.used_bytes)}
          {user.quota_bytes !== null ? ` of ${formatBytes(user.quota_bytes)}` : ''}
        </p>
        <button type="button" className="secondary" onClick={() => void session.logout()} data-testid="logout">
          Log out
        </button>
      </section>
      <ErrorBanner message={error} onDismiss={() => setError(null)} testId="profile-error" />
      <InfoBanner message={info} testId="profile-info" />
      <form className="card stack" onSubmit={rename}>
        <h2>Display name</h2>
        <label>
          Name
          <input value={name} onChange={(e) => setName(e.target.value)} required data-testid="profile-name-input" />
        </label>
        <button type="submit" className="primary" data-testid="profile-name-save">
          Save name
        </button>
      </form>
      <form className="card stack" onSubmit={changePassword}>
        <h2>Change password</h2>
        <label>
          Current password
          <input type="password" value={current} onChange={(e) => setCurrent(e.target.value)} required autoComplete="current-password" data-testid="profile-current-password" />
        </label>
        <label>
          New password
          <input type="password" value={next} onChange={(e) => setNext(e.target.value)} required autoComplete="new-password" data-testid="profile-new-password" />
        </label>
        <label>
          Confirm new password
          <input type="password" value={confirm} onChange={(e) => setConfirm(e.target.value)} required autoComplete="new-password" data-testid="profile-confirm-password" />
        </label>
        <button type="submit" className="primary" data-testid="profile-password-save">
          Change password
        </button>
      </form>
    </div>
  );
}
