// Trust anchors (SPEC §14.13): k-of-n acceptance of detached signatures (raw and JWS) over a file,
// with each anchor counted once, anchors given as PEM, OpenSSH and JWK, and the set document strict.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as sig from '../crypto/sig.js';
import { CofferError } from '../errors.js';
import { signCompactJws } from './jose.js';
import { publicKeyToJwk, publicKeyToOpenSsh, publicKeyToPem } from './public-key.js';
import { parseAnchorSet, verifyBundle } from './trust-anchors.js';

const einval = (e: unknown) => e instanceof CofferError && e.code === 'EINVAL';
const alice = sig.keygen('ed25519');
const bob = sig.keygen('ecdsa-p256');
const carol = sig.keygen('ml-dsa-65');
const FILE = new TextEncoder().encode('release-1.2.3.tar.gz contents');

const document = {
  format: 'coffer-anchors',
  version: 1,
  name: 'release',
  threshold: 2,
  anchors: [
    { name: 'alice', key: publicKeyToPem('ed25519', alice.publicKey) },
    { name: 'bob', key: publicKeyToOpenSsh('ecdsa-p256', bob.publicKey, 'bob@laptop') },
    { name: 'carol', key: publicKeyToJwk('ml-dsa-65', carol.publicKey) },
  ],
};

test('2-of-3: one signer is not enough, two are, a repeated signer counts once', async () => {
  const set = parseAnchorSet(JSON.stringify(document));
  const a = { signature: sig.sign('ed25519', alice.secretKey, FILE) };
  const b = { anchor: 'bob', signature: sig.sign('ecdsa-p256', bob.secretKey, FILE) };
  const c = { signature: sig.sign('ml-dsa-65', carol.secretKey, FILE) };
  assert.deepEqual(await verifyBundle(set, FILE, [a]), { signers: ['alice'], accepted: false });
  assert.deepEqual(
    await verifyBundle(set, FILE, [a, a, { signature: sig.sign('ed25519', alice.secretKey, FILE) }]),
    { signers: ['alice'], accepted: false },
  );
  assert.deepEqual(await verifyBundle(set, FILE, [a, b]), { signers: ['alice', 'bob'], accepted: true });
  assert.deepEqual(await verifyBundle(set, FILE, [c, b, a]), {
    signers: ['alice', 'bob', 'carol'],
    accepted: true,
  });
  // Signatures over another file, by strangers, or credited to the wrong anchor count for nothing.
  const other = new TextEncoder().encode('tampered');
  assert.deepEqual(await verifyBundle(set, other, [a, b]), { signers: [], accepted: false });
  const stranger = { signature: sig.sign('ed25519', sig.keygen('ed25519').secretKey, FILE) };
  assert.deepEqual((await verifyBundle(set, FILE, [a, stranger])).accepted, false);
  assert.deepEqual(
    (await verifyBundle(set, FILE, [{ anchor: 'carol', signature: a.signature }, b])).signers,
    ['bob'],
  );
});

test('detached JWS (RFC 7515 App. F) over the file counts for the anchor its kid names', async () => {
  const set = parseAnchorSet(document);
  const token = await signCompactJws(FILE, { alg: 'ed25519', kid: 'alice' }, (m) =>
    sig.sign('ed25519', alice.secretKey, m),
  );
  const [h, , s] = token.split('.');
  const detached = { jws: `${h}..${s}` };
  const b = { signature: sig.sign('ecdsa-p256', bob.secretKey, FILE) };
  assert.deepEqual(await verifyBundle(set, FILE, [detached, b]), {
    signers: ['alice', 'bob'],
    accepted: true,
  });
  assert.deepEqual((await verifyBundle(set, new TextEncoder().encode('x'), [detached])).signers, []);
  await assert.rejects(verifyBundle(set, FILE, [{ jws: token }]), einval); // payload not detached
});

test('the anchor-set document is strict', () => {
  const bad = (patch: Record<string, unknown>) => () => parseAnchorSet({ ...document, ...patch });
  assert.throws(bad({ threshold: 0 }), einval);
  assert.throws(bad({ threshold: 4 }), einval);
  assert.throws(bad({ threshold: 1.5 }), einval);
  assert.throws(bad({ format: 'other' }), einval);
  assert.throws(bad({ extra: true }), einval);
  assert.throws(
    bad({
      anchors: [...document.anchors, { name: 'alice2', key: publicKeyToOpenSsh('ed25519', alice.publicKey) }],
    }),
    /twice/,
  );
  assert.throws(
    bad({
      anchors: [
        ...document.anchors,
        { name: 'alice', key: publicKeyToPem('ed25519', sig.keygen('ed25519').publicKey) },
      ],
    }),
    /duplicate/,
  );
  assert.throws(bad({ anchors: [{ name: 'x', key: 'not a key' }] }), einval);
  assert.throws(() => parseAnchorSet('{'), einval);
});
