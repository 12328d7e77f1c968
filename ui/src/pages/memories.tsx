import { useEffect, useState } from 'preact/hooks';
import { api, errorMessage, type Filters, type Memory } from '../api';
import { ErrorNote } from './error-note';
import { FilterFields } from './filters';

/** Newest first, filtered, 50 at a time (cursor paging). */
export function Memories() {
  const [filters, setFilters] = useState<Filters>({});
  const [items, setItems] = useState<Memory[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);

  const load = async (from?: string) => {
    setLoading(true);
    setError(null);
    try {
      const page = await api.list(filters, from);
      setItems((previous) => (from ? [...previous, ...page.items] : page.items));
      setCursor(page.nextCursor);
    } catch (caught) {
      setError(errorMessage(caught));
    } finally {
      setLoading(false);
    }
  };
  useEffect(() => {
    void load();
  }, [filters]);

  return (
    <section aria-labelledby="memories-title">
      <h1 id="memories-title">Memories</h1>
      <form onSubmit={(event) => event.preventDefault()}>
        <FilterFields onChange={setFilters} />
      </form>
      <ErrorNote error={error} />
      <p class="help" aria-live="polite">
        {loading ? 'Loading…' : `${items.length}${cursor ? '+' : ''} memories`}
      </p>
      <ul class="memories">
        {items.map((memory) => (
          <li key={memory.id} class="card">
            <a href={`#/memories/${encodeURIComponent(memory.id)}`} class="content">
              {memory.content}
            </a>
            <p class="meta">
              {memory.category}
              {memory.pinned && ' · pinned'}
              {memory.tags.length > 0 && ` · ${memory.tags.join(', ')}`} · {new Date(memory.createdAt).toLocaleString()}
            </p>
          </li>
        ))}
      </ul>
      {cursor && (
        <button type="button" class="secondary" disabled={loading} onClick={() => void load(cursor)}>
          Load more
        </button>
      )}
    </section>
  );
}
