// HD seeds in a real (temporary sqlite) keystore: the mnemonic is returned once and the seed is kept
// sealed; derived keys are ordinary keystore keys whose public keys equal BIP-32 / SLIP-10 derivation
// from the same mnemonic and whose signatures verify outside the keystore; derivation is idempotent
// (also under concurrency); BIP-44 indices survive reopening and concurrent `nextKey` calls — in one
// handle and across two handles on the same store — never receive the same index.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Keystore } from '../core/keystore.js';
import { bip32FromExtendedKey, bip32FromSeed } from '../crypto/bip32.js';
import { entropyToMnemonic, mnemonicToSeed, validateMnemonic } from '../crypto/bip39.js';
import { insecureSeededRng } from '../crypto/rng.js';
import * as sig from '../crypto/sig.js';
import { slip10 } from '../crypto/slip10.js';
import { CofferError } from '../errors.js';
import { passphrase, tempKeystore } from '../testing/keystore.js';
import { loadJson } from '../testing/vectors.js';
import { HD_LABELS, HdWallet } from './index.js';

let fixture: Awaited<ReturnType<typeof tempKeystore>>;
let wallet: HdWallet;

before(async () => {
  fixture = await tempKeystore();
  wallet = new HdWallet(fixture.ks);
});
after(async () => {
  await fixture.cleanup();
});

async function rejects(run: () => Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(run, (error: unknown) => error instanceof CofferError && error.code === code);
}

const message = new TextEncoder().encode('pay 1 BTC to Alice');

test('createSeed returns a valid mnemonic once; the seed info never carries it', async () => {
  const { seed, mnemonic } = await wallet.createSeed({ app: 'wallet', purpose: 'btc', label: 'savings' });
  assert.equal(mnemonic.split(' ').length, 24);
  assert.equal(validateMnemonic(mnemonic), true);
  assert.match(seed.id, /^hd_[a-z2-7]{26}$/);
  assert.equal(seed.state, 'active');
  assert.equal(seed.source, 'generated');
  assert.equal(
    seed.fingerprint,
    bip32FromSeed(mnemonicToSeed(mnemonic)).fingerprint.toString(16).padStart(8, '0'),
  );
  const stored = await wallet.getSeed(seed.id);
  assert.deepEqual(stored, seed);
  assert.ok(!('mnemonic' in stored) && !('seed' in stored));
  // The sealed record keeps the 64-byte seed only, never the words.
  const record = await fixture.ks.getRecord<Record<string, unknown>>('hd', `seed/${seed.id}`);
  assert.equal(Buffer.from(record!.value.seed as string, 'base64').length, 64);
  assert.deepEqual(
    Buffer.from(record!.value.seed as string, 'base64'),
    Buffer.from(mnemonicToSeed(mnemonic)),
  );
  assert.ok(!JSON.stringify(record!.value).includes(mnemonic));
  const twelve = await wallet.createSeed({ app: 'wallet', purpose: 'btc', words: 12 });
  assert.equal(twelve.mnemonic.split(' ').length, 12);
  assert.ok((await wallet.listSeeds({ app: 'wallet' })).some((s) => s.id === seed.id));
});

test('importSeed of the BIP-39 vector (passphrase TREZOR) reproduces its xprv; bad mnemonics are EINVAL', async () => {
  const [, mnemonic, , xprv] = loadJson<{ english: string[][] }>('bip39/vectors_english.json').english[3]!;
  const seed = await wallet.importSeed({
    app: 'wallet',
    purpose: 'btc',
    mnemonic: mnemonic!,
    passphrase: 'TREZOR',
  });
  assert.equal(seed.source, 'imported');
  assert.equal(seed.passphrase, true);
  assert.equal(await wallet.xpub(seed.id), bip32FromExtendedKey(xprv!).xpub);
  const badChecksum = Array(12).fill('abandon').join(' ');
  await rejects(() => wallet.importSeed({ app: 'wallet', purpose: 'btc', mnemonic: badChecksum }), 'EINVAL');
  await rejects(() => wallet.importSeed({ app: 'wallet', purpose: 'btc', mnemonic: 'abandon' }), 'EINVAL');
  await rejects(() => wallet.importSeed({ app: 'Wallet', purpose: 'btc', mnemonic: mnemonic! }), 'EINVAL');
  await rejects(
    () => wallet.importSeed({ app: 'wallet', purpose: 'btc', mnemonic: mnemonic!, language: 'japanese' }),
    'EINVAL',
  );
  await rejects(() => wallet.createSeed({ app: 'wallet', purpose: 'btc', words: 13 }), 'EINVAL');
  await rejects(
    () =>
      wallet.createSeed({ app: 'wallet', purpose: 'btc', extra: 1 } as unknown as {
        app: string;
        purpose: string;
      }),
    'EINVAL',
  );
});

