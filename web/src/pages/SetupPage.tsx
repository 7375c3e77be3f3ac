// First launch: create the administrator with the setup token from the server log.
import { useState, type FormEvent } from 'react';
import { setupAdmin } from '../api/auth';
import { ErrorBanner } from '../components/ErrorBanner';
import { EMPTY_NEW_PASSWORD, NewPasswordFields, passwordMismatch } from '../components/NewPasswordFields';
import { useAction } from '../util/useAction';

export function SetupPage({ onDone }: { onDone: () => void }) {
  const [token, setToken] = useState('');
  const [email, setEmail] = useState('');
  const [name, setName] = useState('');
  const [password, setPassword] = useState(EMPTY_NEW_PASSWORD);
  const { error, setError, busy, run } = useAction();

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const mismatch = passwordMismatch(password);
    if (mismatch) return setError(mismatch);
    void run(async () => {
      await setupAdmin({ setup_token: token.trim(), email, display_name: name, password: password.password });
      onDone();
    });
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
        <NewPasswordFields value={password} onChange={setPassword} label="Password" testId="setup-password" confirmTestId="setup-confirm" />
        <p className="muted small">The password cannot be recovered: keep it safe.</p>
        <button type="submit" className="primary" disabled={busy} data-testid="setup-submit">
          Create administrator
        </button>
      </form>
    </main>
  );
}
