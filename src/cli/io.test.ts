// Input/output rules of the CLI (docs/cli.md): binary is never written to a terminal, base64 input is
// strict, plaintext files are created 0600, and input is bounded.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { CofferError } from '../errors.js';
import { decodeBase64Text, readInput, type Streams, writeBinary } from './io.js';

function streams(tty: boolean): Streams & { written: () => Buffer } {
  const stdout = Object.assign(new PassThrough(), { isTTY: tty });
  const chunks: Buffer[] = [];
  stdout.on('data', (c: Buffer) => chunks.push(c));
  const stdin = Object.assign(new PassThrough(), { isTTY: tty });
  return { stdin, stdout, stderr: new PassThrough(), written: () => Buffer.concat(chunks) };
}

const code = (c: string) => (e: unknown) => e instanceof CofferError && e.code === c;

test('binary to a terminal is refused with a hint; to a pipe it is written as is', async () => {
  const tty = streams(true);
  await assert.rejects(
    writeBinary(tty, new Uint8Array([0, 1, 2]), {}),
    (e: unknown) => code('EINVAL')(e) && /--out FILE, --base64/.test((e as Error).message),
  );
  await writeBinary(tty, new Uint8Array([0, 1, 2]), { base64: true });
  assert.equal(tty.written().toString(), 'AAEC\n');
  const pipe = streams(false);
  await writeBinary(pipe, new Uint8Array([0, 1, 2]), {});
  assert.deepEqual([...pipe.written()], [0, 1, 2]);
});

test('plaintext written with --out is private (0600)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'coffer-cli-io-'));
  try {
    const out = join(dir, 'plain');
    await writeBinary(streams(true), new Uint8Array([9]), { out, secret: true });
    assert.equal(statSync(out).mode & 0o777, 0o600);
    assert.deepEqual([...readFileSync(out)], [9]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('reading from a terminal stdin without --in is refused instead of hanging', async () => {
  await assert.rejects(readInput(streams(true), undefined), code('EINVAL'));
  const pipe = streams(false);
  (pipe.stdin as PassThrough).end('data');
  assert.equal(Buffer.from(await readInput(pipe, undefined)).toString(), 'data');
  await assert.rejects(readInput(streams(false), '/nonexistent/file'), code('ENOENT'));
});

test('stdin over the input bound is E2BIG', async () => {
  const pipe = streams(false);
  const big = Buffer.alloc(17 * 1024 * 1024);
  (pipe.stdin as PassThrough).end(big);
  await assert.rejects(readInput(pipe, undefined), code('E2BIG'));
});

test('base64 input: both alphabets and whitespace accepted, anything else EINVAL', () => {
  assert.deepEqual([...decodeBase64Text('AAEC\n', 'x')], [0, 1, 2]);
  assert.deepEqual([...decodeBase64Text('-_8=', 'x')], [0xfb, 0xff]);
  assert.throws(() => decodeBase64Text('not*base64', 'x'), code('EINVAL'));
  assert.throws(() => decodeBase64Text('A', 'x'), code('EINVAL'));
});
