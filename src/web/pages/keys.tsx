// The key list (docs/console.md): pages of keys fetched from the daemon as the user asks for them
// (GET /v1/keys?limit=&cursor=, SPEC §4.6), never the whole list at once, and a search over the keys
// loaded so far.
import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, type KeyInfo, when } from '../api';
import { ErrorLine, Heading, say } from '../ui';

export const PAGE_SIZE = 20;

interface KeyPage {
  keys: KeyInfo[];
  cursor?: string;
}

function pagePath(cursor: string | undefined): string {
  return `/keys?limit=${PAGE_SIZE}${cursor !== undefined ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
}

export function KeysPage() {
  const [keys, setKeys] = useState<KeyInfo[] | undefined>();
  const [cursor, setCursor] = useState<string | undefined>();
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<unknown>();
  const [search, setSearch] = useState('');
  const load = async (after: string | undefined, loaded: KeyInfo[]) => {
    setLoading(true);
    try {
      const page = await api<KeyPage>('GET', pagePath(after));
      const all = [...loaded, ...page.keys];
      setKeys(all);
      setCursor(page.cursor);
      if (after !== undefined) say(`${page.keys.length} more keys loaded, ${all.length} in all`);
    } catch (caught) {
      setError(caught);
    } finally {
      setLoading(false);
    }
  };
  useEffect(() => {
    void load(undefined, []);
  }, []);
  const found = useMemo(() => {
    const words = search.toLowerCase().split(/\s+/).filter(Boolean);
    return (keys ?? []).filter((k) => {
      const text = `${k.id} ${k.app} ${k.purpose} ${k.algorithm} ${k.state}`.toLowerCase();
      return words.every((w) => text.includes(w));
    });
  }, [keys, search]);
  const more = cursor !== undefined;
  return (
    <>
      <Heading>Keys</Heading>
      <ErrorLine error={error} />
      <search>
        <label for="key-search">Search loaded keys</label>
        <input
          id="key-search"
          type="search"
          value={search}
          onInput={(e) => setSearch(e.currentTarget.value)}
        />
      </search>
      <p aria-live="polite">
        {keys === undefined
          ? 'Loading…'
          : `${found.length} of ${keys.length} keys loaded${more ? ', more on the server' : ', all of them'}`}
      </p>
      <div class="scroll">
        <table>
          <caption class="sr-only">Keys</caption>
          <thead>
            <tr>
              <th scope="col">Key</th>
              <th scope="col">App / purpose</th>
              <th scope="col">Algorithm</th>
              <th scope="col">State</th>
              <th scope="col">Version</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {found.map((k) => (
              <tr key={k.id}>
                <td>
                  <a href={`#/keys/${k.id}`}>{k.id}</a>
                </td>
                <td>
                  {k.app}/{k.purpose}
                </td>
                <td>{k.algorithm}</td>
                <td>
                  <span class={`state state-${k.state}`}>{k.state}</span>
                </td>
                <td>{k.primaryVersion}</td>
                <td>{when(k.createdAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {more && (
        <nav aria-label="Pages" class="pager">
          <button type="button" disabled={loading} onClick={() => void load(cursor, keys ?? [])}>
            Load more keys
          </button>
        </nav>
      )}
    </>
  );
}
