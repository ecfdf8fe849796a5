// Token scope, the full app × operation matrix: for every token operation there is a token allowed only
// that operation on app `a`; every route is called with every such token on a key of app `a` and of app
// `b`. Exactly the (own operation, own app) pairs succeed. An operation outside the token is 403 EPERM;
// the own operation on a key of another app is 404 ENOENT, exactly as for a key that does not exist
// (SPEC §10.2: no existence oracle); create and list name the app themselves and answer EPERM. Admin
// routes refuse non-admin tokens even with every operation.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TOKEN_OPS, type TokenOp } from '../access/tokens.js';
import type { CofferClient } from '../client/index.js';
import type { KeyInfo } from '../core/types.js';
import { type DaemonFixture, startDaemon } from '../testing/daemon.js';

const te = new TextEncoder();
const data = te.encode('scope test');

interface AppKeys {
  app: string;
  sig: KeyInfo;
  aes: KeyInfo;
  kem: KeyInfo;
  hmac: KeyInfo;
  rot: KeyInfo;
  life: KeyInfo;
  revoke: KeyInfo;
  destroy: KeyInfo;
  /** Pre-active: the activate route's key. */
  pre: KeyInfo;
  /** An HD seed of the app: its routes check the seed's app like key routes check the key's. */
  seed: string;
  /** A keychain item in the app's access group (SPEC §16). */
  item: string;
  signature: Uint8Array;
  sealed: Uint8Array;
  ciphertext: Uint8Array;
  mac: Uint8Array;
}

type Call = [TokenOp, string, (c: CofferClient, k: AppKeys) => Promise<unknown>];

let created = 0;
const CALLS: Call[] = [
  ['read', 'getKey', (c, k) => c.getKey(k.sig.id)],
  ['read', 'publicKey', (c, k) => c.publicKey(k.sig.id, 'raw')],
  ['read', 'listKeys(app)', (c, k) => c.listKeys({ app: k.app })],
  [
    'create',
    'createKey',
    (c, k) => c.createKey({ app: k.app, purpose: `new${created++}`, algorithm: 'ed25519' }),
  ],
  ['rotate', 'rotate', (c, k) => c.rotate(k.rot.id)],
  ['suspend', 'suspend', (c, k) => c.suspend(k.life.id)],
  ['resume', 'resume', (c, k) => c.resume(k.life.id)],
  ['revoke', 'revoke', (c, k) => c.revoke(k.revoke.id, 'test')],
  ['destroy', 'destroy', (c, k) => c.destroy(k.destroy.id)],
  ['sign', 'sign', (c, k) => c.sign(k.sig.id, data)],
  ['sign', 'signBatch', (c, k) => c.signBatch(k.sig.id, [data])],
  ['verify', 'verify', (c, k) => c.verify(k.sig.id, data, k.signature)],
  ['verify', 'verifyBatch', (c, k) => c.verifyBatch(k.sig.id, [{ data, signature: k.signature }])],
  ['seal', 'seal', (c, k) => c.seal(k.aes.id, data)],
  ['seal', 'sealBatch', (c, k) => c.sealBatch(k.aes.id, [{ plaintext: data }])],
  ['unseal', 'unseal', (c, k) => c.unseal(k.aes.id, k.sealed)],
  ['unseal', 'unsealBatch', (c, k) => c.unsealBatch(k.aes.id, [{ sealed: k.sealed }])],
  ['rewrap', 'rewrap', (c, k) => c.rewrap(k.aes.id, k.sealed)],
  ['data-key', 'generateDataKey', (c, k) => c.generateDataKey(k.aes.id)],
  ['encapsulate', 'encapsulate', (c, k) => c.encapsulate(k.kem.id)],
  ['decapsulate', 'decapsulate', (c, k) => c.decapsulate(k.kem.id, k.ciphertext)],
  ['mac', 'mac', (c, k) => c.mac(k.hmac.id, data)],
  ['verify-mac', 'verifyMac', (c, k) => c.verifyMac(k.hmac.id, data, k.mac)],
  ['activate', 'activate', (c, k) => c.activate(k.pre.id)],
  ['verify', 'checkSignature', (c, k) => c.checkSignature(k.sig.id, data, k.signature)],
  [
    'create',
    'createKeys',
    (c, k) => c.createKeys([{ app: k.app, purpose: `batch${created++}`, algorithm: 'ed25519' }]),
  ],
  ['read', 'hd.getSeed', (c, k) => c.hd.getSeed(k.seed)],
  ['read', 'hd.xpub', (c, k) => c.hd.xpub(k.seed, "m/0'")],
  ['create', 'hd.deriveKey', (c, k) => c.hd.deriveKey(k.seed, { path: "m/0'/1" })],
  // Not about any app's keys: a metrics token reads the same scrape whatever its apps.
  ['metrics', 'metrics', (c) => c.metrics()],
  ['item-read', 'keychain.getInfo', (c, k) => c.keychain.getInfo(k.item)],
  ['item-reveal', 'keychain.get', (c, k) => c.keychain.get(k.item)],
  ['item-reveal', 'keychain.history', (c, k) => c.keychain.history(k.item)],
  ['item-write', 'keychain.update', (c, k) => c.keychain.update(k.item, { attributes: { comment: 'x' } })],
];
const APPLESS = new Set(['metrics']);

