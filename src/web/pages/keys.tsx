// The key list (docs/console.md): search across id, app, purpose, algorithm and state, and paging.
import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, type KeyInfo, when } from '../api';
import { ErrorLine, Heading } from '../ui';

export const PAGE_SIZE = 20;

export function KeysPage() {
  const [keys, setKeys] = useState<KeyInfo[] | undefined>();
  const [error, setError] = useState<unknown>();
  const [search, setSearch] = useState('');
  const [page, setPage] = useState(0);
  useEffect(() => {
    api<{ keys: KeyInfo[] }>('GET', '/keys').then((r) => setKeys(r.keys), setError);
  }, []);
  const found = useMemo(() => {
    const words = search.toLowerCase().split(/\s+/).filter(Boolean);
    return (keys ?? []).filter((k) => {
      const text = `${k.id} ${k.app} ${k.purpose} ${k.algorithm} ${k.state}`.toLowerCase();
      return words.every((w) => text.includes(w));
    });
  }, [keys, search]);
  const pages = Math.max(1, Math.ceil(found.length / PAGE_SIZE));
  const shown = found.slice(page * PAGE_SIZE, (page + 1) * PAGE_SIZE);
  return (
    <>
      <Heading>Keys</Heading>
      <ErrorLine error={error} />
      <search>
        <label for="key-search">Search keys</label>
        <input
          id="key-search"
          type="search"
          value={search}
          onInput={(e) => {
            setSearch(e.currentTarget.value);
            setPage(0);
          }}
        />
      </search>
      <p aria-live="polite">
        {keys === undefined
          ? 'Loading…'
          : `${found.length} of ${keys.length} keys, page ${page + 1} of ${pages}`}
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
            {shown.map((k) => (
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
      <nav aria-label="Pages" class="pager">
        <button type="button" disabled={page === 0} onClick={() => setPage(page - 1)}>
          Previous page
        </button>
        <button type="button" disabled={page + 1 >= pages} onClick={() => setPage(page + 1)}>
          Next page
        </button>
      </nav>
    </>
  );
}
