// HSM-resident signing keys through the Keystore API (SPEC §5.5) against a real SoftHSM2 token: key
// pairs made in the token, signatures made there and checked by node:crypto, metadata that records
// the token and each version's CKA_ID, version records without any secret, rotation to a new token
// pair, destroy deleting the token objects, the wrong or a missing token refused, and a token that
// lacks a mechanism (SoftHSM2 with mechanisms switched off, in a child process) → EUNAVAIL naming it.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, createPublicKey, verify as nodeVerify } from 'node:crypto';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { CKA, CKO } from '../protect/pkcs11/constants.js';
import { _loadedModules } from '../protect/pkcs11/module.js';
import { findObjects, Pkcs11Token, readAttribute, readBool } from '../protect/pkcs11/token.js';
import { passphrase, type TempDir, tempDir } from '../testing/keystore.js';
import { type SoftHsm, startSoftHsm } from '../testing/softhsm.js';
import { Keystore } from './keystore.js';
import type { Pkcs11TokenConfig } from './resident.js';
import type { KeyInfo } from './types.js';

const execFileAsync = promisify(execFile);
const MAIN = 'coffer-resident';
const OTHER = 'coffer-other';
const message = new TextEncoder().encode('release build 1.2.3');

let hsm: SoftHsm;
let dir: TempDir;
let counter = 0;

before(async () => {
  hsm = await startSoftHsm([{ label: MAIN }, { label: OTHER }]);
  dir = tempDir('coffer-resident-');
});

after(async () => {
  const leaked = _loadedModules();
  await hsm?.close();
  dir?.remove();
  assert.deepEqual(leaked, [], 'every keystore logged out and the module was finalised');
});

function token(label = MAIN): Pkcs11TokenConfig {
  const t = hsm.token(label);
  return { module: hsm.module, tokenLabel: t.label, pin: t.pin };
}

function storeUrl(): string {
  return `sqlite:${join(dir.path, `store-${++counter}.db`)}`;
}

async function expectCode(promise: Promise<unknown>, code: string, pattern?: RegExp): Promise<void> {
  await assert.rejects(promise, (error: Error & { code?: string }) => {
    assert.equal(error.code, code, String(error));
    if (pattern) assert.match(error.message, pattern);
    return true;
  });
}

/** Runs `fn` on an inspection session of the token (shares this process's login). */
async function onToken<T>(
  label: string,
  fn: (lib: Parameters<Parameters<Pkcs11Token['run']>[1]>[0], session: Buffer) => T,
): Promise<T> {
  const t = await Pkcs11Token.open(token(label));
  try {
    return await t.run({ action: 'inspect' }, fn);
  } finally {
    await t.close();
  }
}

async function tokenSerial(label: string): Promise<string> {
  const t = await Pkcs11Token.open(token(label));
  try {
    return t.info.serial;
  } finally {
    await t.close();
  }
}

/** Token objects (private and public halves) carrying this CKA_ID. */
async function objectsWithId(tokenKeyId: string): Promise<number> {
  return onToken(MAIN, (lib, session) =>
    findObjects(lib, session, [{ type: CKA.ID, value: Buffer.from(tokenKeyId, 'hex') }], 10),
  ).then((handles) => handles.length);
}

async function privateKeyCount(): Promise<number> {
  return onToken(
    MAIN,
    (lib, session) => findObjects(lib, session, [{ type: CKA.CLASS, value: CKO.PRIVATE_KEY }], 1000).length,
  );
}

function nodeKey(pem: string) {
  return createPublicKey(pem);
}

function tokenKeyIds(info: KeyInfo): string[] {
  return info.versions.map((v) => v.tokenKeyId ?? '');
}

