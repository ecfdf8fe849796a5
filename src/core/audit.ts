// The tamper-evident audit log (SPEC §8): hash-chained entries MAC'd with a key derived from the
// master key, and a head record written in the same atomic batch as the change an entry records, with
// compare-and-swap on the head so appends are totally ordered across processes. Fail-closed: a change
// whose audit append cannot be written is not written either. The head is a tracked record of the record
// tree (SPEC §4.1), so an older head written back over a truncated log is caught (SPEC §8).
import { hash, timingSafeEqual } from 'node:crypto';
import { hmac } from '../crypto/mac.js';
import type { Rng } from '../crypto/rng.js';
import { CofferError } from '../errors.js';
import type { Storage, WriteOp } from '../storage/types.js';
import { openRecord, sealRecord } from './barrier.js';
import { canonicalJson, textEncoder } from './encoding.js';
import { RollbackError } from './rollback.js';

export interface AuditEvent {
  event: string;
  actor: string;
  at: number;
  keyId?: string;
  details?: Record<string, unknown>;
}

export interface AuditEntry extends AuditEvent {
  seq: number;
  prev: string;
  hash: string;
  mac: string;
}

export interface AuditHead {
  seq: number;
  hash: string;
  mac: string;
}

export interface AuditReport {
  ok: boolean;
  entries: number;
  /** Each problem names the entry (or the head) and what is wrong with it. */
  problems: string[];
}

export const AUDIT_HEAD = 'audit/head';
const HEAD = AUDIT_HEAD;
export const ZERO_HASH = '0'.repeat(64);

export function auditEntryKey(seq: number): string {
  return `audit/e/${String(seq).padStart(16, '0')}`;
}

export function entryHash(entry: Omit<AuditEntry, 'hash' | 'mac'>): string {
  const { seq, at, actor, event, keyId, details, prev } = entry;
  // One-shot over tag ‖ body: the same digest as two updates, without a Hash object per entry.
  return hash(
    'sha256',
    `coffer:audit:v1${canonicalJson({ seq, at, actor, event, keyId, details, prev })}`,
    'hex',
  );
}

export function macOf(key: Uint8Array, hash: string): string {
  return Buffer.from(hmac('sha256', key, textEncoder.encode(hash))).toString('hex');
}

export function sameHex(a: string, b: string): boolean {
  return a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
}

export class AuditLog {
  constructor(
    private readonly storage: Storage,
    private readonly keys: () => { barrier: Uint8Array; audit: Uint8Array },
    private readonly rng: Rng,
  ) {}

  /**
   * Returns the write ops that append `events` after the current head. The caller adds them to the
   * batch of the change they record; a concurrent append makes the head CAS fail (ECONFLICT) and the
   * caller retries the whole change.
   */
  async prepareAppend(events: AuditEvent[]): Promise<WriteOp[]> {
    const { barrier, audit } = this.keys();
    const headRecord = await this.storage.get(HEAD);
    const head = headRecord ? openRecord<AuditHead>(barrier, HEAD, headRecord.value) : undefined;
    if (!head && (await this.storage.list('audit/e/', { limit: 1 })).length > 0) {
      // Restarting the chain would hide the damage: fail closed until an operator looks at it.
      throw new CofferError(
        'EBADMSG',
        'the audit log head is missing while entries exist (log truncated or tampered)',
      );
    }
    let seq = head?.seq ?? 0;
    let prev = head?.hash ?? ZERO_HASH;
    const ops: WriteOp[] = [];
    for (const event of events) {
      seq += 1;
      const body = {
        seq,
        at: event.at,
        actor: event.actor,
        event: event.event,
        keyId: event.keyId,
        details: event.details,
        prev,
      };
      const hash = entryHash(body);
      const entry: AuditEntry = { ...body, hash, mac: macOf(audit, hash) };
      const key = auditEntryKey(seq);
      ops.push({ op: 'put', key, value: sealRecord(barrier, key, entry, this.rng), expectRevision: 0 });
      prev = hash;
    }
    if (events.length > 0) {
      const newHead: AuditHead = { seq, hash: prev, mac: macOf(audit, prev) };
      ops.push({
        op: 'put',
        key: HEAD,
        value: sealRecord(barrier, HEAD, newHead, this.rng),
        expectRevision: headRecord?.revision ?? 0,
      });
    }
    return ops;
  }

  /** The last `count` entries, oldest first. */
  async tail(count: number): Promise<AuditEntry[]> {
    const { barrier } = this.keys();
    const headRecord = await this.storage.get(HEAD);
    if (!headRecord) return [];
    const head = openRecord<AuditHead>(barrier, HEAD, headRecord.value);
    const out: AuditEntry[] = [];
    for (let seq = Math.max(1, head.seq - count + 1); seq <= head.seq; seq++) {
      const key = auditEntryKey(seq);
      const record = await this.storage.get(key);
      if (!record) throw new CofferError('EBADMSG', `audit entry ${seq} is missing`);
      out.push(openRecord<AuditEntry>(barrier, key, record.value));
    }
    return out;
  }

  /** Walks the whole chain: any edit, deletion, reordering or truncation is reported. */
  async verify(): Promise<AuditReport> {
    const { barrier, audit } = this.keys();
    const problems: string[] = [];
    const records = await this.storage.list('audit/e/');
    let prev = ZERO_HASH;
    let expectedSeq = 1;
    for (const record of records) {
      let entry: AuditEntry;
      try {
        entry = openRecord<AuditEntry>(barrier, record.key, record.value);
      } catch (error) {
        problems.push(`${record.key}: ${(error as Error).message}`);
        expectedSeq += 1;
        prev = '';
        continue;
      }
      if (record.key !== auditEntryKey(expectedSeq) || entry.seq !== expectedSeq) {
        problems.push(`${record.key}: expected entry ${expectedSeq} here (missing or reordered entries)`);
      }
      if (prev !== '' && entry.prev !== prev)
        problems.push(`entry ${entry.seq}: does not link to the entry before it`);
      const { hash, mac, ...body } = entry;
      if (entryHash(body) !== hash) problems.push(`entry ${entry.seq}: content does not match its hash`);
      if (!sameHex(macOf(audit, hash), mac)) problems.push(`entry ${entry.seq}: MAC does not verify`);
      prev = hash;
      expectedSeq = entry.seq + 1;
    }
    let headRecord: Awaited<ReturnType<Storage['get']>>;
    try {
      headRecord = await this.storage.get(HEAD);
    } catch (error) {
      // SPEC §8: an older head written back over a truncated log is a rolled-back tracked record.
      if (!(error instanceof RollbackError)) throw error;
      problems.push(
        `${HEAD} was rolled back (an older head written back, e.g. after truncating the log): ${error.message}`,
      );
      return { ok: false, entries: records.length, problems };
    }
    if (!headRecord) {
      problems.push('audit head is missing (log deleted or truncated)');
    } else {
      try {
        const head = openRecord<AuditHead>(barrier, HEAD, headRecord.value);
        if (!sameHex(macOf(audit, head.hash), head.mac)) problems.push('audit head: MAC does not verify');
        if (head.seq !== records.length) {
          problems.push(
            `audit head names ${head.seq} entries but ${records.length} are stored (truncated or deleted entries)`,
          );
        }
        if (head.hash !== prev) problems.push('audit head does not match the last entry');
      } catch (error) {
        problems.push(`audit head: ${(error as Error).message}`);
      }
    }
    return { ok: problems.length === 0, entries: records.length, problems };
  }
}
