import { useEffect, useRef, useState } from 'preact/hooks';
import { api, errorMessage, type Filters, type Memory } from '../api';
import { AddMemory } from './add-memory';
import { ErrorNote } from './error-note';
import { FilterFields } from './filters';

type VirtualListModule = typeof import('./virtual-list');

function MemoryRow({ memory }: { memory: Memory }) {
  return (
    <>
      <a href={`#/memories/${encodeURIComponent(memory.id)}`} class="content">
        {memory.content}
      </a>
      <p class="meta">
        {memory.category}
        {memory.pinned && ' · pinned'}
        {memory.tags.length > 0 && ` · ${memory.tags.join(', ')}`} · {new Date(memory.createdAt).toLocaleString()}
      </p>
    </>
  );
}

/**
 * A form to add one, then the memories newest first, filtered, fetched 50 at a time (cursor
 * paging) as the list scrolls to its end, and drawn as a virtual list so thousands stay fast.
 */
export function Memories() {
  const [filters, setFilters] = useState<Filters>({});
  const [items, setItems] = useState<Memory[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [list, setList] = useState<VirtualListModule | null>(null);
  // Each fresh listing (a change of filters) starts a new generation; pages that arrive for an
  // older one are dropped, and only one next page is fetched at a time.
  const generation = useRef(0);
  const fetchingMore = useRef(false);

  useEffect(() => {
    import('./virtual-list').then(setList, (caught: unknown) => setError(errorMessage(caught)));
  }, []);

  const load = async (from?: string) => {
    if (from && fetchingMore.current) return;
    const current = from ? generation.current : ++generation.current;
    if (from) fetchingMore.current = true;
    // A fresh listing drops the old cursor at once, so scrolling cannot fetch the old filters' pages.
    else setCursor(null);
    setLoading(true);
    setError(null);
    try {
      const page = await api.list(filters, from);
      if (current !== generation.current) return;
      setItems((previous) => (from ? [...previous, ...page.items] : page.items));
      setCursor(page.nextCursor);
    } catch (caught) {
      if (current === generation.current) setError(errorMessage(caught));
    } finally {
      if (from) fetchingMore.current = false;
      if (current === generation.current) setLoading(false);
    }
  };
  useEffect(() => {
    void load();
  }, [filters]);

  return (
    <section aria-labelledby="memories-title">
      <h1 id="memories-title">Memories</h1>
      <p class="help">
        <a href="#/deleted">Recently deleted</a>
      </p>
      <AddMemory onAdded={() => void load()} />
      <form onSubmit={(event) => event.preventDefault()}>
        <FilterFields onChange={setFilters} />
      </form>
      <ErrorNote error={error} />
      <p class="help" aria-live="polite">
        {loading ? 'Loading…' : `${items.length}${cursor ? '+' : ''} memories`}
      </p>
      {list && (
        <list.VirtualList
          items={items}
          itemKey={(memory) => memory.id}
          renderItem={(memory) => <MemoryRow memory={memory} />}
          estimateHeight={84}
          class="memories"
          label="Memories"
          onNearEnd={() => {
            if (cursor && !error) void load(cursor);
          }}
        />
      )}
      {cursor && (
        <button type="button" class="secondary" disabled={loading} onClick={() => void load(cursor)}>
          Load more
        </button>
      )}
    </section>
  );
}
