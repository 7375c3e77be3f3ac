// Runs a user action against the API with the page's error/info banners and a busy flag.
import { useCallback, useState } from 'react';
import { errorMessage } from '../api/client';

export interface ActionState {
  error: string | null;
  info: string | null;
  busy: boolean;
  setError: (message: string | null) => void;
  setInfo: (message: string | null) => void;
  /**
   * Clears both banners, awaits `action`, then shows `done` (if given) or the error message
   * (after `failedPrefix`). Resolves to whether the action succeeded; it never throws.
   */
  run: (action: () => Promise<unknown>, done?: string, failedPrefix?: string) => Promise<boolean>;
}

export function useAction(): ActionState {
  const [error, setError] = useState<string | null>(null);
  const [info, setInfo] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const run = useCallback(async (action: () => Promise<unknown>, done?: string, failedPrefix = '') => {
    setBusy(true);
    setError(null);
    setInfo(null);
    try {
      await action();
      if (done) setInfo(done);
      return true;
    } catch (e) {
      setError(failedPrefix + errorMessage(e));
      return false;
    } finally {
      setBusy(false);
    }
  }, []);
  return { error, info, busy, setError, setInfo, run };
}
