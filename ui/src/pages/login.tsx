import { useState } from 'preact/hooks';
import { api, EngramError, type Me, session } from '../api';
import { ErrorNote } from './error-note';

/** Sign in with an API key, kept in session storage (gone when the tab closes). */
/** `onSignedIn` gets whom the key acts for (GET /v1/me, the call that checks the key). */
export function Login({ onSignedIn }: { onSignedIn: (me: Me) => void }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | null>(null);
  const submit = async (event: Event) => {
    event.preventDefault();
    session.signIn(key.trim());
    try {
      onSignedIn(await api.me());
    } catch (caught) {
      session.signOut();
      setError(caught instanceof EngramError ? caught.message : 'The server did not answer.');
    }
  };
  return (
    <main id="main" class="login">
      <h1>Engram</h1>
      <form onSubmit={submit}>
        <label for="key">API key</label>
        <input
          id="key"
          name="key"
          type="password"
          autocomplete="current-password"
          value={key}
          onInput={(event) => setKey((event.target as HTMLInputElement).value)}
          aria-describedby="key-help"
        />
        <p id="key-help" class="help">
          A key from <code>engram keys create</code>. On a local server without keys, leave it empty.
        </p>
        <ErrorNote error={error} />
        <button type="submit">Sign in</button>
      </form>
    </main>
  );
}
