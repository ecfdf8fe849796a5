// One operations surface, three transports: the same scenario — keys and lifecycle, signatures
// (public verification of a compromised key, ECDSA DER recognised), sealing, MACs, HD seeds and
// accounts, backups, rotation, tokens, audit — runs against a keystore in this process
// (localOperations), the daemon (CofferClient) and the per-user agent (its socket protocol), and must
// give the same transcript on each: results and error codes alike. A method implemented differently
// on one side shows up as a difference here.
import assert from 'node:assert/strict';
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { CofferOperations } from '../client/surface.js';
import { Keystore } from '../core/keystore.js';
import { CofferError } from '../errors.js';
import { type DaemonFixture, startDaemon } from '../testing/daemon.js';
import { passphrase, type TempDir, tempDir } from '../testing/keystore.js';
import { AgentConnection } from './agent/client.js';
import { agentSocket, storeIdentity } from './agent/paths.js';
import { type RunningAgent, startAgent } from './agent/server.js';
import { localOperations } from './local.js';

const te = new TextEncoder();
const data = te.encode('one surface');

async function code(work: Promise<unknown>): Promise<string> {
  try {
    await work;
    return 'ok';
  } catch (error) {
    return error instanceof CofferError ? error.code : `not a CofferError: ${String(error)}`;
  }
}

