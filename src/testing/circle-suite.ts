// The device circle's behaviour (SPEC §17.9) as one suite over any sync server: run on the in-process
// model here (src/sync/circle/circle.test.ts) and on the real `SyncServer` after merging. A lying
// server is played by a wrapping transport (the `Lies` hooks), so the same attacks run on both:
// swapped join requests and replies, an older circle, forged links.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { b64 } from '../core/encoding.js';
import type { Keystore } from '../core/keystore.js';
import * as kem from '../crypto/kem.js';
import * as sig from '../crypto/sig.js';
import { CofferError } from '../errors.js';
import { parseRecord } from '../keychain/record.js';
import { registerSyncTransport, type TransportConnector } from '../sync/circle/connect.js';
import {
  encodeDocument,
  encodeDocumentB64,
  type Link,
  parseDocument,
  signLink,
  verifyChain,
} from '../sync/circle/document.js';
import { encodeInvite } from '../sync/circle/invite.js';
import { buildJoinRequest } from '../sync/circle/join.js';
import { MemoryActor } from '../sync/circle/signer.js';
import type { StoredCircle, SyncTransport } from '../sync/transport.js';
import { tempKeystore } from './keystore.js';

export interface CircleServer {
  connect: TransportConnector;
  close(): Promise<void>;
}

/** Hooks a test sets to make the server lie to the devices. */
export interface Lies {
  getCircle?: (circle: StoredCircle) => StoredCircle;
  takeJoinRequest?: (request: Uint8Array) => Uint8Array;
  takeJoinReply?: (reply: Uint8Array, mailboxId: string) => Uint8Array;
}