test('a derived secp256k1 key equals BIP-32 derivation, signs in the keystore and verifies outside', async () => {
  const { seed, mnemonic } = await wallet.createSeed({ app: 'wallet', purpose: 'btc' });
  const path = "m/44'/0'/0'/0/1";
  const key = await wallet.deriveKey(seed.id, { path, labels: { note: 'first' } });
  const expected = bip32FromSeed(mnemonicToSeed(mnemonic)).derive(path);
  assert.equal(key.algorithm, 'secp256k1');
  assert.deepEqual(key.uses, ['sign', 'verify']);
  assert.equal(key.labels[HD_LABELS.seed], seed.id);
  assert.equal(key.labels[HD_LABELS.path], path);
  assert.equal(key.labels[HD_LABELS.scheme], 'bip32');
  assert.equal(key.labels.note, 'first');
  assert.deepEqual(await fixture.ks.publicKey(key.id, 'raw'), expected.publicKey);
  const { signature } = await fixture.ks.sign(key.id, message);
  assert.equal(sig.verify('secp256k1', expected.publicKey, message, signature), true);
  assert.equal(await fixture.ks.verify(key.id, message, signature), true);
  // Idempotent, including under concurrency: one key per (seed, algorithm, path).
  const again = await Promise.all(
    [1, 2, 3, 4].map(() => wallet.deriveKey(seed.id, { path: 'm/44h/0h/0h/0/1' })),
  );
  for (const k of again) assert.equal(k.id, key.id);
  assert.deepEqual(
    (await wallet.derivedKeys(seed.id)).map((k) => k.id),
    [key.id],
  );
  // Public derivation from the exported account xpub lands on the same key.
  const xpub = await wallet.xpub(seed.id, "m/44'/0'/0'");
  assert.deepEqual(bip32FromExtendedKey(xpub).derive('0/1').publicKey, expected.publicKey);
  const events = (await fixture.ks.auditTail(50)).map((e) => e.event);
  assert.ok(events.includes('hd.derive') && events.includes('hd.seed.create'));
});

test('a derived ed25519 key equals SLIP-10 derivation; non-hardened ed25519 paths are EINVAL', async () => {
  const { seed, mnemonic } = await wallet.createSeed({ app: 'wallet', purpose: 'sol' });
  const path = "m/44'/501'/0'/0'";
  const key = await wallet.deriveKey(seed.id, { path, algorithm: 'ed25519', purpose: 'sol-hot' });
  const expected = slip10('ed25519', mnemonicToSeed(mnemonic), path);
  assert.equal(key.purpose, 'sol-hot');
  assert.equal(key.labels[HD_LABELS.scheme], 'slip10');
  assert.deepEqual(await fixture.ks.publicKey(key.id, 'raw'), expected.publicKey);
  const { signature } = await fixture.ks.sign(key.id, message);
  assert.deepEqual(signature, sig.sign('ed25519', expected.privateKey, message));
  await rejects(() => wallet.deriveKey(seed.id, { path: "m/44'/501'/0'/0", algorithm: 'ed25519' }), 'EINVAL');
  // Same path, other algorithm: a different key.
  const other = await wallet.deriveKey(seed.id, { path });
  assert.notEqual(other.id, key.id);
});

