// First launch: create the administrator with the setup token from the server log.
import { useState, type FormEvent } from 'react';
import { setupAdmin } from '../api/auth';
import { errorMessage } from '../api/client';
import { ErrorBanner } from '../components/ErrorBanner';

export function SetupPage({ onDone }: { onDone: () => void }) {
  const [token, setToken] = useState('');
  const [email, setEmail] = useState('');
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (password !== confirm) return setError('the passwords do not match');
    setBusy(true);
    setError(null);
    try {
      await setupAdmin({ setup_token: token.trim(), email, display_name: name, password });
      onDone();
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="auth-page">
      <form className="card auth-card" onSubmit={submit} data-testid="setup-form">
        <h1>Welcome to Atelier</h1>
        <p className="muted">
          Create the administrator account. The setup token is printed in the server log and saved in
          <code> secrets/setup_token</code> under the data directory.
        </p>
        <ErrorBanner message={error} />
        <label>
          Setup token
          <input value={token} onChange={(e) => setToken(e.target.value)} required autoComplete="off" data-testid="setup-token" />
        </label>
        <label>
          Email
          <input type="email" value={email} onChange={(e) => setEmail(e.target.value)} required autoComplete="username" data-testid="setup-email" />
        </label>
        <label>
          Display name
          <input value={name} onChange={(e) => setName(e.target.value)} required data-testid="setup-name" />
        </label>
        <label>
          Password
          <input type="password" value={password} onChange={(e) => setPassword(e.target.value)} required autoComplete="new-password" data-testid="setup-password" />
        </label>
        <label>
          Confirm password
          <input type="password" value={confirm} onChange={(e) => setConfirm(e.target.value)} required autoComplete="new-password" data-testid="setup-confirm" />
        </label>
        <p className="muted small">The password cannot be recovered: keep it safe.</p>
        <button type="submit" className="primary" disabled={busy} data-testid="setup-submit">
          Create administrator
        </button>
      </form>
    </main>
  );
}
