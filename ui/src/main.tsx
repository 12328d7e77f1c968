/** Engram's web UI: a hash-routed single page over the REST API (docs/ui.md). */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, type Me, session } from './api';
import { Header } from './header';
import { AdminPage } from './pages/admin';
import { DeletedPage } from './pages/deleted';
import { KnowledgeBase } from './pages/kb';
import { KbGate } from './pages/kb-gate';
import { Login } from './pages/login';
import { Memories } from './pages/memories';
import { MemoryPage } from './pages/memory';
import { NotePage } from './pages/note';
import { NoteEditor } from './pages/note-editor';
import { OverviewPage } from './pages/overview';
import { Search } from './pages/search';

function useRoute(): string[] {
  const read = () => (location.hash.replace(/^#\/?/, '') || 'search').split('/').map(decodeURIComponent);
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const changed = () => setRoute(read());
    addEventListener('hashchange', changed);
    return () => removeEventListener('hashchange', changed);
  }, []);
  return route;
}

interface PageProps {
  page: string | undefined;
  id: string | undefined;
  /** What to do with it (`#/kb/<path>/edit`). */
  action: string | undefined;
  me: Me | null;
  /** The page signed in with another key (the admin page's first key), or out (null). */
  onSignedIn: (me: Me | null) => void;
}

/** The knowledge base's pages: the list, a new note (`#/kb/new`), a note, a note's editor. */
function KbPage({ path, action }: { path: string | undefined; action: string | undefined }) {
  if (!path) return <KnowledgeBase />;
  // A note's path ends in .md: `new` is never one.
  if (path === 'new') return <NoteEditor />;
  return action === 'edit' ? <NoteEditor path={path} /> : <NotePage path={path} />;
}

function Page({ page, id, action, me, onSignedIn }: PageProps) {
  if (page === 'memories') return id ? <MemoryPage id={id} /> : <Memories />;
  if (page === 'deleted') return <DeletedPage />;
  if (page === 'kb')
    return (
      <KbGate>
        <KbPage path={id} action={action} />
      </KbGate>
    );
  if (page === 'overview') return <OverviewPage />;
  if (page === 'admin') return <AdminPage me={me} onSignedIn={onSignedIn} />;
  return <Search />;
}

function App() {
  const [signedIn, setSignedIn] = useState(session.key() !== null);
  const [me, setMe] = useState<Me | null>(null);
  const route = useRoute();
  const [page, id, action] = route;
  useEffect(() => {
    // A tab that was signed in already (a reload): ask again. Only for what the header shows; a
    // failure here shows on the page's own calls.
    if (signedIn && me === null) api.me().then(setMe, () => setMe(null));
  }, [signedIn]);
  if (!signedIn)
    return (
      <Login
        onSignedIn={(who) => {
          setMe(who);
          setSignedIn(true);
        }}
      />
    );
  const signOut = () => {
    session.signOut();
    setMe(null);
    setSignedIn(false);
  };
  // Recently deleted belongs to the memories section.
  const section = page === 'deleted' ? 'memories' : page;
  return (
    <>
      <Header me={me} section={section} onSignOut={signOut} onActFor={setMe} />
      <main id="main">
        {/* Acting for another user: the page starts afresh, and loads their data. */}
        <Page
          key={session.actingFor() ?? ''}
          page={page}
          id={id}
          action={action}
          me={me}
          onSignedIn={(who) => {
            if (who) setMe(who);
            else signOut();
          }}
        />
      </main>
    </>
  );
}

render(<App />, document.getElementById('app') as HTMLElement);
