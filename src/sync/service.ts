// `ks.sync`: the device circle's operations on one keystore (SPEC §17.9) — create an account, invite
// and approve devices, join, remove, recover from the phrase, list devices — and the membership the
// sync engine (§17.10) works with. The engine's own operations (`now`, `status`) are attached beside
// these by `src/sync/index.ts`; this facade leaves their names free.
import { b64 } from '../core/encoding.js';
import { wipe } from '../crypto/bytes.js';
import { CofferError } from '../errors.js';
import { ensureMeta } from '../keychain/meta.js';
import {
  exportClassKeys,
  installClassKeys,
  listClassKeys,
  newClassKey,
} from '../keychain/shared-class-keys.js';
import { installShared, openEnvelopesFor } from './circle/apply.js';
import { checkName, cjBytes, fingerprint, type Identity, pickIdentity } from './circle/codec.js';
import { checkServerUrl, connectSyncTransport, type TransportConnector } from './circle/connect.js';
import './http-register.js';
import { createDeviceKeys, deviceActor, deviceSigner, type SyncHost } from './circle/device.js';
import {
  allClassKeyIds,
  type CircleState,
  encodeDocumentB64,
  type Link,
  type LinkBody,
  type Member,
  parseDocument,
  signLink,
  verifyChain,
} from './circle/document.js';
import { type SharedClassKey, sealEnvelope } from './circle/envelope.js';
import {
  DEFAULT_INVITE_TTL_MS,
  encodeInvite,
  INVITE_SECRET,
  MAX_INVITE_TTL_MS,
  mailboxId,
  parseInvite,
  sameShortCode,
  shortCode,
} from './circle/invite.js';
import { buildJoinReply, buildJoinRequest, openJoinReply, openJoinRequest } from './circle/join.js';
import type { JoinRequestInfo, SyncCircleOperations, SyncDevice, SyncInfo } from './circle/operations.js';
import { phraseEntropy, recoveryAccountId, recoveryActor, recoveryPhrase } from './circle/recovery.js';
import type { CircleActor, DeviceActor } from './circle/signer.js';
import { readState, type SyncState, writeState } from './circle/state.js';
import { SyncEngine, type SyncReport, type SyncStatus } from './engine/engine.js';
import type { CircleUpload, DeviceSigner, MemberKeys, SyncMembership, SyncTransport } from './transport.js';

const CAS_ATTEMPTS = 5;

export type { JoinRequestInfo, SyncDevice, SyncInfo };

export class SyncService implements SyncCircleOperations {
  readonly #host: SyncHost;
  readonly #connect: TransportConnector;

  constructor(host: SyncHost, connect: TransportConnector = connectSyncTransport) {
    this.#host = host;
    this.#connect = connect;
  }

