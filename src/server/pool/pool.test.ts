// The crypto worker pool on its own (docs/daemon.md "Worker pool"): kernels give the same bytes in a
// worker as inline; a key version crosses to each worker once and is named by handle afterwards, and
// forget/forgetAll make the next use send it again; cheap kernels are declined; the event loop keeps
// turning while ML-DSA signatures run; close() fails queued work with EUNAVAIL, refuses new work and
// ends every thread; and a Keystore given the pool behaves like one without it.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, describe, test } from 'node:test';
import { KERNELS, kernelCost } from '../../core/kernels.js';
import { Keystore } from '../../core/keystore.js';
import * as sig from '../../crypto/sig.js';
import { passphrase, tempDir } from '../../testing/keystore.js';
import { encodeReply } from '../codec.js';
import { opRoutes } from '../routes-ops.js';
import { WorkerPool } from './pool.js';

const te = new TextEncoder();

function ref(secret: Uint8Array, keyId = 'k_test', version = 1) {
  return { keyId, version, secret };
}

describe('WorkerPool', () => {
  const pool = new WorkerPool({ workers: 2, minCostUs: 0 });
  after(() => pool.close());

  test('kernels give the same results in a worker as inline', async () => {
    const key = new Uint8Array(32).fill(7);
    const header = new Uint8Array([1, 2, 3, 4]);
    const nonce = new Uint8Array(12).fill(9);
    const plaintext = te.encode('the same bytes either way');
    const aad = te.encode('aad');
    const sealed = await pool.run(
      'sealSymmetric',
      [key, 'aes-256-gcm', header, nonce, plaintext, aad],
      ref(key),
      1,
    );
    assert.deepEqual(sealed, KERNELS.sealSymmetric(key, 'aes-256-gcm', header, nonce, plaintext, aad));
    const body = (sealed as Uint8Array).subarray(header.length);
    const fullAad = new Uint8Array([...header, ...aad]);
    assert.deepEqual(
      await pool.run('openSymmetric', [key, 'aes-256-gcm', body, fullAad], ref(key), 1),
      plaintext,
    );
    // A failure inside the worker is the same CofferError as inline.
    await assert.rejects(
      pool.run('openSymmetric', [key, 'aes-256-gcm', body, header], ref(key), 1) as Promise<unknown>,
      {
        code: 'EBADMSG',
      },
    );
    const pair = sig.keygen('ml-dsa-65', new Uint8Array(32).fill(1));
    const message = te.encode('message');
    const signature = (await pool.run(
      'sign',
      [pair.secretKey, 'ml-dsa-65', message, undefined],
      ref(pair.secretKey),
      1,
    )) as Uint8Array;
    assert.ok(sig.verify('ml-dsa-65', pair.publicKey, message, signature));
    assert.equal(
      await pool.run('verify', ['ml-dsa-65', pair.publicKey, message, signature, undefined], undefined, 1),
      true,
    );
  });

  test('the caller keeps its buffers: arguments are copied, never moved out from under it', async () => {
    const key = new Uint8Array(32).fill(3);
    const big = new Uint8Array(1024 * 1024).fill(5);
    const view = big.subarray(10, 1000);
    const mac = await pool.run('mac', [key, view], ref(key), 1);
    assert.deepEqual(mac, KERNELS.mac(key, view));
    assert.equal(big.byteLength, 1024 * 1024, 'not detached');
    assert.equal(big[500], 5, 'not wiped');
    assert.equal(key[0], 3, 'the secret itself is not wiped');
  });

  test('a key crosses to a worker once; forget and forgetAll make the next use send it again', async () => {
    const secret = new Uint8Array(32).fill(11);
    const data = te.encode('x');
    const before = pool.stats.installs;
    for (let i = 0; i < 20; i++) await pool.run('mac', [secret, data], ref(secret, 'k_once'), 1);
    const installed = pool.stats.installs - before;
    assert.ok(installed >= 1 && installed <= pool.size, `installed ${installed} times`);
    pool.forget('k_once');
    await pool.run('mac', [secret, data], ref(secret, 'k_once'), 1);
    assert.equal(pool.stats.installs - before, installed + 1);
    pool.forgetAll();
    assert.deepEqual(
      await pool.run('mac', [secret, data], ref(secret, 'k_once'), 1),
      KERNELS.mac(secret, data),
    );
    assert.equal(pool.stats.installs - before, installed + 2);
  });

  test('large JSON bodies and replies: the same result or error in a worker as inline', async () => {
    const route = opRoutes.find((r) => r.path === '/v1/keys/{id}/seal') as (typeof opRoutes)[number];
    const plaintext = new Uint8Array(600 * 1024).fill(42);
    const body = Buffer.from(
      JSON.stringify({ plaintext: Buffer.from(plaintext).toString('base64'), aad: 'YQ==' }),
    );
    const inline = route.body?.parse(JSON.parse(body.toString()), '');
    assert.deepEqual(await pool.task('decodeBody', ['POST /v1/keys/{id}/seal', body], 1, true), inline);
    for (const bad of ['{"plaintext":"not base64!"}', '{"plaintext":"YQ==","colour":1}', '{nope']) {
      let expected: unknown;
      try {
        route.body?.parse(JSON.parse(bad), '');
      } catch (error) {
        expected = { code: (error as { code?: string }).code ?? 'EINVAL', message: (error as Error).message };
      }
      await assert.rejects(
        pool.task('decodeBody', ['POST /v1/keys/{id}/seal', Buffer.from(bad)], 1, true),
        (e: unknown) => {
          const error = e as { code: string; message: string };
          assert.equal(error.code, 'EINVAL');
          if (bad !== '{nope') assert.deepEqual({ code: error.code, message: error.message }, expected);
          return true;
        },
      );
    }
    const reply = {
      results: [
        { ok: true, sealed: plaintext, version: 1 },
        { ok: false, error: { code: 'EINVAL', message: 'x' } },
      ],
    };
    const encoded = (await pool.task('encodeReply', [reply], 1)) as Uint8Array;
    assert.deepEqual(Buffer.from(encoded), encodeReply(reply));
    assert.equal(plaintext.byteLength, 600 * 1024, 'a reply is copied, never moved');
  });

  test('jobs queued when the keystore locks or destroys the key are refused, never run with wiped bytes', async () => {
    const pair = sig.keygen('ml-dsa-65');
    const secret = pair.secretKey.slice();
    const message = te.encode('m');
    await pool.run('sign', [secret, 'ml-dsa-65', message, undefined], ref(secret, 'k_lock'), 7000);
    const queued = Array.from({ length: 6 }, () =>
      pool.run('sign', [secret, 'ml-dsa-65', message, undefined], ref(secret, 'k_lock'), 7000),
    );
    // What Session.lock does: forget, then wipe its copy.
    pool.forgetAll();
    secret.fill(0);
    for (const outcome of await Promise.allSettled(queued as Promise<unknown>[])) {
      assert.equal(outcome.status, 'rejected');
      assert.equal((outcome.reason as { code: string }).code, 'ELOCKED');
    }
    const other = pair.secretKey.slice();
    await pool.run('sign', [other, 'ml-dsa-65', message, undefined], ref(other, 'k_gone'), 7000);
    const waiting = pool.run('sign', [other, 'ml-dsa-65', message, undefined], ref(other, 'k_gone'), 7000);
    pool.forget('k_gone');
    other.fill(0);
    await assert.rejects(waiting as Promise<unknown>, { code: 'EKEYREVOKED' });
  });

  test('cheap kernels are declined and run inline', async () => {
    const cheap = new WorkerPool({ workers: 1 });
    try {
      const key = new Uint8Array(32);
      assert.equal(
        cheap.run('mac', [key, te.encode('x')], ref(key), kernelCost('mac', 'hmac-sha256', 1)),
        undefined,
      );
      const secret = new Uint8Array(32);
      const job = cheap.run(
        'sign',
        [secret, 'ml-dsa-65', te.encode('x'), undefined],
        ref(secret),
        kernelCost('sign', 'ml-dsa-65', 1),
      );
      assert.notEqual(job, undefined);
      assert.equal((await job)?.length, sig.SIG_LENGTHS['ml-dsa-65'].signature);
    } finally {
      await cheap.close();
    }
  });

  test('the event loop keeps turning while ML-DSA signatures run in the pool', async () => {
    const pair = sig.keygen('ml-dsa-65');
    const message = te.encode('m');
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    let ticksWhenDone = -1;
    const jobs = Array.from({ length: 12 }, () =>
      pool.run(
        'sign',
        [pair.secretKey, 'ml-dsa-65', message, undefined],
        ref(pair.secretKey, 'k_mldsa'),
        7000,
      ),
    );
    await Promise.all(jobs);
    ticksWhenDone = ticks;
    clearInterval(timer);
    // Inline, the 12 signatures would run back to back on this thread and no timer could fire in between.
    assert.ok(ticksWhenDone >= 3, `the timer fired ${ticksWhenDone} times while the pool signed`);
  });
});

