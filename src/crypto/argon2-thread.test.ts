// The pure-JS Argon2id fallback of the async passphrase KDF runs on another thread (argon2-thread.ts):
// it derives the same bytes as the synchronous engine (RFC 9106 secret and associated data included),
// and while it works the calling thread's event loop is idle — event-loop utilisation stays low, where
// the former in-loop fallback kept the loop busy for the whole derivation. Engine failures keep their
// EINTERNAL shape (passphrase-kdf.test.ts, "engine failures").
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { _argon2idNoble, _argon2idNobleAsync } from './passphrase-kdf-engines.js';

const te = new TextEncoder();

test('the threaded Argon2id gives the same bytes as the synchronous engine', async () => {
  const input = {
    password: te.encode('correct horse battery staple'),
    salt: new Uint8Array(16).fill(2),
    memoryKiB: 256,
    iterations: 2,
    parallelism: 2,
    length: 32,
    secret: new Uint8Array(8).fill(3),
    associatedData: new Uint8Array(12).fill(4),
  };
  assert.deepEqual(await _argon2idNobleAsync(input), _argon2idNoble(input));
  assert.equal(input.password[0], 'c'.charCodeAt(0), "the caller's password is left as it was");
});

test('the event loop stays idle while an Argon2id derivation runs', async () => {
  const input = {
    password: te.encode('pw'),
    salt: new Uint8Array(16),
    memoryKiB: 19 * 1024,
    iterations: 2,
    parallelism: 1,
    length: 32,
  };
  const start = performance.eventLoopUtilization();
  await _argon2idNobleAsync(input);
  const used = performance.eventLoopUtilization(start);
  // In this thread the derivation would hold the loop nearly all the time (utilisation near 1).
  assert.ok(
    used.utilization < 0.5,
    `event-loop utilisation ${used.utilization.toFixed(2)} during the derivation`,
  );
});
