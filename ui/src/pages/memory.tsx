import { useEffect, useState } from 'preact/hooks';
import { api, errorMessage, type HistoryEntry, type Memory } from '../api';
import { ErrorNote } from './error-note';

const when = (iso: string | null) => (iso ? new Date(iso).toLocaleString() : '—');
const dayOf = (iso: string | null) => (iso ? iso.slice(0, 10) : '');
const FIELDS = ['category', 'tags', 'pinned', 'expiresAt', 'eventAt', 'metadata', 'supersededBy'] as const;

/** The fields besides content that an entry changed, as `name: before → after`. */
function changes(entry: HistoryEntry): string[] {
  const { before, after } = entry;
  if (!before || !after) return [];
  const show = (value: unknown) =>
    value === null ? '—' : Array.isArray(value) ? value.join(', ') || '—' : String(value);
  return FIELDS.filter((field) => JSON.stringify(before[field]) !== JSON.stringify(after[field])).map(
    (field) =>
      `${field}: ${field === 'metadata' ? JSON.stringify(before.metadata) : show(before[field])} → ${
        field === 'metadata' ? JSON.stringify(after.metadata) : show(after[field])
      }`,
  );
}

/** One memory: content, metadata, history timeline; edit, pin, expiry, delete. */
export function MemoryPage({ id }: { id: string }) {
  const [memory, setMemory] = useState<Memory | null>(null);
  const [history, setHistory] = useState<HistoryEntry[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [status, setStatus] = useState('');
  const [deleted, setDeleted] = useState(false);

  const refresh = async () => {
    try {
      const [current, entries] = await Promise.all([api.get(id), api.history(id)]);
      setMemory(current);
      setHistory(entries.history);
    } catch (caught) {
      setError(errorMessage(caught));
    }
  };
  useEffect(() => {
    void refresh();
  }, [id]);

  const act = async (what: string, run: () => Promise<unknown>) => {
    setError(null);
    try {
      await run();
      setStatus(what);
      await refresh();
    } catch (caught) {
      setError(errorMessage(caught));
    }
  };

  if (deleted) {
    return (
      <section>
        <h1>Memory deleted</h1>
        <p role="status">The memory was deleted; its history is kept.</p>
        <ErrorNote error={error} />
        <div class="row">
          <button
            type="button"
            class="secondary"
            onClick={() =>
              void api.restore(id).then(
                async () => {
                  setDeleted(false);
                  setStatus('Restored.');
                  await refresh();
                },
                (caught: unknown) => setError(errorMessage(caught)),
              )
            }
          >
            Restore
          </button>
          <a href="#/memories">Back to memories</a> <a href="#/deleted">Recently deleted</a>
        </div>
      </section>
    );
  }
  if (error && !memory) {
    return (
      <p role="alert" class="error">
        {error}
      </p>
    );
  }
  if (!memory) return <p aria-live="polite">Loading…</p>;

  const save = (event: Event) => {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const field = (name: string) => (form.elements.namedItem(name) as HTMLInputElement).value;
    const expires = field('expiresAt');
    void act('Saved.', () =>
      api.update(memory.id, {
        content: field('content'),
        category: field('category'),
        tags: field('tags')
          .split(',')
          .map((tag) => tag.trim())
          .filter(Boolean),
        expiresAt: expires ? new Date(`${expires}T00:00:00Z`).toISOString() : null,
      }),
    );
  };
  const remove = async () => {
    if (!confirm('Delete this memory? Its history is kept.')) return;
    try {
      await api.remove(memory.id);
      setDeleted(true);
    } catch (caught) {
      setError(errorMessage(caught));
    }
  };

  return (
    <section aria-labelledby="memory-title">
      <h1 id="memory-title">Memory</h1>
      <form onSubmit={save} class="card" key={memory.updatedAt}>
        <label for="content">Content</label>
        <textarea id="content" name="content" rows={4} defaultValue={memory.content} />
        <div class="row">
          <label>
            Category <input name="category" type="text" defaultValue={memory.category} />
          </label>
          <label class="grow">
            Tags <input name="tags" type="text" defaultValue={memory.tags.join(', ')} />
          </label>
          <label>
            Expires <input name="expiresAt" type="date" defaultValue={dayOf(memory.expiresAt)} />
          </label>
        </div>
        <div class="row">
          <button type="submit">Save</button>
          <button
            type="button"
            class="secondary"
            aria-pressed={memory.pinned}
            onClick={() =>
              void act(memory.pinned ? 'Unpinned.' : 'Pinned.', () => api.update(memory.id, { pinned: !memory.pinned }))
            }
          >
            {memory.pinned ? 'Unpin' : 'Pin'}
          </button>
          <button type="button" class="danger" onClick={() => void remove()}>
            Delete
          </button>
        </div>
        {status && <p role="status">{status}</p>}
        <ErrorNote error={error} />
      </form>
      <dl class="facts">
        <dt>id</dt>
        <dd>
          <code>{memory.id}</code>
        </dd>
        <dt>source</dt>
        <dd>{memory.source}</dd>
        <dt>created</dt>
        <dd>{when(memory.createdAt)}</dd>
        <dt>updated</dt>
        <dd>{when(memory.updatedAt)}</dd>
        <dt>event</dt>
        <dd>{when(memory.eventAt)}</dd>
        <dt>read</dt>
        <dd>
          {memory.accessCount} times, last {when(memory.lastAccessedAt)}
        </dd>
        {memory.supersededBy && (
          <>
            <dt>superseded by</dt>
            <dd>
              <a href={`#/memories/${encodeURIComponent(memory.supersededBy)}`}>{memory.supersededBy}</a> on{' '}
              {when(memory.validTo)}
            </dd>
          </>
        )}
        {Object.keys(memory.metadata).length > 0 && (
          <>
            <dt>metadata</dt>
            <dd>
              <code>{JSON.stringify(memory.metadata)}</code>
            </dd>
          </>
        )}
      </dl>
      <h2>History</h2>
      <ol class="timeline" aria-label="History, oldest first">
        {history.map((entry) => (
          <li key={entry.id} class="card">
            <p>
              <strong class={`event event-${entry.event}`}>{entry.event}</strong> {when(entry.at)} by {entry.actor}
              {entry.reason && ` — ${entry.reason}`}
            </p>
            {changes(entry).length > 0 && (
              <ul class="changes">
                {changes(entry).map((line) => (
                  <li key={line}>{line}</li>
                ))}
              </ul>
            )}
            {entry.before && entry.after && entry.before.content !== entry.after.content && (
              <div class="diff">
                <p>
                  <span class="label">before</span> <del>{entry.before.content}</del>
                </p>
                <p>
                  <span class="label">after</span> <ins>{entry.after.content}</ins>
                </p>
              </div>
            )}
          </li>
        ))}
      </ol>
    </section>
  );
}
