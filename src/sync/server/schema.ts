// The sync server's tables (SPEC §17.8), the same on SQLite and PostgreSQL. Only ciphertext,
// public keys, opaque documents and hashes of session tokens are stored: nothing here decrypts
// anything. Every statement is idempotent so several instances may start on one database at once.
import { randomBytes } from 'node:crypto';
import type { SqlDatabase } from './sql.js';

function statements(blob: string): string[] {
  return [
    `CREATE TABLE IF NOT EXISTS sync_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)`,
    `CREATE TABLE IF NOT EXISTS sync_accounts (account TEXT PRIMARY KEY, seq BIGINT NOT NULL,
       circle_version BIGINT NOT NULL, circle_document TEXT NOT NULL, devices TEXT NOT NULL)`,
    `CREATE TABLE IF NOT EXISTS sync_records (account TEXT NOT NULL, uuid TEXT NOT NULL,
       gencount BIGINT NOT NULL, seq BIGINT NOT NULL, hash TEXT NOT NULL, device_id TEXT NOT NULL,
       wire TEXT NOT NULL, PRIMARY KEY (account, uuid))`,
    `CREATE INDEX IF NOT EXISTS sync_records_seq ON sync_records (account, seq)`,
    `CREATE TABLE IF NOT EXISTS sync_device_manifests (account TEXT NOT NULL, device_id TEXT NOT NULL,
       manifest ${blob} NOT NULL, PRIMARY KEY (account, device_id))`,
    `CREATE TABLE IF NOT EXISTS sync_challenges (nonce TEXT PRIMARY KEY, account TEXT NOT NULL,
       device_id TEXT NOT NULL, expires_at BIGINT NOT NULL)`,
    `CREATE TABLE IF NOT EXISTS sync_sessions (token_hash TEXT PRIMARY KEY, account TEXT NOT NULL,
       device_id TEXT NOT NULL, expires_at BIGINT NOT NULL)`,
    `CREATE INDEX IF NOT EXISTS sync_sessions_device ON sync_sessions (account, device_id)`,
    `CREATE TABLE IF NOT EXISTS sync_mailboxes (mailbox_id TEXT PRIMARY KEY, account TEXT NOT NULL,
       expires_at BIGINT NOT NULL, request ${blob}, reply ${blob}, closed INTEGER NOT NULL)`,
  ];
}

/** Creates the tables if needed and returns the store's serverId (SPEC §17.8 authentication). */
export async function migrate(db: SqlDatabase): Promise<string> {
  const blob = db.kind === 'postgres' ? 'BYTEA' : 'BLOB';
  return db.tx(async (q) => {
    // Two instances creating the tables at once would race in PostgreSQL's catalog; one lock orders them.
    if (db.kind === 'postgres') await q.query('SELECT pg_advisory_xact_lock(7316001)');
    for (const sql of statements(blob)) await q.query(sql);
    await q.query('INSERT INTO sync_meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING', [
      'serverId',
      randomBytes(16).toString('hex'),
    ]);
    const rows = await q.query('SELECT value FROM sync_meta WHERE name = ?', ['serverId']);
    return String(rows[0]?.value);
  });
}
