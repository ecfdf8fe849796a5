// The daemon's state (docs/console.md): locked or not, failed unlock attempts and the lockout, and Lock.
import { useEffect, useState } from 'preact/hooks';
import { api, type Status, when } from '../api';
import { ConfirmButton, ErrorLine, Heading, say } from '../ui';

interface Attempts {
  failures: number;
  maxFailures: number;
  lockedOutUntil?: number;
}

export function StatusPage() {
  const [status, setStatus] = useState<Status | undefined>();
  const [attempts, setAttempts] = useState<Attempts | undefined>();
  const [error, setError] = useState<unknown>();
  const load = () => {
    api<Status>('GET', '/status').then(setStatus, setError);
    api<Attempts>('GET', '/unlock/attempts').then(setAttempts, setError);
  };
  useEffect(load, []);
  return (
    <>
      <Heading>Status</Heading>
      <ErrorLine error={error} />
      {status && (
        <dl class="facts">
          <dt>Keystore</dt>
          <dd>
            <code>{status.keystoreId}</code>
          </dd>
          <dt>Daemon version</dt>
          <dd>{status.version}</dd>
          <dt>State</dt>
          <dd>{status.locked ? 'locked' : 'unlocked'}</dd>
          <dt>Failed unlock attempts</dt>
          <dd>{attempts ? `${attempts.failures} of ${attempts.maxFailures}` : '—'}</dd>
          <dt>Lockout</dt>
          <dd>
            {attempts?.lockedOutUntil !== undefined
              ? `locked out until ${when(attempts.lockedOutUntil)}`
              : 'none'}
          </dd>
        </dl>
      )}
      <ConfirmButton
        label="Lock"
        danger
        question="Lock the daemon? It forgets the master key; every operation fails until someone unlocks it with the passphrase."
        onConfirm={async () => {
          await api('POST', '/lock');
          say('Locked');
          load();
        }}
      />
    </>
  );
}
