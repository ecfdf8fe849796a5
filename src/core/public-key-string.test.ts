// The coffer public-key string (K-spec): round trip, strict parsing, the checksum catching every
// single-character change, and the end-to-end promise — a blob sealed to the string opens with
// the keystore's unseal of that key and version.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { CofferError } from '../errors.js';
import { tempKeystore } from '../testing/keystore.js';
import { sealToPublicKey } from './operations.js';
import { encodePublicKeyString, parsePublicKeyString, XWING_PUBLIC_KEY_LENGTH } from './public-key-string.js';

const KEY_ID = 'k_abcdefghijklmnopqrstuvwxyz';
const isEinval = (error: unknown) => error instanceof CofferError && error.code === 'EINVAL';

test('vector: fixed key bytes give a fixed string', () => {
  const publicKey = new Uint8Array(XWING_PUBLIC_KEY_LENGTH).map((_, i) => i & 0xff);
  const text = encodePublicKeyString({ keyId: KEY_ID, version: 7, publicKey });
  assert.match(text, /^coffer1:xwing:k_abcdefghijklmnopqrstuvwxyz:7:AAECAwQF[A-Za-z0-9_-]+:[0-9a-f]{8}$/);
  assert.equal(text.split(':')[4]!.length, 1622);
  // Checksum computed independently (Python hashlib) from the K-spec definition.
  assert.equal(text.slice(-8), 'e7f1148c');
});

test('round trip for any key bytes, id and version', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: XWING_PUBLIC_KEY_LENGTH, maxLength: XWING_PUBLIC_KEY_LENGTH }),
      fc.integer({ min: 1, max: 0xffffffff }),
      (publicKey, version) => {
        const parsed = parsePublicKeyString(encodePublicKeyString({ keyId: KEY_ID, version, publicKey }));
        assert.equal(parsed.keyId, KEY_ID);
        assert.equal(parsed.version, version);
        assert.deepEqual(parsed.publicKey, publicKey);
      },
    ),
    { numRuns: 50 },
  );
});

test('any single changed character is refused', () => {
  const text = encodePublicKeyString({
    keyId: KEY_ID,
    version: 3,
    publicKey: randomBytes(XWING_PUBLIC_KEY_LENGTH),
  });
  fc.assert(
    fc.property(fc.integer({ min: 0, max: text.length - 1 }), fc.constantFrom(...'aZ09_-:x'), (at, char) => {
      fc.pre(text[at] !== char);
      const changed = text.slice(0, at) + char + text.slice(at + 1);
      assert.throws(() => parsePublicKeyString(changed), isEinval);
    }),
    { numRuns: 300 },
  );
});

test('malformed strings are EINVAL with what is wrong', () => {
  const good = encodePublicKeyString({
    keyId: KEY_ID,
    version: 1,
    publicKey: randomBytes(XWING_PUBLIC_KEY_LENGTH),
  });
  const cases: [unknown, RegExp][] = [
    [42, /must be a string/],
    ['ssh-ed25519 AAAA', /must start with coffer1:xwing:/],
    [good.replace(':1:', ':01:'), /bad version/],
    [good.replace(':1:', ':0:'), /bad version/],
    [`${good}:extra`, /wrong number of fields/],
    [good.replace(KEY_ID, 'k_short'), /key id/],
    [good.slice(0, 60) + good.slice(64), /1216 bytes|checksum/],
  ];
  for (const [input, message] of cases) {
    assert.throws(
      () => parsePublicKeyString(input),
      (e: unknown) => isEinval(e) && message.test((e as Error).message),
    );
  }
  assert.equal(parsePublicKeyString(`  ${good}\n`).version, 1, 'surrounding whitespace (a file) is fine');
  assert.throws(
    () => encodePublicKeyString({ keyId: KEY_ID, version: 0, publicKey: new Uint8Array(1216) }),
    isEinval,
  );
  assert.throws(
    () => encodePublicKeyString({ keyId: KEY_ID, version: 1, publicKey: new Uint8Array(32) }),
    isEinval,
  );
});

test('a blob sealed to the string opens with the keystore (right key, right version)', async () => {
  const { ks, cleanup } = await tempKeystore();
  try {
    const key = await ks.createKey({ app: 'mail', purpose: 'inbox', algorithm: 'x-wing' });
    await ks.rotate(key.id);
    const raw = (await ks.publicKey(key.id, 'raw', { version: 1 })) as Uint8Array;
    const recipient = parsePublicKeyString(
      encodePublicKeyString({ keyId: key.id, version: 1, publicKey: raw }),
    );
    const plaintext = new TextEncoder().encode('to version one');
    const sealed = sealToPublicKey(recipient, plaintext, new TextEncoder().encode('aad'), (n) =>
      randomBytes(n),
    );
    assert.deepEqual(await ks.unseal(key.id, sealed, { aad: 'aad' }), plaintext);
    // Naming version 2 with version 1's key bytes cannot open: the header binds the version.
    const wrong = sealToPublicKey({ ...recipient, version: 2 }, plaintext, new Uint8Array(0), (n) =>
      randomBytes(n),
    );
    await assert.rejects(
      ks.unseal(key.id, wrong),
      (e: unknown) => e instanceof CofferError && e.code === 'EBADMSG',
    );
  } finally {
    await cleanup();
  }
});