test('derive validates everything first; destroyed seeds derive nothing', async () => {
  const { seed } = await wallet.createSeed({ app: 'wallet', purpose: 'btc', words: 12 });
  await rejects(() => wallet.deriveKey(seed.id, { path: '0/1' }), 'EINVAL');
  await rejects(() => wallet.deriveKey(seed.id, { path: 'm/x' }), 'EINVAL');
  await rejects(
    () => wallet.deriveKey(seed.id, { path: 'm/0', labels: { [HD_LABELS.path]: 'm/9' } }),
    'EINVAL',
  );
  await rejects(
    () => wallet.deriveKey(seed.id, { path: 'm/0', algorithm: 'ecdsa-p256' as 'ed25519' }),
    'EINVAL',
  );
  await rejects(() => wallet.deriveKey(seed.id, { path: 'm/0', purpose: 'Bad' }), 'EINVAL');
  await rejects(() => wallet.deriveKey('hd_nope', { path: 'm/0' }), 'EINVAL');
  await rejects(() => wallet.deriveKey(`hd_${'a'.repeat(26)}`, { path: 'm/0' }), 'ENOENT');
  const kept = await wallet.deriveKey(seed.id, { path: 'm/0' });
  const destroyed = await wallet.destroySeed(seed.id, { reason: 'test' });
  assert.equal(destroyed.state, 'destroyed');
  await rejects(() => wallet.destroySeed(seed.id), 'EALREADY');
  await rejects(() => wallet.deriveKey(seed.id, { path: 'm/1' }), 'EKEYREVOKED');
  await rejects(() => wallet.xpub(seed.id), 'EKEYREVOKED');
  // Keys derived earlier are ordinary keys with their own lifecycle.
  assert.equal((await fixture.ks.sign(kept.id, message)).version, 1);
});

test('BIP-44 accounts: indices in order per chain, persisted across reopen, xpub watch-only', async () => {
  const { seed, mnemonic } = await wallet.createSeed({ app: 'wallet', purpose: 'btc' });
  const account = await wallet.createAccount(seed.id, { coinType: 0, account: 0 });
  const root = bip32FromSeed(mnemonicToSeed(mnemonic));
  assert.equal(account.xpub, root.derive("m/44'/0'/0'").xpub);
  await rejects(() => wallet.createAccount(seed.id, { coinType: 0, account: 0 }), 'EALREADY');
  const first = await wallet.nextKey(seed.id, { coinType: 0 });
  const second = await wallet.nextKey(seed.id, { coinType: 0 });
  const change = await wallet.nextKey(seed.id, { coinType: 0, chain: 'change' });
  assert.deepEqual([first.index, second.index, change.index], [0, 1, 0]);
  assert.equal(second.path, "m/44'/0'/0'/0/1");
  assert.equal(change.path, "m/44'/0'/0'/1/0");
  assert.deepEqual(await fixture.ks.publicKey(second.key.id, 'raw'), root.derive(second.path).publicKey);
  assert.deepEqual(
    bip32FromExtendedKey(account.xpub!).derive('1/0').publicKey,
    root.derive(change.path).publicKey,
  );
  await rejects(() => wallet.nextKey(seed.id, { coinType: 1 }), 'ENOENT');
  await rejects(() => wallet.nextKey(seed.id, { coinType: 0, chain: 'savings' as 'change' }), 'EINVAL');
  await rejects(() => wallet.createAccount(seed.id, { coinType: 2 ** 31 }), 'EINVAL');

  // Reopen the store: the indices continue where they were.
  const reopened = await Keystore.open({ store: fixture.url, protector: passphrase() });
  try {
    const again = new HdWallet(reopened);
    assert.deepEqual((await again.getAccount(seed.id, 0)).next, { receive: 2, change: 1 });
    const third = await again.nextKey(seed.id, { coinType: 0 });
    assert.equal(third.index, 2);
  } finally {
    await reopened.close();
  }
  assert.equal((await wallet.nextKey(seed.id, { coinType: 0 })).index, 3);

  const sol = await wallet.createAccount(seed.id, { coinType: 501, algorithm: 'ed25519' });
  assert.equal(sol.xpub, undefined);
  const solKey = await wallet.nextKey(seed.id, { coinType: 501 });
  assert.equal(solKey.path, "m/44'/501'/0'/0'/0'");
  assert.equal(solKey.key.algorithm, 'ed25519');
});

