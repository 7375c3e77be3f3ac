// The login form (multiuser mode).
import { useState, type FormEvent } from 'react';
import { login } from '../api/auth';
import type { User } from '../api/types';
import { ErrorBanner, InfoBanner } from '../components/ErrorBanner';
import { useAction } from '../util/useAction';

export function LoginPage({ onLogin, notice }: { onLogin: (user: User) => void; notice?: string | null }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const { error, busy, run } = useAction();

  const submit = (event: FormEvent) => {
    event.preventDefault();
    void run(async () => onLogin((await login(email, password)).user));
  };

  return (
    <main className="auth-page">
      <form className="card auth-card" onSubmit={submit} data-testid="login-form">
        <h1>Sign in to Atelier</h1>
        <InfoBanner message={notice ?? null} />
        <ErrorBanner message={error} testId="login-error" />
        <label>
          Email
          <input type="email" value={email} onChange={(e) => setEmail(e.target.value)} required autoComplete="username" data-testid="login-email" />
        </label>
        <label>
          Password
          <input type="password" value={password} onChange={(e) => setPassword(e.target.value)} required autoComplete="current-password" data-testid="login-password" />
        </label>
        <button type="submit" className="primary" disabled={busy} data-testid="login-submit">
          Sign in
        </button>
      </form>
    </main>
  );
}
