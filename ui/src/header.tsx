import { useEffect, useState } from 'preact/hooks';
import { admin, api, errorMessage, type Me, session } from './api';
import { ErrorNote } from './pages/error-note';

/**
 * For admins (an admin key, or local mode): the user to act for, sent as X-User-ID with every
 * request; known users are offered, any valid user id is accepted. `onChange` gets whom the
 * server then says the requests act for.
 */
function ActFor({ onChange }: { onChange: (me: Me) => void }) {
  const acting = session.actingFor();
  const [value, setValue] = useState(acting ?? '');
  const [users, setUsers] = useState<string[]>([]);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    // Only suggestions: without them any user id can still be typed.
    admin.knownUsers().then(setUsers, () => setUsers([]));
  }, []);

  const switchTo = async (userId: string | null) => {
    const previous = session.actingFor();
    session.actFor(userId);
    try {
      onChange(await api.me());
      setValue(userId ?? '');
      setError(null);
    } catch (caught) {
      session.actFor(previous);
      setError(errorMessage(caught));
    }
  };
  return (
    <form
      class="act-for"
      aria-label="Act for a user"
      onSubmit={(event) => {
        event.preventDefault();
        void switchTo(value.trim() || null);
      }}
    >
      <label>
        Act for{' '}
        <input
          name="actFor"
          type="text"
          list="known-users"
          placeholder="user id"
          autocomplete="off"
          value={value}
          onInput={(event) => setValue((event.target as HTMLInputElement).value)}
        />
      </label>
      <datalist id="known-users">
        {users.map((user) => (
          <option key={user} value={user} />
        ))}
      </datalist>
      <button type="submit" class="secondary">
        Switch
      </button>
      {acting && (
        <button type="button" class="secondary" onClick={() => void switchTo(null)}>
          Stop acting for {acting}
        </button>
      )}
      <ErrorNote error={error} />
    </form>
  );
}

interface HeaderProps {
  me: Me | null;
  /** The section of the page shown, marked in the navigation. */
  section: string | undefined;
  onSignOut: () => void;
  /** An admin now acts for another user (or their own again). */
  onActFor: (me: Me) => void;
}

/** The navigation, whom the requests act for (and, for admins, whom to act for), signing out. */
export function Header({ me, section, onSignOut, onActFor }: HeaderProps) {
  const link = (to: string, label: string) => (
    <a href={`#/${to}`} aria-current={section === to ? 'page' : undefined}>
      {label}
    </a>
  );
  const acting = me?.admin && session.actingFor() !== null;
  return (
    <header>
      <nav aria-label="Main">
        <strong class="brand">Engram</strong>
        {link('search', 'Search')}
        {link('memories', 'Memories')}
        {link('kb', 'Knowledge base')}
        {link('overview', 'Overview')}
        {me?.admin && link('admin', 'Admin')}
      </nav>
      <div class="who">
        {me && (
          <span title={me.key ? `key ${me.key.name}` : 'local mode, no key'}>
            {acting ? 'Acting for ' : 'Signed in as '}
            <strong>{me.userId}</strong>
            {me.admin && ' (admin)'}
          </span>
        )}
        {me?.admin && <ActFor key={me.key?.id ?? 'local'} onChange={onActFor} />}
        <button type="button" class="secondary" onClick={onSignOut}>
          Sign out
        </button>
      </div>
    </header>
  );
}
