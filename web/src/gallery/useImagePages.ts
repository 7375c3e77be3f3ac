// Loads a gallery listing page by page (keyset cursor) for infinite scrolling.
import { useCallback, useEffect, useRef, useState } from 'react';
import { listImages, type ImageFilter } from '../api/images';
import { errorMessage } from '../api/client';
import type { Image } from '../api/types';

export interface ImagePages {
  items: Image[];
  hasMore: boolean;
  loading: boolean;
  error: string | null;
  loadMore: () => void;
  reload: () => void;
  replace: (image: Image) => void;
  remove: (id: string) => void;
}

export function useImagePages(filter: ImageFilter, key: string, pageSize = 50): ImagePages {
  const [items, setItems] = useState<Image[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [hasMore, setHasMore] = useState(true);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const generation = useRef(0);
  const busy = useRef(false);
  const filterRef = useRef(filter);
  filterRef.current = filter;

  const fetchPage = useCallback(
    async (from: string | null, fresh: boolean) => {
      const mine = generation.current;
      busy.current = true;
      setLoading(true);
      try {
        const page = await listImages({ ...filterRef.current, cursor: from, limit: pageSize });
        if (mine !== generation.current) return;
        setItems((old) => (fresh ? page.items : [...old, ...page.items.filter((i) => !old.some((o) => o.id === i.id))]));
        setCursor(page.next_cursor);
        setHasMore(page.next_cursor !== null);
        setError(null);
      } catch (e) {
        if (mine === generation.current) {
          setError(errorMessage(e));
          setHasMore(false);
        }
      } finally {
        if (mine === generation.current) {
          busy.current = false;
          setLoading(false);
        }
      }
    },
    [pageSize],
  );

  const reload = useCallback(() => {
    generation.current += 1;
    setCursor(null);
    setHasMore(true);
    void fetchPage(null, true);
  }, [fetchPage]);

  useEffect(() => {
    generation.current += 1;
    setItems([]);
    reload();
  }, [key, reload]);

  const loadMore = useCallback(() => {
    if (busy.current || !hasMore || cursor === null) return;
    void fetchPage(cursor, false);
  }, [cursor, hasMore, fetchPage]);

  const replace = useCallback((image: Image) => setItems((old) => old.map((i) => (i.id === image.id ? image : i))), []);
  const remove = useCallback((id: string) => setItems((old) => old.filter((i) => i.id !== id)), []);

  return { items, hasMore, loading, error, loadMore, reload, replace, remove };
}
