// The audit log (docs/console.md): the newest entries and a check of the whole hash chain (admin).
import { useEffect, useState } from 'preact/hooks';
import { type AuditEntry, api, when } from '../api';
import { ErrorLine, Heading, say } from '../ui';

interface AuditReport {
  ok: boolean;
  entries: number;
  problems: string[];
}

export function AuditPage() {
  const [entries, setEntries] = useState<AuditEntry[] | undefined>();
  const [report, setReport] = useState<AuditReport | undefined>();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    api<{ entries: AuditEntry[] }>('GET', '/audit?count=200').then(
      (r) => setEntries(r.entries.reverse()),
      setError,
    );
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
        <h2 id="entries-heading">Newest entries</h2>
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
      </section>
    </>
  );
}
