// An OS keyring item as a rollback anchor (SPEC §4.2): the item (service, account) holds the anchor blob
// the core writes. Bound through the same backend as the keyring protector, so the Secret Service probe,
// the secret-service pin (no silent keyutils fall back) and the error mapping are the same.
import type { BlobAnchor } from '../types.js';
import { KeyringEntry } from './backend.js';

const TIMEOUT_MS = 30_000;

export async function openKeyringAnchor(service: string, account: string): Promise<BlobAnchor> {
  const entry = await KeyringEntry.bind(service, account, { timeoutMs: TIMEOUT_MS });
  return {
    kind: 'blob',
    async read() {
      return (await entry.read()) ?? undefined;
    },
    write(bytes: Uint8Array) {
      return entry.write(bytes);
    },
    async close() {},
  };
}
