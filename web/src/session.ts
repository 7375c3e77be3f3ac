// The signed-in session shared by every page: who is using the UI and the live event bus.
import { createContext, useContext } from 'react';
import type { User } from './api/types';
import type { EventBus } from './events/bus';

export interface Session {
  /** False in single-user mode: no login, no logout, no user admin, no owner names. */
  multiuser: boolean;
  user: User;
  isAdmin: boolean;
  bus: EventBus;
  setUser: (user: User) => void;
  logout: () => Promise<void>;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession outside a signed-in page');
  return session;
}
