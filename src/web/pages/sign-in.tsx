// Sign-in (docs/console.md): a token, kept in memory only. A locked daemon can be unlocked here with its
// passphrase (POST /v1/unlock needs no token), and a lockout is shown with its end.
import { useState } from 'preact/hooks';
import { api, type Status, setToken, when } from '../api';
import { ErrorLine, Heading, say } from '../ui';

export function SignIn({ status, onSignedIn }: { status: Status | undefined; onSignedIn: () => void }) {
  const [token, setValue] = useState('');
  const [passphrase, setPassphrase] = useState('');
  const [error, setError] = useState<unknown>();
  const [current, setCurrent] = useState<Status | undefined>();
  const shown = current ?? status;
  return (
    <main id="main" class="narrow">
      <Heading>Sign in to Coffer</Heading>
      {shown?.locked && (
        <section aria-labelledby="unlock-heading">
          <h2 id="unlock-heading">The keystore is locked</h2>
          {shown.lockedOutUntil !== undefined && (
            <p class="error">
              Unlocking is locked out until {when(shown.lockedOutUntil)} (too many failed attempts).
            </p>
          )}
          <form
            onSubmit={async (event) => {
              event.preventDefault();
              setError(undefined);
              try {
                setCurrent(await api<Status>('POST', '/unlock', { passphrase }));
                setPassphrase('');
                say('Unlocked');
              } catch (caught) {
                setError(caught);
                setCurrent(await api<Status>('GET', '/status').catch(() => shown));
              }
            }}
          >
            <label for="passphrase">Passphrase</label>
            <input
              id="passphrase"
              type="password"
              autocomplete="current-password"
              value={passphrase}
              onInput={(e) => setPassphrase(e.currentTarget.value)}
            />
            <button type="submit">Unlock</button>
          </form>
        </section>
      )}
      <form
        onSubmit={async (event) => {
          event.preventDefault();
          setError(undefined);
          setToken(token.trim());
          try {
            // Any token may read its keys; a wrong one is refused here rather than on every page.
            await api('GET', '/keys');
            setValue('');
            say('Signed in');
            onSignedIn();
          } catch (caught) {
            setToken(undefined);
            setError(caught);
          }
        }}
      >
        <label for="token">Token</label>
        <input
          id="token"
          type="password"
          autocomplete="off"
          spellcheck={false}
          required
          value={token}
          onInput={(e) => setValue(e.currentTarget.value)}
          aria-describedby="token-help"
        />
        <p id="token-help" class="help">
          A daemon bearer token (coffer_…). It stays in this page's memory only: reloading signs you out.
        </p>
        <button type="submit">Sign in</button>
      </form>
      <ErrorLine error={error} />
    </main>
  );
}
