import { useEffect, useState } from 'preact/hooks';
import { admin, api, errorMessage, type KeyView, type Me, session, type UserSummary } from '../api';
import { ErrorNote } from './error-note';

/**
 * The store's users, keys (create: shown once; revoke) and purging a user, for admin keys.
 * In local mode (signed in without a key) the first key turns authentication on for every client:
 * the page says so, and signs itself in with the admin key it creates, in the same step.
 */
export function AdminPage({ me, onSignedIn }: { me: Me | null; onSignedIn: (me: Me | null) => void }) {
  const localMode = me !== null && me.key === null;
  const [keys, setKeys] = useState<KeyView[] | null>(null);
  const [users, setUsers] = useState<UserSummary[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [created, setCreated] = useState<{ key: string; record: KeyView } | null>(null);
  const [kind, setKind] = useState<'user' | 'admin'>(localMode ? 'admin' : 'user');
  const [purgeId, setPurgeId] = useState('');
  const [confirmation, setConfirmation] = useState('');
  const [status, setStatus] = useState('');

  const refresh = () =>
    Promise.all([admin.keys(), admin.users()]).then(
      ([page, store]) => {
        setKeys(page.keys);
        setUsers(store.users);
      },
      (caught: unknown) => setError(errorMessage(caught)),
    );
  useEffect(() => {
    void refresh();
  }, []);

  const create = async (event: Event) => {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const field = (name: string) => (form.elements.namedItem(name) as HTMLInputElement | null)?.value.trim() ?? '';
    setError(null);
    if (
      localMode &&
      kind === 'user' &&
      !confirm(
        'This is the first key: once it exists, every request needs a key, this page included. ' +
          'Without an admin key you will be signed out and can sign in only as that user. Create it anyway?',
      )
    )
      return;
    try {
      const name = field('name');
      const made = await admin.createKey({
        ...(name && { name }),
        ...(kind === 'admin' ? { admin: true } : { userId: field('userId') }),
      });
      setCreated(made);
      form.reset();
      if (localMode) {
        // Keys are required from now on: continue with the new admin key, or sign out.
        if (made.record.admin) {
          session.signIn(made.key);
          onSignedIn(await api.me());
        } else {
          session.signOut();
          onSignedIn(null);
          return;
        }
      }
      await refresh();
    } catch (caught) {
      setError(errorMessage(caught));
    }
  };
  const revoke = async (key: KeyView) => {
    if (!confirm(`Revoke the key "${key.name}"? Clients using it stop working at once.`)) return;
    try {
      await admin.revokeKey(key.id);
      setStatus(`Revoked ${key.name}.`);
      await refresh();
    } catch (caught) {
      setError(errorMessage(caught));
    }
  };
  const purge = async (event: Event) => {
    event.preventDefault();
    try {
      const result = await admin.purgeUser(purgeId);
      setStatus(`Purged user ${result.userId}: ${result.purged} memories removed.`);
      setPurgeId('');
      setConfirmation('');
      await refresh();
    } catch (caught) {
      setError(errorMessage(caught));
    }
  };

  if (error && !keys) return <ErrorNote error={error} />;
  // Every user the store or an active key knows of: a key may exist before its first memory.
  const activeKeys = new Map<string, number>();
  for (const key of keys ?? []) {
    if (key.userId && !key.revokedAt) activeKeys.set(key.userId, (activeKeys.get(key.userId) ?? 0) + 1);
  }
  const memoriesOf = new Map(users.map((user) => [user.userId, user]));
  const userIds = [...new Set([...memoriesOf.keys(), ...activeKeys.keys()])].sort();
  return (
    <section aria-labelledby="admin-title">
      <h1 id="admin-title">Admin</h1>
      <ErrorNote error={error} />
      {status && <p role="status">{status}</p>}
      <h2>Keys</h2>
      <table aria-label="API keys">
        <thead>
          <tr>
            <th scope="col">name</th>
            <th scope="col">for</th>
            <th scope="col">created</th>
            <th scope="col">state</th>
            <th scope="col">
              <span class="visually-hidden">actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {(keys ?? []).map((key) => (
            <tr key={key.id}>
              <th scope="row">{key.name}</th>
              <td>{key.admin ? 'admin' : `user ${key.userId}`}</td>
              <td>{new Date(key.createdAt).toLocaleDateString()}</td>
              <td>{key.revokedAt ? `revoked ${new Date(key.revokedAt).toLocaleDateString()}` : 'active'}</td>
              <td>
                {!key.revokedAt && (
                  <button
                    type="button"
                    class="danger"
                    onClick={() => void revoke(key)}
                    aria-label={`Revoke ${key.name}`}
                  >
                    Revoke
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {localMode && (
        <p class="card" role="note" id="first-key-note">
          This server runs without keys (local mode). Creating the first key turns authentication on: from then on every
          request needs a key — this page included, and MCP clients that connect over HTTP without one (the stdio
          server, <code>engram mcp</code>, is not affected). Create an admin key: this page then signs in with it.
        </p>
      )}
      <form
        class="card"
        onSubmit={create}
        aria-label="Create a key"
        {...(localMode && { 'aria-describedby': 'first-key-note' })}
      >
        <div class="row">
          <label>
            Kind{' '}
            <select
              name="kind"
              value={kind}
              onChange={(e) => setKind((e.target as HTMLSelectElement).value as 'user' | 'admin')}
            >
              <option value="user">bound to a user</option>
              <option value="admin">admin</option>
            </select>
          </label>
          {kind === 'user' && (
            <label>
              User id <input name="userId" type="text" required />
            </label>
          )}
          <label class="grow">
            Name <input name="name" type="text" placeholder="optional label" />
          </label>
          <button type="submit">{localMode && kind === 'admin' ? 'Create admin key and sign in' : 'Create key'}</button>
        </div>
      </form>
      {created && (
        <div class="card" role="status">
          <p>
            New key for <strong>{created.record.admin ? 'admin' : `user ${created.record.userId}`}</strong>. It is shown
            only now: copy it.
            {localMode === false && me?.key?.id === created.record.id && ' This page is signed in with it.'}
          </p>
          <output aria-label="New key">
            <code>{created.key}</code>
          </output>
        </div>
      )}
      <h2>Users</h2>
      {userIds.length === 0 ? (
        <p>No users yet.</p>
      ) : (
        <table aria-label="Users">
          <thead>
            <tr>
              <th scope="col">user</th>
              <th scope="col">memories</th>
              <th scope="col">last added</th>
              <th scope="col">active keys</th>
            </tr>
          </thead>
          <tbody>
            {userIds.map((userId) => {
              const summary = memoriesOf.get(userId);
              return (
                <tr key={userId}>
                  <th scope="row">{userId}</th>
                  <td>{summary?.memories ?? 0}</td>
                  <td>{summary ? new Date(summary.lastAddedAt).toLocaleString() : '—'}</td>
                  <td>{activeKeys.get(userId) ?? 0}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      <form class="card" onSubmit={purge} aria-label="Purge a user">
        <p>
          Purging deletes every memory, vector, history entry, job and knowledge-base note of the user. It cannot be
          undone.
        </p>
        <div class="row">
          <label>
            User id{' '}
            <input
              name="purgeId"
              type="text"
              value={purgeId}
              onInput={(e) => setPurgeId((e.target as HTMLInputElement).value)}
            />
          </label>
          <label>
            Type the user id again to confirm{' '}
            <input
              name="confirmation"
              type="text"
              value={confirmation}
              onInput={(e) => setConfirmation((e.target as HTMLInputElement).value)}
            />
          </label>
          <button type="submit" class="danger" disabled={purgeId === '' || confirmation !== purgeId}>
            Purge user
          </button>
        </div>
      </form>
    </section>
  );
}
