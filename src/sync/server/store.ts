// The sync server's storage (SPEC §17.8): accounts and circles, records with compare-and-swap on
// gencount and the per-account change log, device manifests, challenges, sessions and invite
// mailboxes, over SQLite or PostgreSQL through sql.ts. Every write is one transaction, committed
// before the call resolves; record writes and circle uploads take the account row's lock first, so
// two instances racing on one uuid serialise and exactly one wins. Events (for push) are emitted
// after commit: directly on SQLite, through NOTIFY/LISTEN on PostgreSQL so every instance hears them.
import pg from 'pg';
import { CofferError } from '../../errors.js';
import type { CircleUpload, DevicePublicKeys, StoredCircle } from '../transport.js';
import type { WireRecord } from '../wire-record.js';
import { migrate } from './schema.js';
import { bytes, int, openPostgres, openSqlite, type SqlDatabase, type SqlRunner } from './sql.js';

export type StoreEvent =
  | { type: 'record'; accountId: string; uuid: string; gencount: number; seq: number; deviceId: string }
  | { type: 'circle'; accountId: string; devices: string[] };

export interface CheckedPut {
  record: WireRecord;
  ifGencount: number;
  /** Canonical JSON of the record, as stored and returned. */
  wire: string;
  hash: string;
}

export type StoredPutResult =
  | { uuid: string; ok: true; seq: number }
  | { uuid: string; ok: false; current: WireRecord };

export interface Identity {
  accountId: string;
  deviceId: string;
}

const NOTIFY_CHANNEL = 'coffer_sync';

export class SyncStore {
  readonly #listeners = new Set<(event: StoreEvent) => void>();
  #listener: pg.Client | undefined;

  private constructor(
    readonly db: SqlDatabase,
    readonly serverId: string,
    readonly url: string,
  ) {}

  /** `sqlite:PATH` or `postgres://…` / `postgresql://…`. */
  static async open(url: string): Promise<SyncStore> {
    let db: SqlDatabase;
    if (url.startsWith('sqlite:')) {
      const path = url.slice('sqlite:'.length);
      if (path === '') throw new CofferError('EINVAL', 'sqlite: store URL needs a path');
      db = openSqlite(path);
    } else if (/^postgres(ql)?:\/\//.test(url)) {
      db = openPostgres(url);
    } else {
      throw new CofferError('EINVAL', 'the sync store must be sqlite:PATH or postgres://…');
    }
    let serverId: string;
    try {
      serverId = await migrate(db);
    } catch (error) {
      await db.close().catch(() => undefined);
      if (error instanceof CofferError) throw error;
      throw new CofferError('EUNAVAIL', 'the sync store cannot be opened', { cause: error });
    }
    const store = new SyncStore(db, serverId, url);
    if (db.kind === 'postgres') await store.#listen();
    return store;
  }

