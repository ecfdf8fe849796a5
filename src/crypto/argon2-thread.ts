// Pure-JS Argon2id off the calling thread: where Node has no native Argon2 (< 24.7), the async
// passphrase KDF runs @noble/hashes' Argon2id in a one-shot worker thread, so a server's event loop
// keeps answering during the second or so a derivation takes (a daemon unlock) instead of sharing its
// thread with it. One thread per derivation: unlocks are rare, and a thread's start (tens of ms) is
// small beside the derivation. The password and any secret input cross as copies in buffers that are
// moved to the thread, which wipes them.
import { Worker } from 'node:worker_threads';

export interface Argon2ThreadInput {
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

/** Resolves with the derived key; rejects with an Error carrying the engine's message. */
export function argon2idInThread(input: Argon2ThreadInput): Promise<Uint8Array> {
  const password = new Uint8Array(input.password);
  const key = input.options.key === undefined ? undefined : new Uint8Array(input.options.key);
  const transferList = [password.buffer, ...(key ? [key.buffer] : [])];
  return new Promise((resolve, reject) => {
    let settled = false;
    const worker = new Worker(new URL('./argon2-worker.js', import.meta.url), {
      // The parent's own flags (`--input-type`, `--eval …`) describe its entry point, not this one.
      execArgv: [],
      workerData: {
        password,
        salt: input.salt,
        options: { ...input.options, ...(key ? { key } : {}) },
      },
      transferList,
    });
    worker.once('message', (message: { ok: true; key: Uint8Array } | { ok: false; message: string }) => {
      settled = true;
      if (message.ok) resolve(message.key);
      else reject(new Error(message.message));
    });
    worker.once('error', (error) => {
      if (settled) return;
      settled = true;
      reject(error);
    });
    worker.once('exit', (code) => {
      if (settled) return;
      settled = true;
      reject(new Error(`the Argon2id thread ended (code ${code}) without a result`));
    });
  });
}
