import { useEffect, useState } from 'preact/hooks';
import { errorMessage, kb, type Note } from '../api';
import { flash } from '../flash';
import { ErrorNote } from './error-note';
import { tagList } from './filters';

const noteHref = (path: string) => `#/kb/${encodeURIComponent(path)}`;

/**
 * Writes a new note (`path` absent) or edits one: title, category, tags and markdown text. Saved,
 * it opens the note; refused, it shows the server's reason and keeps what was typed.
 */
export function NoteEditor({ path }: { path?: string }) {
  const [note, setNote] = useState<Note | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    if (path) kb.note(path).then(setNote, (caught: unknown) => setError(errorMessage(caught)));
  }, [path]);

  const save = async (event: Event) => {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const value = (name: string) => (form.elements.namedItem(name) as HTMLInputElement).value;
    const category = value('category').trim();
    const fields = {
      title: value('title').trim(),
      ...(category && { category }),
      tags: tagList(value('tags')),
      body: value('body'),
    };
    setError(null);
    setBusy(true);
    try {
      const written = path ? await kb.update(path, fields) : await kb.create(fields);
      flash.set(path && written.commit === null ? 'Nothing changed.' : 'Note saved.');
      location.hash = noteHref(written.note.path);
    } catch (caught) {
      setError(errorMessage(caught));
      setBusy(false);
    }
  };

  if (path && !note) return error ? <ErrorNote error={error} /> : <p aria-live="polite">Loading…</p>;
  const heading = note ? `Edit “${note.title}”` : 'New note';
  return (
    <section aria-labelledby="editor-title">
      <p>
        <a href="#/kb">Knowledge base</a>
        {note && (
          <>
            {' › '}
            <a href={noteHref(note.path)}>{note.title}</a>
          </>
        )}
      </p>
      <h1 id="editor-title">{heading}</h1>
      <form class="card" aria-labelledby="editor-title" onSubmit={save}>
        <div class="row">
          <label class="grow">
            Title{' '}
            <input
              name="title"
              type="text"
              maxLength={120}
              defaultValue={note?.title ?? ''}
              aria-describedby="title-help"
            />
          </label>
          <label>
            Category <input name="category" type="text" placeholder="general" defaultValue={note?.category ?? ''} />
          </label>
          <label class="grow">
            Tags <input name="tags" type="text" placeholder="comma-separated" defaultValue={note?.tags.join(', ')} />
          </label>
        </div>
        <p id="title-help" class="help">
          Empty: the first line of the text.
          {note && ' The note keeps its address (path) when its title or category changes.'}
        </p>
        <label for="note-body">Text (markdown)</label>
        <textarea id="note-body" name="body" rows={14} required defaultValue={note?.body ?? ''} />
        <div class="row">
          <button type="submit" disabled={busy}>
            {busy ? 'Saving…' : 'Save note'}
          </button>
          <a href={note ? noteHref(note.path) : '#/kb'}>Cancel</a>
        </div>
        <ErrorNote error={error} />
      </form>
    </section>
  );
}
