// The console's shell (docs/console.md): sign-in, then a navigation of pages routed by the URL hash
// (#/keys, #/keys/<id>, #/events, #/audit, #/tokens, #/protectors, #/status). One polite live region
// announces results to screen readers; every page puts its own h1 first.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, type Status, setToken, signedIn } from './api';
import { AuditPage } from './pages/audit';
import { EventsPage } from './pages/events';
import { KeyPage } from './pages/key';
import { KeysPage } from './pages/keys';
import { ProtectorsPage } from './pages/protectors';
import { SignIn } from './pages/sign-in';
import { StatusPage } from './pages/status';
import { TokensPage } from './pages/tokens';
import { Announcer } from './ui';
import './style.css';

const PAGES = [
  ['#/keys', 'Keys'],
  ['#/events', 'Rotation events'],
  ['#/audit', 'Audit log'],
  ['#/tokens', 'Tokens'],
  ['#/protectors', 'Protectors'],
  ['#/status', 'Status'],
] as const;

function useHash(): string {
  const [hash, setHash] = useState(location.hash || '#/keys');
  useEffect(() => {
    const onChange = () => setHash(location.hash || '#/keys');
    addEventListener('hashchange', onChange);
    return () => removeEventListener('hashchange', onChange);
  }, []);
  return hash;
}

function Page({ hash }: { hash: string }) {
  const key = /^#\/keys\/([A-Za-z0-9_-]+)$/.exec(hash);
  if (key?.[1]) return <KeyPage id={key[1]} />;
  switch (hash.split('?')[0]) {
    case '#/events':
      return <EventsPage />;
    case '#/audit':
      return <AuditPage />;
    case '#/tokens':
      return <TokensPage />;
    case '#/protectors':
      return <ProtectorsPage />;
    case '#/status':
      return <StatusPage />;
    default:
      return <KeysPage />;
  }
}

function App() {
  const [authed, setAuthed] = useState(signedIn());
  const [status, setStatus] = useState<Status | undefined>();
  const hash = useHash();
  useEffect(() => {
    api<Status>('GET', '/status').then(setStatus, () => undefined);
  }, [authed]);
  // Moving to another page moves focus to its heading, as a page load would for a screen reader.
  useEffect(() => {
    document.querySelector<HTMLElement>('main h1')?.focus();
  }, [hash, authed]);
  if (!authed)
    return (
      <>
        <SignIn status={status} onSignedIn={() => setAuthed(true)} />
        <Announcer />
      </>
    );
  const current = hash.startsWith('#/keys') ? '#/keys' : hash.split('?')[0];
  return (
    <>
      <header>
        <a class="skip" href="#main">
          Skip to content
        </a>
        <span class="brand">Coffer</span>
        <nav aria-label="Console">
          <ul>
            {PAGES.map(([href, label]) => (
              <li key={href}>
                <a href={href} aria-current={current === href ? 'page' : undefined}>
                  {label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <button
          type="button"
          onClick={() => {
            setToken(undefined);
            setAuthed(false);
            location.hash = '#/keys';
          }}
        >
          Sign out
        </button>
      </header>
      <main id="main">
        <Page hash={hash} />
      </main>
      <Announcer />
    </>
  );
}

const root = document.getElementById('app');
if (root) render(<App />, root);
