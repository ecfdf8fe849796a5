// The audit log (docs/console.md): the entries newest first, a page at a time from the daemon
// (GET /v1/audit?order=desc&limit=&cursor=, each page checked against the hash chain, SPEC §8.1), and a
// check of the whole chain (admin).
import { useEffect, useState } from 'preact/hooks';
import { type AuditEntry, api, when } from '../api';
import { ErrorLine, Heading, say } from '../ui';

interface AuditReport {
  ok: boolean;
  entries: number;
  problems: string[];
}

const AUDIT_PAGE_SIZE = 50;

export function AuditPage() {
  const [entries, setEntries] = useState<AuditEntry[] | undefined>();
  const [cursor, setCursor] = useState<string | undefined>();
  const [loading, setLoading] = useState(true);
  const [report, setReport] = useState<AuditReport | undefined>();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const load = async (after: string | undefined, loaded: AuditEntry[]) => {
    setLoading(true);
    try {
      const query = `order=desc&limit=${AUDIT_PAGE_SIZE}${after !== undefined ? `&cursor=${encodeURIComponent(after)}` : ''}`;
      const page = await api<{ entries: AuditEntry[]; cursor?: string }>('GET', `/audit?${query}`);
      setEntries([...loaded, ...page.entries]);
      setCursor(page.cursor);
      if (after !== undefined) say(`${page.entries.length} older entries loaded`);
    } catch (caught) {
      setError(caught);
    } finally {
      setLoading(false);
    }
  };
  useEffect(() => {
    void load(undefined, []);
  }, []);
  return (
    <>
      <Heading>Audit log</Heading>
      <ErrorLine error={error} />
      <section aria-labelledby="chain-heading">
        <h2 id="chain-heading">Chain</h2>
        <button
          type="button"
          disabled={busy}
          onClick={async () => {
            setBusy(true);
            try {
              const r = await api<AuditReport>('GET', '/audit/verify');
              setReport(r);
              say(r.ok ? `Audit chain verified: ${r.entries} entries intact` : 'Audit chain broken');
            } catch (caught) {
              setError(caught);
            } finally {
              setBusy(false);
            }
          }}
        >
          Verify chain
        </button>
        {report && (
          <p class={report.ok ? 'ok' : 'error'}>
            {report.ok
              ? `The chain of ${report.entries} entries is intact.`
              : `The chain is broken: ${report.problems.join('; ')}`}
          </p>
        )}
      </section>
      <section aria-labelledby="entries-heading">
        <h2 id="entries-heading">Entries, newest first</h2>
        <div class="scroll">
          <table>
            <thead>
              <tr>
                <th scope="col">#</th>
                <th scope="col">When</th>
                <th scope="col">Event</th>
                <th scope="col">Actor</th>
                <th scope="col">Key</th>
              </tr>
            </thead>
            <tbody>
              {(entries ?? []).map((e) => (
                <tr key={e.seq}>
                  <td>{e.seq}</td>
                  <td>{when(e.at)}</td>
                  <td>{e.event}</td>
                  <td>{e.actor}</td>
                  <td>{e.keyId ? <a href={`#/keys/${e.keyId}`}>{e.keyId}</a> : '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {cursor !== undefined && (
          <nav aria-label="Older entries" class="pager">
            <button type="button" disabled={loading} onClick={() => void load(cursor, entries ?? [])}>
              Load older entries
            </button>
          </nav>
        )}
      </section>
    </>
  );
}
