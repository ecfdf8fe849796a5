// The server's per-account manifest (SPEC §17.5, §17.8), kept in memory and brought up to date
// incrementally: each use reads the account's seq and only the rows written after the cached seq,
// so an unchanged account of 100 000 records costs one indexed read, and several instances sharing
// PostgreSQL each see the others' writes (the seq is read from the database, never assumed).
// Refreshes of one account are serialised so a page and its digest always come from one snapshot.
import { Manifest } from '../manifest.js';

interface Entry {
  seq: number;
  hashes: Map<string, string>;
  manifest: Manifest | undefined;
  /** The manifest's digest, hashed once per seq (over 100 000 entries it is 4.8 MB of SHA-256). */
  digest: string | undefined;
}

/** Accounts kept before the least recently used one is dropped (it is rebuilt on its next use). */
const MAX_ACCOUNTS = 64;

export class ManifestCache {
  readonly #accounts = new Map<string, Entry>();
  readonly #locks = new Map<string, Promise<unknown>>();

  /**
   * Runs `read(cachedSeq)` — which returns the account's seq and the rows changed since `cachedSeq`
   * from one snapshot, plus anything else the caller needs from that snapshot — applies the rows,
   * and hands back the caller's value with the up-to-date manifest.
   */
  async use<T extends { head: number; changed: { uuid: string; hash: string }[] }>(
    accountId: string,
    read: (cachedSeq: number) => Promise<T>,
  ): Promise<{ value: T; manifest: Manifest; digest: string }> {
    const previous = this.#locks.get(accountId) ?? Promise.resolve();
    const run = previous.then(() => this.#refresh(accountId, read));
    const tail = run.catch(() => undefined);
    this.#locks.set(accountId, tail);
    void tail.then(() => {
      if (this.#locks.get(accountId) === tail) this.#locks.delete(accountId);
    });
    return run;
  }

  async #refresh<T extends { head: number; changed: { uuid: string; hash: string }[] }>(
    accountId: string,
    read: (cachedSeq: number) => Promise<T>,
  ): Promise<{ value: T; manifest: Manifest; digest: string }> {
    let entry = this.#accounts.get(accountId);
    if (entry !== undefined) this.#accounts.delete(accountId); // re-inserted below: most recent last
    const value = await read(entry?.seq ?? 0);
    if (entry !== undefined && value.head < entry.seq) {
      // The store went backwards (restored from a backup): the rows read are relative to a seq that
      // no longer means anything, so read everything again.
      return this.#refresh(accountId, read);
    }
    entry ??= { seq: 0, hashes: new Map(), manifest: undefined, digest: undefined };
    if (value.head !== entry.seq) {
      for (const { uuid, hash } of value.changed) entry.hashes.set(uuid, hash);
      entry.seq = value.head;
      // A write merges into the sorted manifest (a copy); only the first use builds it from scratch.
      entry.manifest = entry.manifest?.withChanges(value.changed);
      entry.digest = undefined;
    }
    entry.manifest ??= new Manifest([...entry.hashes].map(([uuid, hash]) => ({ uuid, hash })));
    entry.digest ??= entry.manifest.digest();
    this.#accounts.set(accountId, entry);
    while (this.#accounts.size > MAX_ACCOUNTS) {
      const oldest = this.#accounts.keys().next().value as string;
      this.#accounts.delete(oldest);
    }
    return { value, manifest: entry.manifest, digest: entry.digest };
  }

  /** Forgets an account (tests; a store replaced underneath). */
  forget(accountId: string): void {
    this.#accounts.delete(accountId);
  }
}
