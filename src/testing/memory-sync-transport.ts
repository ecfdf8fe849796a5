// An in-process model of the sync server's contract (src/sync/transport.ts, SPEC §17.8), for the
// device-side tests (circle, engine) and as the reference the transport contract suite is run
// against next to the real `SyncServer`. It keeps the contract's semantics exactly — compare-and-
// swap on gencount with the current copy on a loss, a per-account change log, one-time expiring
// mailboxes, circle compare-and-swap, the device set that may call — but no network, no
// signatures and no persistence: those are the real server's, tested on the real server.
//
// It also lets a test act as a lying server: `tamper` hands the raw state to a test, which may
// roll back, drop, swap or replay records, and the device side must notice.
import { CofferError } from '../errors.js';
import { Manifest, recordHash } from '../sync/manifest.js';
import { answerRanges, type RangeAnswer, type RangeRequest } from '../sync/reconcile.js';
import type {
  CasOutcome,
  ChangesPage,
  CircleUpload,
  DeviceSigner,
  InviteMailbox,
  PushEvent,
  RecordPut,
  RecordPutResult,
  StoredCircle,
  SyncTransport,
} from '../sync/transport.js';
import { fromWire, type WireRecord } from '../sync/wire-record.js';

export interface MemoryAccount {
  circle: StoredCircle;
  devices: Set<string>;
  /** uuid → current record and the seq of its write. */
  records: Map<string, { record: WireRecord; seq: number }>;
  seq: number;
  manifests: Map<string, Uint8Array>;
  subscribers: Set<Subscriber>;
}

interface Subscriber {
  deviceId: string;
  onEvent(event: PushEvent): void;
  onClose?: (error?: Error) => void;
}

interface Mailbox {
  expiresAt: number;
  request?: Uint8Array;
  reply?: Uint8Array;
  closed: boolean;
}

/** The server side: accounts, mailboxes, and a clock a test may move. */
export class MemorySyncService {
  readonly accounts = new Map<string, MemoryAccount>();
  readonly mailboxes = new Map<string, Mailbox>();
  now: () => number = () => Date.now();

  /** A transport for one device (or, without a signer, for a joiner not yet in any circle). */
  transport(signer?: DeviceSigner): SyncTransport {
    return new MemorySyncTransport(this, signer);
  }

  /** The raw state of an account, for tests that play a lying server. */
  tamper(accountId: string): MemoryAccount {
    const account = this.accounts.get(accountId);
    if (!account) throw new CofferError('ENOENT', `no account ${accountId}`);
    return account;
  }

  manifestOf(account: MemoryAccount): Manifest {
    return new Manifest(
      [...account.records.values()].map(({ record }) => ({
        uuid: record.uuid,
        hash: recordHash(fromWire(record)),
      })),
    );
  }
}

const clone = <T>(value: T): T => structuredClone(value);

class MemorySyncTransport implements SyncTransport {
  readonly stats = { roundTrips: 0, bytesUp: 0, bytesDown: 0 };
  readonly #service: MemorySyncService;
  readonly #signer: DeviceSigner | undefined;
  #closed = false;

  constructor(service: MemorySyncService, signer?: DeviceSigner) {
    this.#service = service;
    this.#signer = signer;
  }

