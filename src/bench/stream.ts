// Sealed-stream throughput (SPEC §6.2): ks.sealStream / ks.unsealStream over a 32 MiB payload in 64 KiB
// chunks, and the same through a daemon (CofferClient.sealStream / unsealStream over its Unix socket),
// each as a ratio to raw node:crypto AEAD (one createCipheriv / createDecipheriv fed the same pieces),
// measured in alternating rounds of the same run. The raw figure is the ceiling: the stream adds one
// cipher set-up and one 16-byte tag per chunk, the keystore's state check per chunk, and the copies
// from the input pieces into chunks.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CofferClient } from '../client/index.js';
import { Keystore } from '../core/keystore.js';
import { startServer } from '../server/index.js';
import { createToken } from '../server/tokens.js';
import { passphrase, tempDir } from '../testing/keystore.js';
import { type BenchRow, compareAsync, row } from './harness.js';

const MiB = 1024 * 1024;
const PAYLOAD = 32 * MiB;
/** The input arrives as 64 KiB pieces, as from a file or a socket. */
const PIECE = 64 * 1024;

type Cipher = 'aes-256-gcm' | 'chacha20-poly1305';

// The raw baselines are the fastest node:crypto way to run the AEAD over the same bytes: one cipher
// fed the same 64 KiB pieces (no 32 MiB allocations, which would make the baseline slow and the ratio
// flattering), one tag at the end. They authenticate nothing per chunk and detect truncation of nothing
// but the whole: the ceiling a chunked construction is measured against.
function rawSeal(cipher: Cipher, key: Uint8Array, nonce: Uint8Array, input: Uint8Array[]): number {
  const c = createCipheriv(cipher as 'aes-256-gcm', key, nonce, { authTagLength: 16 });
  let total = 0;
  for (const piece of input) total += c.update(piece).length;
  c.final();
  return total + c.getAuthTag().length;
}

function rawOpen(
  cipher: Cipher,
  key: Uint8Array,
  nonce: Uint8Array,
  input: Uint8Array[],
  tag: Uint8Array,
): number {
  const d = createDecipheriv(cipher as 'aes-256-gcm', key, nonce, { authTagLength: 16 });
  d.setAuthTag(tag);
  let total = 0;
  for (const piece of input) total += d.update(piece).length;
  d.final();
  return total;
}

/** Raw ciphertext pieces and tag of the whole input, for rawOpen to open. */
function rawSealed(cipher: Cipher, key: Uint8Array, nonce: Uint8Array, input: Uint8Array[]) {
  const c = createCipheriv(cipher as 'aes-256-gcm', key, nonce, { authTagLength: 16 });
  const out = input.map((piece) => new Uint8Array(c.update(piece)));
  c.final();
  return { pieces: out, tag: c.getAuthTag() };
}

function pieces(payload: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at < payload.length; at += PIECE) out.push(payload.subarray(at, at + PIECE));
  return out;
}

/** Consumes a stream, keeping only its length (as a consumer writing to a file would). */
async function drain(stream: AsyncIterable<Uint8Array>): Promise<number> {
  let total = 0;
  for await (const piece of stream) total += piece.length;
  return total;
}

async function collect(stream: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const piece of stream) out.push(piece);
  return out;
}

const mbs = (opsPerSec: number) => Math.round((opsPerSec * PAYLOAD) / 1e6);

