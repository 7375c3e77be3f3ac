// Profile: the caller's name and role, renaming, password change, S3 access keys and logout.
import { useState, type FormEvent } from 'react';
import { updateMe } from '../api/auth';
import { ErrorBanner, InfoBanner } from '../components/ErrorBanner';
import { EMPTY_NEW_PASSWORD, NewPasswordFields, passwordMismatch } from '../components/NewPasswordFields';
import { useAction } from '../util/useAction';
import { formatBytes } from '../util/format';
import { useSession } from '../session';
import { S3KeysCard } from '../profile/S3KeysCard';

export function ProfilePage() {
  const session = useSession();
  const { user } = session;
  const [name, setName] = useState(user.display_name);
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState(EMPTY_NEW_PASSWORD);
  const { error, info, setError, run } = useAction();

  const rename = (event: FormEvent) => {
    event.preventDefault();
    void run(async () => session.setUser(await updateMe({ display_name: name })), 'Name saved.');
  };
  const changePassword = (event: FormEvent) => {
    event.preventDefault();
    const mismatch = passwordMismatch(next);
    if (mismatch) return setError(mismatch);
    void run(async () => {
      session.setUser(await updateMe({ current_password: current, new_password: next.password }));
      setCurrent('');
      setNext(EMPTY_NEW_PASSWORD);
    }, 'Password changed. Your other sessions were signed out.');
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
        <NewPasswordFields value={next} onChange={setNext} label="New password" testId="profile-new-password" confirmTestId="profile-confirm-password" />
        <button type="submit" className="primary" data-testid="profile-password-save">
          Change password
        </button>
      </form>
      {session.multiuser && <S3KeysCard />}
    </div>
  );
}
