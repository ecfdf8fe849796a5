// SPEC §6.2.1/§6.2.2 layout and parser: header round trips, structural errors (EINVAL) versus
// truncation (EBADMSG), chunk-length rules, the counter nonce, and fast-check fuzzing of the parser.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { CofferError } from '../errors.js';
import {
  chunkExponentOf,
  encodeStreamHeader,
  isSealedStream,
  parseStreamHeader,
  type StreamHeader,
  sealedShape,
  streamHeaderLength,
  streamHeaderLengthOf,
  streamPlaintextLength,
  writeChunkNonce,
} from './sealed-stream.js';

const keyId = Uint8Array.from({ length: 16 }, (_, i) => i);

function header(algorithm: StreamHeader['algorithm'], extra: Partial<StreamHeader> = {}): StreamHeader {
  return {
    kind: algorithm === 'x-wing' ? 'toPublicKey' : 'symmetric',
    algorithm,
    keyId,
    version: 7,
    chunkExponent: 16,
    ...(algorithm === 'x-wing' ? { kemCiphertext: new Uint8Array(1120).fill(0xcc) } : {}),
    wrapNonce: new Uint8Array(algorithm === 'xchacha20-poly1305' ? 24 : 12).fill(0xaa),
    wrappedKey: new Uint8Array(48).fill(0xbb),
    ...extra,
  };
}

function code(expected: string) {
  return (error: unknown) => {
    assert.ok(error instanceof CofferError, String(error));
    assert.equal(error.code, expected, error.message);
    return true;
  };
}

test('SPEC §6.2.1: header lengths 84 / 96 / 1204 and the exact field layout', () => {
  assert.deepEqual(
    (['aes-256-gcm', 'xchacha20-poly1305', 'x-wing'] as const).map(streamHeaderLength),
    [84, 96, 1204],
  );
  const bytes = encodeStreamHeader(header('aes-256-gcm'));
  assert.equal(
    Buffer.from(bytes.subarray(0, 24)).toString('hex'),
    '010301000102030405060708090a0b0c0d0e0f0000000710',
  );
  assert.deepEqual([...new Set(bytes.subarray(24, 36))], [0xaa]);
  assert.deepEqual([...new Set(bytes.subarray(36))], [0xbb]);
  for (const algorithm of ['aes-256-gcm', 'xchacha20-poly1305', 'x-wing'] as const) {
    const encoded = encodeStreamHeader(header(algorithm));
    const parsed = parseStreamHeader(Uint8Array.of(...encoded, 1, 2, 3));
    assert.deepEqual(parsed.header, header(algorithm));
    assert.equal(parsed.headerBytes.length, encoded.length);
    assert.equal(streamHeaderLengthOf(encoded.subarray(0, 24)), encoded.length);
  }
});

test('the kind byte tells one-shot blobs from streams; anything else is EINVAL, under 2 bytes EBADMSG', () => {
  assert.equal(sealedShape(Uint8Array.of(1, 1)), 'one-shot');
  assert.equal(sealedShape(Uint8Array.of(1, 2)), 'one-shot');
  assert.equal(sealedShape(Uint8Array.of(1, 3)), 'stream');
  assert.equal(sealedShape(Uint8Array.of(1, 4)), 'stream');
  assert.equal(isSealedStream(Uint8Array.of(1, 3)), true);
  assert.equal(isSealedStream(Uint8Array.of(1, 1)), false);
  assert.equal(isSealedStream(Uint8Array.of(1)), false);
  assert.throws(() => sealedShape(Uint8Array.of(2, 3)), code('EINVAL'));
  assert.throws(() => sealedShape(Uint8Array.of(1, 5)), code('EINVAL'));
  assert.throws(() => sealedShape(Uint8Array.of(1, 0)), code('EINVAL'));
  assert.throws(() => sealedShape(Uint8Array.of(1)), code('EBADMSG'));
  assert.throws(() => sealedShape(new Uint8Array(0)), code('EBADMSG'));
});

test('SPEC §6.2.2 step 1: structural faults are EINVAL, a header cut short is EBADMSG', () => {
  const good = encodeStreamHeader(header('xchacha20-poly1305'));
  const mutate = (index: number, value: number) => {
    const copy = Uint8Array.from(good);
    copy[index] = value;
    return copy;
  };
  for (const [bad, why] of [
    [mutate(0, 2), 'format version'],
    [mutate(1, 7), 'kind'],
    [mutate(2, 9), 'algorithm'],
    [mutate(2, 3), 'x-wing under kind 0x03'],
    [mutate(1, 4), 'kind 0x04 with a symmetric algorithm'],
    [mutate(23, 5), 'chunk exponent 5'],
    [mutate(23, 25), 'chunk exponent 25'],
  ] as const) {
    assert.throws(() => parseStreamHeader(bad), code('EINVAL'), why);
  }
  const versionZero = Uint8Array.from(good);
  versionZero.fill(0, 19, 23);
  assert.throws(() => parseStreamHeader(versionZero), code('EINVAL'), 'version 0');
  for (const length of [2, 10, 23, 24, 50, good.length - 1]) {
    assert.throws(() => parseStreamHeader(good.subarray(0, length)), code('EBADMSG'), `cut at ${length}`);
  }
  assert.throws(() => parseStreamHeader('x' as unknown as Uint8Array), code('EINVAL'));
  assert.throws(() => parseStreamHeader(mutate(1, 1)), code('EINVAL'), 'a one-shot blob is not a stream');
});