export async function benchStream(options: { rounds?: number; ms?: number } = {}): Promise<BenchRow[]> {
  const timing = { rounds: options.rounds ?? 5, ms: options.ms ?? 600 };
  const dir = tempDir('coffer-bench-stream-');
  chmodSync(dir.path, 0o700);
  const store = `sqlite:${join(dir.path, 'store.db')}`;
  const socket = join(dir.path, 'd.sock');
  let ks = await Keystore.open({ store, protector: passphrase(), create: true });
  const { token } = await createToken(ks, { apps: ['*'], ops: ['*'], admin: true });
  const keys = {
    'aes-256-gcm': await ks.createKey({ app: 'bench', purpose: 'aes', algorithm: 'aes-256-gcm' }),
    'xchacha20-poly1305': await ks.createKey({
      app: 'bench',
      purpose: 'xchacha',
      algorithm: 'xchacha20-poly1305',
    }),
    'x-wing': await ks.createKey({ app: 'bench', purpose: 'xwing', algorithm: 'x-wing' }),
  };
  await ks.close();
  const server = await startServer({ store, socket, logger: false, handleSignals: false, rotation: false });
  const client = new CofferClient({ socket, token });
  ks = await Keystore.open({ store, protector: passphrase() });
  try {
    await client.unlock(passphrase().passphrase);
    const payload = randomBytes(PAYLOAD);
    const input = pieces(payload);
    const rawKey = randomBytes(32);
    const nonce = randomBytes(12);
    const rows: BenchRow[] = [];
    for (const [algorithm, key] of Object.entries(keys)) {
      const cipher: Cipher = algorithm === 'xchacha20-poly1305' ? 'chacha20-poly1305' : 'aes-256-gcm';
      const rawName = `node:crypto ${cipher}, one cipher`;
      const raw = rawSealed(cipher, rawKey, nonce, input);
      const sealed = await collect(await ks.sealStream(key.id, input));
      const seal = await compareAsync(
        async () => drain(await ks.sealStream(key.id, input)),
        () => rawSeal(cipher, rawKey, nonce, input),
        timing,
      );
      rows.push(
        row('stream', `ks.sealStream ${algorithm} 32 MiB`, seal, rawName, undefined, {
          'MB/s': mbs(seal.subject),
        }),
      );
      const open = await compareAsync(
        async () => drain(await ks.unsealStream(key.id, sealed)),
        () => rawOpen(cipher, rawKey, nonce, raw.pieces, raw.tag),
        timing,
      );
      rows.push(
        row('stream', `ks.unsealStream ${algorithm} 32 MiB`, open, rawName, undefined, {
          'MB/s': mbs(open.subject),
        }),
      );
    }
    const aes = keys['aes-256-gcm'];
    // Larger chunks amortise the per-chunk cipher set-up (at the price of more memory per stream).
    const rawAesSealed = rawSealed('aes-256-gcm', rawKey, nonce, input);
    const bigChunks = await compareAsync(
      async () => drain(await ks.sealStream(aes.id, input, { chunkSize: MiB })),
      () => rawSeal('aes-256-gcm', rawKey, nonce, input),
      timing,
    );
    rows.push(
      row(
        'stream',
        'ks.sealStream aes-256-gcm 32 MiB, 1 MiB chunks',
        bigChunks,
        'node:crypto aes-256-gcm, one cipher',
        undefined,
        {
          'MB/s': mbs(bigChunks.subject),
        },
      ),
    );
    const sealed = await collect(await ks.sealStream(aes.id, input));
    const viaSeal = await compareAsync(
      async () => drain(await client.sealStream(aes.id, input)),
      () => rawSeal('aes-256-gcm', rawKey, nonce, input),
      timing,
    );
    rows.push(
      row(
        'stream',
        'daemon seal-stream aes-256-gcm 32 MiB',
        viaSeal,
        'node:crypto aes-256-gcm, one cipher',
        undefined,
        {
          'MB/s': mbs(viaSeal.subject),
        },
      ),
    );
    const viaOpen = await compareAsync(
      async () => drain(await client.unsealStream(aes.id, sealed)),
      () => rawOpen('aes-256-gcm', rawKey, nonce, rawAesSealed.pieces, rawAesSealed.tag),
      timing,
    );
    rows.push(
      row(
        'stream',
        'daemon unseal-stream aes-256-gcm 32 MiB',
        viaOpen,
        'node:crypto aes-256-gcm, one cipher',
        undefined,
        {
          'MB/s': mbs(viaOpen.subject),
        },
      ),
    );
    return rows;
  } finally {
    client.close();
    await ks.close();
    await server.close();
    dir.remove();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  for (const r of await benchStream()) console.log(JSON.stringify(r));
}
