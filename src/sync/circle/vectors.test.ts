// SPEC §17.9 vectors: the recovery identity derived from a fixed phrase, fingerprints, the invite
// code, mailbox id, short code, request MAC and a class-key envelope, recomputed from their inputs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { insecureSeededRng } from '../../crypto/rng.js';
import { cjBytes, fingerprint, hex, sha256 } from './codec.js';
import { openEnvelope, sealEnvelope } from './envelope.js';
import { encodeInvite, mailboxId, parseInvite, requestMac, shortCode } from './invite.js';
import { phraseEntropy, recoveryAccountId, recoveryActor, recoveryPhrase } from './recovery.js';

const seq = (a: number, n: number) => Uint8Array.from({ length: n }, (_, i) => (a + i) & 255);
const E = seq(0, 32);
const PHRASE =
  'abandon amount liar amount expire adjust cage candy arch gather drum bullet absurd math era live bid rhythm alien crouch range attend journey unaware';

test('recovery identity from entropy seq(0x00, 32) (SPEC §17.9)', () => {
  assert.equal(recoveryPhrase(E), PHRASE);
  assert.deepEqual(phraseEntropy(PHRASE), E);
  const r = recoveryActor(E);
  assert.equal(recoveryAccountId(E), 'ac_dmybztjxn4zicg45');
  assert.equal(r.identity.deviceId, 'd98003436cefed5a');
  assert.equal(
    Buffer.from(r.identity.ed25519, 'base64').toString('hex'),
    '3dad4829f38c72eb5a4b8c35a1f6269e77ae46ec8068e3c9a4a568d7a082a695',
  );
  assert.equal(
    hex(sha256(Buffer.from(r.identity.mldsa65, 'base64'))),
    '5934ea858b850ae1699f35bbff61b89af9f36dfae3729f43bf6a5ac07cda46d7',
  );
  assert.equal(
    hex(sha256(Buffer.from(r.identity.xwing, 'base64'))),
    '7268c14e4a7eb06bfb510b5af25e798227afa7edfd58eacf197dce85a869e3c6',
  );
  assert.equal(hex(fingerprint(r.identity)), 'af6061f8e65a9080f37fa1fd352b9dfc');
  r.wipe();
});

test('invite code, mailbox id, short code and request MAC (SPEC §17.9)', () => {
  const invite = { secret: seq(0, 16), sponsor: seq(0x10, 16), expiresAt: 1700000000 };
  const code = 'aeaac-aqdaq-cqmby-ibefa-wdanb-yhrae-iscmk-bkfqx-damru-gy4du-pb6zk-t6eab-z4a';
  assert.equal(encodeInvite(invite), code);
  assert.deepEqual(parseInvite(code.toUpperCase().replace(/-/g, ' '), 1699999999000), invite);
  assert.equal(mailboxId(invite.secret), 'cb0d079707221b0aa65800e780bb8d65481980df0b862474da4ca43ef60f96e5');
  assert.equal(shortCode(invite.secret, invite.sponsor, seq(0x20, 16)), '131-045');
  assert.equal(
    hex(requestMac(invite.secret, new TextEncoder().encode('{}'))),
    'a16f9c7f667d12be73a324bad63a0378bf961b4b5963497f5b56d4b177787e51',
  );
});

test('class-key envelope to the recovery identity, nonces from a seeded RNG (SPEC §17.9)', async () => {
  const r = recoveryActor(E);
  const rng = insecureSeededRng(new TextEncoder().encode('coffer circle vectors'));
  const ctx = { accountId: recoveryAccountId(E), epoch: 1, version: 1 };
  const key = { epoch: 1, id: 'ck_aaaaaaaaaaaaaaaa', key: seq(0x40, 32) };
  const envelope = sealEnvelope(ctx, '0123456789abcdef', r.identity, [key], rng);
  assert.equal(cjBytes(envelope).length, 1745);
  assert.equal(
    hex(sha256(cjBytes(envelope))),
    '36375f1e3ac94c82c0f7f8a224b4c9c05a148e78675cf0f2eb5970479628a245',
  );
  assert.deepEqual(await openEnvelope(ctx, envelope, r), [key]);
  // The context binds: another epoch, version, account or sender does not open it.
  for (const other of [
    { ...ctx, epoch: 2 },
    { ...ctx, version: 2 },
    { ...ctx, accountId: 'ac_aaaaaaaaaaaaaaaa' },
  ])
    await assert.rejects(openEnvelope(other, envelope, r), { code: 'EBADMSG' });
  await assert.rejects(openEnvelope(ctx, { ...envelope, from: 'fedcba9876543210' }, r), { code: 'EBADMSG' });
  r.wipe();
});