test('encode refuses bad fields with EINVAL', () => {
  const bad: Partial<StreamHeader>[] = [
    { keyId: new Uint8Array(15) },
    { version: 0 },
    { version: 2 ** 32 },
    { chunkExponent: 5 },
    { chunkExponent: 16.5 },
    { wrapNonce: new Uint8Array(24) },
    { wrappedKey: new Uint8Array(47) },
    { kind: 'toPublicKey' },
    { kemCiphertext: new Uint8Array(1120) },
  ];
  for (const extra of bad)
    assert.throws(() => encodeStreamHeader(header('aes-256-gcm', extra)), code('EINVAL'));
  assert.throws(
    () => encodeStreamHeader(header('x-wing', { kemCiphertext: new Uint8Array(1119) })),
    code('EINVAL'),
  );
});

test('chunk sizes: powers of two from 64 B to 16 MiB, default 64 KiB', () => {
  assert.equal(chunkExponentOf(undefined), 16);
  assert.equal(chunkExponentOf(64), 6);
  assert.equal(chunkExponentOf(16 * 1024 * 1024), 24);
  for (const bad of [0, 32, 63, 65, 100, 2 ** 25, -64, 1.5, '64', Number.NaN, Number.POSITIVE_INFINITY])
    assert.throws(() => chunkExponentOf(bad), code('EINVAL'), String(bad));
});

test('nonce_i = uint88_be(i) ‖ last; index 2^32 is E2BIG', () => {
  const out = new Uint8Array(12);
  assert.equal(Buffer.from(writeChunkNonce(out, 0, false)).toString('hex'), '000000000000000000000000');
  assert.equal(Buffer.from(writeChunkNonce(out, 1, true)).toString('hex'), '000000000000000000000101');
  assert.equal(
    Buffer.from(writeChunkNonce(out, 2 ** 32 - 1, false)).toString('hex'),
    '00000000000000ffffffff00',
  );
  assert.throws(() => writeChunkNonce(out, 2 ** 32, true), code('E2BIG'));
});

/** Sealed body length of a plaintext of `length` bytes (SPEC §6.2.1), computed the long way. */
function bodyLength(length: number, chunkSize: number): number {
  const chunks = Math.max(1, Math.ceil(length / chunkSize));
  return length + 16 * chunks;
}

test('streamPlaintextLength inverts the chunk rule and refuses impossible lengths (EBADMSG)', () => {
  fc.assert(
    fc.property(fc.nat(5000), fc.integer({ min: 6, max: 9 }), (length, e) => {
      assert.equal(streamPlaintextLength(bodyLength(length, 2 ** e), 2 ** e), length);
    }),
  );
  for (const [body, why] of [
    [0, 'no chunk'],
    [15, 'shorter than a tag'],
    [80 + 5, 'a last chunk shorter than a tag'],
    [80 + 16, 'an empty chunk after a full one'],
  ] as const) {
    assert.throws(() => streamPlaintextLength(body, 64), code('EBADMSG'), why);
  }
});

test('fuzz: any bytes either parse to a header that re-encodes identically, or fail with EINVAL/EBADMSG', () => {
  const valid = encodeStreamHeader(header('aes-256-gcm', { chunkExponent: 6 }));
  const arbitrary = fc.oneof(
    fc.uint8Array({ minLength: 0, maxLength: 120 }),
    // mostly-valid headers with random bytes overwritten, so the parser's later checks are reached
    fc
      .array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 4 })
      .chain((edits) =>
        fc.nat(valid.length + 8).map((cut) => {
          const bytes = Uint8Array.of(...valid, 9, 9, 9, 9, 9, 9, 9, 9);
          for (const [at, value] of edits) bytes[at] = value;
          return bytes.subarray(0, cut);
        }),
      ),
  );
  fc.assert(
    fc.property(arbitrary, (bytes) => {
      let parsed: ReturnType<typeof parseStreamHeader>;
      try {
        parsed = parseStreamHeader(bytes);
      } catch (error) {
        assert.ok(error instanceof CofferError, String(error));
        assert.ok(error.code === 'EINVAL' || error.code === 'EBADMSG', error.code);
        return;
      }
      assert.deepEqual(encodeStreamHeader(parsed.header), parsed.headerBytes);
      assert.deepEqual(parsed.headerBytes, bytes.subarray(0, parsed.headerBytes.length));
    }),
    { numRuns: 2000 },
  );
});
