import { useEffect, useState } from 'preact/hooks';
import { errorMessage, type KbHit, kb, type NoteSummary } from '../api';
import { flash } from '../flash';
import { ErrorNote } from './error-note';
import { Highlight } from './highlight';

const noteHref = (path: string) => `#/kb/${encodeURIComponent(path)}`;

/** Searches the notes' sections (hybrid memory search over them), best match first. */
function NoteSearch() {
  const [text, setText] = useState('');
  const [hits, setHits] = useState<KbHit[] | null>(null);
  const [searched, setSearched] = useState('');
  const [error, setError] = useState<string | null>(null);
  const submit = async (event: Event) => {
    event.preventDefault();
    setError(null);
    try {
      setHits((await kb.search(text, 10)).results);
      setSearched(text);
    } catch (caught) {
      setError(errorMessage(caught));
    }
  };
  return (
    <>
      <form aria-label="Search notes" onSubmit={submit} class="row">
        <label class="grow">
          Search notes{' '}
          <input
            name="query"
            type="search"
            required
            value={text}
            onInput={(event) => setText((event.target as HTMLInputElement).value)}
          />
        </label>
        <button type="submit">Search</button>
      </form>
      <ErrorNote error={error} />
      {hits && (
        <p class="help" aria-live="polite">
          {hits.length === 0 ? 'No note matches.' : `${hits.length} sections, best match first`}
        </p>
      )}
      {hits && hits.length > 0 && (
        <ol class="results" aria-label="Matching notes">
          {hits.map((hit) => (
            <li key={hit.memoryId} class="card">
              <a href={noteHref(hit.path)}>{hit.heading}</a>
              <p class="content">
                <Highlight text={hit.text} query={searched} />
              </p>
              <p class="meta">score {hit.score.toFixed(4)}</p>
            </li>
          ))}
        </ol>
      )}
    </>
  );
}

/** The notes by topic (category), newest first within each; a search over them; a new note. */
export function KnowledgeBase() {
  const [notes, setNotes] = useState<NoteSummary[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [status] = useState(flash.take);
  useEffect(() => {
    kb.notes().then(
      (page) => setNotes(page.items),
      (caught: unknown) => setError(errorMessage(caught)),
    );
  }, []);
  const topics = new Map<string, NoteSummary[]>();
  for (const note of notes ?? []) topics.set(note.category, [...(topics.get(note.category) ?? []), note]);
  return (
    <section aria-labelledby="kb-title">
      <h1 id="kb-title">Knowledge base</h1>
      {status && <p role="status">{status}</p>}
      <p>
        <a class="button" href="#/kb/new">
          New note
        </a>
      </p>
      <NoteSearch />
      <ErrorNote error={error} />
      {notes && notes.length === 0 && <p>No notes yet.</p>}
      {[...topics]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([topic, items]) => (
          <section key={topic} aria-label={`Topic ${topic}`}>
            <h2>{topic}</h2>
            <ul class="memories">
              {items
                .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
                .map((note) => (
                  <li key={note.path} class="card">
                    <a class="content" href={noteHref(note.path)}>
                      {note.title}
                    </a>
                    <p class="meta">
                      {new Date(note.createdAt).toLocaleDateString()} · {note.source}
                      {note.tags.length > 0 && ` · ${note.tags.join(', ')}`}
                    </p>
                  </li>
                ))}
            </ul>
          </section>
        ))}
    </section>
  );
}
