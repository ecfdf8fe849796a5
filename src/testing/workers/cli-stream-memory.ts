// Child process for the bounded-memory test of the CLI's sealed streams (src/cli/stream-memory.test.ts;
// run as compiled JS, not a test file itself). It runs the real CLI (dist/cli/main.js) as two child
// processes, `coffer seal KEY` piped into `coffer unseal`, feeds the first N bytes generated as a stream
// (a 1 MiB block refilled per piece: the input never exists whole) and hashes what the second prints,
// against a running hash of what was fed. Each CLI child's peak RSS is read from the kernel
// (/proc/PID/status VmHWM, polled while it runs): a real measurement of that process alone. The
// baseline is the same pipeline on 1 MiB with --stream (same code paths, nothing large). Prints one
// JSON line: { mode, bytes, baseline: {seal, unseal}, peak: {seal, unseal} } in MiB.
//
//   node cli-stream-memory.js direct <bytes>   — the store opened in each CLI process (--no-agent)
//   node cli-stream-memory.js daemon <bytes>   — a daemon in this process; the CLI talks to its socket
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Keystore } from '../../core/keystore.js';
import { makeStore, PASSPHRASE, startDaemon } from '../daemon.js';
import { passphrase, tempDir } from '../keystore.js';

const MiB = 1024 * 1024;
const cli = fileURLToPath(new URL('../../cli/main.js', import.meta.url));

const [mode, sizeText] = process.argv.slice(2);
const size = Number(sizeText);
if ((mode !== 'direct' && mode !== 'daemon') || !Number.isSafeInteger(size) || size < 0) {
  process.stderr.write('usage: cli-stream-memory.js direct|daemon <bytes>\n');
  process.exit(2);
}

const block = new Uint8Array(MiB);
{
  let x = 0x2545f491;
  for (let i = 0; i < MiB; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    block[i] = x & 0xff;
  }
}

/** Peak resident set of a live process in KiB (VmHWM), or undefined once it is gone. */
function peakKiB(pid: number): number | undefined {
  try {
    const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Polls a child's VmHWM until it exits; resolves with the last (highest) value seen. */
function watchPeak(child: ChildProcess): () => number {
  let peak = 0;
  const poll = () => {
    const kib = child.pid === undefined ? undefined : peakKiB(child.pid);
    if (kib !== undefined && kib > peak) peak = kib;
  };
  const timer = setInterval(poll, 10);
  child.once('exit', () => clearInterval(timer));
  return () => Math.round((peak / 1024) * 10) / 10;
}

function exited(child: ChildProcess, name: string, stderr: () => string): Promise<void> {
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`${name} exited ${code ?? signal}: ${stderr()}`)),
    );
  });
}

async function pipeline(
  env: NodeJS.ProcessEnv,
  key: string,
  bytes: number,
  extra: string[],
): Promise<{ seal: number; unseal: number }> {
  const options = { env, stdio: ['pipe', 'pipe', 'pipe'] as ['pipe', 'pipe', 'pipe'] };
  const seal = spawn(process.execPath, [cli, 'seal', key, '--aad', 'memory', ...extra], options);
  const unseal = spawn(process.execPath, [cli, 'unseal', '--aad', 'memory'], options);
  const sealPeak = watchPeak(seal);
  const unsealPeak = watchPeak(unseal);
  let sealErr = '';
  let unsealErr = '';
  seal.stderr.on('data', (d: Buffer) => {
    sealErr += d.toString();
  });
  unseal.stderr.on('data', (d: Buffer) => {
    unsealErr += d.toString();
  });
  seal.stdout.pipe(unseal.stdin);
  unseal.stdin.on('error', () => {}); // a failing unseal is reported by its exit code
  const fed = createHash('sha256');
  const got = createHash('sha256');
  let gotBytes = 0;
  unseal.stdout.on('data', (piece: Buffer) => {
    got.update(piece);
    gotBytes += piece.length;
  });
  const done = Promise.all([exited(seal, 'seal', () => sealErr), exited(unseal, 'unseal', () => unsealErr)]);
  seal.stdin.on('error', () => {});
  const piece = new Uint8Array(MiB);
  for (let at = 0, index = 0; at < bytes; at += MiB, index++) {
    piece.set(block);
    new DataView(piece.buffer).setFloat64(0, index);
    const part = piece.subarray(0, Math.min(MiB, bytes - at));
    fed.update(part);
    // Copied: the child pipe may still hold the previous piece when this buffer is refilled.
    if (!seal.stdin.write(Buffer.from(part))) await new Promise((r) => seal.stdin.once('drain', r));
  }
  seal.stdin.end();
  await done;
  if (gotBytes !== bytes) throw new Error(`unseal printed ${gotBytes} bytes, ${bytes} were sealed`);
  if (fed.digest('hex') !== got.digest('hex')) throw new Error('unsealed output differs from the input');
  return { seal: sealPeak(), unseal: unsealPeak() };
}

async function main(): Promise<void> {
  let env: NodeJS.ProcessEnv;
  let key: string;
  let cleanup: () => Promise<void>;
  const base = { PATH: process.env.PATH ?? '/usr/bin:/bin', COFFER_AGENT: '0', LANG: 'C' };
  if (mode === 'direct') {
    const dir = tempDir();
    const { store } = await makeStore(dir);
    const ks = await Keystore.open({ store, protector: passphrase(PASSPHRASE) });
    key = (await ks.createKey({ app: 'memory', purpose: 'cli', algorithm: 'aes-256-gcm' })).id;
    await ks.close();
    env = { ...base, HOME: dir.path, COFFER_STORE: store, COFFER_PASSPHRASE: PASSPHRASE };
    cleanup = async () => dir.remove();
  } else {
    const d = await startDaemon();
    key = (await d.admin.createKey({ app: 'memory', purpose: 'cli', algorithm: 'aes-256-gcm' })).id;
    env = { ...base, HOME: d.dir.path, COFFER_SOCKET: d.socket, COFFER_TOKEN: d.adminToken };
    cleanup = () => d.cleanup();
  }
  try {
    const baseline = await pipeline(env, key, MiB, ['--stream']);
    const peak = await pipeline(env, key, size, []);
    process.stdout.write(`${JSON.stringify({ mode, bytes: size, baseline, peak })}\n`);
  } finally {
    await cleanup();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
