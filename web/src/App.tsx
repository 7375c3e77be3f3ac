// The app shell: decides between setup, login and the signed-in pages, and owns the event socket.
import { useCallback, useEffect, useMemo, useState } from 'react';
import { getAuthStatus, getMe, logout as apiLogout } from './api/auth';
import { errorMessage, getToken, setToken, setUnauthenticatedHandler } from './api/client';
import type { User } from './api/types';
import { EventBus } from './events/bus';
import { EventSocket } from './events/socket';
import { navigate, usePath } from './router';
import { SessionContext, type Session } from './session';
import { SetupPage } from './pages/SetupPage';
import { LoginPage } from './pages/LoginPage';
import { SignedIn } from './SignedIn';

type Phase =
  | { kind: 'loading' }
  | { kind: 'failed'; message: string }
  | { kind: 'setup' }
  | { kind: 'login'; notice: string | null }
  | { kind: 'ready'; user: User; multiuser: boolean };

/** The stand-in account of single-user mode if /auth/me cannot describe it. */
const SYSTEM_USER: User = {
  id: '00000000-0000-0000-0000-000000000000',
  email: '',
  display_name: 'System',
  is_admin: true,
  is_active: true,
  created_at: '',
  quota_bytes: null,
  used_bytes: 0,
  sched_weight: 1,
  gpu_seconds_day: 0,
  gpu_seconds_week: 0,
};

async function bootstrap(): Promise<Phase> {
  const status = await getAuthStatus();
  if (!status.multiuser_enabled) {
    const user = await getMe().catch(() => SYSTEM_USER);
    return { kind: 'ready', user: { ...user, is_admin: true }, multiuser: false };
  }
  if (status.setup_required) return { kind: 'setup' };
  if (!getToken()) return { kind: 'login', notice: null };
  try {
    return { kind: 'ready', user: await getMe(), multiuser: true };
  } catch {
    setToken(null);
    return { kind: 'login', notice: null };
  }
}

export function App() {
  const [phase, setPhase] = useState<Phase>({ kind: 'loading' });
  const path = usePath();
  const bus = useMemo(() => new EventBus(), []);

  const start = useCallback(() => {
    bootstrap().then(setPhase, (e) => setPhase({ kind: 'failed', message: errorMessage(e) }));
  }, []);
  useEffect(start, [start]);

  const sessionEnded = useCallback((notice: string | null) => {
    setToken(null);
    setPhase({ kind: 'login', notice });
    navigate('/login', true);
  }, []);

  useEffect(() => {
    if (phase.kind !== 'ready' || !phase.multiuser) return;
    setUnauthenticatedHandler(() => sessionEnded('Your session has ended. Please sign in again.'));
    return () => setUnauthenticatedHandler(null);
  }, [phase, sessionEnded]);

  const signedIn = phase.kind === 'ready';
  useEffect(() => {
    if (!signedIn) return;
    const socket = new EventSocket({
      bus,
      onSessionEnded: () => sessionEnded('Your session has ended. Please sign in again.'),
    });
    socket.start();
    return () => socket.stop();
  }, [signedIn, bus, sessionEnded]);

  const session: Session | null = useMemo(() => {
    if (phase.kind !== 'ready') return null;
    return {
      multiuser: phase.multiuser,
      user: phase.user,
      isAdmin: phase.user.is_admin,
      bus,
      setUser: (user) => setPhase({ ...phase, user }),
      logout: async () => {
        await apiLogout().catch(() => undefined);
        sessionEnded('You have signed out.');
      },
    };
  }, [phase, bus, sessionEnded]);

  switch (phase.kind) {
    case 'loading':
      return <p className="center muted">Loading…</p>;
    case 'failed':
      return (
        <main className="auth-page">
          <div className="card auth-card" role="alert">
            <h1>Cannot reach Atelier</h1>
            <p>{phase.message}</p>
            <button type="button" className="primary" onClick={start}>
              Try again
            </button>
          </div>
        </main>
      );
    case 'setup':
      return <SetupPage onDone={() => setPhase({ kind: 'login', notice: 'Administrator created. Sign in with it.' })} />;
    case 'login':
      return (
        <LoginPage
          notice={phase.notice}
          onLogin={(user) => {
            setPhase({ kind: 'ready', user, multiuser: true });
            if (path === '/login' || path === '/setup' || path === '/') navigate('/gallery', true);
          }}
        />
      );
    case 'ready':
      return (
        <SessionContext.Provider value={session}>
          <SignedIn path={path} />
        </SessionContext.Provider>
      );
  }
}