  get #kc() {
    return this.#host.keychain;
  }

  // ── state and transport ───────────────────────────────────────────────────────────────────────

  async #member(): Promise<{
    state: SyncState & { accountId: string; circle: string };
    revision: number;
    actor: DeviceActor;
  }> {
    const read = await readState(this.#kc);
    if (!read?.state.accountId || !read.state.circle) {
      if (read?.state.pendingJoin)
        throw new CofferError('ESTATE', 'this device is waiting for its join to be approved');
      throw new CofferError('ENOENT', 'this keystore is in no sync circle (sync create or sync join first)');
    }
    const actor = await deviceActor(this.#host, read.state.deviceId, read.state.keys);
    return {
      state: read.state as SyncState & { accountId: string; circle: string },
      revision: read.revision,
      actor,
    };
  }

  async #with<T>(
    server: string,
    signer: DeviceSigner | undefined,
    run: (t: SyncTransport) => Promise<T>,
  ): Promise<T> {
    const transport = this.#connect(server, signer);
    try {
      return await run(transport);
    } finally {
      await transport.close();
    }
  }

  /** A device identity for a keystore not yet in a circle (reusing one from an unfinished join). */
  async #newDevice(
    server: string,
    deviceName: unknown,
  ): Promise<{ state: SyncState; revision: number; actor: DeviceActor }> {
    checkServerUrl(server);
    const name = checkName(deviceName);
    const read = await readState(this.#kc);
    if (read?.state.accountId) throw new CofferError('EALREADY', 'this keystore is already in a sync circle');
    const meta = await ensureMeta(this.#kc);
    const keys = read?.state.keys ?? (await createDeviceKeys(this.#host));
    const state: SyncState = {
      format: 'coffer-sync-state',
      v: 1,
      server,
      deviceId: meta.deviceId,
      name,
      keys,
      invites: [],
    };
    await writeState(this.#kc, state, read?.revision ?? 0, {
      event: 'sync.device',
      details: { deviceId: meta.deviceId },
    });
    const after = await readState(this.#kc);
    return { state, revision: after!.revision, actor: await deviceActor(this.#host, meta.deviceId, keys) };
  }

  #memberOf(actor: CircleActor, name: string, addedBy: string): Member {
    return { ...pickIdentity(actor.identity), name, addedAt: this.#kc.now(), addedBy };
  }

  #envelope(
    state: { accountId: string; epoch: number; version: number },
    from: string,
    to: Identity,
    keys: SharedClassKey[],
  ) {
    return sealEnvelope(state, from, to, keys, this.#kc.rng);
  }

  // ── create ──────────────────────────────────────────────────────────────────────────────────────

  /** Creates the account with this device as its only member; returns the recovery phrase (show it once). */
  async create(options: { server: string; deviceName: string }): Promise<{
    accountId: string;
    deviceId: string;
    recoveryPhrase: string;
  }> {
    const { state, revision, actor } = await this.#newDevice(options.server, options.deviceName);
    const entropy = this.#kc.rng.randomBytes(32);
    const recovery = recoveryActor(entropy);
    const accountId = recoveryAccountId(entropy);
    const { ids } = await listClassKeys(this.#kc);
    const material = await exportClassKeys(this.#kc, ids);
    try {
      const keys = material.map((k) => ({ epoch: 1, id: k.id, key: k.key }));
      const ctx = { accountId, epoch: 1, version: 1 };
      const member = this.#memberOf(actor, state.name, actor.identity.deviceId);
      const body: LinkBody = {
        accountId,
        version: 1,
        epoch: 1,
        at: this.#kc.now(),
        signer: member.deviceId,
        change: { op: 'create', member, recovery: recovery.identity, classKeyIds: ids },
        envelopes: [
          this.#envelope(ctx, member.deviceId, actor.identity, keys),
          this.#envelope(ctx, member.deviceId, recovery.identity, keys),
        ],
      };
      const links = [await signLink(actor, body)];
      const circle = verifyChain(links);
      await this.#with(state.server, deviceSigner(accountId, actor), (t) =>
        t.createAccount(accountId, upload(circle, links)),
      );
      await writeState(this.#kc, { ...state, accountId, circle: encodeDocumentB64(links) }, revision, {
        event: 'sync.create',
        details: { accountId, deviceId: member.deviceId },
      });
      return { accountId, deviceId: member.deviceId, recoveryPhrase: recoveryPhrase(entropy) };
    } finally {
      wipe(entropy);
      recovery.wipe();
      for (const k of material) wipe(k.key);
    }
  }

  // ── refresh: the server's circle, verified from the trusted version ──────────────────────────────

  /** Fetches, verifies and applies the server's circle; returns the verified state. */
  async refresh(): Promise<CircleState> {
    const { state, revision, actor } = await this.#member();
    const stored = await this.#with(state.server, deviceSigner(state.accountId, actor), (t) => t.getCircle());
    return (await this.#adopt(state, revision, actor, b64.decode(stored.document))).circle;
  }

  /** Verifies `document` against the trusted one, installs what it sends this device, stores it. */
  async #adopt(
    state: SyncState & { accountId: string; circle: string },
    revision: number,
    actor: CircleActor,
    document: Uint8Array,
  ) {
    const trusted = parseDocument(b64.decode(state.circle));
    const links = parseDocument(document);
    const circle = verifyChain(links, trusted);
    if (circle.accountId !== state.accountId)
      throw new CofferError('EBADMSG', 'the server serves another account');
    const fresh = links.slice(trusted.length);
    if (fresh.length === 0) return { circle, links };
    const me = circle.members.find((m) => m.deviceId === state.deviceId);
    const required = me?.removedAt === undefined ? freshEpochKeys(fresh) : [];
    await installShared(this.#kc, circle, await openEnvelopesFor(fresh, actor), required);
    await writeState(this.#kc, { ...state, circle: b64.encode(document) }, revision, {
      event: 'sync.circle',
      details: { version: circle.version, epoch: circle.epoch },
    });
    return { circle, links };
  }

  /** Appends a link made by `build` from the newest verified circle, retrying a lost race. */
  async #append(
    make: (circle: CircleState, links: Link[]) => Promise<{ link: Link; devicesOut?: string }>,
  ): Promise<{ circle: CircleState; links: Link[] }> {
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const { state, revision, actor } = await this.#member();
      const stored = await this.#with(state.server, deviceSigner(state.accountId, actor), (t) =>
        t.getCircle(),
      );
      const adopted = await this.#adopt(state, revision, actor, b64.decode(stored.document));
      const { link } = await make(adopted.circle, adopted.links);
      const links = [...adopted.links, link];
      const circle = verifyChain(links, adopted.links);
      const outcome = await this.#with(state.server, deviceSigner(state.accountId, actor), (t) =>
        t.putCircle(adopted.circle.version, upload(circle, links)),
      );
      if (!outcome.ok) continue;
      const now = await this.#member();
      await writeState(this.#kc, { ...now.state, circle: encodeDocumentB64(links) }, now.revision, {
        event: 'sync.circle',
        details: { version: circle.version, epoch: circle.epoch, change: link.body.change.op },
      });
      return { circle, links };
    }
    throw new CofferError('ECONFLICT', 'the circle kept changing on the server; try again');
  }

  // ── invite / join / approve ─────────────────────────────────────────────────────────────────────

  /** Opens a one-time invite and returns its code (valid `ttlMs`, default 10 minutes). */
  async invite(options: { ttlMs?: number } = {}): Promise<string> {
    const ttl = options.ttlMs ?? DEFAULT_INVITE_TTL_MS;
    if (!Number.isSafeInteger(ttl) || ttl < 1000 || ttl > MAX_INVITE_TTL_MS)
      throw new CofferError('EINVAL', 'an invite lives from 1 second to 24 hours');
    const { state, revision, actor } = await this.#member();
    const secret = this.#kc.rng.randomBytes(INVITE_SECRET);
    const now = this.#kc.now();
    const expiresAt = Math.floor((now + ttl) / 1000);
    const sponsor = fingerprint(actor.identity);
    const id = mailboxId(secret);
    await this.#with(state.server, deviceSigner(state.accountId, actor), (t) =>
      t.openInvite({ mailboxId: id, expiresAt: expiresAt * 1000 }),
    );
    const invites = state.invites.filter((i) => i.expiresAt > now);
    invites.push({
      mailboxId: id,
      secret: b64.encode(secret),
      sponsor: b64.encode(sponsor),
      expiresAt: expiresAt * 1000,
    });
    await writeState(this.#kc, { ...state, invites }, revision, {
      event: 'sync.invite',
      details: { expiresAt: expiresAt * 1000 },
    });
    return encodeInvite({ secret, sponsor, expiresAt });
  }

  /** Asks to join with an invite code; returns this device's id and the short code to compare. */
  async join(options: {
    server: string;
    invite: string;
    deviceName: string;
  }): Promise<{ deviceId: string; code: string }> {
    const invite = parseInvite(options.invite, this.#kc.now());
    const { state, revision, actor } = await this.#newDevice(options.server, options.deviceName);
    const id = mailboxId(invite.secret);
    const request = await buildJoinRequest(
      actor,
      { at: this.#kc.now(), identity: pickIdentity(actor.identity), mailboxId: id, name: state.name },
      invite.secret,
    );
    await this.#with(state.server, undefined, (t) => t.postJoinRequest(id, request)).catch(
      (error: unknown) => {
        if (error instanceof CofferError && error.code === 'ENOENT')
          throw new CofferError('ENOENT', 'no such invite on this server (used, expired, or another server)');
        if (error instanceof CofferError && error.code === 'EALREADY')
          throw new CofferError('EALREADY', 'this invite was already used; ask for a new one');
        throw error;
      },
    );
    const code = shortCode(invite.secret, invite.sponsor, fingerprint(actor.identity));
    const pendingJoin = {
      mailboxId: id,
      secret: b64.encode(invite.secret),
      sponsor: b64.encode(invite.sponsor),
      expiresAt: invite.expiresAt * 1000,
      code,
    };
    await writeState(this.#kc, { ...state, pendingJoin }, revision, {
      event: 'sync.join',
      details: { deviceId: state.deviceId },
    });
    return { deviceId: state.deviceId, code };
  }

  /** Finishes a join once the sponsor approved it: `pending` until then. */
  async completeJoin(): Promise<{ status: 'joined' | 'pending'; accountId?: string }> {
    const read = await readState(this.#kc);
    if (read?.state.accountId) return { status: 'joined', accountId: read.state.accountId };
    const pending = read?.state.pendingJoin;
    if (!read || !pending)
      throw new CofferError('ENOENT', 'no join is waiting on this device (sync join first)');
    const { state, revision } = read;
    const reply = await this.#with(state.server, undefined, (t) => t.takeJoinReply(pending.mailboxId));
    if (!reply) return { status: 'pending' };
    const actor = await deviceActor(this.#host, state.deviceId, state.keys);
    const { document } = openJoinReply(reply);
    const links = parseDocument(document);
    const circle = verifyChain(links);
    const last = links[links.length - 1]!;
    const sponsor =
      last.body.signer === circle.recovery.deviceId
        ? undefined
        : circle.members.find((m) => m.deviceId === last.body.signer);
    if (!sponsor || b64.encode(fingerprint(sponsor)) !== pending.sponsor)
      throw new CofferError('EBADMSG', 'the reply is not signed by the device that made the invite');
    if (last.body.change.op !== 'add' || !sameIdentity(last.body.change.member, actor.identity))
      throw new CofferError('EBADMSG', 'the reply does not add this device to the circle');
    const required = allClassKeyIds(circle).map((k) => k.id);
    await installShared(this.#kc, circle, await openEnvelopesFor([last], actor), required);
    const { pendingJoin: _, ...rest } = state;
    await writeState(
      this.#kc,
      { ...rest, accountId: circle.accountId, circle: b64.encode(document) },
      revision,
      {
        event: 'sync.joined',
        details: { accountId: circle.accountId, version: circle.version },
      },
    );
    return { status: 'joined', accountId: circle.accountId };
  }

  /** Join requests waiting in this device's open invites (each checked; a forged one is refused). */
  async joinRequests(): Promise<JoinRequestInfo[]> {
    return (await this.#requests()).flatMap((r) => (r.info ? [r.info] : []));
  }

  async #requests() {
    const { state, actor } = await this.#member();
    const now = this.#kc.now();
    const out: { mailboxId: string; info?: JoinRequestInfo; identity?: Identity; error?: CofferError }[] = [];
    for (const invite of state.invites.filter((i) => i.expiresAt > now)) {
      const bytes = await this.#with(state.server, deviceSigner(state.accountId, actor), (t) =>
        t.takeJoinRequest(invite.mailboxId),
      ).catch((error: unknown) => {
        if (error instanceof CofferError && error.code === 'ENOENT') return undefined;
        throw error;
      });
      if (!bytes) continue;
      const secret = b64.decode(invite.secret);
      try {
        const request = openJoinRequest(bytes, secret, invite.mailboxId);
        const code = shortCode(secret, b64.decode(invite.sponsor), fingerprint(request.identity));
        out.push({
          mailboxId: invite.mailboxId,
          identity: request.identity,
          info: { deviceId: request.identity.deviceId, name: request.name, code, at: request.at },
        });
      } catch (error) {
        if (!(error instanceof CofferError)) throw error;
        out.push({ mailboxId: invite.mailboxId, error });
      }
    }
    return out;
  }

  /** Approves a join request: adds the device in a new circle version and sends it the class keys. */
  async approve(
    deviceId: string,
    options: { code?: string } = {},
  ): Promise<{ deviceId: string; name: string; version: number }> {
    const requests = await this.#requests();
    const found = requests.find((r) => r.info?.deviceId === deviceId);
    if (!found?.info || !found.identity) {
      const forged = requests.find((r) => r.error);
      if (forged?.error) throw forged.error;
      throw new CofferError(
        'ENOENT',
        `no join request from device ${deviceId} (see sync approve without a device)`,
      );
    }
    const { info, identity } = found;
    if (options.code !== undefined && !sameShortCode(options.code, info.code))
      throw new CofferError('EPERM', 'the short code does not match the joining device: do not approve it');
    const { circle } = await this.#append(async (circle) => {
      const { actor } = await this.#member();
      if (
        circle.members.some((m) => m.deviceId === identity.deviceId) ||
        circle.recovery.deviceId === identity.deviceId
      )
        throw new CofferError('EALREADY', `device ${identity.deviceId} is already in the circle`);
      const version = circle.version + 1;
      const ids = allClassKeyIds(circle);
      const material = await exportClassKeys(
        this.#kc,
        ids.map((k) => k.id),
      );
      try {
        const keys = material.map((k, i) => ({ epoch: ids[i]!.epoch, id: k.id, key: k.key }));
        const member: Member = {
          ...pickIdentity(identity),
          name: info.name,
          addedAt: this.#kc.now(),
          addedBy: actor.identity.deviceId,
        };
        const body: LinkBody = {
          accountId: circle.accountId,
          version,
          epoch: circle.epoch,
          prev: circle.head,
          at: this.#kc.now(),
          signer: actor.identity.deviceId,
          change: { op: 'add', member },
          envelopes: [
            this.#envelope(
              { accountId: circle.accountId, epoch: circle.epoch, version },
              actor.identity.deviceId,
              identity,
              keys,
            ),
          ],
        };
        return { link: await signLink(actor, body) };
      } finally {
        for (const k of material) wipe(k.key);
      }
    });
    const { state, revision, actor } = await this.#member();
    const reply = buildJoinReply(b64.decode(state.circle), circle.version);
    await this.#with(state.server, deviceSigner(state.accountId, actor), (t) =>
      t.postJoinReply(found.mailboxId, reply),
    );
    const invites = state.invites.filter((i) => i.mailboxId !== found.mailboxId);
    await writeState(this.#kc, { ...state, invites }, revision, {
      event: 'sync.approve',
      details: { deviceId },
    });
    return { deviceId, name: info.name, version: circle.version };
  }

  // ── devices / remove ────────────────────────────────────────────────────────────────────────────

  /** The circle's devices (removed ones with `removedAt`), after fetching the server's newest circle. */
  async devices(): Promise<SyncDevice[]> {
    const circle = await this.refresh();
    const { state } = await this.#member();
    return circle.members.map((m) => ({
      id: m.deviceId,
      name: m.name,
      addedAt: m.addedAt,
      addedBy: m.addedBy,
      ...(m.removedAt !== undefined ? { removedAt: m.removedAt } : {}),
      current: m.deviceId === state.deviceId,
    }));
  }

  /** Removes a device: a new circle version and epoch with a new class key it never receives. */
  async remove(deviceId: string): Promise<{ version: number; epoch: number; classKeyId: string }> {
    if (typeof deviceId !== 'string') throw new CofferError('EINVAL', 'deviceId must be a string');
    const fresh = newClassKey(this.#kc);
    try {
      // Stored first (not current): harmless if the circle update fails, and never lost if it succeeds.
      await installClassKeys(this.#kc, [fresh]);
      const { circle } = await this.#append(async (circle) => {
        const { actor } = await this.#member();
        if (deviceId === actor.identity.deviceId)
          throw new CofferError('EINVAL', 'a device cannot remove itself: remove it from another device');
        const remaining = circle.members.filter((m) => m.removedAt === undefined && m.deviceId !== deviceId);
        if (!circle.members.some((m) => m.deviceId === deviceId && m.removedAt === undefined))
          throw new CofferError('ENOENT', `device ${deviceId} is not a member of the circle`);
        const version = circle.version + 1;
        const epoch = circle.epoch + 1;
        const ctx = { accountId: circle.accountId, epoch, version };
        const keys = [{ epoch, id: fresh.id, key: fresh.key }];
        const body: LinkBody = {
          accountId: circle.accountId,
          version,
          epoch,
          prev: circle.head,
          at: this.#kc.now(),
          signer: actor.identity.deviceId,
          change: { op: 'remove', deviceId, classKeyIds: [fresh.id] },
          envelopes: [...remaining, circle.recovery].map((to) =>
            this.#envelope(ctx, actor.identity.deviceId, to, keys),
          ),
        };
        return { link: await signLink(actor, body) };
      });
      await installClassKeys(this.#kc, [], fresh.id);
      return { version: circle.version, epoch: circle.epoch, classKeyId: fresh.id };
    } finally {
      wipe(fresh.key);
    }
  }

  // ── recover ─────────────────────────────────────────────────────────────────────────────────────

  /** Rejoins the circle with the recovery phrase when no other device is left to approve. */
  async recover(options: {
    server: string;
    phrase: string;
    deviceName: string;
  }): Promise<{ accountId: string; deviceId: string; version: number }> {
    const entropy = phraseEntropy(options.phrase);
    const recovery = recoveryActor(entropy);
    const accountId = recoveryAccountId(entropy);
    wipe(entropy);
    try {
      checkServerUrl(options.server);
      checkName(options.deviceName);
      const signer = deviceSigner(accountId, recovery);
      const stored = await this.#with(options.server, signer, (t) => t.getCircle());
      const links = parseDocument(b64.decode(stored.document));
      const circle = verifyChain(links);
      if (circle.accountId !== accountId || !sameIdentity(circle.recovery, recovery.identity))
        throw new CofferError('EBADMSG', 'the circle on the server does not belong to this recovery phrase');
      const keys = await openEnvelopesFor(links, recovery);
      const ids = allClassKeyIds(circle);
      for (const { id } of ids)
        if (!keys.has(id)) throw new CofferError('EBADMSG', `no recovery envelope holds class key ${id}`);
      const { state, revision, actor } = await this.#newDevice(options.server, options.deviceName);
      if (circle.members.some((m) => m.deviceId === state.deviceId))
        throw new CofferError(
          'EALREADY',
          `device ${state.deviceId} is already in the circle (use it, or remove it first)`,
        );
      const version = circle.version + 1;
      const shared = ids.map(({ epoch, id }) => ({ epoch, id, key: keys.get(id)!.key }));
      const body: LinkBody = {
        accountId,
        version,
        epoch: circle.epoch,
        prev: circle.head,
        at: this.#kc.now(),
        signer: recovery.identity.deviceId,
        change: { op: 'add', member: this.#memberOf(actor, state.name, recovery.identity.deviceId) },
        envelopes: [
          this.#envelope(
            { accountId, epoch: circle.epoch, version },
            recovery.identity.deviceId,
            actor.identity,
            shared,
          ),
        ],
      };
      const next = [...links, await signLink(recovery, body)];
      const nextCircle = verifyChain(next, links);
      const outcome = await this.#with(options.server, signer, (t) =>
        t.putCircle(circle.version, upload(nextCircle, next)),
      );
      if (!outcome.ok)
        throw new CofferError('ECONFLICT', 'the circle changed on the server during recovery; try again');
      await installShared(
        this.#kc,
        nextCircle,
        keys,
        ids.map((k) => k.id),
      );
      await writeState(this.#kc, { ...state, accountId, circle: encodeDocumentB64(next) }, revision, {
        event: 'sync.recover',
        details: { accountId, deviceId: state.deviceId, version },
      });
      return { accountId, deviceId: state.deviceId, version };
    } finally {
      recovery.wipe();
    }
  }

  // ── the keychain's sync engine (SPEC §17.10) ────────────────────────────────────────────────────

  #engine: Promise<{ engine: SyncEngine; transport: SyncTransport }> | undefined;

  /** The engine, made on first use once this device is in a circle (ENOENT before). */
  async #syncEngine(): Promise<SyncEngine> {
    this.#engine ??= (async () => {
      const { state } = await this.#member();
      const membership = await this.membership();
      const transport = this.#connect(state.server, membership.signer);
      return {
        engine: new SyncEngine({ keychain: this.#host.keychainSync(), transport, membership }),
        transport,
      };
    })().catch((error: unknown) => {
      this.#engine = undefined;
      throw error;
    });
    return (await this.#engine).engine;
  }

  /** One sync now: pull what changed, push the outgoing queue, merge conflicts. */
  async now(options: { audit?: boolean } = {}): Promise<SyncReport> {
    return (await this.#syncEngine()).now(options);
  }

  /** Last sync, queued writes, last error, a detected server attack. */
  async status(): Promise<SyncStatus> {
    return (await this.#syncEngine()).status();
  }

  /** Syncs in the background: on the server's push events and on a timer with backoff. */
  async start(): Promise<void> {
    await (await this.#syncEngine()).start();
  }

  /** Stops background sync and closes the connection to the server (the keystore's close calls it). */
  async close(): Promise<void> {
    const made = await this.#engine?.catch(() => undefined);
    this.#engine = undefined;
    if (!made) return;
    await made.engine.stop();
    await made.transport.close();
  }

  // ── for the sync engine ─────────────────────────────────────────────────────────────────────────

  /** The membership the engine works with (SPEC §17.10); ENOENT before the device is in a circle. */
  async membership(): Promise<SyncMembership> {
    const { state, actor } = await this.#member();
    const signer = deviceSigner(state.accountId, actor);
    return {
      accountId: state.accountId,
      deviceId: state.deviceId,
      signer,
      members: async () => {
        const { state: now } = await this.#member();
        return membersOf(verifyChain(parseDocument(b64.decode(now.circle))));
      },
      refresh: async () => {
        await this.refresh();
      },
    };
  }

  /** The circle document this device last verified (base64), as the server stores it; none before joining. */
  async trustedDocument(): Promise<string | undefined> {
    return (await readState(this.#kc))?.state.circle;
  }

  /** Where this device stands: account, server, trusted circle version and epoch, a pending join. */
  async info(): Promise<SyncInfo> {
    const read = await readState(this.#kc);
    const { ids: classKeyIds } = await listClassKeys(this.#kc);
    if (!read) return { classKeyIds };
    const { state } = read;
    const circle = state.circle ? verifyChain(parseDocument(b64.decode(state.circle))) : undefined;
    return {
      deviceId: state.deviceId,
      server: state.server,
      ...(state.accountId ? { accountId: state.accountId } : {}),
      ...(circle ? { version: circle.version, epoch: circle.epoch } : {}),
      ...(state.pendingJoin
        ? { pendingJoin: { code: state.pendingJoin.code, expiresAt: state.pendingJoin.expiresAt } }
        : {}),
      classKeyIds,
    };
  }
}

function sameIdentity(a: Identity, b: Identity): boolean {
  return b64.encode(cjBytes(pickIdentity(a))) === b64.encode(cjBytes(pickIdentity(b)));
}

function membersOf(circle: CircleState): MemberKeys[] {
  return circle.members.map((m) => ({
    deviceId: m.deviceId,
    ed25519: m.ed25519,
    mldsa65: m.mldsa65,
    ...(m.removedAt !== undefined ? { removedAt: m.removedAt } : {}),
  }));
}

/** What the server stores and whom it lets in: the current members and the recovery identity. */
function upload(circle: CircleState, links: readonly Link[]): CircleUpload {
  const devices = [...circle.members.filter((m) => m.removedAt === undefined), circle.recovery].map((d) => ({
    deviceId: d.deviceId,
    ed25519: d.ed25519,
    mldsa65: d.mldsa65,
  }));
  return { version: circle.version, document: encodeDocumentB64(links), devices };
}

/** The class key ids of epochs the fresh links start (a member must receive them). */
function freshEpochKeys(fresh: readonly Link[]): string[] {
  return fresh.flatMap((l) => (l.body.change.op === 'remove' ? l.body.change.classKeyIds : []));
}
