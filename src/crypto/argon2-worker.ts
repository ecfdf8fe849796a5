// The thread that runs one pure-JS Argon2id derivation for argon2-thread.ts (Node < 24.7 has no native
// Argon2). It receives its own copy of the password, answers with the derived bytes (moved, not
// copied), wipes the password and ends.
import { parentPort, workerData } from 'node:worker_threads';
import { argon2id } from '@noble/hashes/argon2.js';

interface Input {
  password: Uint8Array;
  salt: Uint8Array;
  options: {
    m: number;
    t: number;
    p: number;
    dkLen: number;
    maxmem: number;
    key?: Uint8Array;
    personalization?: Uint8Array;
  };
}

const input = workerData as Input;
try {
  const key = argon2id(input.password, input.salt, input.options);
  parentPort?.postMessage({ ok: true, key }, [key.buffer as ArrayBuffer]);
} catch (error) {
  parentPort?.postMessage({ ok: false, message: error instanceof Error ? error.message : String(error) });
} finally {
  input.password.fill(0);
  input.options.key?.fill(0);
}