async function keysFor(admin: CofferClient, app: string): Promise<AppKeys> {
  const make = (purpose: string, algorithm: KeyInfo['algorithm']) =>
    admin.createKey({ app, purpose, algorithm });
  const [sig, aes, kem, hmac, rot, life, revoke, destroy, pre] = await Promise.all([
    make('sig', 'ed25519'),
    make('aes', 'aes-256-gcm'),
    make('kem', 'x-wing'),
    make('hmac', 'hmac-sha256'),
    make('rot', 'ed25519'),
    make('life', 'ed25519'),
    make('revoke', 'ed25519'),
    make('destroy', 'ed25519'),
    admin.createKey({ app, purpose: 'pre', algorithm: 'ed25519', preActive: true }),
  ]);
  const { seed } = await admin.hd.createSeed({ app, purpose: 'hd', words: 12 });
  const item = await admin.keychain.add({ kind: 'note', attributes: {}, secret: 'scope', group: app });
  return {
    app,
    sig,
    aes,
    kem,
    hmac,
    rot,
    life,
    revoke,
    destroy,
    pre: pre!,
    seed: seed.id,
    item: item.id,
    signature: (await admin.sign(sig.id, data)).signature,
    sealed: await admin.seal(aes.id, data),
    ciphertext: (await admin.encapsulate(kem.id)).ciphertext,
    mac: (await admin.mac(hmac.id, data)).mac,
  };
}

describe('token scope', () => {
  let d: DaemonFixture;
  before(async () => {
    d = await startDaemon();
  });
  after(async () => {
    await d?.cleanup();
  });

  test('every route covers every token operation', () => {
    assert.deepEqual([...new Set(CALLS.map(([op]) => op))].sort(), [...TOKEN_OPS].sort());
  });

  test('app × operation matrix: only the own operation on the own app passes', async () => {
    const own = await keysFor(d.admin, 'a');
    const other = await keysFor(d.admin, 'b');
    const outcomes: string[] = [];
    for (const tokenOp of TOKEN_OPS) {
      const { token } = await d.admin.tokens.create({ name: `only-${tokenOp}`, apps: ['a'], ops: [tokenOp] });
      const client = d.client(token);
      for (const [op, name, call] of CALLS) {
        for (const keys of [own, other]) {
          const expectAllowed = op === tokenOp && (keys === own || APPLESS.has(name));
          const namesApp = name === 'createKey' || name === 'createKeys' || name === 'listKeys(app)';
          const expected = op === tokenOp && !namesApp ? 'ENOENT' : 'EPERM';
          let code = 'ok';
          try {
            await call(client, keys);
          } catch (error) {
            code = (error as { code: string }).code;
          }
          const label = `token ${tokenOp} → ${name} on app ${keys.app}`;
          outcomes.push(`${label}: ${code}`);
          if (expectAllowed) assert.equal(code, 'ok', label);
          else assert.equal(code, expected, label);
        }
      }
    }
    assert.equal(outcomes.length, TOKEN_OPS.length * CALLS.length * 2);
  });

  test("a scoped token lists only its apps' keys; naming another app is EPERM", async () => {
    const { token } = await d.admin.tokens.create({ apps: ['a'], ops: ['read'] });
    const client = d.client(token);
    const keys = await client.listKeys();
    assert.ok(keys.length > 0);
    assert.ok(keys.every((k) => k.app === 'a'));
    await assert.rejects(client.listKeys({ app: 'b' }), { code: 'EPERM' });
  });

  test("a token with apps ['*'] reaches every app, still only for its operations", async () => {
    const { token } = await d.admin.tokens.create({ apps: ['*'], ops: ['sign'] });
    const client = d.client(token);
    const b = (await d.admin.listKeys({ app: 'b', purpose: 'sig' }))[0] as KeyInfo;
    assert.equal((await client.sign(b.id, data)).version, 1);
    await assert.rejects(client.getKey(b.id), { code: 'EPERM' });
    await assert.rejects(client.getKey('k_aaaaaaaaaaaaaaaaaaaaaaaaaa'), { code: 'EPERM' });
  });

  test('admin routes refuse a non-admin token that has every operation', async () => {
    const { token, id } = await d.admin.tokens.create({ apps: ['*'], ops: ['*'] });
    const client = d.client(token);
    for (const call of [
      () => client.tokens.create({ apps: ['a'], ops: ['sign'] }),
      () => client.tokens.list(),
      () => client.tokens.revoke(id),
      () => client.auditTail(),
      () => client.verifyAudit(),
      () => client.listProtectors(),
      () => client.lock(),
    ]) {
      await assert.rejects(call(), { code: 'EPERM' });
    }
    assert.equal((await d.admin.status()).locked, false);
  });
});