describe('HSM-resident keys in the keystore', () => {
  test('ed25519 and ecdsa-p256: generated in the token, signed there, verified by node:crypto; no secret anywhere in the store', async () => {
    const ks = await Keystore.open({
      store: storeUrl(),
      protector: passphrase(),
      create: true,
      pkcs11: token(),
    });
    try {
      const serial = await tokenSerial(MAIN);
      for (const algorithm of ['ed25519', 'ecdsa-p256'] as const) {
        const key = await ks.createKey({
          app: 'release',
          purpose: 'signing',
          algorithm,
          residency: 'pkcs11',
        });
        assert.deepEqual(key.residency, { type: 'pkcs11', tokenLabel: MAIN, tokenSerial: serial });
        const [handle] = tokenKeyIds(key);
        assert.match(handle ?? '', /^[0-9a-f]{32}$/);
        assert.deepEqual(await ks.getKey(key.id), key, 'metadata as stored');

        // The private half: a sensitive, never-extractable token object labelled after the key.
        const report = await onToken(MAIN, (lib, session) => {
          const [priv] = findObjects(lib, session, [
            { type: CKA.CLASS, value: CKO.PRIVATE_KEY },
            { type: CKA.ID, value: Buffer.from(handle ?? '', 'hex') },
          ]);
          assert.ok(priv !== undefined);
          return {
            label: readAttribute(lib, session, priv, CKA.LABEL).toString('utf8'),
            sensitive: readBool(lib, session, priv, CKA.SENSITIVE),
            extractable: readBool(lib, session, priv, CKA.EXTRACTABLE),
          };
        });
        assert.match(report.label, new RegExp(`^coffer:${key.id}:[0-9a-f]{8}$`));
        assert.equal(report.sensitive, true);
        assert.equal(report.extractable, false);

        const { signature, version } = await ks.sign(key.id, message);
        assert.equal(version, 1);
        assert.equal(signature.length, 64);
        const pem = (await ks.publicKey(key.id, 'pem')) as string;
        const publicKey = nodeKey(pem);
        if (algorithm === 'ed25519') {
          assert.equal(nodeVerify(null, message, publicKey, signature), true);
        } else {
          assert.equal(
            nodeVerify('sha256', message, { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature),
            true,
          );
          const der = (await ks.sign(key.id, message, { encoding: 'der' })).signature;
          assert.equal(nodeVerify('sha256', message, publicKey, der), true);
          assert.equal(await ks.verify(key.id, message, der, { encoding: 'der' }), true);
        }
        assert.equal(await ks.verify(key.id, message, signature), true);
        assert.equal(
          await ks.verify(key.id, new TextEncoder().encode('release build 6.6.6'), signature),
          false,
        );

        // Bad input is refused before the token is asked.
        await expectCode(ks.sign(key.id, 'text' as unknown as Uint8Array), 'EINVAL');
        await expectCode(ks.sign(key.id, new Uint8Array((1 << 20) + 1)), 'E2BIG');
        await expectCode(ks.sign(key.id, message, { context: new Uint8Array(1) }), 'EINVAL', /context/);
        if (algorithm === 'ed25519')
          await expectCode(ks.sign(key.id, message, { encoding: 'der' }), 'EINVAL');

        // The store holds the public key only: the dangerous export finds no secret to hand out.
        const exported = [];
        for await (const entry of ks.dangerouslyExportKeyMaterial({ ids: [key.id] })) exported.push(entry);
        assert.equal(exported.length, 1);
        const [v1] = exported[0]?.versions ?? [];
        assert.equal(v1?.secret, undefined);
        assert.deepEqual(v1?.publicKey, await ks.publicKey(key.id, 'raw'));
        assert.equal((await ks.usage(key.id))['1'], algorithm === 'ed25519' ? 1 : 2);
      }
    } finally {
      await ks.close();
    }
  });

  test('rotate makes a new token pair per version; old signatures still verify; destroy deletes the token objects', async () => {
    const ks = await Keystore.open({
      store: storeUrl(),
      protector: passphrase(),
      create: true,
      pkcs11: token(),
    });
    try {
      const key = await ks.createKey({
        app: 'release',
        purpose: 'rotating',
        algorithm: 'ed25519',
        residency: 'pkcs11',
      });
      const first = await ks.sign(key.id, message);
      const rotated = await ks.rotate(key.id, { reason: 'yearly' });
      const [h1, h2] = tokenKeyIds(rotated);
      assert.equal(rotated.primaryVersion, 2);
      assert.notEqual(h1, h2);
      assert.match(h2 ?? '', /^[0-9a-f]{32}$/);
      const second = await ks.sign(key.id, message);
      assert.equal(second.version, 2);
      assert.notDeepEqual(
        await ks.publicKey(key.id, 'raw', { version: 1 }),
        await ks.publicKey(key.id, 'raw', { version: 2 }),
      );
      assert.equal(await ks.verify(key.id, message, first.signature), true, 'v1 signature, deactivated v1');
      assert.equal(await ks.verify(key.id, message, second.signature, { version: 2 }), true);
      assert.equal(await ks.verify(key.id, message, first.signature, { version: 2 }), false);

      const emergency = await ks.emergencyRotate(key.id, { description: 'token PIN leaked' });
      assert.equal(emergency.primaryVersion, 3);
      assert.equal(emergency.versions.find((v) => v.version === 2)?.state, 'compromised');
      const [, , h3] = tokenKeyIds(emergency);
      assert.equal((await ks.sign(key.id, message)).version, 3);

      await ks.destroy(key.id, { version: 1, reason: 'retired' });
      assert.equal(await objectsWithId(h1 ?? ''), 0, 'both halves of v1 are gone from the token');
      assert.equal(await objectsWithId(h3 ?? ''), 2);
      assert.equal((await ks.sign(key.id, message)).version, 3);

      await ks.destroy(key.id, { reason: 'project ended' });
      for (const handle of [h1, h2, h3]) assert.equal(await objectsWithId(handle ?? ''), 0);
      await expectCode(ks.sign(key.id, message), 'EKEYREVOKED');
      await expectCode(ks.destroy(key.id), 'EALREADY');

      // A rotation the key's state forbids never reaches the token.
      const revoked = await ks.createKey({
        app: 'release',
        purpose: 'revoked',
        algorithm: 'ecdsa-p256',
        residency: 'pkcs11',
      });
      await ks.revoke(revoked.id, 'stolen laptop');
      const before = await privateKeyCount();
      await expectCode(ks.rotate(revoked.id), 'EKEYREVOKED');
      assert.equal(await privateKeyCount(), before);
      assert.equal((await ks.verifyAudit()).ok, true);
    } finally {
      await ks.close();
    }
  });

  test('without a token resident keys are EUNAVAIL (verify still works); another token is refused by name; a pkcs11 protector lends its token', async () => {
    const url = storeUrl();
    const created = await Keystore.open({
      store: url,
      protector: passphrase(),
      create: true,
      pkcs11: token(),
    });
    let key: KeyInfo;
    let signature: Uint8Array;
    try {
      key = await created.createKey({
        app: 'release',
        purpose: 'tokens',
        algorithm: 'ecdsa-p256',
        residency: 'pkcs11',
      });
      signature = (await created.sign(key.id, message)).signature;
      await created.addProtector({ type: 'pkcs11', ...token(), keyLabel: 'coffer-resident-kek' });
    } finally {
      await created.close();
    }

    const bare = await Keystore.open({ store: url, protector: passphrase() });
    try {
      await expectCode(bare.sign(key.id, message), 'EUNAVAIL', /pkcs11: \{ module, tokenLabel, pin \}/);
      await expectCode(
        bare.createKey({ app: 'release', purpose: 'tokens', algorithm: 'ed25519', residency: 'pkcs11' }),
        'EUNAVAIL',
      );
      assert.equal(await bare.verify(key.id, message, signature), true, 'verification needs no token');
      assert.equal((await bare.listKeys({ app: 'release' })).length, 1, 'the failed create wrote nothing');
    } finally {
      await bare.close();
    }

    const wrong = await Keystore.open({ store: url, protector: passphrase(), pkcs11: token(OTHER) });
    try {
      await expectCode(wrong.sign(key.id, message), 'EUNAVAIL', new RegExp(`lives on token '${MAIN}'`));
    } finally {
      await wrong.close();
    }

    // Opened through the pkcs11 keyslot alone, the keystore signs with that token's resident keys.
    const viaSlot = await Keystore.open({
      store: url,
      protector: { type: 'pkcs11', ...token(), keyLabel: 'coffer-resident-kek' },
    });
    try {
      const { signature: again } = await viaSlot.sign(key.id, message);
      assert.equal(await viaSlot.verify(key.id, message, again), true);
    } finally {
      await viaSlot.close();
    }
  });

  test('an encrypted-backup export carries a resident key as a reference: restored elsewhere, it signs with the same token pair', async () => {
    const source = await Keystore.open({
      store: storeUrl(),
      protector: passphrase(),
      create: true,
      pkcs11: token(),
    });
    const target = await Keystore.open({
      store: storeUrl(),
      protector: passphrase(),
      create: true,
      pkcs11: token(),
    });
    try {
      const key = await source.createKey({
        app: 'release',
        purpose: 'backup',
        algorithm: 'ed25519',
        residency: 'pkcs11',
      });
      const exported = [];
      for await (const entry of source.dangerouslyExportKeyMaterial({ ids: [key.id] })) exported.push(entry);
      assert.deepEqual(
        exported.flatMap((e) => e.versions.map((v) => v.secret)),
        [undefined],
        'no private byte to back up',
      );
      assert.deepEqual((await target.dangerouslyImportKeyMaterial(exported)).restored, [key.id]);
      const restored = await target.getKey(key.id);
      assert.deepEqual(restored.residency, key.residency);
      assert.deepEqual(tokenKeyIds(restored), tokenKeyIds(key));
      const { signature } = await target.sign(key.id, message);
      assert.equal(await source.verify(key.id, message, signature), true, 'the same token key signed');
      assert.deepEqual(await target.publicKey(key.id, 'raw'), await source.publicKey(key.id, 'raw'));
    } finally {
      await source.close();
      await target.close();
    }
  });

  test('signDigest with a resident P-256 key: CKM_ECDSA in the token, verified by node:crypto over the data', async () => {
    const ks = await Keystore.open({
      store: storeUrl(),
      protector: passphrase(),
      create: true,
      pkcs11: token(),
    });
    try {
      const key = await ks.createKey({
        app: 'release',
        purpose: 'digest',
        algorithm: 'ecdsa-p256',
        residency: 'pkcs11',
      });
      const pem = (await ks.publicKey(key.id, 'pem')) as string;
      const big = new Uint8Array(3 << 20).fill(0x5a); // beyond the 1 MiB message bound of sign
      for (const hash of ['sha256', 'sha384', 'sha512'] as const) {
        const digest = createHash(hash).update(big).digest();
        const { signature, version } = await ks.signDigest(key.id, digest, { hash });
        assert.equal(version, 1);
        assert.equal(signature.length, 64);
        // node:crypto hashes the data itself and truncates as ECDSA does: the token signed that digest.
        assert.ok(nodeVerify(hash, big, { key: nodeKey(pem), dsaEncoding: 'ieee-p1363' }, signature), hash);
        assert.ok(!nodeVerify(hash, message, { key: nodeKey(pem), dsaEncoding: 'ieee-p1363' }, signature));
      }
      const digest = createHash('sha256').update(message).digest();
      await expectCode(
        ks.signDigest(key.id, digest.subarray(1), { hash: 'sha256' }),
        'EINVAL',
        /32 bytes, got 31/,
      );
      await expectCode(
        ks.signDigest(key.id, digest, { hash: 'sha256', recoverable: true }),
        'EINVAL',
        /secp256k1 only/,
      );
      const ed = await ks.createKey({
        app: 'release',
        purpose: 'ed',
        algorithm: 'ed25519',
        residency: 'pkcs11',
      });
      await expectCode(ks.signDigest(ed.id, digest, { hash: 'sha256' }), 'EINVAL', /cannot sign a digest/);
      // The key's state rules as for sign: a suspended key signs no digest.
      await ks.suspend(key.id);
      await expectCode(ks.signDigest(key.id, digest, { hash: 'sha256' }), 'ESTATE');
    } finally {
      await ks.close();
    }
  });

  test('bad residency or token config → EINVAL before any store or token work', async () => {
    const ks = await Keystore.open({
      store: storeUrl(),
      protector: passphrase(),
      create: true,
      pkcs11: token(),
    });
    try {
      const before = await privateKeyCount();
      for (const spec of [
        { app: 'a', purpose: 'p', algorithm: 'ml-dsa-65', residency: 'pkcs11' },
        { app: 'a', purpose: 'p', algorithm: 'secp256k1', residency: 'pkcs11' },
        { app: 'a', purpose: 'p', algorithm: 'ed25519', residency: 'tpm2' },
        { app: 'a', purpose: 'p', algorithm: 'ed25519', residency: { type: 'pkcs11' } },
      ]) {
        await expectCode(ks.createKey(spec as never), 'EINVAL');
      }
      // One bad spec in a batch stops the whole batch before the token is touched.
      await expectCode(
        ks.createKeys([
          { app: 'a', purpose: 'p', algorithm: 'ed25519', residency: 'pkcs11' },
          { app: 'a', purpose: 'p', algorithm: 'x-wing', residency: 'pkcs11' } as never,
        ]),
        'EINVAL',
      );
      assert.equal(await privateKeyCount(), before);
      assert.deepEqual(await ks.listKeys({ app: 'a' }), []);
    } finally {
      await ks.close();
    }
    // The store path does not exist: reaching storage would be ENOENT, so EINVAL proves nothing ran.
    const missing = `sqlite:${join(dir.path, 'never', 'x.db')}`;
    for (const pkcs11 of [
      { module: 'relative/lib.so', tokenLabel: MAIN, pin: '1' },
      { module: hsm.module, tokenLabel: 'x'.repeat(33), pin: '1' },
      { ...token(), extra: true },
      'token',
    ]) {
      await expectCode(
        Keystore.open({ store: missing, protector: passphrase(), pkcs11: pkcs11 as never }),
        'EINVAL',
      );
    }
  });

  test('a token lacking a mechanism → EUNAVAIL naming it; what it can still do keeps working', async () => {
    const url = storeUrl();
    const ks = await Keystore.open({ store: url, protector: passphrase(), create: true, pkcs11: token() });
    let ed: KeyInfo;
    let p256: KeyInfo;
    try {
      ed = await ks.createKey({ app: 'release', purpose: 'mech', algorithm: 'ed25519', residency: 'pkcs11' });
      p256 = await ks.createKey({
        app: 'release',
        purpose: 'mech',
        algorithm: 'ecdsa-p256',
        residency: 'pkcs11',
      });
    } finally {
      await ks.close();
    }
    // SoftHSM2 reads slots.mechanisms once per process: a child opens the same token directory with
    // only EC and AES mechanisms enabled, as a token without PKCS#11 3.0 EdDSA support would be.
    // (An allow-list: SoftHSM2 2.6.1 does not know CKM_EDDSA by name, so "-CKM_EDDSA" is ignored.)
    const conf = join(hsm.dir, 'no-eddsa.conf');
    await copyFile(join(hsm.dir, 'softhsm2.conf'), conf);
    await writeFile(
      conf,
      `${await readFile(conf, 'utf8')}slots.mechanisms = CKM_EC_KEY_PAIR_GEN,CKM_ECDSA,CKM_AES_KEY_GEN,CKM_AES_GCM,CKM_AES_KEY_WRAP_PAD\n`,
    );
    const keystoreUrl = new URL('./keystore.js', import.meta.url).href;
    const script = `
      const { Keystore } = await import(${JSON.stringify(keystoreUrl)});
      const args = JSON.parse(process.argv[1]);
      const out = {};
      const ks = await Keystore.open({ store: args.url, protector: args.protector, pkcs11: args.token });
      const attempt = async (name, run) => {
        try { out[name] = { ok: await run() }; } catch (error) { out[name] = { code: error.code, message: error.message }; }
      };
      const data = new TextEncoder().encode('child');
      await attempt('signEd', () => ks.sign(args.ed, data).then(() => true));
      await attempt('createEd', () =>
        ks.createKey({ app: 'release', purpose: 'mech', algorithm: 'ed25519', residency: 'pkcs11' }).then(() => true));
      await attempt('signP256', async () => {
        const { signature } = await ks.sign(args.p256, data);
        return ks.verify(args.p256, data, signature);
      });
      await ks.close();
      process.stdout.write(JSON.stringify(out));
    `;
    const { stdout } = await execFileAsync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        script,
        JSON.stringify({ url, protector: passphrase(), token: token(), ed: ed.id, p256: p256.id }),
      ],
      { env: { ...process.env, SOFTHSM2_CONF: conf }, timeout: 60_000 },
    );
    const out = JSON.parse(stdout);
    assert.equal(out.signEd.code, 'EUNAVAIL', stdout);
    assert.match(out.signEd.message, new RegExp(`token '${MAIN}' lacks CKM_EDDSA`));
    assert.equal(out.createEd.code, 'EUNAVAIL', stdout);
    assert.match(out.createEd.message, /lacks CKM_EC_EDWARDS_KEY_PAIR_GEN; lacks CKM_EDDSA/);
    assert.deepEqual(out.signP256, { ok: true });
  });
});
