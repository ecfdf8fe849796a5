// Tampering with sealed streams (SPEC §6.2.3), for each algorithm: flipped bits, truncation at and
// between chunk boundaries, dropped, reordered, duplicated and appended chunks, chunks and headers
// spliced from another stream of the same key, a wrong AAD, a wrong key version, a wrong key. Every case
// ends in EBADMSG, and whatever was released before the error is an authentic prefix of the plaintext,
// chunk for chunk. A fast-check property does the same for random mutations.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { concatBytes } from '../crypto/bytes.js';
import { CofferError } from '../errors.js';
import { tempKeystore } from '../testing/keystore.js';
import { keyIdBytes } from './ids.js';
import type { Keystore } from './keystore.js';

const ALGORITHMS = ['aes-256-gcm', 'xchacha20-poly1305', 'x-wing'] as const;
const HEADER = { 'aes-256-gcm': 84, 'xchacha20-poly1305': 96, 'x-wing': 1204 } as const;
const CHUNK = 64;
const SEALED_CHUNK = CHUNK + 16;
const AAD = 'order=42';

function pattern(length: number, seed: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 31 + seed * 7) & 0xff);
}

async function sealBytes(ks: Keystore, id: string, data: Uint8Array, chunkSize = CHUNK): Promise<Uint8Array> {
  const pieces: Uint8Array[] = [];
  for await (const piece of await ks.sealStream(id, data, { aad: AAD, chunkSize })) pieces.push(piece);
  return concatBytes(...pieces);
}

/** Everything an unseal releases, and the error it ends with (if any). */
async function openAll(
  ks: Keystore,
  id: string,
  sealed: Uint8Array,
  aad: string = AAD,
): Promise<{ pieces: Uint8Array[]; error?: CofferError; before?: boolean }> {
  const pieces: Uint8Array[] = [];
  let stream: AsyncIterable<Uint8Array>;
  try {
    stream = await ks.unsealStream(id, [sealed], { aad });
  } catch (error) {
    assert.ok(error instanceof CofferError, String(error));
    return { pieces, error, before: true };
  }
  try {
    for await (const piece of stream) pieces.push(Uint8Array.from(piece));
  } catch (error) {
    assert.ok(error instanceof CofferError, String(error));
    return { pieces, error };
  }
  return { pieces };
}

/** The tamper ended in EBADMSG, and the pieces released are the first `released` chunks of `data`. */
function assertRejected(
  result: Awaited<ReturnType<typeof openAll>>,
  data: Uint8Array,
  what: string,
  released?: number,
  codes: string[] = ['EBADMSG'],
): void {
  assert.ok(result.error, `${what}: must fail`);
  assert.ok(codes.includes(result.error.code), `${what}: ${result.error.code} ${result.error.message}`);
  for (const [i, piece] of result.pieces.entries())
    assert.deepEqual(
      piece,
      data.subarray(i * CHUNK, (i + 1) * CHUNK),
      `${what}: released chunk ${i} is authentic`,
    );
  if (released !== undefined)
    assert.equal(result.pieces.length, released, `${what}: chunks released before the error`);
}

function chunksOf(sealed: Uint8Array, header: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = header; at < sealed.length; at += SEALED_CHUNK)
    out.push(sealed.subarray(at, at + SEALED_CHUNK));
  return out;
}

