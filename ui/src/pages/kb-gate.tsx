import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { errorMessage, kb } from '../api';
import { ErrorNote } from './error-note';

type Status = Awaited<ReturnType<typeof kb.status>>;

/**
 * The knowledge-base pages, or — on a server without a knowledge base — a page that says so and
 * why (GET /v1/kb/status), instead of failing on every request.
 */
export function KbGate({ children }: { children: ComponentChildren }) {
  const [status, setStatus] = useState<Status | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    kb.status().then(setStatus, (caught: unknown) => setError(errorMessage(caught)));
  }, []);
  if (error) return <ErrorNote error={error} />;
  if (!status) return <p aria-live="polite">Loading…</p>;
  if (status.available) return <>{children}</>;
  return (
    <section aria-labelledby="kb-title">
      <h1 id="kb-title">Knowledge base</h1>
      <p class="card" role="note">
        This server has no knowledge base: {status.reason}. Notes cannot be written, read or searched here; memories
        work as usual.{' '}
        {status.enabled
          ? 'The server log says what went wrong when it started.'
          : 'An administrator turns it on with ENGRAM_KB_ENABLED=true (or kb.enabled in the config file) and a restart.'}
      </p>
    </section>
  );
}
