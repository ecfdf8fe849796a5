// Zero-knowledge check helper (SPEC §17.8: the server holds no key that decrypts anything): every
// byte a sync store holds, raw — the SQLite database file with its WAL, or every row of every
// sync table in PostgreSQL as text — so an end-to-end test can scan it for plaintext it must not hold.
import { existsSync, readFileSync } from 'node:fs';
import pg from 'pg';

const TABLES = [
  'sync_meta',
  'sync_accounts',
  'sync_records',
  'sync_device_manifests',
  'sync_challenges',
  'sync_sessions',
  'sync_mailboxes',
];

/** The store's raw bytes; BYTEA columns appear both as hex (row JSON) and as the bytes themselves. */
export async function dumpSyncStore(store: string): Promise<Buffer> {
  if (store.startsWith('sqlite:')) {
    const path = store.slice('sqlite:'.length);
    const parts = [path, `${path}-wal`].filter((p) => existsSync(p)).map((p) => readFileSync(p));
    return Buffer.concat(parts);
  }
  const client = new pg.Client({ connectionString: store });
  await client.connect();
  try {
    const parts: Buffer[] = [];
    for (const table of TABLES) {
      const { rows } = await client.query(`SELECT * FROM ${table}`);
      for (const row of rows as Record<string, unknown>[])
        for (const value of Object.values(row))
          parts.push(value instanceof Uint8Array ? Buffer.from(value) : Buffer.from(String(value), 'utf8'));
    }
    return Buffer.concat(parts);
  } finally {
    await client.end();
  }
}
