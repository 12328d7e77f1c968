import { useState } from 'preact/hooks';
import { type AddResult, api, errorMessage } from '../api';
import { ErrorNote } from './error-note';
import { tagList } from './filters';

/** What an add did, in words: stored, already there, or (with an LLM) what became of each fact. */
function outcome(result: AddResult): string {
  if (result.decisions) {
    const count = (action: string) => result.decisions?.filter((decision) => decision.action === action).length ?? 0;
    return `Saved as facts: ${count('add')} added, ${count('update')} updated, ${count('noop')} already known.`;
  }
  if (result.merged) return 'Almost the same as a memory you have: folded into it.';
  if (result.duplicate) return 'Already remembered: nothing was added.';
  return 'Added.';
}

/** A form to add one memory: content, and optionally a category and tags. */
export function AddMemory({ onAdded }: { onAdded: () => void }) {
  const [added, setAdded] = useState<AddResult | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: Event) => {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const value = (name: string) => (form.elements.namedItem(name) as HTMLInputElement).value;
    const category = value('category').trim();
    const tags = tagList(value('tags'));
    setError(null);
    setAdded(null);
    setBusy(true);
    try {
      const result = await api.add({
        content: value('content'),
        ...(category && { category }),
        ...(tags.length > 0 && { tags }),
      });
      setAdded(result);
      // What was typed stays when the add fails, so nothing is lost; after an add the form is empty.
      form.reset();
      onAdded();
    } catch (caught) {
      setError(errorMessage(caught));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="card" aria-labelledby="add-title" onSubmit={submit}>
      <h2 id="add-title">Add a memory</h2>
      <label for="new-content">Content</label>
      <textarea id="new-content" name="content" rows={3} required />
      <div class="row">
        <label>
          Category <input name="category" type="text" placeholder="general" />
        </label>
        <label class="grow">
          Tags <input name="tags" type="text" placeholder="comma-separated" />
        </label>
        <button type="submit" disabled={busy}>
          {busy ? 'Adding…' : 'Add memory'}
        </button>
      </div>
      {added && (
        <p role="status">
          {outcome(added)} <a href={`#/memories/${encodeURIComponent(added.memory.id)}`}>Open the memory</a>
        </p>
      )}
      <ErrorNote error={error} />
    </form>
  );
}