for (const algorithm of ALGORITHMS) {
  describe(`tampering with a ${algorithm} stream`, () => {
    const H = HEADER[algorithm];
    const data = pattern(4 * CHUNK + 10, 1); // five chunks, the last one short

    async function setup() {
      const fixture = await tempKeystore();
      const key = await fixture.ks.createKey({ app: 'tamper', purpose: 'stream', algorithm });
      const sealed = await sealBytes(fixture.ks, key.id, data);
      assert.equal(sealed.length, H + 4 * SEALED_CHUNK + 10 + 16);
      assert.deepEqual(concatBytes(...(await openAll(fixture.ks, key.id, sealed)).pieces), data);
      return { ...fixture, id: key.id, sealed };
    }

    test('every single-bit flip fails: EBADMSG in the body; EBADMSG, EINVAL or ENOENT in the header', async () => {
      const { ks, id, sealed, cleanup } = await setup();
      try {
        // Every byte of the body and of the header's fields (for x-wing the KEM ciphertext is sampled:
        // decapsulating 1120 times would dominate the suite without testing anything new).
        const positions = [...Array(sealed.length).keys()].filter(
          (i) => algorithm !== 'x-wing' || i < 40 || i >= 1140 || i % 97 === 0,
        );
        for (const i of positions) {
          const bad = Uint8Array.from(sealed);
          bad[i]! ^= 1 << (i % 8);
          const result = await openAll(ks, id, bad);
          if (i >= H) {
            const chunk = Math.floor((i - H) / SEALED_CHUNK);
            assertRejected(result, data, `flip at ${i}`, chunk);
          } else {
            // Header bytes: structural ones are EINVAL, the version may name one that does not exist.
            assertRejected(result, data, `flip at ${i}`, 0, ['EBADMSG', 'EINVAL', 'ENOENT']);
            assert.ok(result.before, `flip at ${i}: a header fault fails before any output`);
            if (i >= 3 && i < 19) assert.equal(result.error?.code, 'EBADMSG', `key id byte ${i}`);
            if (i >= 24) assert.equal(result.error?.code, 'EBADMSG', `wrap field byte ${i}`);
          }
        }
      } finally {
        await cleanup();
      }
    });

    test('truncation at every length: earlier chunks are released, then EBADMSG at the end', async () => {
      const { ks, id, sealed, cleanup } = await setup();
      try {
        for (let length = 0; length < sealed.length; length++) {
          const result = await openAll(ks, id, sealed.subarray(0, length));
          if (length < H) {
            assertRejected(result, data, `cut at ${length} (header)`, 0);
            continue;
          }
          const full = Math.floor((length - H) / SEALED_CHUNK);
          const atBoundary = (length - H) % SEALED_CHUNK === 0;
          // At a boundary the last whole chunk is read as final and fails; between boundaries the
          // partial chunk fails and every whole chunk before it was released.
          const released = atBoundary ? Math.max(0, full - 1) : full;
          assertRejected(result, data, `cut at ${length}`, released);
        }
      } finally {
        await cleanup();
      }
    });

    test('dropped, reordered, duplicated and appended chunks fail', async () => {
      const { ks, id, sealed, cleanup } = await setup();
      try {
        const header = sealed.subarray(0, H);
        const chunks = chunksOf(sealed, H);
        const rebuild = (list: Uint8Array[]) => concatBytes(header, ...list);
        const last = chunks.length - 1;
        for (let i = 0; i < chunks.length; i++) {
          // Dropping the last chunk is a truncation at a boundary: the chunk before it fails as final.
          const dropped = rebuild(chunks.filter((_, j) => j !== i));
          assertRejected(await openAll(ks, id, dropped), data, `drop ${i}`, i === last ? i - 1 : i);
          // A duplicated (short) last chunk is read together with its copy as one final chunk.
          const doubled = rebuild([...chunks.slice(0, i + 1), chunks[i]!, ...chunks.slice(i + 1)]);
          assertRejected(await openAll(ks, id, doubled), data, `duplicate ${i}`, i === last ? i : i + 1);
        }
        for (let i = 0; i + 1 < chunks.length; i++) {
          const swapped = [...chunks];
          [swapped[i], swapped[i + 1]] = [swapped[i + 1]!, swapped[i]!];
          assertRejected(await openAll(ks, id, rebuild(swapped)), data, `swap ${i}/${i + 1}`, i);
        }
        for (const [what, extra] of [
          ['one byte', Uint8Array.of(0)],
          ['sixteen bytes', new Uint8Array(16)],
          ['a copy of the last chunk', chunks[last]!],
          ['a whole second stream', sealed],
        ] as const) {
          assertRejected(await openAll(ks, id, concatBytes(sealed, extra)), data, `append ${what}`);
        }
        // An empty final chunk after full ones (a writer that did not know the input had ended).
        const fullOnly = await sealBytes(ks, id, data.subarray(0, 2 * CHUNK));
        assertRejected(
          await openAll(ks, id, concatBytes(fullOnly, new Uint8Array(16))),
          data,
          'empty chunk',
          1,
        );
      } finally {
        await cleanup();
      }
    });

    test('chunks or the header of another stream of the same key, a wrong AAD, version or key fail', async () => {
      const { ks, id, sealed, cleanup } = await setup();
      try {
        const other = await sealBytes(ks, id, data); // same key, version, plaintext and AAD
        const mine = chunksOf(sealed, H);
        const theirs = chunksOf(other, H);
        for (let i = 0; i < mine.length; i++) {
          const spliced = mine.map((c, j) => (j === i ? theirs[i]! : c));
          assertRejected(
            await openAll(ks, id, concatBytes(sealed.subarray(0, H), ...spliced)),
            data,
            `splice ${i}`,
            i,
          );
        }
        // The chunk size is bound by the wrap: relabelling it fails at the header, before any output.
        for (const exponent of [7, 8, 16]) {
          const relabelled = Uint8Array.from(sealed);
          relabelled[23] = exponent;
          const result = await openAll(ks, id, relabelled);
          assertRejected(result, data, `chunk size 2^${exponent}`, 0);
          assert.ok(result.before, 'a relabelled chunk size fails at the header');
        }
        const swappedHeader = concatBytes(other.subarray(0, H), sealed.subarray(H));
        assertRejected(await openAll(ks, id, swappedHeader), data, 'header of another stream', 0);
        for (const aad of ['order=43', '']) {
          const result = await openAll(ks, id, sealed, aad);
          assertRejected(result, data, `aad '${aad}'`, 0);
          assert.ok(result.before, 'a wrong AAD fails before any plaintext');
        }
        // Wrong key version: after a rotation, a v2 stream relabelled as v1 (an existing version).
        await ks.rotate(id);
        const v2 = await sealBytes(ks, id, data);
        const relabelled = Uint8Array.from(v2);
        new DataView(relabelled.buffer).setUint32(19, 1);
        assertRejected(await openAll(ks, id, relabelled), data, 'v2 stream relabelled v1', 0);
        new DataView(relabelled.buffer).setUint32(19, 3);
        assertRejected(await openAll(ks, id, relabelled), data, 'a version that does not exist', 0, [
          'ENOENT',
        ]);
        // Another key of the same algorithm: refused by key id, and by the wrap when the id is rewritten.
        const otherKey = await ks.createKey({ app: 'tamper', purpose: 'other', algorithm });
        assertRejected(await openAll(ks, otherKey.id, sealed), data, 'another key', 0);
        const rekeyed = Uint8Array.from(sealed);
        rekeyed.set(keyIdBytes(otherKey.id), 3);
        assertRejected(await openAll(ks, otherKey.id, rekeyed), data, 'key id rewritten to another key', 0);
      } finally {
        await cleanup();
      }
    });
  });
}

