// Key lifecycle of SPEC §2 / SPEC §2 through the Keystore with an injected clock: rotation and
// grace periods, minDecryptionVersion, suspend/resume, revoke, destroy, emergency rotation,
// pre-active keys, and the transition history (when, who, why).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { openStorage } from '../storage/open.js';
import { tempKeystore } from '../testing/keystore.js';

const enc = new TextEncoder();
const HOUR = 3_600_000;

describe('lifecycle', () => {
  let now = Date.UTC(2026, 0, 1);
  let fixture: Awaited<ReturnType<typeof tempKeystore>>;
  before(async () => {
    fixture = await tempKeystore({ clock: () => now, actor: 'alice', cacheTtlMs: 0 });
  });
  after(async () => {
    await fixture.cleanup();
  });

  test('rotate: new primary signs, old version verifies until its grace period ends → EKEYEXPIRED', async () => {
    const { ks } = fixture;
    const key = await ks.createKey({
      app: 'a',
      purpose: 'sig',
      algorithm: 'ed25519',
      rotation: { gracePeriodMs: 24 * HOUR },
    });
    const old = await ks.sign(key.id, enc.encode('m'));
    now += HOUR;
    const rotated = await ks.rotate(key.id, { reason: 'scheduled' });
    assert.equal(rotated.primaryVersion, 2);
    assert.deepEqual(
      rotated.versions.map((v) => [v.version, v.state]),
      [
        [1, 'deactivated'],
        [2, 'active'],
      ],
    );
    assert.equal(rotated.versions[0]!.graceEndsAt, now + 24 * HOUR);
    const fresh = await ks.sign(key.id, enc.encode('m'));
    assert.equal(fresh.version, 2);
    assert.equal(await ks.verify(key.id, enc.encode('m'), old.signature), true);
    assert.equal(await ks.verify(key.id, enc.encode('m'), old.signature, { version: 1 }), true);
    assert.equal(await ks.verify(key.id, enc.encode('m'), old.signature, { version: 2 }), false);
    now += 24 * HOUR;
    await assert.rejects(ks.verify(key.id, enc.encode('m'), old.signature, { version: 1 }), {
      code: 'EKEYEXPIRED',
    });
    assert.equal(await ks.verify(key.id, enc.encode('m'), old.signature), false);
    assert.equal(await ks.verify(key.id, enc.encode('m'), fresh.signature), true);
  });

  test('minDecryptionVersion archives old versions: unseal of v1 → EKEYEXPIRED; it only moves forward', async () => {
    const { ks } = fixture;
    const key = await ks.createKey({ app: 'a', purpose: 'enc', algorithm: 'xchacha20-poly1305' });
    const v1 = await ks.seal(key.id, enc.encode('one'));
    await ks.rotate(key.id);
    const v2 = await ks.seal(key.id, enc.encode('two'));
    assert.deepEqual(await ks.unseal(key.id, v1), enc.encode('one'));
    await ks.setMinDecryptionVersion(key.id, 2);
    await assert.rejects(ks.unseal(key.id, v1), { code: 'EKEYEXPIRED' });
    assert.deepEqual(await ks.unseal(key.id, v2), enc.encode('two'));
    await assert.rejects(ks.setMinDecryptionVersion(key.id, 1), { code: 'EINVAL' });
    await assert.rejects(ks.setMinDecryptionVersion(key.id, 3), { code: 'EINVAL' });
    await assert.rejects(ks.setMinDecryptionVersion(key.id, 2), { code: 'EALREADY' });
  });

  test('suspend blocks protect ops (ESTATE) but still processes; resume restores', async () => {
    const { ks } = fixture;
    const key = await ks.createKey({ app: 'a', purpose: 'susp', algorithm: 'aes-256-gcm' });
    const sealed = await ks.seal(key.id, enc.encode('x'));
    await ks.suspend(key.id, { reason: 'investigating' });
    await assert.rejects(ks.seal(key.id, enc.encode('y')), { code: 'ESTATE' });
    assert.deepEqual(await ks.unseal(key.id, sealed), enc.encode('x'));
    await assert.rejects(ks.suspend(key.id), { code: 'EALREADY' });
    await ks.resume(key.id);
    await assert.rejects(ks.resume(key.id), { code: 'EALREADY' });
    await ks.seal(key.id, enc.encode('y'));
    const info = await ks.getKey(key.id);
    const last = info.history.at(-1)!;
    assert.deepEqual([last.from, last.to, last.actor, last.at], ['suspended', 'active', 'alice', now]);
    assert.equal(info.history.at(-2)!.reason, 'investigating');
  });

  test('revoke: every private operation → EKEYREVOKED, verify too; a version can be revoked alone', async () => {
    const { ks } = fixture;
    const key = await ks.createKey({ app: 'a', purpose: 'rev', algorithm: 'ecdsa-p256' });
    const { signature } = await ks.sign(key.id, enc.encode('m'));
    await ks.revoke(key.id, 'key leaked');
    await assert.rejects(ks.sign(key.id, enc.encode('m')), { code: 'EKEYREVOKED' });
    await assert.rejects(ks.verify(key.id, enc.encode('m'), signature), { code: 'EKEYREVOKED' });
    const info = await ks.getKey(key.id);
    assert.equal(info.state, 'compromised');
    assert.equal(info.versions[0]!.state, 'compromised');
    assert.equal(info.history.at(-1)!.reason, 'key leaked');

    const two = await ks.createKey({ app: 'a', purpose: 'rev', algorithm: 'aes-256-gcm' });
    const s1 = await ks.seal(two.id, enc.encode('1'));
    await ks.rotate(two.id);
    await ks.revoke(two.id, 'v1 exposed', { version: 1 });
    await assert.rejects(ks.unseal(two.id, s1), { code: 'EKEYREVOKED' });
    await ks.seal(two.id, enc.encode('still works on v2'));
  });

  test('emergency rotation: new version, old version compromised at once, incident recorded', async () => {
    const { ks } = fixture;
    const key = await ks.createKey({ app: 'a', purpose: 'emerg', algorithm: 'ed25519' });
    const old = await ks.sign(key.id, enc.encode('m'));
    const info = await ks.emergencyRotate(key.id, { id: 'INC-7', description: 'laptop stolen' });
    assert.equal(info.primaryVersion, 2);
    assert.equal(info.versions[0]!.state, 'compromised');
    await assert.rejects(ks.verify(key.id, enc.encode('m'), old.signature, { version: 1 }), {
      code: 'EKEYREVOKED',
    });
    assert.equal((await ks.sign(key.id, enc.encode('m'))).version, 2);
    const tail = await ks.auditTail(1);
    assert.equal(tail[0]!.event, 'key.emergency-rotate');
    assert.deepEqual(tail[0]!.details?.incident, { id: 'INC-7', description: 'laptop stolen' });
    await assert.rejects(ks.emergencyRotate(key.id, { description: '' }), { code: 'EINVAL' });
  });

  test('destroy wipes the material from storage, keeps metadata; operations → EKEYREVOKED', async () => {
    const { ks, url } = fixture;
    const key = await ks.createKey({ app: 'a', purpose: 'destroy', algorithm: 'ed25519' });
    await ks.rotate(key.id);
    await ks.destroy(key.id, { reason: 'retired' });
    await assert.rejects(ks.sign(key.id, enc.encode('m')), { code: 'EKEYREVOKED' });
    const info = await ks.getKey(key.id);
    assert.equal(info.state, 'destroyed');
    assert.ok(info.versions.every((v) => v.state === 'destroyed' && v.destroyedAt === now));
    await ks.close();
    // Reopen the raw store: the version records no longer hold a wrapped secret.
    const { Keystore } = await import('./keystore.js');
    const { passphrase } = await import('../testing/keystore.js');
    const storage = await openStorage(url);
    const versions = await storage.list(`keystore/a/destroy/${key.id}/v/`);
    assert.equal(versions.length, 2);
    await storage.close();
    const again = await Keystore.open({
      store: url,
      protector: passphrase(),
      clock: () => now,
      actor: 'alice',
      cacheTtlMs: 0,
    });
    await assert.rejects(again.rotate(key.id), { code: 'EKEYREVOKED' });
    fixture.ks = again;
  });

  test('pre-active keys: ESTATE until the activation time, then active by themselves', async () => {
    const { ks } = fixture;
    const key = await ks.createKey({
      app: 'a',
      purpose: 'later',
      algorithm: 'ed25519',
      activatesAt: now + HOUR,
    });
    assert.equal(key.state, 'pre-active');
    await assert.rejects(ks.sign(key.id, enc.encode('m')), { code: 'ESTATE' });
    now += HOUR;
    assert.equal((await ks.getKey(key.id)).state, 'active');
    assert.equal((await ks.sign(key.id, enc.encode('m'))).version, 1);
    const manual = await ks.createKey({
      app: 'a',
      purpose: 'later',
      algorithm: 'aes-256-gcm',
      preActive: true,
    });
    await assert.rejects(ks.seal(manual.id, enc.encode('x')), { code: 'ESTATE' });
    await ks.activate(manual.id);
    await ks.seal(manual.id, enc.encode('x'));
  });

  test('usage is counted per version and persisted', async () => {
    const { ks } = fixture;
    const key = await ks.createKey({ app: 'a', purpose: 'count', algorithm: 'hmac-sha256' });
    for (let i = 0; i < 5; i++) await ks.mac(key.id, enc.encode(`m${i}`));
    await ks.rotate(key.id);
    for (let i = 0; i < 3; i++) await ks.mac(key.id, enc.encode(`m${i}`));
    assert.deepEqual(await ks.usage(key.id), { '1': 5, '2': 3 });
    await ks.lock();
    const { passphrase } = await import('../testing/keystore.js');
    await ks.unlock(passphrase());
    assert.deepEqual(await ks.usage(key.id), { '1': 5, '2': 3 });
  });
});