/** The scenario: returns what happened, with ids and bytes replaced by what they must be. */
async function scenario(ops: CofferOperations): Promise<unknown[]> {
  const t: unknown[] = [];
  const ed = await ops.createKey({ app: 'p', purpose: 'sig', algorithm: 'ed25519' });
  const p256 = await ops.createKey({ app: 'p', purpose: 'p256', algorithm: 'ecdsa-p256' });
  const [aes, xw] = await ops.createKeys([
    { app: 'p', purpose: 'box', algorithm: 'aes-256-gcm' },
    { app: 'p', purpose: 'escrow', algorithm: 'x-wing' },
  ]);
  const hmac = await ops.createKey({ app: 'p', purpose: 'mac', algorithm: 'hmac-sha256' });
  const pre = await ops.createKey({ app: 'p', purpose: 'pre', algorithm: 'ed25519', preActive: true });
  t.push(['created', ed.state, p256.algorithm, aes!.algorithm, xw!.algorithm, pre.state]);

  // Signatures, and verification as a public operation.
  const { signature } = await ops.sign(ed.id, data);
  t.push([
    'verify',
    await ops.verify(ed.id, data, signature),
    await ops.verify(ed.id, te.encode('x'), signature),
  ]);
  const der = (await ops.sign(p256.id, data, { encoding: 'der' })).signature;
  const recognised = await ops.checkSignature(p256.id, data, der);
  t.push(['der recognised', recognised.valid, recognised.encoding, recognised.version]);
  t.push(['sign with hmac', await code(ops.sign(hmac.id, data))]);

  // Sealing and MACs.
  const sealed = await ops.seal(aes!.id, data, { aad: 'a=1' });
  t.push(['unseal', Buffer.from(await ops.unseal(aes!.id, sealed, { aad: 'a=1' })).toString()]);
  const wrongAad = await ops.unseal(aes!.id, sealed, { aad: 'a=2' }).catch((e: CofferError) => e);
  t.push(['wrong aad', (wrongAad as CofferError).code, (wrongAad as CofferError).message.includes(aes!.id)]);
  const xsealed = await ops.seal(xw!.id, data, { aad: 'x' });
  const xWrong = await ops.unseal(xw!.id, xsealed, { aad: 'y' }).catch((e: CofferError) => e);
  t.push(['x-wing wrong aad names the key', (xWrong as CofferError).message.includes(xw!.id)]);
  const tag = await ops.mac(hmac.id, data);
  t.push([
    'mac',
    tag.mac.length,
    await ops.verifyMac(hmac.id, data, tag.mac),
    await ops.verifyMac(hmac.id, te.encode('x'), tag.mac),
  ]);

  // Lifecycle: activate, revoke; a compromised key still answers checkSignature, not verify.
  t.push(['sign pre-active', await code(ops.sign(pre.id, data))]);
  t.push(['activate', (await ops.activate(pre.id)).state]);
  await ops.revoke(ed.id, 'test');
  const check = await ops.checkSignature(ed.id, data, signature);
  t.push([
    'compromised',
    check.valid,
    check.keyState,
    check.versionState,
    await code(ops.verify(ed.id, data, signature)),
  ]);

  // HD seeds, derivation, accounts.
  const { seed, mnemonic } = await ops.hd.createSeed({ app: 'w', purpose: 'btc', words: 12 });
  const imported = await ops.hd.importSeed({ app: 'w', purpose: 'copy', mnemonic });
  t.push(['seeds', mnemonic.split(' ').length, seed.fingerprint === imported.fingerprint, imported.source]);
  const derived = await ops.hd.deriveKey(seed.id, { path: "m/84'/0'/0'/0/0" });
  const again = await ops.hd.deriveKey(seed.id, { path: "m/84'/0'/0'/0/0" });
  const twin = await ops.hd.deriveKey(imported.id, { path: "m/84'/0'/0'/0/0" });
  const pubA = (await ops.publicKey(derived.id, 'raw')) as Uint8Array;
  const pubB = (await ops.publicKey(twin.id, 'raw')) as Uint8Array;
  t.push(['derive', derived.id === again.id, Buffer.compare(pubA, pubB), derived.labels['hd-path']]);
  t.push(['xpub', (await ops.hd.xpub(seed.id, "m/84'/0'/0'")).slice(0, 4)]);
  await ops.hd.createAccount(seed.id, { coinType: 0 });
  const first = await ops.hd.nextKey(seed.id, { coinType: 0 });
  const second = await ops.hd.nextKey(seed.id, { coinType: 0 });
  t.push(['accounts', first.path, second.path, (await ops.hd.getAccount(seed.id, 0)).next.receive]);
  t.push([
    'derived keys',
    (await ops.hd.derivedKeys(seed.id)).length,
    (await ops.hd.listSeeds({ app: 'w' })).length,
  ]);
  t.push([
    'destroy seed',
    (await ops.hd.destroySeed(imported.id)).state,
    await code(ops.hd.deriveKey(imported.id, { path: 'm/1' })),
  ]);

  // Backups as bytes, to an X-Wing key of this keystore.
  const backup = await ops.backup.create({ recipient: { keyId: xw!.id }, app: 'p' });
  t.push(['backup', backup.kind, backup.keyCount, backup.backup.length === backup.bytes]);
  const report = await ops.backup.restore(backup.backup, { mode: 'skip-existing' });
  t.push([
    'restore',
    report.skipped.length,
    report.restored.length,
    await code(ops.backup.restore(backup.backup)),
  ]);

  // Rotation: a held rotation, its confirmation, an emergency.
  const held = await ops.createKey({
    app: 'p',
    purpose: 'held',
    algorithm: 'ed25519',
    rotation: { intervalMs: 1, requireConfirmation: true },
  });
  await new Promise((r) => setTimeout(r, 5));
  const due = await ops.rotation.due();
  t.push(['due', due.events.filter((e) => e.keyId === held.id).map((e) => e.type)]);
  const confirmed = await ops.rotation.confirm(held.id);
  t.push(['confirm', confirmed.type, confirmed.newVersion]);
  const alert = await ops.rotation.emergency(p256.id, { description: 'test' });
  t.push(['emergency', alert.type, (await ops.getKey(p256.id)).versions.map((v) => v.state)]);

  // Tokens, audit, keyslots.
  const made = await ops.tokens.create({ apps: ['p'], ops: ['sign'], name: 'parity' });
  t.push(['tokens', (await ops.tokens.list()).some((k) => k.id === made.id && k.name === 'parity')]);
  await ops.tokens.revoke(made.id);
  t.push([
    'revoked',
    (await ops.tokens.list()).some((k) => k.id === made.id),
    await code(ops.tokens.revoke(made.id)),
  ]);
  t.push(['audit', (await ops.verifyAudit()).ok, (await ops.auditTail(5)).length]);
  // Audit pages (SPEC §8.1): the same events, a cursor while more follow, EINVAL for a forged one.
  const newest = await ops.auditPage({ order: 'desc', limit: 2, event: 'key.' });
  const next = await ops.auditPage({ order: 'desc', limit: 2, event: 'key.', cursor: newest.cursor! });
  t.push([
    'audit pages',
    newest.entries.map((e) => e.event),
    next.entries.length,
    await code(ops.auditPage({ cursor: 'AQ' })),
  ]);
  t.push(['protectors', (await ops.listProtectors()).map((p) => p.type)]);
  t.push(['missing', await code(ops.getKey('k_aaaaaaaaaaaaaaaaaaaaaaaaaa'))]);
  return t;
}

