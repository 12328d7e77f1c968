import { useEffect, useState } from 'preact/hooks';
import { errorMessage, kb, type Memory, type Note } from '../api';
import { flash } from '../flash';
import { ErrorNote } from './error-note';

/**
 * The body without a first line that only repeats the title, which the page shows as its heading:
 * a `# Title` heading, or a line of its own the title was taken from (a note saved without one).
 */
export function withoutTitle(body: string, title: string): string {
  const lines = body.split('\n');
  const first = lines.findIndex((line) => line.trim() !== '');
  const line = lines[first];
  if (line === undefined) return body;
  const heading = /^#{1,6}\s+(.*?)(?:\s+#+)?\s*$/.exec(line);
  const ownLine = (lines[first + 1] ?? '').trim() === '';
  const text = heading ? heading[1] : ownLine ? line : null;
  return text?.trim() === title.trim() ? lines.slice(first + 1).join('\n') : body;
}

/**
 * One note rendered from markdown (raw HTML in it is shown as text), its title once, the
 * memories indexed from it; edit and delete.
 */
export function NotePage({ path }: { path: string }) {
  const [note, setNote] = useState<Note | null>(null);
  const [html, setHtml] = useState('');
  const [memories, setMemories] = useState<Memory[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [status] = useState(flash.take);
  useEffect(() => {
    // The markdown renderer is loaded with the first note page, not with the app.
    Promise.all([kb.note(path), kb.memoriesOf(path), import('micromark')]).then(
      ([found, indexed, { micromark }]) => {
        setHtml(micromark(withoutTitle(found.body, found.title)));
        setNote(found);
        setMemories(indexed.items);
      },
      (caught: unknown) => setError(errorMessage(caught)),
    );
  }, [path]);

  const remove = async () => {
    if (!note) return;
    if (!confirm(`Delete the note "${note.title}"? Its file is removed (a git commit) and its memories deleted.`))
      return;
    setError(null);
    try {
      await kb.remove(note.path);
      flash.set(`Deleted the note "${note.title}".`);
      location.hash = '#/kb';
    } catch (caught) {
      setError(errorMessage(caught));
    }
  };

  if (error && !note) return <ErrorNote error={error} />;
  if (!note) return <p aria-live="polite">Loading…</p>;
  return (
    <article aria-labelledby="note-title">
      <p>
        <a href="#/kb">Knowledge base</a> › {note.category}
      </p>
      <h1 id="note-title">{note.title}</h1>
      <p class="meta">
        {new Date(note.createdAt).toLocaleString()} · {note.source}
        {note.tags.length > 0 && ` · ${note.tags.join(', ')}`} · <code>{note.path}</code>
      </p>
      {status && <p role="status">{status}</p>}
      <div class="row">
        <a class="button" href={`#/kb/${encodeURIComponent(note.path)}/edit`}>
          Edit
        </a>
        <button type="button" class="danger" onClick={() => void remove()}>
          Delete
        </button>
      </div>
      <ErrorNote error={error} />
      {/* micromark escapes raw HTML and drops dangerous link protocols by default. */}
      {html.trim() !== '' && <div class="card markdown" dangerouslySetInnerHTML={{ __html: html }} />}
      <h2>Memories indexed from this note</h2>
      <ul class="memories">
        {memories.map((memory) => (
          <li key={memory.id}>
            <a href={`#/memories/${encodeURIComponent(memory.id)}`}>{memory.content.slice(0, 120)}</a>
          </li>
        ))}
      </ul>
    </article>
  );
}
