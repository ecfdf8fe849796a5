// Sealed streams through the Keystore (SPEC §6.2): round trips at every chunk boundary for the three
// algorithms and for every kind of source, one piece per chunk, one-shot/stream interplay, rewrapStream,
// the state rules (also re-checked during a stream), usage counting, audit, and source handling.
import assert from 'node:assert/strict';
import { createReadStream, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { concatBytes } from '../crypto/bytes.js';
import { CofferError } from '../errors.js';
import { passphrase, tempKeystore } from '../testing/keystore.js';
import type { Keystore } from './keystore.js';
import { sealStreamToPublicKey } from './stream-seal.js';

const KiB = 1024;
const CHUNK = 64 * KiB;
const ALGORITHMS = ['aes-256-gcm', 'xchacha20-poly1305', 'x-wing'] as const;
const HEADER = { 'aes-256-gcm': 84, 'xchacha20-poly1305': 96, 'x-wing': 1204 } as const;

/** Deterministic bytes that differ from chunk to chunk (so a reordered chunk would show). */
function pattern(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed * 2654435761;
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

async function collect(stream: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const piece of stream) out.push(Uint8Array.from(piece));
  return out;
}

function code(expected: string, message?: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof CofferError, String(error));
    assert.equal(error.code, expected, error.message);
    if (message) assert.match(error.message, message);
    return true;
  };
}

async function roundTrip(ks: Keystore, id: string, data: Uint8Array, source: unknown, aad?: string) {
  const sealed = await ks.sealStream(id, source as Uint8Array, aad ? { aad } : {});
  const pieces = await collect(sealed);
  const opened = await collect(await ks.unsealStream(id, pieces, aad ? { aad } : {}));
  assert.deepEqual(concatBytes(...opened), data);
  return { pieces, opened, version: sealed.version };
}

