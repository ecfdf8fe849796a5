// Child process for the bounded-memory tests of sealed streams (src/core/stream-memory.test.ts,
// src/server/stream-memory.test.ts; run as compiled JS, not a test file itself). It seals N bytes that
// are generated as a stream (one 1 MiB buffer refilled for each piece: the input never exists whole)
// and unseals the sealed stream as it is produced, checks every output byte against the generator, and
// prints one JSON line: { mode, bytes, ms, baselineRssMiB, maxRssMiB }. Peak RSS is the point.
//
//   node stream-memory.js library <bytes>   — Keystore.sealStream → Keystore.unsealStream
//   node stream-memory.js daemon <bytes>    — a daemon in this process; CofferClient.sealStream →
//                                             CofferClient.unsealStream over its Unix socket
import { startDaemon } from '../../server/fixture.js';
import { tempKeystore } from '../keystore.js';

const MiB = 1024 * 1024;

const [mode, sizeText] = process.argv.slice(2);
const size = Number(sizeText);
if ((mode !== 'library' && mode !== 'daemon') || !Number.isSafeInteger(size) || size < 0) {
  process.stderr.write('usage: stream-memory.js library|daemon <bytes>\n');
  process.exit(2);
}

/** 1 MiB of pseudo-random bytes; piece k is this block with k in its first 8 bytes. */
const block = new Uint8Array(MiB);
{
  let x = 0x9e3779b9;
  for (let i = 0; i < MiB; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    block[i] = x & 0xff;
  }
}

function stamp(target: Uint8Array, index: number): void {
  target.set(block);
  new DataView(target.buffer, target.byteOffset, 8).setFloat64(0, index);
}

function* input(): Generator<Uint8Array> {
  const buffer = new Uint8Array(MiB);
  for (let at = 0, index = 0; at < size; at += MiB, index++) {
    stamp(buffer, index);
    yield buffer.subarray(0, Math.min(MiB, size - at));
  }
}

/** Checks output pieces of any size against what input() produced, without keeping them. */
class Checker {
  offset = 0;
  #expected = new Uint8Array(MiB);
  #index = -1;

  check(piece: Uint8Array): void {
    let done = 0;
    while (done < piece.length) {
      const index = Math.floor(this.offset / MiB);
      if (index !== this.#index) {
        stamp(this.#expected, index);
        this.#index = index;
      }
      const within = this.offset % MiB;
      const n = Math.min(piece.length - done, MiB - within);
      const got = Buffer.from(piece.buffer, piece.byteOffset + done, n);
      const want = Buffer.from(this.#expected.buffer, within, n);
      if (!got.equals(want)) throw new Error(`output differs from the input in the MiB at ${index}`);
      done += n;
      this.offset += n;
    }
  }
}

const rssMiB = (kib: number) => Math.round((kib / 1024) * 10) / 10;

async function main(): Promise<void> {
  const checker = new Checker();
  let baseline = 0;
  let started = 0;
  if (mode === 'library') {
    const { ks, cleanup } = await tempKeystore();
    try {
      const key = await ks.createKey({ app: 'memory', purpose: 'stream', algorithm: 'aes-256-gcm' });
      baseline = process.resourceUsage().maxRSS;
      started = performance.now();
      const sealed = await ks.sealStream(key.id, input(), { aad: 'memory' });
      for await (const piece of await ks.unsealStream(key.id, sealed, { aad: 'memory' }))
        checker.check(piece);
    } finally {
      await cleanup();
    }
  } else {
    const d = await startDaemon();
    try {
      const key = await d.admin.createKey({ app: 'memory', purpose: 'stream', algorithm: 'aes-256-gcm' });
      baseline = process.resourceUsage().maxRSS;
      started = performance.now();
      const sealed = await d.admin.sealStream(key.id, input(), { aad: 'memory' });
      for await (const piece of await d.admin.unsealStream(key.id, sealed, { aad: 'memory' }))
        checker.check(piece);
    } finally {
      await d.cleanup();
    }
  }
  const ms = Math.round(performance.now() - started);
  if (checker.offset !== size) throw new Error(`got ${checker.offset} bytes back, sealed ${size}`);
  process.stdout.write(
    `${JSON.stringify({
      mode,
      bytes: checker.offset,
      ms,
      baselineRssMiB: rssMiB(baseline),
      maxRssMiB: rssMiB(process.resourceUsage().maxRSS),
    })}\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
