import { useEffect, useState } from 'preact/hooks';
import { api, type DeletedMemory, errorMessage } from '../api';
import { ErrorNote } from './error-note';
import { isExpired, restoreMemory } from './restore';

const short = (text: string) => (text.length > 60 ? `${text.slice(0, 59)}…` : text);
const when = (iso: string | null) => (iso ? new Date(iso).toLocaleString() : '');

/**
 * Recently deleted: the memories a restore can still bring back (their history is kept), most
 * recently deleted first, 50 at a time. Restoring one moves it back into the memories list.
 */
export function DeletedPage() {
  const [items, setItems] = useState<DeletedMemory[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loaded, setLoaded] = useState(false);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [status, setStatus] = useState('');

  const load = async (from?: string) => {
    setLoading(true);
    setError(null);
    try {
      const page = await api.deleted(from);
      setItems((previous) => (from ? [...previous, ...page.items] : page.items));
      setCursor(page.nextCursor);
      setLoaded(true);
    } catch (caught) {
      setError(errorMessage(caught));
    } finally {
      setLoading(false);
    }
  };
  useEffect(() => {
    void load();
  }, []);

  const restore = async ({ memory }: DeletedMemory) => {
    setError(null);
    try {
      const done = await restoreMemory(memory);
      setItems((previous) => previous.filter((item) => item.memory.id !== memory.id));
      setStatus(done);
    } catch (caught) {
      setError(errorMessage(caught));
    }
  };

  return (
    <section aria-labelledby="deleted-title">
      <h1 id="deleted-title">Recently deleted</h1>
      <p class="help">
        Deleted memories keep their history and can be restored as they were, with the same id.{' '}
        <a href="#/memories">Back to memories</a>
      </p>
      <ErrorNote error={error} />
      <p role="status">{status}</p>
      {loaded && items.length === 0 && <p>No deleted memories to restore.</p>}
      <ul class="memories" aria-label="Deleted memories">
        {items.map((item) => (
          <li key={item.memory.id} class="card">
            <a href={`#/memories/${encodeURIComponent(item.memory.id)}`} class="content">
              {item.memory.content}
            </a>
            <p class="meta">
              {item.memory.category}
              {item.memory.tags.length > 0 && ` · ${item.memory.tags.join(', ')}`}
              {isExpired(item.memory) && ` · expired ${when(item.memory.expiresAt)}`} · deleted {when(item.deletedAt)}{' '}
              by {item.deletedBy}
            </p>
            <button
              type="button"
              class="secondary"
              aria-label={`Restore "${short(item.memory.content)}"`}
              onClick={() => void restore(item)}
            >
              Restore
            </button>
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