describe('round trips', () => {
  test('sizes 0, 1, chunk−1, chunk, chunk+1 and many chunks; one output piece per chunk', async () => {
    const { ks, cleanup } = await tempKeystore();
    try {
      for (const algorithm of ALGORITHMS) {
        const key = await ks.createKey({ app: 'stream', purpose: algorithm, algorithm });
        for (const size of [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 5 * CHUNK + 3]) {
          const data = pattern(size, size);
          const { pieces, opened, version } = await roundTrip(ks, key.id, data, data, 'ctx');
          const chunks = Math.max(1, Math.ceil(size / CHUNK));
          assert.equal(version, 1);
          assert.equal(pieces.length, 1 + chunks, `${algorithm} ${size}: header + ${chunks} chunks`);
          assert.equal(pieces[0]!.length, HEADER[algorithm]);
          for (const [i, piece] of pieces.slice(1).entries())
            assert.equal(piece.length, (i < chunks - 1 ? CHUNK : size - (chunks - 1) * CHUNK) + 16);
          assert.equal(opened.length, chunks);
          // The one-shot API opens the same stream (SPEC §6.2.4).
          assert.deepEqual(await ks.unseal(key.id, concatBytes(...pieces), { aad: 'ctx' }), data);
        }
      }
    } finally {
      await cleanup();
    }
  });

  test('small chunk sizes, many chunks, and every kind of source (array, generator, Readable, file, web stream)', async () => {
    const { ks, dir, cleanup } = await tempKeystore();
    try {
      const key = await ks.createKey({ app: 'stream', purpose: 'sources', algorithm: 'aes-256-gcm' });
      const data = pattern(100_003, 7);
      const file = join(dir.path, 'input.bin');
      writeFileSync(file, data);
      const cut = (sizes: number[]) => {
        const out: Uint8Array[] = [];
        let at = 0;
        for (let i = 0; at < data.length; i++) {
          const n = sizes[i % sizes.length]!;
          out.push(data.subarray(at, at + n));
          at += n;
        }
        return out;
      };
      const sources: [string, () => unknown][] = [
        ['one Uint8Array', () => data],
        ['a Buffer', () => Buffer.from(data)],
        ['odd pieces with empty ones', () => cut([1, 0, 63, 64, 65, 4096, 7])],
        [
          'an async generator',
          () =>
            (async function* () {
              yield* cut([1000, 17]);
            })(),
        ],
        ['Readable.from', () => Readable.from(cut([333]))],
        ['fs.createReadStream', () => createReadStream(file, { highWaterMark: 5000 })],
        ['a web ReadableStream', () => Readable.toWeb(Readable.from(cut([2048])))],
      ];
      for (const chunkSize of [64, 1024, CHUNK]) {
        const reference = await collect(await ks.sealStream(key.id, data, { chunkSize }));
        for (const [name, make] of sources) {
          const pieces = await collect(await ks.sealStream(key.id, make() as Uint8Array, { chunkSize }));
          assert.equal(pieces.length, reference.length, `${name} @ ${chunkSize}: same chunking`);
          assert.deepEqual(
            pieces.slice(1).map((p) => p.length),
            reference.slice(1).map((p) => p.length),
          );
          const opened = await collect(await ks.unsealStream(key.id, Readable.from(pieces)));
          assert.deepEqual(concatBytes(...opened), data, `${name} @ ${chunkSize}`);
        }
      }
    } finally {
      await cleanup();
    }
  });

  test('a source that refills one buffer for every piece still seals what it yielded', async () => {
    const { ks, cleanup } = await tempKeystore();
    try {
      const key = await ks.createKey({ app: 'stream', purpose: 'reuse', algorithm: 'aes-256-gcm' });
      const data = pattern(10 * CHUNK + 5, 3);
      for (const pieceSize of [CHUNK, CHUNK / 2, 3 * CHUNK, 1000]) {
        const buffer = new Uint8Array(pieceSize);
        async function* refilling() {
          for (let at = 0; at < data.length; at += pieceSize) {
            const n = Math.min(pieceSize, data.length - at);
            buffer.set(data.subarray(at, at + n));
            yield buffer.subarray(0, n);
          }
          buffer.fill(0xee); // whatever the source does to its buffer after its last piece
        }
        const sealed = await collect(await ks.sealStream(key.id, refilling()));
        assert.deepEqual(concatBytes(...(await collect(await ks.unsealStream(key.id, sealed)))), data);
      }
    } finally {
      await cleanup();
    }
  });

  test('sealStreamToPublicKey (no keystore) makes kind 0x04 streams the x-wing key opens', async () => {
    const { ks, cleanup } = await tempKeystore();
    try {
      const key = await ks.createKey({ app: 'stream', purpose: 'recipient', algorithm: 'x-wing' });
      const publicKey = (await ks.publicKey(key.id, 'raw')) as Uint8Array;
      const data = pattern(3 * 1024 + 1, 9);
      const stream = await sealStreamToPublicKey({ keyId: key.id, version: 1, publicKey }, data, {
        aad: 'to-you',
        chunkSize: 1024,
      });
      const pieces = await collect(stream);
      assert.equal(pieces[0]![1], 0x04);
      assert.equal(pieces.length, 1 + 4);
      const opened = await collect(await ks.unsealStream(key.id, pieces, { aad: 'to-you' }));
      assert.deepEqual(concatBytes(...opened), data);
      await assert.rejects(ks.unsealStream(key.id, pieces, { aad: 'to-me' }), code('EBADMSG'));
      await assert.rejects(
        sealStreamToPublicKey({ keyId: key.id, version: 1, publicKey: new Uint8Array(10) }, data),
        code('EINVAL'),
      );
      await assert.rejects(
        sealStreamToPublicKey({ keyId: 'k_nope', version: 1, publicKey }, data),
        code('EINVAL'),
      );
      await assert.rejects(
        sealStreamToPublicKey({ keyId: key.id, version: 0, publicKey }, data),
        code('EINVAL'),
      );
    } finally {
      await cleanup();
    }
  });
});

