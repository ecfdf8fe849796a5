// SPEC §6.2.6 vectors: Coffer's stream code reproduces every byte; an independent computation with
// @noble/ciphers, @noble/hashes and @noble/post-quantum (no Coffer crypto) reproduces them too; and a
// keystore holding each vector's key opens it chunk by chunk and one-shot, and nothing else opens it.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { gcm } from '@noble/ciphers/aes.js';
import { chacha20poly1305, xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { ml_kem768_x25519 } from '@noble/post-quantum/hybrid.js';
import { concatBytes, toHex } from '../crypto/bytes.js';
import * as kem from '../crypto/kem.js';
import { ByteReader } from '../format/byte-reader.js';
import { tempKeystore } from '../testing/keystore.js';
import { keyIdFromBytes } from './ids.js';
import { chunkCipherOf, sealChunks, type WrapTarget, wrapStreamHeader } from './stream-cipher.js';
import type { KeyAlgorithm, KeyInfo } from './types.js';

const seq = (a: number, n: number) => Uint8Array.from({ length: n }, (_, i) => (a + i) & 0xff);
const fill = (b: number, n: number) => new Uint8Array(n).fill(b);
const hex = (text: string) => Uint8Array.from(Buffer.from(text.replace(/\s+/g, ''), 'hex'));
const te = new TextEncoder();
const KEY_ID = seq(0, 16);

interface Vector {
  name: string;
  algorithm: 'aes-256-gcm' | 'xchacha20-poly1305' | 'x-wing';
  version: number;
  secret: Uint8Array;
  wrapNonce: Uint8Array;
  dek: Uint8Array;
  aad: Uint8Array;
  plaintext: Uint8Array;
  header?: string;
  headerSha256?: string;
  chunks: string[];
}

const A: Vector = {
  name: 'A aes-256-gcm',
  algorithm: 'aes-256-gcm',
  version: 7,
  secret: fill(0x42, 32),
  wrapNonce: fill(0x24, 12),
  dek: seq(0x40, 32),
  aad: te.encode('ctx'),
  plaintext: seq(0, 150),
  header: `01 03 01 000102030405060708090a0b0c0d0e0f 00000007 06 242424242424242424242424
    55d08602ad8380796ea168e1f17fdde93caa6123e2fe063ae8fd96010a98b94c 15a710e6d6732895b85057295551d803`,
  chunks: [
    `5a35327b906dd4acd08292f833f06c493f93128d8203a746a3bdc7e6f22d0c59
     e3129ba138ba2266bd98c6f1c159b2128a9ed5a08421c0ed70d6e2d05db3f643 41568eb1e7a1ef29b2e25f7e44da4f60`,
    `891fe40830c80faa241b4bc1bafe1efbd82dfdb0caa69ae7cdbfd3268833d7ea
     b58b83d9864a06f2e4e0777faf6dbc4608d2a5b809c9abaf8fb471c15a65540f 2139ee5673e2415306d744675ad5665b`,
    '87e4391e7b98eabb05b3e707428f0ed9b2949186a0f901a12db24fbf01f9d833 d6430ae13e7d',
  ],
};

const A_EMPTY: Vector = {
  ...A,
  name: 'A aes-256-gcm, empty',
  plaintext: new Uint8Array(0),
  chunks: ['e9c0b5c70ff158a9aabed6f450d8fa84'],
};

const B: Vector = {
  name: 'B xchacha20-poly1305',
  algorithm: 'xchacha20-poly1305',
  version: 1,
  secret: fill(0x43, 32),
  wrapNonce: fill(0x25, 24),
  dek: seq(0x60, 32),
  aad: new Uint8Array(0),
  plaintext: seq(0, 128),
  header: `01 03 02 000102030405060708090a0b0c0d0e0f 00000001 06 252525252525252525252525252525252525252525252525
    efc694da054d148432600f7ac5eabb4b3311d17fbcbb58959a4d4951fcaa633a 0456b2ab0ebe49faa2b2f8acd2b05a02`,
  chunks: [
    `f696c24017e7e244c982fd21be5a2a44c059ef55d32cc20616221e90fe3c7d80
     d05a5abb84dec97c18cae27a4020e5ee8980a3ab40be0283a71a090083d6665a e68ca1f59579813f40f5a539a714ce83`,
    `8151d7b0071b78099e8eacfc98f7e26f2c2f5035955f63b2c9d10c48cc54b195
     4dc29606e512bf3ba9f2b2662a93af19a8371580f7ab114641e143d252402456 ea1455003039bd74fb20b46881365da2`,
  ],
};

const C: Vector = {
  name: 'C x-wing',
  algorithm: 'x-wing',
  version: 2,
  secret: seq(0, 32),
  wrapNonce: fill(0x26, 12),
  dek: seq(0x80, 32),
  aad: te.encode('ctx'),
  plaintext: te.encode('hello, stream'),
  headerSha256: '4ccb53a281815d75173fe24aef86cb51f9bb90e25a9c7b7f1efa161f08a2181f',
  chunks: ['b9caf438ebdd713e1d80ff1eaab8046e65eb140481f6a881847bcc4a60'],
};
const C_ESEED = seq(0x20, 64);
const C_PREFIX = '010403000102030405060708090a0b0c0d0e0f0000000206';
const C_TAIL =
  '262626262626262626262626a79822942dee253c872419f887dd4f0afcb33a073e893fa6f9cc3b393ebdab04535e34b8ff2af143abbd5c691e8ab9c4';

const VECTORS = [A, A_EMPTY, B, C];

function sha(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function chunkNonce(index: number, last: boolean): Uint8Array {
  const nonce = new Uint8Array(12);
  new DataView(nonce.buffer).setUint32(7, index, false);
  nonce[11] = last ? 1 : 0;
  return nonce;
}

async function coffer(v: Vector): Promise<{ header: Uint8Array; chunks: Uint8Array[] }> {
  const target: WrapTarget =
    v.algorithm === 'x-wing'
      ? {
          algorithm: 'x-wing',
          keyId: KEY_ID,
          version: v.version,
          publicKey: kem.keygen('x-wing', v.secret).publicKey,
          eseed: C_ESEED,
        }
      : { algorithm: v.algorithm, keyId: KEY_ID, version: v.version, secret: v.secret };
  const header = wrapStreamHeader(target, v.dek, 6, v.aad, () => v.wrapNonce);
  const chunks: Uint8Array[] = [];
  for await (const c of sealChunks(new ByteReader(v.plaintext), chunkCipherOf(v.algorithm), v.dek, 6))
    chunks.push(c);
  return { header, chunks };
}

/** The same bytes from the SPEC text alone, with noble primitives only. */
function independent(v: Vector): { header: Uint8Array; chunks: Uint8Array[] } {
  const prefix = concatBytes(
    Uint8Array.of(
      1,
      v.algorithm === 'x-wing' ? 4 : 3,
      { 'aes-256-gcm': 1, 'xchacha20-poly1305': 2, 'x-wing': 3 }[v.algorithm],
    ),
    KEY_ID,
    Uint8Array.of(0, 0, 0, v.version, 6),
  );
  let header: Uint8Array;
  if (v.algorithm === 'x-wing') {
    const pair = ml_kem768_x25519.keygen(v.secret);
    const { cipherText, sharedSecret } = ml_kem768_x25519.encapsulate(pair.publicKey, C_ESEED);
    const wrapKey = hkdf(sha256, sharedSecret, prefix, te.encode('coffer:seal-stream:x-wing:v1'), 32);
    const w = concatBytes(prefix, cipherText);
    header = concatBytes(w, v.wrapNonce, gcm(wrapKey, v.wrapNonce, concatBytes(w, v.aad)).encrypt(v.dek));
  } else {
    const wrap = v.algorithm === 'aes-256-gcm' ? gcm : xchacha20poly1305;
    header = concatBytes(
      prefix,
      v.wrapNonce,
      wrap(v.secret, v.wrapNonce, concatBytes(prefix, v.aad)).encrypt(v.dek),
    );
  }
  const chunkAead = v.algorithm === 'xchacha20-poly1305' ? chacha20poly1305 : gcm;
  const count = Math.max(1, Math.ceil(v.plaintext.length / 64));
  const chunks = Array.from({ length: count }, (_, i) =>
    chunkAead(v.dek, chunkNonce(i, i === count - 1)).encrypt(v.plaintext.subarray(i * 64, (i + 1) * 64)),
  );
  return { header, chunks };
}

function checkAgainstSpec(v: Vector, made: { header: Uint8Array; chunks: Uint8Array[] }, who: string): void {
  if (v.header !== undefined)
    assert.equal(toHex(made.header), toHex(hex(v.header)), `${v.name} header (${who})`);
  else {
    assert.equal(sha(made.header), v.headerSha256, `${v.name} header SHA-256 (${who})`);
    assert.equal(toHex(made.header.subarray(0, 24)), C_PREFIX);
    assert.equal(toHex(made.header.subarray(1144)), C_TAIL);
  }
  assert.deepEqual(
    made.chunks.map(toHex),
    v.chunks.map((c) => toHex(hex(c))),
    `${v.name} chunks (${who})`,
  );
}

test('SPEC §6.2.6: Coffer and an independent noble computation both give the exact vector bytes', async () => {
  for (const v of VECTORS) {
    checkAgainstSpec(v, await coffer(v), 'coffer');
    checkAgainstSpec(v, independent(v), 'noble');
  }
  // C's KEM ciphertext is the one of SPEC §1.C (same seed and eseed).
  const c = await coffer(C);
  assert.equal(
    sha(c.header.subarray(24, 1144)),
    '67eb40cd5d72deddbbfb5a6ff826a776b53e4406d46caea66412ebe1bbf6c5fb',
  );
});

/** A keystore holding the vector key: versions 1…v.version, the vector's secret at v.version. */
async function holdVectorKey(v: Vector) {
  const fixture = await tempKeystore();
  const id = keyIdFromBytes(KEY_ID);
  const now = Date.now();
  const versions = Array.from({ length: v.version }, (_, i) => ({
    version: i + 1,
    state: i + 1 === v.version ? 'active' : 'deactivated',
    createdAt: now,
  }));
  const info = {
    id,
    app: 'spec',
    purpose: 'stream-vector',
    algorithm: v.algorithm as KeyAlgorithm,
    uses: ['seal', 'unseal'],
    labels: {},
    state: 'active',
    createdAt: now,
    updatedAt: now,
    primaryVersion: v.version,
    minDecryptionVersion: 1,
    versions,
    history: [],
  } as KeyInfo;
  await fixture.ks.dangerouslyImportKeyMaterial(
    [
      {
        info,
        versions: versions.map((x) => {
          const secret = x.version === v.version ? v.secret : fill(x.version, 32);
          return {
            version: x.version,
            secret: Uint8Array.from(secret),
            ...(v.algorithm === 'x-wing' ? { publicKey: kem.keygen('x-wing', secret).publicKey } : {}),
          };
        }),
        usage: {},
      },
    ],
    'fail',
  );
  return { ...fixture, id };
}

test('SPEC §6.2.6: a keystore holding each vector key opens it (streaming and one-shot); a wrong AAD does not', async () => {
  for (const v of VECTORS) {
    const { ks, id, cleanup } = await holdVectorKey(v);
    try {
      const { header, chunks } = await coffer(v);
      const sealed = concatBytes(header, ...chunks);
      const pieces: Uint8Array[] = [];
      const stream = await ks.unsealStream(id, [sealed.subarray(0, 30), sealed.subarray(30)], { aad: v.aad });
      assert.equal(stream.version, v.version);
      for await (const piece of stream) pieces.push(Uint8Array.from(piece));
      assert.deepEqual(concatBytes(...pieces), v.plaintext, v.name);
      assert.equal(pieces.length, chunks.length, `${v.name}: one piece per chunk`);
      assert.deepEqual(await ks.unseal(id, sealed, { aad: v.aad }), v.plaintext);
      await assert.rejects(ks.unsealStream(id, sealed, { aad: 'other' }), { code: 'EBADMSG' });
      // A stream the keystore seals with this key has the vector's header layout and opens the same way.
      const mine = concatBytes(
        ...(await collect(await ks.sealStream(id, v.plaintext, { aad: v.aad, chunkSize: 64 }))),
      );
      assert.equal(toHex(mine.subarray(0, 24)), toHex(header.subarray(0, 24)));
      assert.equal(mine.length, sealed.length);
      assert.deepEqual(await ks.unseal(id, mine, { aad: v.aad }), v.plaintext);
    } finally {
      await cleanup();
    }
  }
});

async function collect(stream: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const piece of stream) out.push(Uint8Array.from(piece));
  return out;
}
