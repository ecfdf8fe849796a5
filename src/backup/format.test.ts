// SPEC §11 backup format: the vector of §10.7 (recomputed independently with @noble/ciphers), and the
// container's defences: any altered byte, truncation, reordered or dropped chunks, and non-canonical
// or out-of-range headers are EBADMSG before any key is used.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { gcm } from '@noble/ciphers/aes.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import type { KeyInfo } from '../core/types.js';
import { concatBytes, toHex, utf8 } from '../crypto/bytes.js';
import * as kem from '../crypto/kem.js';
import { derivePassphraseKey } from '../crypto/passphrase-kdf.js';
import type { Rng } from '../crypto/rng.js';
import { CofferError } from '../errors.js';
import { FAST_KDF, tempDir } from '../testing/keystore.js';
import { type BackupParts, encodeBackup } from './create.js';
import { chunkAad, chunkNonce, parseHeader, parsePreamble } from './format.js';
import { readBackupFile } from './inspect.js';
import { decodePayload, encodeEndRecord, encodeKeyRecord } from './payload.js';
import { unwrapWithPassphrase, wrapToPassphrase } from './recipients.js';
import { openChunks, payloadKey } from './stream.js';

const seq = (start: number, length: number) => Uint8Array.from({ length }, (_, i) => (start + i) & 0xff);
const hex = (bytes: Uint8Array) => toHex(bytes);
const digest = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** An RNG that hands out fixed bytes in order (the vector's salt, then its nonce). */
function scripted(...outputs: Uint8Array[]): Rng {
  return {
    insecure: true,
    randomBytes(length: number) {
      const next = outputs.shift();
      if (!next || next.length !== length)
        throw new Error(`scripted rng: unexpected request for ${length} bytes`);
      return next;
    },
  };
}

// ---- SPEC §11.7 vector inputs ----
const PASSPHRASE = 'correct horse battery staple';
const FILE_KEY = seq(0x40, 32);
const BACKUP_ID = Buffer.from(seq(0x00, 16)).toString('base64url');
const STORE_ID = Buffer.from(seq(0x10, 16)).toString('base64url');
const XWING = kem.keygen('x-wing', seq(0x00, 32));
const INFO: KeyInfo = {
  id: 'k_aaaqeayeaudaocajbifqydiob4',
  app: 'vault',
  purpose: 'backup-spec',
  algorithm: 'x-wing',
  uses: ['encapsulate', 'decapsulate', 'seal', 'unseal'],
  labels: {},
  state: 'active',
  createdAt: 1700000000000,
  updatedAt: 1700000000000,
  primaryVersion: 1,
  minDecryptionVersion: 1,
  versions: [{ version: 1, state: 'active', createdAt: 1700000000000 }],
  history: [],
};

function vectorPayload(): Uint8Array {
  return concatBytes(
    ...encodeKeyRecord({
      info: INFO,
      versions: [{ version: 1, secret: seq(0x00, 32), publicKey: XWING.publicKey }],
      usage: { '1': 3 },
    }),
    ...encodeEndRecord({ keyCount: 1, requires: [] }),
  );
}

async function vectorFile(): Promise<{
  file: Uint8Array;
  payload: Uint8Array;
  compressed: Uint8Array;
  parts: BackupParts;
}> {
  const payload = vectorPayload();
  // Level 0 (stored blocks) is the same bytes under every zlib build; real backups use level 6.
  const compressed = new Uint8Array(deflateRawSync(payload, { level: 0 }));
  const wrap = await wrapToPassphrase(
    FILE_KEY,
    BACKUP_ID,
    PASSPHRASE,
    { ...FAST_KDF },
    scripted(seq(0x00, 32), seq(0xa0, 12)),
  );
  const parts: BackupParts = {
    header: {
      format: 'coffer-backup',
      version: 1,
      backupId: BACKUP_ID,
      kind: 'full',
      storeId: STORE_ID,
      createdAt: 1700000000000,
      generation: 42,
      keyCount: 1,
    },
    recipient: wrap.recipient,
    wrappedFileKey: wrap.wrapped,
    fileKey: FILE_KEY,
    payloadBytes: payload.length,
    compressed,
    chunkSize: 1024,
  };
  return { file: concatBytes(...encodeBackup(parts)), payload, compressed, parts };
}

const EXPECTED = {
  header:
    '{"format":"coffer-backup","version":1,"backupId":"AAECAwQFBgcICQoLDA0ODw","kind":"full",' +
    '"storeId":"EBESExQVFhcYGRobHB0eHw","createdAt":1700000000000,"generation":42,"keyCount":1,' +
    '"payload":{"compression":"deflate-raw","bytes":2134,"aead":"aes-256-gcm","chunkSize":1024},' +
    '"recipient":{"type":"passphrase","kdf":{"alg":"argon2id","memoryKiB":19456,"iterations":2,"parallelism":1},' +
    '"salt":"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"},' +
    '"fileKey":"oKGio6SlpqeoqaqrFnmyNzBk6rOYjjX4ZKvCTh5G396IeeUJqc/gm6kJfLuNd2FVbc6uTh8MH7whsWwt"}',
  kek: '092d6e91987840e63e2fac5e187ac5d29b489f05597971fd6554555a1a20ce2a',
  wrappedFileKey:
    'a0a1a2a3a4a5a6a7a8a9aaab1679b2373064eab3988e35f864abc24e1e46dfde8879e509a9cfe09ba9097cbb8d7761556dceae4e1f0c1fbc21b16c2d',
  payloadKey: 'c98fb9667a2c227e068d0fd4b3b8899425be9e5798561fec4f89b6cd4af0b034',
  payloadSha256: 'f9898785d91489305f14f5ae9b2e2a5e19d9ea9aed76d8e6e93d249511e5744d',
  payloadBytes: 2134,
  compressedSha256: '66a7e78162cbf6d48f1b87084cca56dd90d25d7ccb8ce7a9c7e61d1dddd43099',
  fileBytes: 2776,
  fileSha256: '4319e9257befaa2d538bad68a94c4d05ac8e3328831bb18a6c36d4d033bf7b8c',
};

const isBadMsg = (error: unknown) => error instanceof CofferError && error.code === 'EBADMSG';

/** Decodes with the known file key (no KDF): preamble, chunks, inflate, records. */
function decodeWithFileKey(file: Uint8Array): ReturnType<typeof decodePayload> {
  const { header, preambleLength } = parsePreamble(file);
  const body = file.subarray(preambleLength, file.length - 32);
  const compressed = openChunks(
    payloadKey(FILE_KEY, header.backupId),
    file.subarray(0, preambleLength),
    body,
    header.payload.chunkSize,
  );
  const payload = new Uint8Array(inflateRawSync(compressed, { maxOutputLength: header.payload.bytes }));
  assert.equal(payload.length, header.payload.bytes);
  return decodePayload(payload, header.version);
}

/** Replaces the trailing checksum so only the authenticated layers stand between a change and a restore. */
function rechecksum(file: Uint8Array): Uint8Array {
  const body = file.subarray(0, file.length - 32);
  return concatBytes(body, new Uint8Array(createHash('sha256').update(body).digest()));
}

describe('SPEC §11.7 backup vector', () => {
  test('file bytes, header, key derivations and checksum match the SPEC', async () => {
    const { file, payload, compressed, parts } = await vectorFile();
    assert.equal(digest(XWING.publicKey), 'c9a3565ffde4f72b51661be391ee13e46378d7f06dd5c8bf5af9d2cfb5b8336b');
    assert.equal(payload.length, EXPECTED.payloadBytes);
    assert.equal(digest(payload), EXPECTED.payloadSha256);
    assert.equal(digest(compressed), EXPECTED.compressedSha256);
    assert.equal(hex(parts.wrappedFileKey), EXPECTED.wrappedFileKey);
    assert.equal(file.length, EXPECTED.fileBytes);
    assert.equal(digest(file), EXPECTED.fileSha256);
    // "COFFERBK" ‖ format version 1.
    assert.equal(hex(file.subarray(0, 9)), '434f46464552424b01');
    const headerLength = new DataView(file.buffer).getUint32(9);
    assert.equal(utf8.decode(file.subarray(13, 13 + headerLength)), EXPECTED.header);
    // The last 32 bytes are SHA-256 of everything before them.
    assert.equal(hex(file.subarray(file.length - 32)), digest(file.subarray(0, file.length - 32)));
  });

  test('independent recomputation: KEK, file key, payload key and every chunk with @noble/ciphers', async () => {
    const { file, compressed } = await vectorFile();
    const kek = derivePassphraseKey({ ...FAST_KDF }, PASSPHRASE, seq(0x00, 32));
    assert.equal(hex(kek), EXPECTED.kek);
    const aad = utf8.encode(`coffer:backup:file-key:v1|backup=${BACKUP_ID}|type=passphrase`);
    const wrapped = Buffer.from(EXPECTED.wrappedFileKey, 'hex');
    assert.deepEqual(gcm(kek, wrapped.subarray(0, 12), aad).decrypt(wrapped.subarray(12)), FILE_KEY);
    const pk = hkdf(sha256, FILE_KEY, seq(0x00, 16), utf8.encode('coffer:backup:payload:v1'), 32);
    assert.equal(hex(pk), EXPECTED.payloadKey);
    const preambleLength = 13 + new DataView(file.buffer).getUint32(9);
    const preambleHash = sha256(file.subarray(0, preambleLength));
    const sizes = [1024 + 16, 1024 + 16, compressed.length - 2048 + 16];
    let offset = preambleLength;
    const plain: Uint8Array[] = [];
    sizes.forEach((size, index) => {
      const final = index === sizes.length - 1;
      const nonce = concatBytes(new Uint8Array(10), Uint8Array.of(index, final ? 1 : 0));
      const chunkAadBytes = concatBytes(preambleHash, new Uint8Array(7), Uint8Array.of(index, final ? 1 : 0));
      plain.push(gcm(pk, nonce, chunkAadBytes).decrypt(file.subarray(offset, offset + size)));
      offset += size;
    });
    assert.equal(offset, file.length - 32);
    assert.deepEqual(concatBytes(...plain), compressed);
  });

  test('the file decodes back to the key record: info, secret, public key, usage', async () => {
    const dir = tempDir();
    try {
      const { file } = await vectorFile();
      const path = join(dir.path, 'vector.cbk');
      writeFileSync(path, file);
      const read = await readBackupFile(path);
      assert.equal(read.header.keyCount, 1);
      assert.equal(read.header.recipient.type, 'passphrase');
      const fileKey = await unwrapWithPassphrase(
        read.header.backupId,
        read.header.recipient as typeof read.header.recipient & { type: 'passphrase' },
        new Uint8Array(Buffer.from(read.header.fileKey, 'base64')),
        PASSPHRASE,
      );
      assert.deepEqual(fileKey, FILE_KEY);
      const { keys, end } = decodeWithFileKey(file);
      assert.deepEqual(end, { keyCount: 1, requires: [] });
      assert.equal(keys.length, 1);
      assert.deepEqual(keys[0]!.info, INFO);
      assert.deepEqual(keys[0]!.usage, { '1': 3 });
      assert.deepEqual(keys[0]!.versions[0]!.secret, seq(0x00, 32));
      assert.deepEqual(keys[0]!.versions[0]!.publicKey, XWING.publicKey);
      await assert.rejects(
        unwrapWithPassphrase(
          read.header.backupId,
          read.header.recipient as typeof read.header.recipient & { type: 'passphrase' },
          new Uint8Array(Buffer.from(read.header.fileKey, 'base64')),
          'wrong passphrase',
        ),
        isBadMsg,
      );
    } finally {
      dir.remove();
    }
  });
});

describe('SPEC §11.3 tamper and truncation detection', () => {
  test('every single flipped bit-pattern at every byte fails, even with a recomputed checksum', async () => {
    const { file } = await vectorFile();
    assert.equal(decodeWithFileKey(file).keys.length, 1);
    for (let i = 0; i < file.length - 32; i++) {
      const copy = Uint8Array.from(file);
      copy[i]! ^= 0x01 << (i % 8);
      assert.throws(() => decodeWithFileKey(rechecksum(copy)), isBadMsg, `byte ${i}`);
    }
  });

  test('a changed byte anywhere, checksum left alone, fails the checksum before any key work', async () => {
    const dir = tempDir();
    try {
      const { file } = await vectorFile();
      for (const i of [0, 8, 12, 100, 600, file.length - 500, file.length - 33, file.length - 1]) {
        const copy = Uint8Array.from(file);
        copy[i]! ^= 0x80;
        const path = join(dir.path, `t${i}.cbk`);
        writeFileSync(path, copy);
        await assert.rejects(readBackupFile(path), isBadMsg, `byte ${i}`);
      }
    } finally {
      dir.remove();
    }
  });

  test('every truncation fails; chunk-boundary truncation fails even with a fresh checksum', async () => {
    const dir = tempDir();
    try {
      const { file } = await vectorFile();
      for (let length = 0; length < file.length; length += length < 64 ? 1 : 37) {
        const path = join(dir.path, 'cut.cbk');
        writeFileSync(path, file.subarray(0, length));
        await assert.rejects(readBackupFile(path), isBadMsg, `length ${length}`);
      }
      const preambleLength = 13 + new DataView(file.buffer).getUint32(9);
      for (const chunks of [1, 2]) {
        const cut = file.subarray(0, preambleLength + chunks * (1024 + 16));
        assert.throws(() => decodeWithFileKey(rechecksum(concatBytes(cut, new Uint8Array(32)))), isBadMsg);
      }
    } finally {
      dir.remove();
    }
  });

  test('reordered, duplicated or dropped chunks fail', async () => {
    const { file } = await vectorFile();
    const preambleLength = 13 + new DataView(file.buffer).getUint32(9);
    const pre = file.subarray(0, preambleLength);
    const c0 = file.subarray(preambleLength, preambleLength + 1040);
    const c1 = file.subarray(preambleLength + 1040, preambleLength + 2080);
    const c2 = file.subarray(preambleLength + 2080, file.length - 32);
    const pad = new Uint8Array(32);
    for (const body of [
      [c1, c0, c2],
      [c0, c0, c2],
      [c0, c2],
      [c0, c1, c1, c2],
      [c0, c1, c2, c2],
    ]) {
      assert.throws(() => decodeWithFileKey(rechecksum(concatBytes(pre, ...body, pad))), isBadMsg);
    }
    assert.equal(decodeWithFileKey(rechecksum(concatBytes(pre, c0, c1, c2, pad))).keys.length, 1);
  });
});

describe('SPEC §11.1 header parsing is strict', () => {
  const valid = () => JSON.parse(EXPECTED.header) as Record<string, unknown>;

  test('the vector header parses; non-canonical bytes of the same header do not', async () => {
    assert.equal(parseHeader(valid()).generation, 42);
    const { file } = await vectorFile();
    const spaced = utf8.encode(EXPECTED.header.replace('"kind":"full"', '"kind": "full"'));
    const pre = new Uint8Array(13 + spaced.length);
    pre.set(file.subarray(0, 9));
    new DataView(pre.buffer).setUint32(9, spaced.length);
    pre.set(spaced, 13);
    assert.throws(() => parsePreamble(pre), isBadMsg);
  });

  test('unknown fields, wrong kinds, weak or ruinous KDF parameters and bad sizes are EBADMSG', () => {
    // biome-ignore lint/suspicious/noExplicitAny: the cases rewrite parsed JSON in arbitrary ways
    const cases: Array<(h: Record<string, any>) => void> = [
      (h) => {
        h.extra = 1;
      },
      (h) => {
        h.kind = 'partial';
      },
      (h) => {
        h.kind = 'incremental';
      },
      (h) => {
        h.baseGeneration = 1;
      },
      (h) => {
        h.selection = { app: 'a' };
      },
      (h) => {
        h.kind = 'selective';
      },
      (h) => {
        h.recipient.kdf.memoryKiB = 1024;
      },
      (h) => {
        h.recipient.kdf.memoryKiB = 4_194_304;
      },
      (h) => {
        h.recipient.salt = 'ABCD';
      },
      (h) => {
        h.payload.chunkSize = 1000;
      },
      (h) => {
        h.payload.bytes = 0;
      },
      (h) => {
        h.fileKey = 'AAAA';
      },
      (h) => {
        h.generation = -1;
      },
      (h) => {
        h.version = 2;
      },
      (h) => {
        h.recipient = { type: 'x-wing', keyId: 'k_x', version: 1, ciphertext: '' };
      },
    ];
    for (const change of cases) {
      const h = valid();
      change(h);
      assert.throws(() => parseHeader(h), isBadMsg, JSON.stringify(h).slice(0, 80));
    }
    const inc = valid();
    inc.kind = 'incremental';
    inc.baseGeneration = 41;
    assert.equal(parseHeader(inc).baseGeneration, 41);
    inc.baseGeneration = 43;
    assert.throws(() => parseHeader(inc), isBadMsg);
  });

  test('chunk nonce and AAD layouts (SPEC §11.3)', () => {
    assert.equal(hex(chunkNonce(0, false)), '000000000000000000000000');
    assert.equal(hex(chunkNonce(1, true)), '000000000000000000000101');
    assert.equal(hex(chunkNonce(2 ** 32 + 5, false)), '000000000000010000000500');
    const aad = chunkAad(new Uint8Array(32).fill(0xee), 2 ** 32 + 5, true);
    assert.equal(hex(aad.subarray(32)), '000000010000000501');
  });
});