test('threads start in a process whose own flags name another entry point (node --input-type=module -e)', () => {
  // Worker threads inherit the parent's execArgv by default, and --input-type refuses a file entry.
  const root = new URL('../../../', import.meta.url).pathname;
  const script = `
    const { WorkerPool } = await import('./dist/server/pool/pool.js');
    const { _argon2idNobleAsync } = await import('./dist/crypto/passphrase-kdf-engines.js');
    const pool = new WorkerPool({ workers: 1, minCostUs: 0 });
    const secret = new Uint8Array(32);
    const mac = await pool.run('mac', [secret, new Uint8Array(4)], { keyId: 'k', version: 1, secret }, 1);
    await pool.close();
    const key = await _argon2idNobleAsync({ password: new Uint8Array(3), salt: new Uint8Array(16), memoryKiB: 64, iterations: 1, parallelism: 1, length: 16 });
    console.log(mac.length, key.length);
  `;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: root,
    encoding: 'utf8',
  });
  assert.equal(out.trim(), '32 16');
});

test('a worker that dies fails its own jobs with EINTERNAL and is replaced', async () => {
  const pool = new WorkerPool({ workers: 2, minCostUs: 0 });
  try {
    const pair = sig.keygen('ml-dsa-65');
    const message = te.encode('m');
    const before = pool.threadIds;
    const jobs = Array.from({ length: 8 }, () =>
      pool.run('sign', [pair.secretKey, 'ml-dsa-65', message, undefined], ref(pair.secretKey), 7000),
    );
    const settled = Promise.allSettled(jobs as Promise<unknown>[]);
    await new Promise((r) => setTimeout(r, 10));
    await pool._crashForTests(0);
    const outcomes = await settled;
    assert.ok(
      outcomes.every((o) => o.status === 'fulfilled' || (o.reason as { code: string }).code === 'EINTERNAL'),
    );
    assert.ok(
      outcomes.some((o) => o.status === 'rejected'),
      'the crashed worker had jobs',
    );
    assert.equal(pool.threadIds.length, 2);
    assert.notDeepEqual(pool.threadIds, before);
    // The new worker has no keys: the next job installs it again and succeeds.
    const signature = (await Promise.all(
      Array.from({ length: 4 }, () =>
        pool.run('sign', [pair.secretKey, 'ml-dsa-65', message, undefined], ref(pair.secretKey), 7000),
      ),
    )) as Uint8Array[];
    assert.ok(signature.every((s) => sig.verify('ml-dsa-65', pair.publicKey, message, s)));
  } finally {
    await pool.close();
  }
});

