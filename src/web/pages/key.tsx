// One key (docs/console.md): its versions and their states, a timeline from the audit log (admin
// tokens), public-key export, and rotate / suspend / resume / revoke / destroy, each behind a
// confirmation. Revoke needs a reason; destroy wipes the material for good and says so.
import { useEffect, useState } from 'preact/hooks';
import { type AuditEntry, api, type KeyInfo, when } from '../api';
import { ConfirmButton, ErrorLine, Heading, say } from '../ui';

const FORMATS = ['pem', 'jwk', 'ssh', 'raw', 'spki'] as const;
const DONE: Record<string, string> = {
  rotate: 'rotated',
  suspend: 'suspended',
  resume: 'resumed',
  revoke: 'revoked',
  destroy: 'destroyed',
};
const PUBLIC_ALGORITHMS = new Set(['ed25519', 'ecdsa-p256', 'secp256k1', 'ml-dsa-65', 'x-wing']);

function PublicKey({ info }: { info: KeyInfo }) {
  const [format, setFormat] = useState<(typeof FORMATS)[number]>('pem');
  const [text, setText] = useState<string | undefined>();
  const [error, setError] = useState<unknown>();
  if (!PUBLIC_ALGORITHMS.has(info.algorithm)) return null;
  return (
    <section aria-labelledby="public-heading">
      <h2 id="public-heading">Public key</h2>
      <form
        class="inline"
        onSubmit={async (event) => {
          event.preventDefault();
          setError(undefined);
          try {
            const r = await api<{ publicKey: unknown }>('GET', `/keys/${info.id}/public?format=${format}`);
            setText(typeof r.publicKey === 'string' ? r.publicKey : JSON.stringify(r.publicKey, null, 2));
            say(`Public key exported as ${format}`);
          } catch (caught) {
            setError(caught);
          }
        }}
      >
        <label for="public-format">Format</label>
        <select
          id="public-format"
          value={format}
          onChange={(e) => setFormat(e.currentTarget.value as (typeof FORMATS)[number])}
        >
          {FORMATS.map((f) => (
            <option key={f} value={f}>
              {f}
            </option>
          ))}
        </select>
        <button type="submit">Export public key</button>
      </form>
      <ErrorLine error={error} />
      {text !== undefined && (
        <>
          <label for="public-key">Public key</label>
          <textarea id="public-key" readOnly rows={8} value={text} />
        </>
      )}
    </section>
  );
}

export function KeyPage({ id }: { id: string }) {
  const [info, setInfo] = useState<KeyInfo | undefined>();
  const [timeline, setTimeline] = useState<AuditEntry[] | undefined>();
  const [error, setError] = useState<unknown>();
  const [reason, setReason] = useState('');
  const load = async () => {
    try {
      setInfo(await api<KeyInfo>('GET', `/keys/${id}`));
    } catch (caught) {
      setError(caught);
    }
    // The audit log is for admin tokens; other tokens see the key without its timeline.
    api<{ entries: AuditEntry[] }>('GET', '/audit?count=10000').then(
      (r) => setTimeline(r.entries.filter((e) => e.keyId === id).reverse()),
      () => setTimeline(undefined),
    );
  };
  useEffect(() => {
    void load();
  }, [id]);
  const act = (verb: string, body?: unknown) => async () => {
    const updated = await api<KeyInfo>('POST', `/keys/${id}/${verb}`, body ?? {});
    setInfo(updated);
    say(`Key ${DONE[verb] ?? verb}: now ${updated.state}`);
    void load();
  };
  const state = info?.state;
  const over = state === 'compromised' || state === 'destroyed';
  return (
    <>
      <Heading>Key {id}</Heading>
      <p>
        <a href="#/keys">Back to keys</a>
      </p>
      <ErrorLine error={error} />
      {info && (
        <>
          <dl class="facts">
            <dt>App / purpose</dt>
            <dd>
              {info.app}/{info.purpose}
            </dd>
            <dt>Algorithm</dt>
            <dd>{info.algorithm}</dd>
            <dt>State</dt>
            <dd>
              <span class={`state state-${info.state}`}>{info.state}</span>
            </dd>
            <dt>Primary version</dt>
            <dd>{info.primaryVersion}</dd>
            <dt>Created</dt>
            <dd>{when(info.createdAt)}</dd>
          </dl>
          <section aria-labelledby="actions-heading">
            <h2 id="actions-heading">Actions</h2>
            <div class="actions">
              <ConfirmButton
                label="Rotate"
                question={`Rotate ${id}? A new version becomes primary; older versions still verify and decrypt.`}
                disabled={over}
                onConfirm={act('rotate')}
              />
              {state === 'suspended' ? (
                <ConfirmButton label="Resume" question={`Resume ${id}?`} onConfirm={act('resume')} />
              ) : (
                <ConfirmButton
                  label="Suspend"
                  question={`Suspend ${id}? Signing and sealing stop until it is resumed.`}
                  disabled={state !== 'active'}
                  onConfirm={act('suspend')}
                />
              )}
              <ConfirmButton
                label="Revoke"
                danger
                disabled={over}
                question={`Revoke ${id}? It is marked compromised: every private operation fails from now on. This cannot be undone.`}
                onConfirm={async () => {
                  if (reason.trim() === '') throw new Error('Give a reason for the revocation.');
                  await act('revoke', { reason: reason.trim() })();
                  setReason('');
                }}
              >
                <label for="revoke-reason">Reason</label>
                <input id="revoke-reason" value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
              </ConfirmButton>
              <ConfirmButton
                label="Destroy"
                danger
                disabled={state === 'destroyed'}
                question={`Destroy ${id}? Its key material is wiped for good; only its metadata and audit trail remain.`}
                onConfirm={act('destroy')}
              />
            </div>
          </section>
          <section aria-labelledby="versions-heading">
            <h2 id="versions-heading">Versions</h2>
            <div class="scroll">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Version</th>
                    <th scope="col">State</th>
                    <th scope="col">Created</th>
                    <th scope="col">Deactivated</th>
                  </tr>
                </thead>
                <tbody>
                  {[...info.versions].reverse().map((v) => (
                    <tr key={v.version}>
                      <td>
                        {v.version}
                        {v.version === info.primaryVersion ? ' (primary)' : ''}
                      </td>
                      <td>
                        <span class={`state state-${v.state}`}>{v.state}</span>
                      </td>
                      <td>{when(v.createdAt)}</td>
                      <td>{when(v.deactivatedAt)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </section>
          <PublicKey info={info} />
          <section aria-labelledby="timeline-heading">
            <h2 id="timeline-heading">Timeline</h2>
            {timeline === undefined ? (
              <p>The timeline comes from the audit log, which needs an admin token.</p>
            ) : (
              <ol class="timeline">
                {timeline.map((e) => (
                  <li key={e.seq}>
                    <time>{when(e.at)}</time> <strong>{e.event}</strong> by {e.actor}
                  </li>
                ))}
              </ol>
            )}
          </section>
        </>
      )}
    </>
  );
}
