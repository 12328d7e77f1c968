import { useEffect, useState } from 'preact/hooks';
import { errorMessage, kb, type Memory, type NoteSummary } from '../api';
import { ErrorNote } from './error-note';

/** The notes by topic (category), newest first within each. */
export function KnowledgeBase() {
  const [notes, setNotes] = useState<NoteSummary[] | null>(null);
  const [error, setError] = useState<string | null>(null);
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
                    <a class="content" href={`#/kb/${encodeURIComponent(note.path)}`}>
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
 * One note rendered from markdown (raw HTML in it is shown as text), its title once, and the
 * memories indexed from it.
 */
export function NotePage({ path }: { path: string }) {
  const [note, setNote] = useState<(NoteSummary & { body: string }) | null>(null);
  const [html, setHtml] = useState('');
  const [memories, setMemories] = useState<Memory[]>([]);
  const [error, setError] = useState<string | null>(null);
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
  if (error) return <ErrorNote error={error} />;
  if (!note) return <p aria-live="polite">Loading…</p>;
  return (
    <article aria-labelledby="note-title">
      <p>
        <a href="#/kb">Knowledge base</a> › {note.category}
      </p>
      <h1 id="note-title">{note.title}</h1>
      <p class="meta">
        {new Date(note.createdAt).toLocaleString()} · {note.source} · <code>{note.path}</code>
      </p>
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