  /** Counts one round trip with the JSON sizes a network transport would send. */
  #trip<T>(up: unknown, down: T): T {
    this.stats.roundTrips++;
    this.stats.bytesUp += jsonSize(up);
    this.stats.bytesDown += jsonSize(down);
    return clone(down);
  }

  #account(): MemoryAccount {
    if (this.#closed) throw new CofferError('EUNAVAIL', 'transport closed');
    if (!this.#signer) throw new CofferError('EPERM', 'this call needs a device identity');
    const account = this.#service.accounts.get(this.#signer.accountId);
    if (!account) throw new CofferError('ENOENT', `no account ${this.#signer.accountId}`);
    if (!account.devices.has(this.#signer.deviceId))
      throw new CofferError('EPERM', `device ${this.#signer.deviceId} is not in the circle`);
    return account;
  }

  #mailbox(mailboxId: string): Mailbox {
    const box = this.#service.mailboxes.get(mailboxId);
    if (!box || box.expiresAt <= this.#service.now()) {
      this.#service.mailboxes.delete(mailboxId);
      throw new CofferError('ENOENT', 'no such invite (expired or used)');
    }
    return box;
  }

  async createAccount(accountId: string, circle: CircleUpload): Promise<void> {
    if (!this.#signer || this.#signer.accountId !== accountId)
      throw new CofferError('EPERM', 'an account is created by its first device');
    if (this.#service.accounts.has(accountId)) throw new CofferError('EALREADY', 'account exists');
    if (!circle.devices.some((d) => d.deviceId === this.#signer?.deviceId))
      throw new CofferError('EINVAL', 'the creating device must be in the circle');
    this.#service.accounts.set(accountId, {
      circle: { version: circle.version, document: circle.document },
      devices: new Set(circle.devices.map((d) => d.deviceId)),
      records: new Map(),
      seq: 0,
      manifests: new Map(),
      subscribers: new Set(),
    });
    this.#trip(circle, null);
  }

  async getCircle(): Promise<StoredCircle> {
    return this.#trip(null, this.#account().circle);
  }

  async putCircle(ifVersion: number, circle: CircleUpload): Promise<CasOutcome<StoredCircle>> {
    const account = this.#account();
    if (account.circle.version !== ifVersion || circle.version <= ifVersion)
      return this.#trip(circle, { ok: false, current: account.circle });
    account.circle = { version: circle.version, document: circle.document };
    account.devices = new Set(circle.devices.map((d) => d.deviceId));
    // A device dropped from the circle loses its push subscription, as on the real server.
    for (const sub of account.subscribers)
      if (!account.devices.has(sub.deviceId)) {
        account.subscribers.delete(sub);
        queueMicrotask(() => sub.onClose?.(new CofferError('EPERM', 'device removed from the circle')));
      }
    return this.#trip(circle, { ok: true });
  }

  async openInvite(mailbox: InviteMailbox): Promise<void> {
    this.#account();
    if (this.#service.mailboxes.has(mailbox.mailboxId)) throw new CofferError('EALREADY', 'mailbox exists');
    this.#service.mailboxes.set(mailbox.mailboxId, { expiresAt: mailbox.expiresAt, closed: false });
    this.#trip(mailbox, null);
  }

  async postJoinRequest(mailboxId: string, request: Uint8Array): Promise<void> {
    const box = this.#mailbox(mailboxId);
    if (box.closed) throw new CofferError('ENOENT', 'no such invite (expired or used)');
    if (box.request) throw new CofferError('EALREADY', 'this invite was already used');
    box.request = Uint8Array.from(request);
    this.#trip(request, null);
  }

  async takeJoinRequest(mailboxId: string): Promise<Uint8Array | undefined> {
    this.#account();
    return this.#trip(mailboxId, this.#mailbox(mailboxId).request);
  }

  async postJoinReply(mailboxId: string, reply: Uint8Array): Promise<void> {
    this.#account();
    const box = this.#mailbox(mailboxId);
    if (!box.request) throw new CofferError('ENOENT', 'no join request to answer');
    if (box.reply) throw new CofferError('EALREADY', 'already answered');
    box.reply = Uint8Array.from(reply);
    box.closed = true;
    this.#trip(reply, null);
  }

  async takeJoinReply(mailboxId: string): Promise<Uint8Array | undefined> {
    const box = this.#mailbox(mailboxId);
    const reply = box.reply;
    if (reply) this.#service.mailboxes.delete(mailboxId);
    return this.#trip(mailboxId, reply);
  }

  async putRecords(puts: readonly RecordPut[]): Promise<RecordPutResult[]> {
    const account = this.#account();
    // The whole batch is checked before anything is stored (SPEC §17.8).
    for (const { record, ifGencount } of puts) {
      fromWire(record);
      if (record.gencount <= ifGencount)
        throw new CofferError('EINVAL', `record ${record.uuid}: gencount must exceed ifGencount`);
      if (ifGencount > 0 && !account.records.has(record.uuid))
        throw new CofferError('ENOENT', `record ${record.uuid}: no stored copy at gencount ${ifGencount}`);
    }
    const results: RecordPutResult[] = puts.map(({ record, ifGencount }) => {
      const current = account.records.get(record.uuid);
      if ((current?.record.gencount ?? 0) !== ifGencount)
        return { uuid: record.uuid, ok: false, current: clone(current!.record) };
      const seq = ++account.seq;
      account.records.set(record.uuid, { record: clone(record), seq });
      const event = { uuid: record.uuid, gencount: record.gencount, seq, deviceId: this.#signer!.deviceId };
      for (const sub of account.subscribers) queueMicrotask(() => sub.onEvent({ ...event }));
      return { uuid: record.uuid, ok: true, seq };
    });
    return this.#trip(puts, results);
  }

  async getRecords(uuids: readonly string[]): Promise<WireRecord[]> {
    const account = this.#account();
    const found = uuids.flatMap((u) => {
      const r = account.records.get(u);
      return r ? [r.record] : [];
    });
    return this.#trip(uuids, found);
  }

  async changes(sinceSeq: number, limit = 1000): Promise<ChangesPage> {
    const account = this.#account();
    const newer = [...account.records.values()].filter((r) => r.seq > sinceSeq).sort((a, b) => a.seq - b.seq);
    const page = newer.slice(0, limit);
    const nextSeq = page.length > 0 ? page[page.length - 1]!.seq : sinceSeq;
    const digest = this.#service.manifestOf(account).digest();
    return this.#trip(
      { sinceSeq, limit },
      {
        records: page.map((r) => ({ seq: r.seq, record: r.record })),
        nextSeq,
        more: newer.length > page.length,
        digest,
      },
    );
  }

  async ranges(requests: readonly RangeRequest[]): Promise<RangeAnswer[]> {
    const account = this.#account();
    return this.#trip(requests, answerRanges(this.#service.manifestOf(account), requests));
  }

  async putDeviceManifest(manifest: Uint8Array): Promise<void> {
    this.#account().manifests.set(this.#signer!.deviceId, Uint8Array.from(manifest));
    this.#trip(manifest, null);
  }

  async getDeviceManifests(): Promise<{ deviceId: string; manifest: Uint8Array }[]> {
    const account = this.#account();
    return this.#trip(
      null,
      [...account.manifests].map(([deviceId, manifest]) => ({ deviceId, manifest })),
    );
  }

  async subscribe(
    onEvent: (event: PushEvent) => void,
    onClose?: (error?: Error) => void,
  ): Promise<() => void> {
    const account = this.#account();
    const sub: Subscriber = { deviceId: this.#signer!.deviceId, onEvent, ...(onClose ? { onClose } : {}) };
    account.subscribers.add(sub);
    return () => account.subscribers.delete(sub);
  }

  async close(): Promise<void> {
    this.#closed = true;
  }
}

function jsonSize(value: unknown): number {
  if (value === null || value === undefined) return 0;
  if (value instanceof Uint8Array) return value.length;
  return Buffer.byteLength(
    JSON.stringify(value, (_k, v) => (v instanceof Uint8Array ? Buffer.from(v).toString('base64') : v)),
  );
}
