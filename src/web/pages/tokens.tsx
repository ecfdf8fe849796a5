// Tokens (docs/console.md, admin): the list (never the secrets), creating one — shown once — and
// revoking one behind a confirmation.
import { useEffect, useState } from 'preact/hooks';
import { api, when } from '../api';
import { ConfirmButton, ErrorLine, Heading, say } from '../ui';

interface TokenInfo {
  id: string;
  name?: string;
  apps: string[];
  ops: string[];
  admin: boolean;
  createdAt: number;
  lastUsedAt?: number;
}

const list = (text: string) =>
  text
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);

export function TokensPage() {
  const [tokens, setTokens] = useState<TokenInfo[] | undefined>();
  const [error, setError] = useState<unknown>();
  const [name, setName] = useState('');
  const [apps, setApps] = useState('');
  const [ops, setOps] = useState('');
  const [admin, setAdmin] = useState(false);
  const [created, setCreated] = useState<string | undefined>();
  const load = () =>
    api<{ tokens: TokenInfo[] }>('GET', '/tokens').then((r) => setTokens(r.tokens), setError);
  useEffect(() => {
    void load();
  }, []);
  return (
    <>
      <Heading>Tokens</Heading>
      <ErrorLine error={error} />
      <section aria-labelledby="new-token-heading">
        <h2 id="new-token-heading">New token</h2>
        <form
          class="stack"
          onSubmit={async (event) => {
            event.preventDefault();
            setError(undefined);
            try {
              const r = await api<{ id: string; token: string }>('POST', '/tokens', {
                ...(name.trim() ? { name: name.trim() } : {}),
                apps: list(apps),
                ops: list(ops),
                admin,
              });
              setCreated(r.token);
              setName('');
              say(`Token ${r.id} created; copy it now, it is shown once`);
              void load();
            } catch (caught) {
              setError(caught);
            }
          }}
        >
          <label for="token-name">Name</label>
          <input id="token-name" value={name} onInput={(e) => setName(e.currentTarget.value)} />
          <label for="token-apps">Apps</label>
          <input
            id="token-apps"
            required
            placeholder="billing, web  or  *"
            value={apps}
            onInput={(e) => setApps(e.currentTarget.value)}
          />
          <label for="token-ops">Operations</label>
          <input
            id="token-ops"
            required
            placeholder="sign, verify  or  *  or  metrics"
            value={ops}
            onInput={(e) => setOps(e.currentTarget.value)}
          />
          <label class="check">
            <input type="checkbox" checked={admin} onChange={(e) => setAdmin(e.currentTarget.checked)} />{' '}
            Admin
          </label>
          <button type="submit">Create token</button>
        </form>
        {created && (
          <div class="notice">
            <p>The new token, shown this once:</p>
            <output aria-label="New token">{created}</output>
            <button type="button" onClick={() => setCreated(undefined)}>
              Hide token
            </button>
          </div>
        )}
      </section>
      <section aria-labelledby="tokens-heading">
        <h2 id="tokens-heading">Tokens</h2>
        <div class="scroll">
          <table>
            <thead>
              <tr>
                <th scope="col">Token</th>
                <th scope="col">Apps</th>
                <th scope="col">Operations</th>
                <th scope="col">Admin</th>
                <th scope="col">Last used</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {(tokens ?? []).map((t) => (
                <tr key={t.id}>
                  <td>
                    {t.name ? `${t.name} ` : ''}
                    <code>{t.id}</code>
                  </td>
                  <td>{t.apps.join(', ')}</td>
                  <td>{t.ops.join(', ')}</td>
                  <td>{t.admin ? 'yes' : 'no'}</td>
                  <td>{when(t.lastUsedAt)}</td>
                  <td>
                    <ConfirmButton
                      label={`Revoke ${t.name ?? t.id}`}
                      danger
                      question={`Revoke the token ${t.name ?? t.id}? Requests with it are refused from now on.`}
                      onConfirm={async () => {
                        await api('DELETE', `/tokens/${t.id}`);
                        say(`Token ${t.id} revoked`);
                        await load();
                      }}
                    />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
    </>
  );
}