describe('one-shot and stream interplay (SPEC §6.2.4)', () => {
  test('bounds: one-shot seal over 16 MiB names the limit in MiB and points at sealStream; streams are not bounded', async () => {
    const { ks, cleanup } = await tempKeystore();
    try {
      const key = await ks.createKey({ app: 'stream', purpose: 'bounds', algorithm: 'aes-256-gcm' });
      const big = new Uint8Array(16 * 1024 * 1024 + 1);
      await assert.rejects(ks.seal(key.id, big), code('E2BIG', /16 MiB.*sealStream/));
      const bigBlob = new Uint8Array(16 * 1024 * 1024 + 4097);
      bigBlob.set([1, 1]);
      await assert.rejects(ks.unseal(key.id, bigBlob), code('E2BIG', /16 MiB.*unsealStream/));
      // The same input streams; the one-shot unseal refuses the stream for its size, unsealStream opens it.
      const sealed = concatBytes(...(await collect(await ks.sealStream(key.id, big))));
      await assert.rejects(ks.unseal(key.id, sealed), code('E2BIG', /16 MiB.*unsealStream/));
      let total = 0;
      for await (const piece of await ks.unsealStream(key.id, sealed)) total += piece.length;
      assert.equal(total, big.length);
    } finally {
      await cleanup();
    }
  });

  test('unsealStream opens one-shot blobs; rewrap turns a stream into a blob; rewrapStream refuses blobs', async () => {
    const { ks, cleanup } = await tempKeystore();
    try {
      const key = await ks.createKey({
        app: 'stream',
        purpose: 'interplay',
        algorithm: 'xchacha20-poly1305',
      });
      const data = pattern(1000, 4);
      const blob = await ks.seal(key.id, data, { aad: 'a' });
      const fromBlob = await ks.unsealStream(key.id, [blob.subarray(0, 5), blob.subarray(5)], { aad: 'a' });
      assert.equal(fromBlob.version, 1);
      assert.deepEqual(await collect(fromBlob), [data]);
      await assert.rejects(ks.unsealStream(key.id, blob, { aad: 'b' }), code('EBADMSG'));
      const tooLong = new Uint8Array(16 * 1024 * 1024 + 4097);
      tooLong.set(blob.subarray(0, 23));
      await assert.rejects(ks.unsealStream(key.id, tooLong), code('E2BIG'));
      const stream = concatBytes(...(await collect(await ks.sealStream(key.id, data, { aad: 'a' }))));
      const rewrapped = await ks.rewrap(key.id, stream, { aad: 'a' });
      assert.equal(rewrapped[1], 0x01, 'one-shot rewrap writes a one-shot blob');
      assert.deepEqual(await ks.unseal(key.id, rewrapped, { aad: 'a' }), data);
      await assert.rejects(ks.rewrapStream(key.id, blob, { aad: 'a' }), code('EINVAL', /rewrap/));
    } finally {
      await cleanup();
    }
  });

  test('rewrapStream: new header for the primary version, body byte-identical; old versions can then be archived', async () => {
    const { ks, cleanup } = await tempKeystore();
    try {
      for (const algorithm of ALGORITHMS) {
        const key = await ks.createKey({ app: 'stream', purpose: `rewrap-${algorithm}`, algorithm });
        const data = pattern(5 * 1024 + 7, 5);
        const old = concatBytes(
          ...(await collect(await ks.sealStream(key.id, data, { aad: 'r', chunkSize: 1024 }))),
        );
        await ks.rotate(key.id);
        const stream = await ks.rewrapStream(key.id, [old], { aad: 'r' });
        assert.equal(stream.version, 2);
        const fresh = concatBytes(...(await collect(stream)));
        const h = HEADER[algorithm];
        assert.equal(fresh.length, old.length);
        assert.deepEqual(fresh.subarray(h), old.subarray(h), 'the body is unchanged');
        assert.equal(new DataView(fresh.buffer).getUint32(19), 2);
        await ks.setMinDecryptionVersion(key.id, 2);
        await assert.rejects(ks.unsealStream(key.id, old, { aad: 'r' }), code('EKEYEXPIRED'));
        assert.deepEqual(
          concatBytes(...(await collect(await ks.unsealStream(key.id, fresh, { aad: 'r' })))),
          data,
        );
        await assert.rejects(ks.rewrapStream(key.id, fresh, { aad: 'x' }), code('EBADMSG'));
      }
    } finally {
      await cleanup();
    }
  });
});

