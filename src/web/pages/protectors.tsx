// Protectors and keyslots (docs/console.md, admin): each slot's protector, what its platform key can
// promise, when it was last used, and whether the slot record is intact (its MAC verifies).
import { useEffect, useState } from 'preact/hooks';
import { api, when } from '../api';
import { ErrorLine, Heading } from '../ui';

interface ProtectorInfo {
  id: string;
  type: string;
  capabilities: {
    hardwareBacked: boolean;
    nonExportable: boolean;
    persistent: boolean;
    userPresence: boolean;
  };
  createdAt: number;
  lastUsedAt: number;
  intact: boolean;
}

export function ProtectorsPage() {
  const [slots, setSlots] = useState<ProtectorInfo[] | undefined>();
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    api<{ protectors: ProtectorInfo[] }>('GET', '/protectors').then((r) => setSlots(r.protectors), setError);
  }, []);
  const yes = (b: boolean) => (b ? 'yes' : 'no');
  return (
    <>
      <Heading>Protectors</Heading>
      <ErrorLine error={error} />
      <p>Any one intact keyslot opens the keystore. Keep more than one, so losing a device loses nothing.</p>
      <div class="scroll">
        <table>
          <thead>
            <tr>
              <th scope="col">Keyslot</th>
              <th scope="col">Protector</th>
              <th scope="col">Health</th>
              <th scope="col">Hardware-backed</th>
              <th scope="col">Non-exportable</th>
              <th scope="col">Last used</th>
            </tr>
          </thead>
          <tbody>
            {(slots ?? []).map((p) => (
              <tr key={p.id}>
                <td>
                  <code>{p.id}</code>
                </td>
                <td>{p.type}</td>
                <td>
                  <span class={p.intact ? 'ok' : 'error'}>{p.intact ? 'intact' : 'damaged: never used'}</span>
                </td>
                <td>{yes(p.capabilities.hardwareBacked)}</td>
                <td>{yes(p.capabilities.nonExportable)}</td>
                <td>{when(p.lastUsedAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {slots !== undefined && slots.length < 2 && (
        <p class="error">
          Only one keyslot: add another protector (coffer protector add) so one loss is not fatal.
        </p>
      )}
    </>
  );
}