test('destroy keeps the public key: old signatures stay attributable, the secret is gone', async () => {
  const { ks, cleanup } = await tempKeystore();
  const key = await ks.createKey({ app: 'a', purpose: 'keep-pub', algorithm: 'ed25519' });
  const before = (await ks.publicKey(key.id, 'raw')) as Uint8Array;
  await ks.destroy(key.id, { reason: 'retired' });
  ks.dropCaches();
  assert.deepEqual(await ks.publicKey(key.id, 'raw'), before);
  await assert.rejects(ks.sign(key.id, enc.encode('m')), { code: 'EKEYREVOKED' });
  await cleanup();
});

test('transition table: every refused transition has its code and changes nothing', async () => {
  const { ks, cleanup } = await tempKeystore();
  const pre = await ks.createKey({ app: 'a', purpose: 'table', algorithm: 'ed25519', preActive: true });
  await assert.rejects(ks.suspend(pre.id), { code: 'ESTATE' });
  await assert.rejects(ks.resume(pre.id), { code: 'ESTATE' });
  await assert.rejects(ks.rotate(pre.id), { code: 'ESTATE' });
  await assert.rejects(ks.verify(pre.id, enc.encode('m'), new Uint8Array(64)), { code: 'ESTATE' });
  await ks.activate(pre.id);
  await assert.rejects(ks.activate(pre.id), { code: 'EALREADY' });
  await assert.rejects(ks.revoke(pre.id, 'r', { version: 9 }), { code: 'ENOENT' });
  await assert.rejects(ks.verify(pre.id, enc.encode('m'), new Uint8Array(64), { version: 9 }), {
    code: 'ENOENT',
  });
  await ks.destroy(pre.id, { version: 1 });
  await assert.rejects(ks.destroy(pre.id, { version: 1 }), { code: 'EALREADY' });
  await assert.rejects(ks.revoke(pre.id, 'r', { version: 1 }), { code: 'EKEYREVOKED' });
  await ks.destroy(pre.id);
  const before = await ks.getKey(pre.id);
  await assert.rejects(ks.destroy(pre.id), { code: 'EALREADY' });
  await assert.rejects(ks.revoke(pre.id, 'late'), { code: 'EKEYREVOKED' });
  await assert.rejects(ks.activate(pre.id), { code: 'EKEYREVOKED' });
  assert.deepEqual(await ks.getKey(pre.id), before);
  await cleanup();
});
