import { useEffect, useState } from 'preact/hooks';
import { api, EngramError, errorMessage, type HistoryEntry, type Memory } from '../api';
import { ErrorNote } from './error-note';
import { restoreMemory } from './restore';
import { Timeline, when } from './timeline';

const dayOf = (iso: string | null) => (iso ? iso.slice(0, 10) : '');

/** One memory: content, metadata, history timeline; edit, pin, expiry, delete, restore, forget. */
export function MemoryPage({ id }: { id: string }) {
  const [memory, setMemory] = useState<Memory | null>(null);
  const [history, setHistory] = useState<HistoryEntry[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [status, setStatus] = useState('');
  const [deleted, setDeleted] = useState(false);
  const [forgotten, setForgotten] = useState(false);

  const refresh = async () => {
    const [current, entries] = await Promise.allSettled([api.get(id), api.history(id)]);
    if (current.status === 'fulfilled' && entries.status === 'fulfilled') {
      setMemory(current.value);
      setHistory(entries.value.history);
      setDeleted(false);
      return;
    }
    // A deleted memory has no current version, but its history is kept: show it, with Restore.
    const last = entries.status === 'fulfilled' ? entries.value.history.at(-1) : undefined;
    if (current.status === 'rejected' && current.reason instanceof EngramError && current.reason.code === 'not_found') {
      if (entries.status === 'fulfilled' && last?.event === 'delete') {
        setMemory(null);
        setHistory(entries.value.history);
        setDeleted(true);
        return;
      }
    }
    setError(errorMessage(current.status === 'rejected' ? current.reason : (entries as PromiseRejectedResult).reason));
  };
  useEffect(() => {
    void refresh();
  }, [id]);

  /** Runs a change, then shows `what` (or the message the change returns) and reloads. */
  const act = async (what: string, run: () => Promise<unknown>) => {
    setError(null);
    try {
      const said = await run();
      setStatus(typeof said === 'string' ? said : what);
      await refresh();
    } catch (caught) {
      setError(errorMessage(caught));
    }
  };

  /** Erases the memory and its history, after a confirmation: there is no way back. */
  const forget = async () => {
    if (!confirm('Forget this memory for good? It and its whole history are erased; it cannot be restored.')) return;
    setError(null);
    try {
      await api.forget(id);
      setForgotten(true);
    } catch (caught) {
      setError(errorMessage(caught));
    }
  };
  const forgetButton = (
    <button type="button" class="danger" onClick={() => void forget()}>
      Forget for good
    </button>
  );

  if (forgotten) {
    return (
      <section aria-labelledby="memory-title">
        <h1 id="memory-title">Memory forgotten</h1>
        <p role="status">This memory and its history are erased. It cannot be restored.</p>
        <div class="row">
          <a href="#/memories">Back to memories</a> <a href="#/deleted">Recently deleted</a>
        </div>
      </section>
    );
  }
  if (deleted) {
    const gone = history.at(-1);
    return (
      <section aria-labelledby="memory-title">
        <h1 id="memory-title">Memory deleted</h1>
        <p role="status">
          {status || `Deleted ${when(gone?.at ?? null)} by ${gone?.actor ?? 'unknown'}; its history is kept.`}
        </p>
        {gone?.before && <p class="card content">{gone.before.content}</p>}
        <ErrorNote error={error} />
        <div class="row">
          <button
            type="button"
            class="secondary"
            disabled={!gone?.before}
            onClick={() => gone?.before && void act('', () => restoreMemory(gone.before as Memory))}
          >
            Restore
          </button>
          {forgetButton}
          <a href="#/memories">Back to memories</a> <a href="#/deleted">Recently deleted</a>
        </div>
        <Timeline history={history} />
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
    await act('', () => api.remove(memory.id));
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
          {forgetButton}
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
      <Timeline history={history} />
    </section>
  );
}