  async #listen(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url });
    client.on('error', () => undefined);
    await client.connect();
    client.on('notification', (message) => {
      if (message.channel !== NOTIFY_CHANNEL || message.payload === undefined) return;
      this.#emit(JSON.parse(message.payload) as StoreEvent);
    });
    await client.query(`LISTEN ${NOTIFY_CHANNEL}`);
    this.#listener = client;
  }

  onEvent(listener: (event: StoreEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(event: StoreEvent): void {
    for (const listener of this.#listeners) listener(event);
  }

  /** Sends the events once the transaction that produced them is committed (SQLite) or in it (NOTIFY). */
  async #publish(q: SqlRunner, events: StoreEvent[]): Promise<void> {
    if (this.db.kind === 'postgres')
      for (const event of events)
        await q.query('SELECT pg_notify(?, ?)', [NOTIFY_CHANNEL, JSON.stringify(event)]);
  }
  #afterCommit(events: StoreEvent[]): void {
    if (this.db.kind === 'sqlite') for (const event of events) this.#emit(event);
  }

  // ── accounts and circles ───────────────────────────────────────────────────────────────────────

  async createAccount(accountId: string, circle: CircleUpload): Promise<void> {
    await this.db.tx(async (q) => {
      const rows = await q.query(
        `INSERT INTO sync_accounts (account, seq, circle_version, circle_document, devices) VALUES (?, 0, ?, ?, ?)
         ON CONFLICT (account) DO NOTHING RETURNING account`,
        [accountId, circle.version, circle.document, JSON.stringify(circle.devices)],
      );
      if (rows.length === 0) throw new CofferError('EALREADY', `account ${accountId} exists`);
    });
  }

  async circle(accountId: string): Promise<StoredCircle | undefined> {
    const rows = await this.db.read((q) =>
      q.query('SELECT circle_version, circle_document FROM sync_accounts WHERE account = ?', [accountId]),
    );
    const row = rows[0];
    return row === undefined
      ? undefined
      : { version: int(row.circle_version), document: String(row.circle_document) };
  }

  async devices(accountId: string): Promise<DevicePublicKeys[] | undefined> {
    const rows = await this.db.read((q) =>
      q.query('SELECT devices FROM sync_accounts WHERE account = ?', [accountId]),
    );
    return rows[0] === undefined ? undefined : (JSON.parse(String(rows[0].devices)) as DevicePublicKeys[]);
  }

  /** CAS on the circle version; dropped devices lose their sessions in the same transaction. */
  async putCircle(
    accountId: string,
    ifVersion: number,
    circle: CircleUpload,
  ): Promise<{ ok: true } | { ok: false; current: StoredCircle }> {
    const events: StoreEvent[] = [];
    const outcome = await this.db.tx(async (q) => {
      const rows = await q.query(
        'UPDATE sync_accounts SET seq = seq WHERE account = ? RETURNING circle_version, circle_document, devices',
        [accountId],
      );
      const row = rows[0];
      if (row === undefined) throw new CofferError('ENOENT', `no account ${accountId}`);
      const current = { version: int(row.circle_version), document: String(row.circle_document) };
      if (current.version !== ifVersion || circle.version <= ifVersion)
        return { ok: false as const, current };
      await q.query(
        'UPDATE sync_accounts SET circle_version = ?, circle_document = ?, devices = ? WHERE account = ?',
        [circle.version, circle.document, JSON.stringify(circle.devices), accountId],
      );
      const kept = new Set(circle.devices.map((d) => d.deviceId));
      const before = JSON.parse(String(row.devices)) as DevicePublicKeys[];
      for (const gone of before.filter((d) => !kept.has(d.deviceId))) {
        await q.query('DELETE FROM sync_sessions WHERE account = ? AND device_id = ?', [
          accountId,
          gone.deviceId,
        ]);
        await q.query('DELETE FROM sync_device_manifests WHERE account = ? AND device_id = ?', [
          accountId,
          gone.deviceId,
        ]);
      }
      events.push({ type: 'circle', accountId, devices: [...kept] });
      await this.#publish(q, events);
      return { ok: true as const };
    });
    if (outcome.ok) this.#afterCommit(events);
    return outcome;
  }

  // ── authentication ─────────────────────────────────────────────────────────────────────────────

  async putChallenge(nonce: string, who: Identity, expiresAt: number, now: number): Promise<void> {
    await this.db.tx(async (q) => {
      // Expired challenges and sessions are swept here, where they are created.
      await q.query('DELETE FROM sync_challenges WHERE expires_at < ?', [now]);
      await q.query('DELETE FROM sync_sessions WHERE expires_at < ?', [now]);
      await q.query(
        'INSERT INTO sync_challenges (nonce, account, device_id, expires_at) VALUES (?, ?, ?, ?)',
        [nonce, who.accountId, who.deviceId, expiresAt],
      );
    });
  }

  /** Removes the challenge (whatever happens next, it cannot be answered twice) and returns it. */
  async takeChallenge(nonce: string): Promise<(Identity & { expiresAt: number }) | undefined> {
    const rows = await this.db.tx((q) =>
      q.query('DELETE FROM sync_challenges WHERE nonce = ? RETURNING account, device_id, expires_at', [
        nonce,
      ]),
    );
    const row = rows[0];
    return row === undefined
      ? undefined
      : { accountId: String(row.account), deviceId: String(row.device_id), expiresAt: int(row.expires_at) };
  }

  async putSession(tokenHash: string, who: Identity, expiresAt: number): Promise<void> {
    await this.db.tx((q) =>
      q.query('INSERT INTO sync_sessions (token_hash, account, device_id, expires_at) VALUES (?, ?, ?, ?)', [
        tokenHash,
        who.accountId,
        who.deviceId,
        expiresAt,
      ]),
    );
  }

  async session(tokenHash: string, now: number): Promise<Identity | undefined> {
    const rows = await this.db.read((q) =>
      q.query('SELECT account, device_id FROM sync_sessions WHERE token_hash = ? AND expires_at > ?', [
        tokenHash,
        now,
      ]),
    );
    const row = rows[0];
    return row === undefined
      ? undefined
      : { accountId: String(row.account), deviceId: String(row.device_id) };
  }

  // ── records ────────────────────────────────────────────────────────────────────────────────────

  /** One transaction: CAS per put (SPEC §17.2), each winner gets the account's next seq. */
  async putRecords(who: Identity, puts: readonly CheckedPut[]): Promise<StoredPutResult[]> {
    const events: StoreEvent[] = [];
    const results = await this.db.tx(async (q) => {
      // The account row's lock orders every writer of this account, on every instance.
      const head = await q.query('UPDATE sync_accounts SET seq = seq WHERE account = ? RETURNING seq', [
        who.accountId,
      ]);
      if (head[0] === undefined) throw new CofferError('ENOENT', `no account ${who.accountId}`);
      let seq = int(head[0].seq);
      const out: StoredPutResult[] = [];
      for (const put of puts) {
        const uuid = put.record.uuid;
        const rows = await q.query('SELECT gencount, wire FROM sync_records WHERE account = ? AND uuid = ?', [
          who.accountId,
          uuid,
        ]);
        const stored = rows[0];
        if (stored === undefined && put.ifGencount > 0)
          throw new CofferError('ENOENT', `no record ${uuid} on the server: ifGencount must be 0`);
        const gencount = stored === undefined ? 0 : int(stored.gencount);
        if (gencount !== put.ifGencount) {
          out.push({ uuid, ok: false, current: JSON.parse(String(stored?.wire)) as WireRecord });
          continue;
        }
        seq += 1;
        await q.query(
          `INSERT INTO sync_records (account, uuid, gencount, seq, hash, device_id, wire) VALUES (?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (account, uuid) DO UPDATE SET gencount = excluded.gencount, seq = excluded.seq,
             hash = excluded.hash, device_id = excluded.device_id, wire = excluded.wire`,
          [who.accountId, uuid, put.record.gencount, seq, put.hash, who.deviceId, put.wire],
        );
        out.push({ uuid, ok: true, seq });
        events.push({
          type: 'record',
          accountId: who.accountId,
          uuid,
          gencount: put.record.gencount,
          seq,
          deviceId: who.deviceId,
        });
      }
      await q.query('UPDATE sync_accounts SET seq = ? WHERE account = ?', [seq, who.accountId]);
      await this.#publish(q, events);
      return out;
    });
    this.#afterCommit(events);
    return results;
  }

  async getRecords(accountId: string, uuids: readonly string[]): Promise<WireRecord[]> {
    return this.db.read(async (q) => {
      const out: WireRecord[] = [];
      for (const uuid of uuids) {
        const rows = await q.query('SELECT wire FROM sync_records WHERE account = ? AND uuid = ?', [
          accountId,
          uuid,
        ]);
        if (rows[0] !== undefined) out.push(JSON.parse(String(rows[0].wire)) as WireRecord);
      }
      return out;
    });
  }

  /**
   * Current records with seq > sinceSeq (up to `limit`, in seq order), the manifest rows changed
   * since `manifestSeq`, and the account's seq — all from one snapshot (one transaction).
   */
  async changes(
    accountId: string,
    sinceSeq: number,
    limit: number,
    manifestSeq: number,
  ): Promise<{
    records: { seq: number; record: WireRecord }[];
    more: boolean;
    head: number;
    changed: { uuid: string; hash: string }[];
  }> {
    return this.db.tx(async (q) => {
      const head = await this.#head(q, accountId);
      const rows = await q.query(
        'SELECT seq, wire FROM sync_records WHERE account = ? AND seq > ? ORDER BY seq LIMIT ?',
        [accountId, sinceSeq, limit + 1],
      );
      const changed = await this.#changedSince(q, accountId, manifestSeq);
      return {
        records: rows
          .slice(0, limit)
          .map((r) => ({ seq: int(r.seq), record: JSON.parse(String(r.wire)) as WireRecord })),
        more: rows.length > limit,
        head,
        changed,
      };
    });
  }

  /** The account's seq and the (uuid, hash) rows written after `manifestSeq`, in one snapshot. */
  async manifestSince(
    accountId: string,
    manifestSeq: number,
  ): Promise<{ head: number; changed: { uuid: string; hash: string }[] }> {
    return this.db.tx(async (q) => {
      const head = await this.#head(q, accountId);
      if (head === manifestSeq) return { head, changed: [] };
      return { head, changed: await this.#changedSince(q, accountId, manifestSeq) };
    });
  }

  async #head(q: SqlRunner, accountId: string): Promise<number> {
    const rows = await q.query('SELECT seq FROM sync_accounts WHERE account = ?', [accountId]);
    if (rows[0] === undefined) throw new CofferError('ENOENT', `no account ${accountId}`);
    return int(rows[0].seq);
  }

  async #changedSince(
    q: SqlRunner,
    accountId: string,
    seq: number,
  ): Promise<{ uuid: string; hash: string }[]> {
    const rows = await q.query('SELECT uuid, hash FROM sync_records WHERE account = ? AND seq > ?', [
      accountId,
      seq,
    ]);
    return rows.map((r) => ({ uuid: String(r.uuid), hash: String(r.hash) }));
  }

  // ── device manifests ───────────────────────────────────────────────────────────────────────────

  async putDeviceManifest(who: Identity, manifest: Uint8Array): Promise<void> {
    await this.db.tx((q) =>
      q.query(
        `INSERT INTO sync_device_manifests (account, device_id, manifest) VALUES (?, ?, ?)
         ON CONFLICT (account, device_id) DO UPDATE SET manifest = excluded.manifest`,
        [who.accountId, who.deviceId, manifest],
      ),
    );
  }

  async deviceManifests(accountId: string): Promise<{ deviceId: string; manifest: Uint8Array }[]> {
    const rows = await this.db.read((q) =>
      q.query('SELECT device_id, manifest FROM sync_device_manifests WHERE account = ? ORDER BY device_id', [
        accountId,
      ]),
    );
    return rows.map((r) => ({ deviceId: String(r.device_id), manifest: bytes(r.manifest) }));
  }

  // ── invite mailboxes ───────────────────────────────────────────────────────────────────────────

  async openMailbox(accountId: string, mailboxId: string, expiresAt: number, now: number): Promise<void> {
    await this.db.tx(async (q) => {
      await q.query('DELETE FROM sync_mailboxes WHERE expires_at <= ?', [now]);
      const rows = await q.query(
        `INSERT INTO sync_mailboxes (mailbox_id, account, expires_at, closed) VALUES (?, ?, ?, 0)
         ON CONFLICT (mailbox_id) DO NOTHING RETURNING mailbox_id`,
        [mailboxId, accountId, expiresAt],
      );
      if (rows.length === 0) throw new CofferError('EALREADY', 'that mailbox is already open');
    });
  }

  async postJoinRequest(mailboxId: string, request: Uint8Array, now: number): Promise<void> {
    await this.db.tx(async (q) => {
      const rows = await q.query(
        `UPDATE sync_mailboxes SET request = ? WHERE mailbox_id = ? AND request IS NULL AND closed = 0
         AND expires_at > ? RETURNING mailbox_id`,
        [request, mailboxId, now],
      );
      if (rows.length > 0) return;
      const existing = await q.query(
        'SELECT closed FROM sync_mailboxes WHERE mailbox_id = ? AND expires_at > ? AND closed = 0',
        [mailboxId, now],
      );
      if (existing.length > 0) throw new CofferError('EALREADY', 'this invite already has a join request');
      throw new CofferError('ENOENT', 'no open invite mailbox with that id (unknown, expired or closed)');
    });
  }

  async takeJoinRequest(accountId: string, mailboxId: string, now: number): Promise<Uint8Array | undefined> {
    const rows = await this.db.read((q) =>
      q.query('SELECT request FROM sync_mailboxes WHERE mailbox_id = ? AND account = ? AND expires_at > ?', [
        mailboxId,
        accountId,
        now,
      ]),
    );
    if (rows[0] === undefined) throw new CofferError('ENOENT', 'no open invite mailbox with that id');
    return rows[0].request === null ? undefined : bytes(rows[0].request);
  }

  async postJoinReply(accountId: string, mailboxId: string, reply: Uint8Array, now: number): Promise<void> {
    await this.db.tx(async (q) => {
      const rows = await q.query(
        `UPDATE sync_mailboxes SET reply = ?, closed = 1 WHERE mailbox_id = ? AND account = ? AND expires_at > ?
         AND reply IS NULL RETURNING mailbox_id`,
        [reply, mailboxId, accountId, now],
      );
      if (rows.length === 0)
        throw new CofferError('ENOENT', 'no open invite mailbox awaiting a reply with that id');
    });
  }

  async takeJoinReply(mailboxId: string, now: number): Promise<Uint8Array | undefined> {
    return this.db.tx(async (q) => {
      const rows = await q.query('SELECT reply FROM sync_mailboxes WHERE mailbox_id = ? AND expires_at > ?', [
        mailboxId,
        now,
      ]);
      if (rows[0] === undefined)
        throw new CofferError('ENOENT', 'no invite mailbox with that id (unknown, expired or taken)');
      if (rows[0].reply === null) return undefined;
      await q.query('DELETE FROM sync_mailboxes WHERE mailbox_id = ?', [mailboxId]);
      return bytes(rows[0].reply);
    });
  }

  async close(): Promise<void> {
    this.#listeners.clear();
    await this.#listener?.end().catch(() => undefined);
    await this.db.close();
  }
}
