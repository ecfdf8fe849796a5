// The rollback anchor protocol (SPEC §4.2): the store's root records, per anchor name, the value the
// anchor has reached (the claim); unlock compares it with the anchor, and every acknowledged change is
// followed by a seal that moves the claim and then the anchor one step forward — store first, so a
// crash in between leaves the anchor one behind (accepted), never ahead (which would read as a
// rollback). One seal at a time per anchor: the sealing process is named in the root entry, so the TPM
// counter is incremented at most once per claim step even with several processes on one host; a seal
// left behind by a dead process is completed by the next one that finds it.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { keyInput } from '../crypto/held-keys.js';
import { CofferError } from '../errors.js';
import {
  type AnchorConfig,
  type AnchorDevice,
  anchorName,
  DEFAULT_SEAL_EVERY_MS,
  openAnchorDevice,
} from '../protect/anchor.js';
import { currentProcess, ownerAlive } from '../storage/dir-lock.js';
import type { AuditEvent } from './audit.js';
import { canonicalJson, textDecoder, textEncoder } from './encoding.js';
import { RollbackError } from './rollback.js';
import type { AnchorEntry, SealOwner } from './tree.js';
import type { Anchors, VerifiedStorage } from './verified-storage.js';

/** How long a seal or an unlock waits for another live process's seal before giving up. */
const WAIT_MS = 10_000;
/** An owner on another host counts as alive this long after its seal began (SPEC §4.2). */
const FOREIGN_ALIVE_MS = 5 * 60_000;

/** What the anchor layer needs from the open keystore. */
export interface AnchorHost {
  storage: VerifiedStorage;
  treeKey(): Uint8Array;
  storeId: string;
  now(): number;
  /** Writes audit events and an anchors change in one batch (the rollback acceptance). */
  commitWithAnchors(
    events: Omit<AuditEvent, 'actor' | 'at'>[],
    anchors: (current: Anchors) => Anchors,
  ): Promise<void>;
}

type Reading =
  | { state: 'absent' }
  | { state: 'unwritten' }
  | { state: 'value'; value: number; instance?: string };

/** The root entry changed under us: re-read and decide again. */
class Retry extends Error {}

/** The anchor is gone (TPM cleared, item or file deleted): EUNAVAIL, but acceptable with acceptRollback. */
class AnchorGone extends CofferError {
  constructor(name: string) {
    super(
      'EUNAVAIL',
      `rollback anchor ${name} is gone (TPM counter undefined, token object, keyring item or file deleted): ` +
        "this store's freshness cannot be checked; if you know the store is the current one, open it with acceptRollback",
    );
  }
}

/** Tokens of the anchor guards open in this process: a seal owned by this pid is live only if listed. */
const liveTokens = new Set<string>();

function acceptable(error: unknown): boolean {
  return (error instanceof RollbackError && error.rollback.kind === 'anchor') || error instanceof AnchorGone;
}

export class AnchorGuard {
  readonly name: string;
  readonly sealEveryMs: number;
  readonly #config: AnchorConfig;
  readonly #host: AnchorHost;
  readonly #token = randomBytes(16).toString('hex');
  #device: AnchorDevice | undefined;
  #checked = false;
  #dirty = false;
  #timer: NodeJS.Timeout | undefined;
  #requested = 0;
  #completed = 0;
  #draining: Promise<void> | undefined;
  #waiters: { ticket: number; resolve: () => void }[] = [];
  /** The last seal failure (also emitted as a process warning), until a seal succeeds. */
  lastError: Error | undefined;

  constructor(config: AnchorConfig, host: AnchorHost) {
    this.#config = config;
    this.#host = host;
    this.name = anchorName(config);
    this.sealEveryMs = config.sealEveryMs ?? DEFAULT_SEAL_EVERY_MS;
    liveTokens.add(this.#token);
  }

  async #dev(): Promise<AnchorDevice> {
    this.#device ??= await openAnchorDevice(this.#config);
    return this.#device;
  }

  #owner(): SealOwner {
    return { ...currentProcess(), token: this.#token, at: this.#host.now() };
  }