describe('state rules, usage and audit', () => {
  test('seal needs an active key and the seal use; unseal follows the process-operation rules', async () => {
    const { ks, cleanup } = await tempKeystore();
    try {
      const key = await ks.createKey({ app: 'stream', purpose: 'states', algorithm: 'aes-256-gcm' });
      const data = pattern(300, 2);
      const v1 = concatBytes(...(await collect(await ks.sealStream(key.id, data))));
      await ks.suspend(key.id);
      await assert.rejects(ks.sealStream(key.id, data), code('ESTATE'));
      assert.deepEqual(
        concatBytes(...(await collect(await ks.unsealStream(key.id, v1)))),
        data,
        'suspended: unseal works',
      );
      await ks.resume(key.id);
      await ks.rotate(key.id);
      assert.deepEqual(
        concatBytes(...(await collect(await ks.unsealStream(key.id, v1)))),
        data,
        'deactivated v1',
      );
      await ks.revoke(key.id, 'leaked', { version: 1 });
      await assert.rejects(ks.unsealStream(key.id, v1), code('EKEYREVOKED'));
      assert.equal((await ks.sealStream(key.id, data)).version, 2);
      await ks.revoke(key.id, 'all of it');
      await assert.rejects(ks.sealStream(key.id, data), code('EKEYREVOKED'));

      const signer = await ks.createKey({ app: 'stream', purpose: 'signer', algorithm: 'ed25519' });
      await assert.rejects(ks.sealStream(signer.id, data), code('EPERM'));
      await assert.rejects(ks.unsealStream(signer.id, v1), code('EBADMSG')); // not this key's stream
      const openOnly = await ks.createKey({
        app: 'stream',
        purpose: 'open-only',
        algorithm: 'aes-256-gcm',
        uses: ['unseal'],
      });
      await assert.rejects(ks.sealStream(openOnly.id, data), code('EPERM'));
      await assert.rejects(ks.sealStream('k_nope', data), code('EINVAL'));
      await assert.rejects(ks.unsealStream('k_aaaaaaaaaaaaaaaaaaaaaaaaaa', v1), code('EBADMSG'));
      await assert.rejects(ks.sealStream(key.id, 'text' as unknown as Uint8Array), code('EINVAL'));
      await assert.rejects(ks.sealStream(key.id, data, { chunkSize: 1000 }), code('EINVAL'));
      await assert.rejects(
        ks.sealStream(key.id, data, { aad: new Uint8Array(64 * 1024 + 1) }),
        code('E2BIG'),
      );
    } finally {
      await cleanup();
    }
  });

  test('revoking or destroying the version, suspending, or locking stops a running stream at its next chunk', async () => {
    const { ks, cleanup } = await tempKeystore();
    try {
      const data = pattern(10 * 1024, 8);
      const scenarios: [string, (ks: Keystore, id: string) => Promise<unknown>, string, string][] = [
        ['revoke', (k, id) => k.revoke(id, 'incident'), 'EKEYREVOKED', 'EKEYREVOKED'],
        ['destroy', (k, id) => k.destroy(id), 'EKEYREVOKED', 'EKEYREVOKED'],
        ['suspend', (k, id) => k.suspend(id), 'ESTATE', ''],
        ['lock', (k) => k.lock(), 'ELOCKED', 'ELOCKED'],
      ];
      for (const [name, act, sealCode, unsealCode] of scenarios) {
        const key = await ks.createKey({ app: 'stream', purpose: `stop-${name}`, algorithm: 'aes-256-gcm' });
        const sealed = concatBytes(
          ...(await collect(await ks.sealStream(key.id, data, { chunkSize: 1024 }))),
        );
        const sealing = await ks.sealStream(key.id, data, { chunkSize: 1024 });
        const unsealing = await ks.unsealStream(key.id, sealed);
        assert.equal((await sealing.next()).done, false); // header
        assert.equal((await sealing.next()).done, false); // chunk 0
        assert.equal((await unsealing.next()).done, false); // chunk 0
        await act(ks, key.id);
        await assert.rejects(sealing.next(), code(sealCode), `${name}: seal`);
        if (unsealCode) await assert.rejects(unsealing.next(), code(unsealCode), `${name}: unseal`);
        else assert.equal((await collect(unsealing)).length, 9, 'a suspended key still unseals');
        if (name === 'lock') await ks.unlock(passphrase());
      }
    } finally {
      await cleanup();
    }
  });

  test('one usage count per sealed stream; audit events op.seal-stream / op.unseal-stream / op.rewrap-stream', async () => {
    const { ks, cleanup } = await tempKeystore({ auditOperations: true });
    try {
      const key = await ks.createKey({ app: 'stream', purpose: 'usage', algorithm: 'aes-256-gcm' });
      const data = pattern(5 * 1024, 6);
      const sealed = concatBytes(...(await collect(await ks.sealStream(key.id, data, { chunkSize: 64 }))));
      await collect(await ks.sealStream(key.id, data));
      await collect(await ks.unsealStream(key.id, sealed));
      await collect(await ks.rewrapStream(key.id, sealed));
      assert.deepEqual(
        await ks.usage(key.id),
        { '1': 3 },
        'two seals and a rewrap, whatever the chunk count',
      );
      await ks.lock();
      await ks.unlock(passphrase());
      const events = (await ks.auditTail(20)).filter((e) => e.event.startsWith('op.')).map((e) => e.event);
      assert.deepEqual(events, ['op.seal-stream', 'op.seal-stream', 'op.unseal-stream', 'op.rewrap-stream']);
      assert.equal((await ks.verifyAudit()).ok, true);
    } finally {
      await cleanup();
    }
  });
});

