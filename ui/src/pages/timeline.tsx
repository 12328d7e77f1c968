import type { HistoryEntry } from '../api';

export const when = (iso: string | null) => (iso ? new Date(iso).toLocaleString() : '—');
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

/** A memory's history, oldest first: each change with its time, actor, reason, fields and content diff. */
export function Timeline({ history }: { history: HistoryEntry[] }) {
  return (
    <>
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
    </>
  );
}