describe('the operations surface gives the same answers in process, through the daemon and through the agent', () => {
  let daemon: DaemonFixture;
  let dir: TempDir;
  let direct: Keystore;
  let agent: RunningAgent;
  let connection: AgentConnection;

  before(async () => {
    daemon = await startDaemon();
    dir = tempDir('coffer-surface-');
    chmodSync(dir.path, 0o700);
    direct = await Keystore.open({
      store: `sqlite:${join(dir.path, 'direct.db')}`,
      protector: passphrase(),
      create: true,
    });
    const agentStore = `sqlite:${join(dir.path, 'agent.db')}`;
    const ks = await Keystore.open({ store: agentStore, protector: passphrase(), create: true });
    const env = { XDG_RUNTIME_DIR: dir.path };
    const { ensureRuntimeDir } = await import('./agent/paths.js');
    const socketDir = ensureRuntimeDir(env);
    agent = await startAgent({
      ops: localOperations(ks),
      store: storeIdentity(agentStore),
      socket: agentSocket(socketDir, agentStore),
      idleMs: 60_000,
      version: 'test',
    });
    connection = (await AgentConnection.open(env, agentStore))!;
    assert.ok(connection, 'the agent answers on its socket');
  });

  after(async () => {
    connection?.close();
    await agent?.stop('test over');
    await direct?.close();
    await daemon?.cleanup();
    dir?.remove();
  });

  test('same transcript on all three', async () => {
    const local = await scenario(localOperations(direct));
    const viaDaemon = await scenario(daemon.admin);
    const viaAgent = await scenario(connection.operations());
    assert.deepEqual(viaDaemon, local);
    assert.deepEqual(viaAgent, local);
    // And the transcript says what it must (not merely the same thing three times).
    const get = (name: string) => local.find((step) => (step as unknown[])[0] === name) as unknown[];
    assert.deepEqual(get('verify'), ['verify', true, false]);
    assert.deepEqual(get('der recognised'), ['der recognised', true, 'der', 1]);
    assert.deepEqual(get('sign with hmac'), ['sign with hmac', 'EPERM']);
    assert.deepEqual(get('wrong aad'), ['wrong aad', 'EBADMSG', true]);
    assert.deepEqual(get('x-wing wrong aad names the key'), ['x-wing wrong aad names the key', true]);
    assert.deepEqual(get('compromised'), ['compromised', true, 'compromised', 'compromised', 'EKEYREVOKED']);
    assert.deepEqual(get('derive'), ['derive', true, 0, "m/84'/0'/0'/0/0"]);
    assert.deepEqual(get('accounts'), ['accounts', "m/44'/0'/0'/0/0", "m/44'/0'/0'/0/1", 2]);
    assert.deepEqual(get('restore'), ['restore', 6, 0, 'EALREADY']);
    assert.deepEqual(get('due'), ['due', ['awaiting_confirmation']]);
    assert.deepEqual(get('confirm'), ['confirm', 'rotated', 2]);
    assert.deepEqual(get('emergency'), ['emergency', 'alert', ['compromised', 'active']]);
    assert.deepEqual(get('revoked'), ['revoked', false, 'ENOENT']);
  });

  test('the agent answers the surface and nothing else, and only for its store', async () => {
    await assert.rejects(connection.call('dangerouslyExportKeyMaterial', []), { code: 'EINVAL' });
    await assert.rejects(connection.call('writeRecords', ['daemon', []]), { code: 'EINVAL' });
    await assert.rejects(connection.call('close', []), { code: 'EINVAL' });
    const status = await connection.status();
    assert.equal(status.store, storeIdentity(`sqlite:${join(dir.path, 'agent.db')}`));
  });
});
