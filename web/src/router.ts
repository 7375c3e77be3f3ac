// Client-side routing over real paths (the server answers index.html for any non-API path).
import { useEffect, useState } from 'react';

const NAVIGATE_EVENT = 'atelier:navigate';

/** Goes to a path without reloading the page. */
export function navigate(path: string, replace = false): void {
  if (path === location.pathname) return;
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  window.dispatchEvent(new Event(NAVIGATE_EVENT));
}

/** The current path; re-renders on navigation and on back/forward. */
export function usePath(): string {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const update = () => setPath(location.pathname);
    window.addEventListener('popstate', update);
    window.addEventListener(NAVIGATE_EVENT, update);
    return () => {
      window.removeEventListener('popstate', update);
      window.removeEventListener(NAVIGATE_EVENT, update);
    };
  }, []);
  return path;
}

/** The query for the pages that take one (e.g. /generate?init=ID or ?recall=ID from the image viewer). */
export function searchParam(name: string): string | null {
  return new URLSearchParams(location.search).get(name);
}

/** Drops the query from the address once a page has used it, so a reload does not apply it again. */
export function clearSearch(): void {
  if (location.search) history.replaceState(null, '', location.pathname);
}