test('truncation with 64 KiB chunks: at and between boundaries, earlier chunks released, then EBADMSG', async () => {
  const { ks, cleanup } = await tempKeystore();
  try {
    const key = await ks.createKey({ app: 'tamper', purpose: 'big', algorithm: 'aes-256-gcm' });
    const chunk = 64 * 1024;
    const data = pattern(3 * chunk + 100, 3);
    const sealed = await sealBytes(ks, key.id, data, chunk);
    const H = HEADER['aes-256-gcm'];
    for (const [length, released] of [
      [H + (chunk + 16), 0],
      [H + 2 * (chunk + 16), 1],
      [H + 2 * (chunk + 16) + 1, 2],
      [H + 3 * (chunk + 16) - 1, 2],
      [H + 3 * (chunk + 16), 2],
      [sealed.length - 1, 3],
    ] as const) {
      const pieces: Uint8Array[] = [];
      await assert.rejects(
        (async () => {
          for await (const piece of await ks.unsealStream(key.id, sealed.subarray(0, length), { aad: AAD }))
            pieces.push(Uint8Array.from(piece));
        })(),
        { code: 'EBADMSG' },
      );
      assert.equal(pieces.length, released, `cut at ${length}`);
      assert.deepEqual(concatBytes(...pieces), data.subarray(0, released * chunk));
    }
  } finally {
    await cleanup();
  }
});

test('fuzz: random mutations of a stream never open to anything but an authentic prefix and an error', async () => {
  const { ks, cleanup } = await tempKeystore();
  try {
    const key = await ks.createKey({ app: 'tamper', purpose: 'fuzz', algorithm: 'xchacha20-poly1305' });
    const data = pattern(3 * CHUNK + 20, 5);
    const sealed = await sealBytes(ks, key.id, data);
    const other = await sealBytes(ks, key.id, data);
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('flip' as const), at: fc.nat(sealed.length - 1), bit: fc.nat(7) }),
      fc.record({ kind: fc.constant('cut' as const), at: fc.nat(sealed.length - 1) }),
      fc.record({
        kind: fc.constant('insert' as const),
        at: fc.nat(sealed.length),
        bytes: fc.uint8Array({ minLength: 1, maxLength: 100 }),
      }),
      fc.record({
        kind: fc.constant('delete' as const),
        at: fc.nat(sealed.length - 1),
        n: fc.integer({ min: 1, max: 100 }),
      }),
      fc.record({
        kind: fc.constant('graft' as const),
        at: fc.nat(sealed.length - 1),
        from: fc.nat(other.length - 1),
        n: fc.integer({ min: 1, max: 200 }),
      }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 3 }), async (mutations) => {
        let bytes: Uint8Array = Uint8Array.from(sealed);
        for (const m of mutations) {
          const at = Math.min(m.at, bytes.length);
          if (m.kind === 'flip' && at < bytes.length) bytes[at]! ^= 1 << m.bit;
          if (m.kind === 'cut') bytes = bytes.slice(0, at);
          if (m.kind === 'insert') bytes = concatBytes(bytes.subarray(0, at), m.bytes, bytes.subarray(at));
          if (m.kind === 'delete') bytes = concatBytes(bytes.subarray(0, at), bytes.subarray(at + m.n));
          if (m.kind === 'graft') {
            const piece = other.subarray(m.from, m.from + m.n);
            bytes = concatBytes(bytes.subarray(0, at), piece, bytes.subarray(at + piece.length));
          }
        }
        const result = await openAll(ks, key.id, bytes);
        if (!result.error) {
          // Only a mutation that left the bytes as they were may open, and then to the exact plaintext.
          assert.deepEqual(bytes, sealed);
          assert.deepEqual(concatBytes(...result.pieces), data);
          return;
        }
        assert.ok(['EBADMSG', 'EINVAL', 'ENOENT'].includes(result.error.code), result.error.message);
        for (const [i, piece] of result.pieces.entries())
          assert.deepEqual(
            piece,
            data.subarray(i * CHUNK, (i + 1) * CHUNK),
            `released chunk ${i} is authentic`,
          );
      }),
      { numRuns: 400 },
    );
  } finally {
    await cleanup();
  }
});