test('concurrent nextKey calls never hand out the same index (one handle and two handles)', async () => {
  const { seed } = await wallet.createSeed({ app: 'wallet', purpose: 'btc', words: 12 });
  await wallet.createAccount(seed.id, { coinType: 60 });
  const second = await Keystore.open({ store: fixture.url, protector: passphrase() });
  try {
    const other = new HdWallet(second);
    const results = await Promise.all(
      Array.from({ length: 16 }, (_, i) => (i % 2 === 0 ? wallet : other).nextKey(seed.id, { coinType: 60 })),
    );
    const indices = results.map((r) => r.index).sort((a, b) => a - b);
    assert.deepEqual(
      indices,
      Array.from({ length: 16 }, (_, i) => i),
    );
    assert.equal(new Set(results.map((r) => r.key.id)).size, 16);
    assert.equal((await other.getAccount(seed.id, 60)).next.receive, 16);
  } finally {
    await second.close();
  }
});

test('a seeded RNG marks seeds and derived keys insecure; a locked keystore is ELOCKED', async () => {
  const insecure = new HdWallet(fixture.ks, { rng: insecureSeededRng(new Uint8Array(16).fill(9)) });
  const a = await insecure.createSeed({ app: 'wallet', purpose: 'test' });
  // The entropy is the seeded RNG's first 32 bytes: reproducible, hence insecure.
  assert.equal(a.mnemonic, entropyToMnemonic(insecureSeededRng(new Uint8Array(16).fill(9)).randomBytes(32)));
  assert.equal(a.seed.insecure, true);
  const key = await wallet.deriveKey(a.seed.id, { path: 'm/0' });
  assert.equal(key.insecure, true);
  const separate = await tempKeystore();
  try {
    const w = new HdWallet(separate.ks);
    const { seed } = await w.createSeed({ app: 'wallet', purpose: 'btc', words: 12 });
    await separate.ks.lock();
    await rejects(() => w.deriveKey(seed.id, { path: 'm/0' }), 'ELOCKED');
    await rejects(() => w.createSeed({ app: 'wallet', purpose: 'btc' }), 'ELOCKED');
  } finally {
    await separate.cleanup();
  }
});

test('an account chain is exhausted after index 2^31 - 1; a malformed stored index is EBADMSG', async () => {
  const { seed } = await wallet.createSeed({ app: 'wallet', purpose: 'btc', words: 12 });
  await wallet.createAccount(seed.id, { coinType: 3 });
  await rejects(() => wallet.createAccount(seed.id, { coinType: 4, colour: 'red' } as never), 'EINVAL');
  await rejects(() => wallet.nextKey(seed.id, { coinType: 3, colour: 'red' } as never), 'EINVAL');
  const name = `account/${seed.id}/3/0`;
  const setNext = async (next: { receive: number; change: number }) => {
    const found = await fixture.ks.getRecord<{ next: unknown }>('hd', name);
    assert.ok(found);
    await fixture.ks.writeRecords('hd', [
      { name, value: { ...found.value, next }, expectRevision: found.revision },
    ]);
  };
  await setNext({ receive: 2 ** 31 - 1, change: -1 });
  const last = await wallet.nextKey(seed.id, { coinType: 3 });
  assert.equal(last.index, 2 ** 31 - 1);
  assert.equal(last.path, `m/44'/3'/0'/0/${2 ** 31 - 1}`);
  await rejects(() => wallet.nextKey(seed.id, { coinType: 3 }), 'EINVAL');
  assert.equal(
    (await wallet.getAccount(seed.id, 3)).next.receive,
    2 ** 31,
    'the exhausted claim wrote nothing',
  );
  await rejects(() => wallet.nextKey(seed.id, { coinType: 3, chain: 'change' }), 'EBADMSG');
});