function lying(inner: SyncTransport, lies: Lies): SyncTransport {
  return new Proxy(inner, {
    get(target, prop) {
      if (prop === 'getCircle' && lies.getCircle)
        return async () => lies.getCircle!(await target.getCircle());
      if (prop === 'takeJoinRequest' && lies.takeJoinRequest)
        return async (id: string) => {
          const request = await target.takeJoinRequest(id);
          return request && lies.takeJoinRequest!(request);
        };
      if (prop === 'takeJoinReply' && lies.takeJoinReply)
        return async (id: string) => {
          const reply = await target.takeJoinReply(id);
          return reply && lies.takeJoinReply!(reply, id);
        };
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

let schemes = 0;

async function rejects(promise: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof CofferError, String(error));
    assert.equal(error.code, code, error.message);
    assert.match(error.message, message);
    return true;
  });
}

/** The record of an item exactly as stored (what another device receives), parsed. */
async function record(ks: Keystore, uuid: string) {
  return parseRecord((await ks.keychain.readCurrent(uuid)).stored.value);
}

const secretOf = (body: { secret: string }) => Buffer.from(body.secret, 'base64').toString();

/** A signer outside the circle: fresh keys, never added. */
function stranger(deviceId = 'eeeeeeeeeeeeeeee'): MemoryActor {
  const ed = sig.keygen('ed25519');
  const ml = sig.keygen('ml-dsa-65');
  const xw = kem.keygen('x-wing');
  return new MemoryActor(
    {
      deviceId,
      ed25519: b64.encode(ed.publicKey),
      mldsa65: b64.encode(ml.publicKey),
      xwing: b64.encode(xw.publicKey),
    },
    { ed25519: ed.secretKey, mldsa65: ml.secretKey, xwing: xw.secretKey },
  );
}

export function runCircleSuite(name: string, makeServer: (now: () => number) => Promise<CircleServer>): void {
  describe(`device circle (SPEC §17.9) on ${name}`, () => {
    const cleanups: (() => Promise<void>)[] = [];
    after(async () => {
      for (const c of cleanups.reverse()) await c();
    });

    /** A fresh server, its URL, the lies a test may set, devices on a clock the test may move. */
    async function world() {
      // One clock for the devices and the server, so a test can move time past an invite's expiry.
      const clock = { now: Date.now() };
      const server = await makeServer(() => clock.now);
      const scheme = `circle${++schemes}:`;
      const lies: Lies = {};
      const unregister = registerSyncTransport(scheme, (url, signer) =>
        lying(server.connect(url, signer), lies),
      );
      cleanups.push(async () => {
        unregister();
        await server.close();
      });
      const device = async () => {
        const made = await tempKeystore({ clock: () => clock.now });
        cleanups.push(made.cleanup);
        return made.ks;
      };
      return { url: `${scheme}//server`, lies, device, clock };
    }

    /** `a` created the circle and approved `b`. */
    async function pair() {
      const w = await world();
      const a = await w.device();
      const b = await w.device();
      const created = await a.sync.create({ server: w.url, deviceName: 'laptop' });
      const invite = await a.sync.invite();
      const pending = await b.sync.join({ server: w.url, invite, deviceName: 'phone' });
      assert.deepEqual(await b.sync.completeJoin(), { status: 'pending' });
      const requests = await a.sync.joinRequests();
      assert.deepEqual(
        requests.map((r) => [r.deviceId, r.name, r.code]),
        [[pending.deviceId, 'phone', pending.code]],
        'the sponsor sees the joiner and the same short code',
      );
      await a.sync.approve(pending.deviceId, { code: pending.code });
      assert.deepEqual(await b.sync.completeJoin(), { status: 'joined', accountId: created.accountId });
      return { ...w, a, b, created, pending };
    }

    test('create, invite, join, approve: both devices share the class keys and open each other’s items', async () => {
      const { a, b, created } = await pair();
      assert.equal(created.recoveryPhrase.split(' ').length, 24);
      const fromA = await a.keychain.add({
        kind: 'generic-password',
        attributes: { service: 'x' },
        secret: 'from a',
      });
      const fromB = await b.keychain.add({
        kind: 'generic-password',
        attributes: { service: 'x' },
        secret: 'from b',
      });
      assert.equal(secretOf(await b.keychain.decrypt(await record(a, fromA.id))), 'from a');
      assert.equal(secretOf(await a.keychain.decrypt(await record(b, fromB.id))), 'from b');
      const [ia, ib] = [await a.sync.info(), await b.sync.info()];
      assert.equal(ib.classKeyIds.at(-1), ia.classKeyIds.at(-1), 'the same current class key');
      assert.ok(
        ia.classKeyIds.every((id) => ib.classKeyIds.includes(id)),
        'b holds every class key of the circle',
      );
      assert.equal(ia.version, 2);
      assert.equal(ib.version, 2);
      const m = await b.sync.membership();
      assert.equal(m.accountId, created.accountId);
      assert.deepEqual(
        (await m.members()).map((x) => x.deviceId).sort(),
        [created.deviceId, ib.deviceId].sort(),
      );
    });

    test('devices() lists every member with name, sponsor and times, this device marked', async () => {
      const { a, b, created, pending } = await pair();
      const seen = await b.sync.devices();
      assert.deepEqual(
        seen.map((d) => [d.id, d.name, d.addedBy, d.current, d.removedAt]),
        [
          [created.deviceId, 'laptop', created.deviceId, false, undefined],
          [pending.deviceId, 'phone', created.deviceId, true, undefined],
        ],
      );
      assert.ok(seen.every((d) => typeof d.addedAt === 'number'));
      assert.deepEqual(
        (await a.sync.devices()).map((d) => d.current),
        [true, false],
      );
    });

    test('remove: a new epoch and class key; the removed device cannot read later items and is refused', async () => {
      const w = await pair();
      const { a, b } = w;
      const c = await w.device();
      const joined = await c.sync.join({
        server: w.url,
        invite: await a.sync.invite(),
        deviceName: 'tablet',
      });
      await a.sync.approve(joined.deviceId);
      await c.sync.completeJoin();
      const before = await b.sync.info();
      const removed = await a.sync.remove(before.deviceId!);
      assert.deepEqual([removed.version, removed.epoch], [4, 2]);
      const after = await a.keychain.add({
        kind: 'generic-password',
        attributes: { service: 'x' },
        secret: 'later',
      });
      const later = await record(a, after.id);
      assert.equal(later.header.parentKeyId, removed.classKeyId, 'new items use the new epoch’s key');
      // Everything b stored: its keychain lacks the new class key, and none of its keys opens the item.
      assert.ok(!(await b.sync.info()).classKeyIds.includes(removed.classKeyId));
      await rejects(b.keychain.decrypt(later), 'EBADMSG', /lacks/);
      // The server's own wording may differ; the code may not.
      await rejects(b.sync.devices(), 'EPERM', /./);
      // The remaining device picks up the new epoch on refresh and reads the item.
      const cDevices = await c.sync.devices();
      assert.ok(cDevices.find((d) => d.id === before.deviceId)?.removedAt !== undefined);
      assert.equal(secretOf(await c.keychain.decrypt(later)), 'later');
      assert.equal(
        (await c.sync.info()).classKeyIds.at(-1),
        removed.classKeyId,
        'c switched its current key',
      );
      await rejects(a.sync.remove(before.deviceId!), 'ENOENT', /not a member/);
      await rejects(a.sync.remove((await a.sync.info()).deviceId!), 'EINVAL', /cannot remove itself/);
    });

    test('recover: a new device rejoins with the phrase alone and reads the circle’s items', async () => {
      const w = await pair();
      const { a, b, created } = w;
      await a.sync.remove((await b.sync.info()).deviceId!);
      const item = await a.keychain.add({ kind: 'note', attributes: { label: 'n' }, secret: 'kept' });
      const fresh = await w.device();
      const phrase = created.recoveryPhrase.toUpperCase().replace(/ /g, '  ');
      const recovered = await fresh.sync.recover({ server: w.url, phrase, deviceName: 'new laptop' });
      assert.equal(recovered.accountId, created.accountId);
      assert.equal(recovered.version, 4);
      assert.equal(secretOf(await fresh.keychain.decrypt(await record(a, item.id))), 'kept');
      const names = (await a.sync.devices()).map((d) => [d.name, d.addedBy === created.deviceId]);
      assert.deepEqual(names, [
        ['laptop', true],
        ['phone', true],
        ['new laptop', false],
      ]);
      const wrong = created.recoveryPhrase.split(' ');
      [wrong[0], wrong[1]] = [wrong[1]!, wrong[0]!];
      const other = await w.device();
      await rejects(
        other.sync.recover({ server: w.url, phrase: wrong.join(' '), deviceName: 'x' }),
        'EINVAL',
        /mistyped|24 words/,
      );
      await rejects(
        other.sync.recover({ server: w.url, phrase: 'abandon abandon', deviceName: 'x' }),
        'EINVAL',
        /24 words/,
      );
    });

    test('invite codes: mistyped, unknown, expired and replayed codes are refused with clear errors', async () => {
      const w = await world();
      const a = await w.device();
      await a.sync.create({ server: w.url, deviceName: 'laptop' });
      const invite = await a.sync.invite({ ttlMs: 60_000 });
      const j = await w.device();
      const flipped = invite.slice(0, 10) + (invite[10] === 'a' ? 'b' : 'a') + invite.slice(11);
      await rejects(j.sync.join({ server: w.url, invite: flipped, deviceName: 'j' }), 'EINVAL', /mistyped/);
      await rejects(j.sync.join({ server: w.url, invite: 'hello', deviceName: 'j' }), 'EINVAL', /mistyped/);
      const unknown = encodeInvite({
        secret: new Uint8Array(16).fill(9),
        sponsor: new Uint8Array(16),
        expiresAt: Math.floor(w.clock.now / 1000) + 600,
      });
      await rejects(
        j.sync.join({ server: w.url, invite: unknown, deviceName: 'j' }),
        'ENOENT',
        /no such invite/,
      );
      const first = await j.sync.join({ server: w.url, invite: invite.toUpperCase(), deviceName: 'j' });
      assert.match(first.code, /^\d{3}-\d{3}$/);
      const k = await w.device();
      await rejects(k.sync.join({ server: w.url, invite, deviceName: 'k' }), 'EALREADY', /already used/);
      const late = await a.sync.invite({ ttlMs: 1000 });
      w.clock.now += 2000;
      await rejects(k.sync.join({ server: w.url, invite: late, deviceName: 'k' }), 'ENOENT', /expired/);
      await rejects(a.sync.invite({ ttlMs: 0 }), 'EINVAL', /1 second to 24 hours/);
      await rejects(a.sync.approve('0000000000000000'), 'ENOENT', /no join request/);
    });

    test('a server that swaps the joining device’s keys is caught by the MAC; a wrong short code is refused', async () => {
      const w = await world();
      const a = await w.device();
      await a.sync.create({ server: w.url, deviceName: 'laptop' });
      const j = await w.device();
      const pending = await j.sync.join({
        server: w.url,
        invite: await a.sync.invite(),
        deviceName: 'phone',
      });
      await rejects(
        a.sync.approve(pending.deviceId, { code: '000-000' === pending.code ? '000-001' : '000-000' }),
        'EPERM',
        /short code/,
      );
      const mallory = stranger(pending.deviceId);
      // The server re-signs the request with its own keys (valid proof of possession); only the
      // invite secret's MAC, which it cannot recompute, gives it away.
      let swapped: Uint8Array | undefined;
      let captured: Uint8Array | undefined;
      w.lies.takeJoinRequest = (bytes) => {
        captured = bytes;
        return swapped ?? bytes;
      };
      await a.sync.joinRequests();
      const original = JSON.parse(Buffer.from(captured ?? assert.fail('no request')).toString());
      const forged = JSON.parse(
        Buffer.from(
          await buildJoinRequest(
            mallory,
            { ...original.body, identity: mallory.identity },
            new Uint8Array(16),
          ),
        ).toString(),
      );
      swapped = new TextEncoder().encode(JSON.stringify(sortKeys({ ...forged, mac: original.mac })));
      await rejects(a.sync.approve(pending.deviceId), 'EBADMSG', /MAC/);
      assert.equal((await a.sync.info()).version, 1, 'nothing was added');
      w.lies.takeJoinRequest = undefined;
      await a.sync.approve(pending.deviceId);
      assert.equal((await j.sync.completeJoin()).status, 'joined');
    });

    test('a reply meant for another joining device is refused and nothing is installed', async () => {
      const w = await world();
      const a = await w.device();
      await a.sync.create({ server: w.url, deviceName: 'laptop' });
      const [j1, j2] = [await w.device(), await w.device()];
      const p1 = await j1.sync.join({ server: w.url, invite: await a.sync.invite(), deviceName: 'one' });
      const p2 = await j2.sync.join({ server: w.url, invite: await a.sync.invite(), deviceName: 'two' });
      await a.sync.approve(p1.deviceId);
      await a.sync.approve(p2.deviceId);
      // The server hands j2 the reply that adds j1 (the first approval's document).
      const docAddingJ1 = encodeDocument(parseDocument(b64.decode(await circleDocument(a))).slice(0, 2));
      w.lies.takeJoinReply = () =>
        new TextEncoder().encode(JSON.stringify({ circle: b64.encode(docAddingJ1), version: 2 }));
      const before = await j2.sync.info();
      await rejects(j2.sync.completeJoin(), 'EBADMSG', /does not add this device/);
      const afterInfo = await j2.sync.info();
      assert.deepEqual(afterInfo.classKeyIds, before.classKeyIds, 'no class key installed');
      assert.equal(afterInfo.accountId, undefined);
      w.lies.takeJoinReply = undefined;
      assert.equal((await j1.sync.completeJoin()).status, 'joined');
    });

    test('a lying server: older circle, non-member signer, one signature only → named errors, nothing installed', async () => {
      const w = await pair();
      const { a, b, lies } = w;
      const good = await circleDocument(b);
      const links = parseDocument(b64.decode(good));
      const state = verifyChain(links);
      const before = await b.sync.info();

      lies.getCircle = () => ({ version: 1, document: encodeDocumentB64(links.slice(0, 1)) });
      await rejects(b.sync.devices(), 'EBADMSG', /older circle version/);

      const outsider = stranger();
      const newcomer = stranger('dddddddddddddddd');
      const forged: Link = await signLink(outsider, {
        accountId: state.accountId,
        version: 3,
        epoch: state.epoch,
        prev: state.head,
        at: Date.now(),
        signer: outsider.identity.deviceId,
        change: {
          op: 'add',
          member: { ...newcomer.identity, name: 'evil', addedAt: 1, addedBy: outsider.identity.deviceId },
        },
        envelopes: [],
      });
      lies.getCircle = () => ({ version: 3, document: encodeDocumentB64([...links, forged]) });
      await rejects(b.sync.devices(), 'EBADMSG', /not signed by a member/);

      // A real member's link (a adds c) whose ML-DSA-65 signature is one over another message.
      lies.getCircle = undefined;
      const c = await w.device();
      const joined = await c.sync.join({ server: w.url, invite: await a.sync.invite(), deviceName: 'c' });
      lies.getCircle = (stored) => stored;
      await a.sync.approve(joined.deviceId);
      const signed = parseDocument(b64.decode(await circleDocument(a))).at(-1)!;
      const halfSigned: Link = {
        body: signed.body,
        sig: { ed25519: signed.sig.ed25519, mldsa65: links[1]!.sig.mldsa65 },
      };
      lies.getCircle = () => ({ version: 3, document: encodeDocumentB64([...links, halfSigned]) });
      await rejects(b.sync.refresh(), 'EBADMSG', /signature .* does not verify/);
      const edOnly: Link = {
        body: signed.body,
        sig: { ed25519: links[1]!.sig.ed25519, mldsa65: signed.sig.mldsa65 },
      };
      lies.getCircle = () => ({ version: 3, document: encodeDocumentB64([...links, edOnly]) });
      await rejects(b.sync.refresh(), 'EBADMSG', /signature .* does not verify/);

      const afterInfo = await b.sync.info();
      assert.deepEqual(afterInfo.classKeyIds, before.classKeyIds, 'nothing installed');
      assert.equal(afterInfo.version, 2, 'the trusted version did not move');
    });
  });
}

/** The trusted circle document a device holds (base64), read through its own refresh-free info. */
async function circleDocument(ks: Keystore): Promise<string> {
  return (await ks.sync.trustedDocument()) ?? assert.fail('no circle');
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object')
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
    );
  return value;
}