  #mine(p: SealOwner | undefined): boolean {
    return p?.token === this.#token;
  }

  /** Another process's seal that is still running (so neither waiting nor completing it is safe). */
  #othersLive(p: SealOwner | undefined): boolean {
    if (p === undefined || this.#mine(p)) return false;
    const here = currentProcess();
    if (p.host !== here.host) return this.#host.now() - p.at < FOREIGN_ALIVE_MS;
    // A keystore handle of this very process that was closed mid-seal is as dead as a killed process.
    if (p.pid === here.pid && p.boot === here.boot && p.start === here.start) return liveTokens.has(p.token);
    return ownerAlive(p);
  }

  // ---- the blob (pkcs11, keyring, file) ------------------------------------------------------------

  #blobMac(body: Record<string, unknown>): Buffer {
    return createHmac('sha256', keyInput(this.#host.treeKey()))
      .update('coffer:anchor:v1')
      .update(Buffer.from([0]))
      .update(canonicalJson(body))
      .digest();
  }

  #blob(value: number, instance: string): Uint8Array {
    const body = {
      format: 'coffer-anchor',
      v: 1,
      store: this.#host.storeId,
      name: this.name,
      instance,
      value,
    };
    return textEncoder.encode(JSON.stringify({ ...body, mac: this.#blobMac(body).toString('hex') }));
  }

  #parseBlob(bytes: Uint8Array): { value: number; instance: string } {
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(textDecoder.decode(bytes)) as Record<string, unknown>;
    } catch {
      throw new CofferError('EBADMSG', `rollback anchor ${this.name} holds no anchor (not JSON)`);
    }
    const { format, v, store, name, instance, value, mac } = parsed ?? {};
    if (format !== 'coffer-anchor' || v !== 1 || typeof mac !== 'string' || !/^[0-9a-f]{64}$/.test(mac))
      throw new CofferError('EBADMSG', `rollback anchor ${this.name} holds no Coffer anchor`);
    if (store !== this.#host.storeId)
      throw new CofferError(
        'EINVAL',
        `rollback anchor ${this.name} belongs to another keystore (${String(store)})`,
      );
    if (name !== this.name)
      throw new CofferError('EINVAL', `rollback anchor ${this.name} holds the anchor named ${String(name)}`);
    if (typeof instance !== 'string' || !/^[0-9a-f]{32}$/.test(instance) || !Number.isSafeInteger(value))
      throw new CofferError('EBADMSG', `rollback anchor ${this.name} is malformed`);
    const body = { format, v, store, name, instance, value };
    if (!timingSafeEqual(this.#blobMac(body), Buffer.from(mac, 'hex')))
      throw new CofferError('EBADMSG', `rollback anchor ${this.name} failed authentication (tampered)`);
    return { value: value as number, instance };
  }

  async #read(): Promise<Reading> {
    const device = await this.#dev();
    if (device.kind === 'counter') {
      const value = await device.read();
      return typeof value === 'number' ? { state: 'value', value } : { state: value };
    }
    const bytes = await device.read();
    return bytes === undefined ? { state: 'absent' } : { state: 'value', ...this.#parseBlob(bytes) };
  }

  // ---- root entry ------------------------------------------------------------------------------------

  /** Rewrites this anchor's root entry in a root-only batch; `change` throws Retry if the entry moved. */
  async #entry(change: (current: AnchorEntry | undefined) => AnchorEntry): Promise<void> {
    await this.#host.storage.write([], {
      quiet: true,
      anchors: (current) => ({ ...current, [this.name]: change(current[this.name]) }),
    });
  }

  /** Takes over a seal or enrolment whose owner is dead (or this process). */
  async #claim(e: AnchorEntry): Promise<void> {
    if (this.#mine(e.p)) return;
    await this.#entry((current) => {
      if (current?.p?.token !== e.p?.token || current?.c !== e.c) throw new Retry();
      return { ...current, p: this.#owner() };
    });
  }

  async #release(): Promise<void> {
    await this.#entry((current) => {
      if (!current || !this.#mine(current.p)) throw new Retry();
      const { p: _p, e: _e, ...rest } = current;
      return rest;
    });
  }

  /** Moves the anchor to `target` from `target - 1` (or finds it there already). */
  async #advance(target: number, instance: string | undefined): Promise<void> {
    const reading = await this.#read();
    if (reading.state !== 'value') throw new AnchorGone(this.name);
    if (reading.value === target) return;
    if (reading.value !== target - 1) this.#compare({ c: target - 1 }, reading, false);
    const device = await this.#dev();
    if (device.kind === 'counter') await device.increment();
    else await device.write(this.#blob(target, instance ?? (reading as { instance: string }).instance));
  }

  #fail(message: string): RollbackError {
    return new RollbackError({ kind: 'anchor', anchor: this.name }, `${message} (SPEC §4.2)`);
  }

  /** The check table of SPEC §4.2 for an enrolled entry; throws what does not hold. */
  #compare(e: AnchorEntry, a: Reading, sealing: boolean): void {
    if (a.state === 'absent') throw new AnchorGone(this.name);
    if (a.state === 'unwritten') {
      throw this.#fail(
        `rollback anchor ${this.name} was re-created (a TPM counter never incremented) behind the store`,
      );
    }
    if (e.i !== undefined && a.instance !== e.i) {
      throw this.#fail(
        `rollback anchor ${this.name} is another anchor than the one this store enrolled: it was re-created, or two instances share its name`,
      );
    }
    if (a.value > e.c) {
      throw this.#fail(
        `the store was rolled back: anchor ${this.name} is at ${a.value}, but this store only reached ${e.c} — it is an older copy of the whole store`,
      );
    }
    if (a.value < e.c - (sealing ? 1 : 0)) {
      throw this.#fail(
        `rollback anchor ${this.name} is behind the store (anchor ${a.value}, store ${e.c}): it was reset, replaced or rolled back, or two instances share its name`,
      );
    }
  }

  // ---- enrolment ---------------------------------------------------------------------------------------

  /** SPEC §4.2 enrolment: entry first (enrolling), then the anchor, then the entry with the claim. */
  async #enrol(existing: AnchorEntry | undefined, a: Reading): Promise<void> {
    const device = await this.#dev();
    const instance = device.kind === 'blob' ? (existing?.i ?? randomBytes(16).toString('hex')) : undefined;
    if (existing === undefined) {
      await this.#entry((current) => {
        if (current !== undefined) throw new Retry();
        return { c: 0, e: 1, p: this.#owner(), ...(instance ? { i: instance } : {}) };
      });
    } else {
      await this.#claim(existing);
    }
    let value: number;
    if (device.kind === 'counter') {
      if (a.state === 'absent') await device.create();
      let now = await device.read();
      if (now === 'absent') throw new AnchorGone(this.name);
      if (now === 'unwritten') {
        await device.increment();
        now = await device.read();
      }
      if (typeof now !== 'number') throw new AnchorGone(this.name);
      value = now;
    } else {
      await device.write(this.#blob(1, instance!));
      value = 1;
    }
    await this.#entry((current) => {
      if (!current || !this.#mine(current.p)) throw new Retry();
      return { c: value, ...(instance ? { i: instance } : {}) };
    });
  }

  // ---- check at unlock -----------------------------------------------------------------------------------

  /**
   * Compares the store with its anchor (SPEC §4.2 table), enrolling it on first use and completing a
   * seal a dead process left behind (`creating`: for a store made just now). With `accept` (an
   * operator's reason), a store older than the anchor
   * (or an anchor gone or behind) is accepted as the current store, audited, and sealed.
   */
  async check(accept?: string, creating = false): Promise<void> {
    liveTokens.add(this.#token);
    const deadline = this.#host.now() + WAIT_MS;
    let races = 0;
    for (;;) {
      const e = (await this.#host.storage.root()).anchors[this.name];
      let a: Reading | undefined;
      try {
        a = await this.#read();
        if (e === undefined) {
          // A brand-new store has no past to roll back to: it may adopt a TPM counter left by another
          // (the counter only moves forward; a blob of another store is refused by its store id).
          if (a.state === 'value' && !(creating && (await this.#dev()).kind === 'counter')) {
            throw this.#fail(
              `the store was rolled back to before anchor ${this.name} was enrolled, or the anchor belongs to another keystore: the anchor holds ${a.value} but this store never recorded it`,
            );
          }
          await this.#enrol(undefined, a);
        } else if (this.#othersLive(e.p)) {
          if (e.e) {
            if (this.#host.now() > deadline)
              throw new CofferError(
                'EUNAVAIL',
                `another process has been enrolling anchor ${this.name} for too long`,
              );
            await sleep(20 + Math.random() * 30);
            continue;
          }
          this.#compare(e, a, true);
        } else if (e.e) {
          if (a.state === 'value' && !(a.value === 1 && e.i !== undefined && a.instance === e.i)) {
            throw this.#fail(
              `enrolment of anchor ${this.name} was interrupted after the anchor moved (it holds ${a.value}), or the store was rolled back to that moment`,
            );
          }
          await this.#enrol(e, a);
        } else {
          this.#compare(e, a, e.p !== undefined);
          if (e.p !== undefined) {
            // A seal left behind by a dead process (or an earlier attempt of ours): complete it.
            await this.#claim(e);
            await this.#advance(e.c, e.i);
            await this.#release();
          }
        }
        this.#checked = true;
        return;
      } catch (error) {
        if (error instanceof Retry) continue;
        // The root entry and the anchor were read one after the other: a seal by another process in
        // between (claim moved, then anchor) is not a rollback. Decide only on a pair read with no root
        // change around it, as reads of records do (SPEC §4.1).
        if (acceptable(error) && ++races < 64) {
          const again = (await this.#host.storage.root()).anchors[this.name];
          if (JSON.stringify(again) !== JSON.stringify(e)) continue;
        }
        if (accept !== undefined && acceptable(error)) {
          await this.#accept(accept, e, a ?? { state: 'absent' });
          return;
        }
        throw error;
      }
    }
  }

  /** SPEC §4.2 "Accepting a rollback": audit, re-base the claim on the anchor, seal. */
  async #accept(reason: string, e: AnchorEntry | undefined, a: Reading): Promise<void> {
    const device = await this.#dev();
    let value: number;
    let instance: string | undefined;
    if (device.kind === 'counter') {
      let now = await device.read();
      if (now === 'absent') {
        await device.create();
        now = await device.read();
      }
      if (now === 'unwritten') {
        await device.increment();
        now = await device.read();
      }
      if (typeof now !== 'number') throw new AnchorGone(this.name);
      value = now;
    } else if (a.state === 'value') {
      value = a.value;
      instance = a.instance;
    } else {
      instance = randomBytes(16).toString('hex');
      value = 1;
      await device.write(this.#blob(value, instance));
    }
    await this.#host.commitWithAnchors(
      [
        {
          event: 'store.rollback-accepted',
          details: {
            anchor: this.name,
            claim: e?.c ?? null,
            anchorValue: a.state === 'value' ? a.value : a.state,
            reason,
          },
        },
      ],
      (current) => ({ ...current, [this.name]: { c: value, ...(instance ? { i: instance } : {}) } }),
    );
    this.#checked = true;
    // Unlike an ordinary seal this one must succeed: it is what makes every other copy older.
    await this.#sealOnce();
  }

  // ---- sealing ----------------------------------------------------------------------------------------------

  /** One seal: claim + 1 with this process as owner, advance the anchor, release (SPEC §4.2 steps 1–3). */
  async #sealOnce(): Promise<void> {
    const deadline = this.#host.now() + WAIT_MS;
    for (;;) {
      const e = (await this.#host.storage.root()).anchors[this.name];
      if (e === undefined)
        throw new CofferError('EUNAVAIL', `anchor ${this.name} is not enrolled in this store`);
      if (this.#othersLive(e.p)) {
        if (this.#host.now() > deadline)
          throw new CofferError(
            'EUNAVAIL',
            `another process has held the seal of anchor ${this.name} for too long`,
          );
        await sleep(5 + Math.random() * 20);
        continue;
      }
      try {
        if (e.p !== undefined) {
          // Finish the seal a dead process (or an earlier attempt of ours) left; then do ours.
          if (e.e) throw new CofferError('EUNAVAIL', `enrolment of anchor ${this.name} is unfinished`);
          await this.#claim(e);
          await this.#advance(e.c, e.i);
          await this.#release();
          continue;
        }
        await this.#entry((current) => {
          if (!current || current.p || current.e || current.c !== e.c) throw new Retry();
          return { ...current, c: e.c + 1, p: this.#owner() };
        });
        await this.#advance(e.c + 1, e.i);
        await this.#release();
        return;
      } catch (error) {
        if (error instanceof Retry) continue;
        throw error;
      }
    }
  }

  async #drain(): Promise<void> {
    try {
      while (this.#completed < this.#requested) {
        const upTo = this.#requested;
        this.#dirty = false;
        try {
          await this.#sealOnce();
          this.lastError = undefined;
        } catch (error) {
          this.lastError = error as Error;
          process.emitWarning(
            `coffer: rollback anchor ${this.name} could not be advanced (the change is written; the next seal retries): ${(error as Error).message}`,
          );
        }
        this.#completed = upTo;
        this.#waiters = this.#waiters.filter((w) => {
          if (w.ticket > upTo) return true;
          w.resolve();
          return false;
        });
      }
    } finally {
      this.#draining = undefined;
    }
  }

  /**
   * Seals everything written so far (coalesced with seals already running). Never rejects: a failure
   * is a warning and `lastError`, and the next seal covers the same writes.
   */
  seal(): Promise<void> {
    if (!this.#checked) return Promise.resolve();
    const ticket = ++this.#requested;
    const done = new Promise<void>((resolve) => this.#waiters.push({ ticket, resolve }));
    this.#draining ??= this.#drain();
    return done;
  }

  /** A write without changes of its own: sealed within sealEveryMs (or at lock/close). */
  noteWrite(): void {
    if (!this.#checked) return;
    this.#dirty = true;
    if (this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#dirty) void this.seal();
    }, this.sealEveryMs);
    this.#timer.unref();
  }

  async sealIfDirty(): Promise<void> {
    if (this.#dirty) await this.seal();
  }

  /** Stops the timer and releases the device (after sealing what is dirty, if the caller did). */
  async close(): Promise<void> {
    liveTokens.delete(this.#token);
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#checked = false;
    const device = this.#device;
    this.#device = undefined;
    await device?.close();
  }
}