describe('source handling', () => {
  test('breaking out early closes the source; an error thrown by the source propagates unchanged', async () => {
    const { ks, cleanup } = await tempKeystore();
    try {
      const key = await ks.createKey({ app: 'stream', purpose: 'sources', algorithm: 'aes-256-gcm' });
      let closed = 0;
      let pulled = 0;
      async function* endless() {
        try {
          for (;;) {
            pulled++;
            yield new Uint8Array(4096);
          }
        } finally {
          closed++;
        }
      }
      let seen = 0;
      for await (const _ of await ks.sealStream(key.id, endless())) if (++seen === 3) break;
      assert.equal(closed, 1);
      assert.ok(pulled < 100, `read only what was needed (${pulled} pieces)`);

      let returned = 0;
      const iterable = {
        [Symbol.asyncIterator]: () => ({
          next: async () => ({ done: false, value: new Uint8Array(10) }),
          return: async () => {
            returned++;
            return { done: true, value: undefined };
          },
        }),
      } as AsyncIterable<Uint8Array>;
      const never = await ks.sealStream(key.id, iterable);
      await never.return();
      assert.equal(returned, 1, 'a stream never iterated closes its source on return()');
      assert.deepEqual(await never.next(), { done: true, value: undefined });

      const failure = new Error('disk on fire');
      async function* failing() {
        yield new Uint8Array(100_000);
        throw failure;
      }
      await assert.rejects(collect(await ks.sealStream(key.id, failing())), (e) => e === failure);
      const sealed = concatBytes(...(await collect(await ks.sealStream(key.id, new Uint8Array(100_000)))));
      async function* failingSealed() {
        yield sealed.subarray(0, 70_000);
        throw failure;
      }
      const opened = await ks.unsealStream(key.id, failingSealed());
      await assert.rejects(collect(opened), (e) => e === failure);
      async function* textual() {
        yield 'not bytes';
      }
      await assert.rejects(
        collect(await ks.sealStream(key.id, textual() as AsyncIterable<Uint8Array>)),
        code('EINVAL'),
      );
    } finally {
      await cleanup();
    }
  });
});
