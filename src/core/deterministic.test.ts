// Deterministic test mode (SPEC §2): the same seed and clock give byte-identical ids, public keys
// and sealed outputs; it needs the explicit flag and marks every key insecure.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { insecureSeededRng } from '../crypto/rng.js';
import { tempKeystore } from '../testing/keystore.js';

const seed = new Uint8Array(32).fill(0x5e);
const clock = () => Date.UTC(2026, 5, 1);

async function run() {
  const { ks, cleanup } = await tempKeystore({
    rng: insecureSeededRng(seed),
    clock,
    insecureDeterministic: true,
  });
  try {
    const out: string[] = [];
    for (const algorithm of [
      'ed25519',
      'ecdsa-p256',
      'secp256k1',
      'ml-dsa-65',
      'x-wing',
      'aes-256-gcm',
      'xchacha20-poly1305',
    ] as const) {
      const key = await ks.createKey({ app: 'det', purpose: 'p', algorithm });
      assert.equal(key.insecure, true);
      out.push(key.id);
      if (algorithm === 'aes-256-gcm' || algorithm === 'xchacha20-poly1305' || algorithm === 'x-wing') {
        out.push(
          Buffer.from(await ks.seal(key.id, new TextEncoder().encode('same'), { aad: 'a' })).toString('hex'),
        );
      }
      if (algorithm !== 'aes-256-gcm' && algorithm !== 'xchacha20-poly1305') {
        out.push(Buffer.from((await ks.publicKey(key.id, 'raw')) as Uint8Array).toString('hex'));
      }
    }
    return out;
  } finally {
    await cleanup();
  }
}

test('same seed and clock → byte-identical ids, public keys and sealed outputs', async () => {
  const first = await run();
  const second = await run();
  assert.equal(first.length, 15); // 7 ids, 3 sealed outputs, 5 public keys
  assert.deepEqual(first, second);
});

test('another seed gives other ids', async () => {
  const { ks, cleanup } = await tempKeystore({
    rng: insecureSeededRng(new Uint8Array(32).fill(1)),
    clock,
    insecureDeterministic: true,
  });
  const key = await ks.createKey({ app: 'det', purpose: 'p', algorithm: 'ed25519' });
  await cleanup();
  assert.notEqual(key.id, (await run())[0]);
});

test('the seeded RNG is refused without the flag, and the flag without a seeded RNG', async () => {
  await assert.rejects(tempKeystore({ rng: insecureSeededRng(seed) }), { code: 'EINVAL' });
  await assert.rejects(tempKeystore({ insecureDeterministic: true }), { code: 'EINVAL' });
});