describe('WorkerPool close', () => {
  test('close fails queued jobs with EUNAVAIL, refuses new ones and ends every thread', async () => {
    const pool = new WorkerPool({ workers: 2, minCostUs: 0 });
    const pair = sig.keygen('ml-dsa-65');
    const jobs = Array.from({ length: 40 }, () =>
      pool.run('sign', [pair.secretKey, 'ml-dsa-65', te.encode('m'), undefined], ref(pair.secretKey), 7000),
    );
    const outcomes = Promise.allSettled(jobs as Promise<unknown>[]);
    await new Promise((r) => setTimeout(r, 30));
    await pool.close();
    const settled = await outcomes;
    assert.ok(
      settled.some((s) => s.status === 'rejected' && (s.reason as { code: string }).code === 'EUNAVAIL'),
    );
    assert.ok(
      settled.every((s) => s.status === 'fulfilled' || (s.reason as { code: string }).code === 'EUNAVAIL'),
    );
    await assert.rejects(
      pool.run('mac', [new Uint8Array(32), te.encode('x')], ref(new Uint8Array(32)), 1) as Promise<unknown>,
      {
        code: 'EUNAVAIL',
      },
    );
    assert.deepEqual(pool.threadIds, []);
    await pool.close(); // twice is fine
  });
});

describe('a Keystore given the pool', () => {
  test('signs, seals and unseals as without it, and lock wipes what the workers hold', async () => {
    const dir = tempDir('coffer-pool-ks-');
    const pool = new WorkerPool({ workers: 2, minCostUs: 0 });
    const store = `sqlite:${dir.path}/ks.db`;
    const ks = await Keystore.open({ store, protector: passphrase(), create: true, offload: pool });
    try {
      const mldsa = await ks.createKey({ app: 'p', purpose: 'pq', algorithm: 'ml-dsa-65' });
      const xwing = await ks.createKey({ app: 'p', purpose: 'kem', algorithm: 'x-wing' });
      const aes = await ks.createKey({ app: 'p', purpose: 'aes', algorithm: 'aes-256-gcm' });
      const hm = await ks.createKey({ app: 'p', purpose: 'mac', algorithm: 'hmac-sha256' });
      const message = te.encode('pooled');
      const { signature } = await ks.sign(mldsa.id, message);
      assert.ok(await ks.verify(mldsa.id, message, signature));
      const big = new Uint8Array(3 * 1024 * 1024).fill(1);
      for (const key of [xwing, aes]) {
        const sealed = await ks.seal(key.id, big, { aad: 'a' });
        assert.deepEqual(await ks.unseal(key.id, sealed, { aad: 'a' }), big);
        await assert.rejects(ks.unseal(key.id, sealed, { aad: 'b' }), { code: 'EBADMSG' });
      }
      const { ciphertext, sharedSecret } = await ks.encapsulate(xwing.id);
      assert.deepEqual(await ks.decapsulate(xwing.id, ciphertext), sharedSecret);
      const { mac } = await ks.mac(hm.id, big);
      assert.ok(await ks.verifyMac(hm.id, big, mac));
      assert.ok(pool.stats.jobs > 0, 'the work went through the pool');
      const installs = pool.stats.installs;
      await ks.lock();
      await ks.unlock(passphrase());
      await ks.sign(mldsa.id, message);
      assert.ok(pool.stats.installs > installs, 'after lock the key had to be sent again');
      // Destroy forgets the key's copies in the workers too.
      const before = pool.stats.forgets;
      await ks.destroy(mldsa.id);
      assert.ok(pool.stats.forgets > before);
    } finally {
      await ks.close();
      await pool.close();
      dir.remove();
    }
  });
});
