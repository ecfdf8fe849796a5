// HSM-resident signing keys against a real SoftHSM2 token: Ed25519 and P-256 pairs generated in the
// token sign, the signatures verify with node:crypto and with the openssl CLI (DER-converted for
// ECDSA, using the exported SPKI), private halves cannot be read out, and a token lacking a mechanism
// is EUNAVAIL naming it (probed with mechanisms SoftHSM2 2.6 really does not have).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createPublicKey, randomBytes, verify } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { CofferError } from '../../errors.js';
import { type SoftHsm, startSoftHsm } from '../../testing/softhsm.js';
import { ckrName } from './ckr.js';
import { CKA, CKM, CKO } from './constants.js';
import { _loadedModules } from './module.js';
import {
  destroyResidentKey,
  generateResidentKey,
  getResidentPublicKey,
  publicKeySpki,
  type ResidentAlgorithm,
  residentMechanisms,
  signResident,
} from './resident-keys.js';
import { findObjects, Pkcs11Token, readBool } from './token.js';

const execFileAsync = promisify(execFile);
const LABEL = 'coffer-resident';
let hsm: SoftHsm;
let token: Pkcs11Token;
let counter = 0;

before(async () => {
  hsm = await startSoftHsm([{ label: LABEL }]);
  const t = hsm.token(LABEL);
  token = await Pkcs11Token.open({ module: hsm.module, tokenLabel: t.label, pin: t.pin });
});

after(async () => {
  await token?.close();
  const leaked = _loadedModules();
  await hsm.close();
  assert.deepEqual(leaked, []);
});

async function expectCode(promise: Promise<unknown>, code: string, pattern?: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof CofferError, String(error));
    assert.equal(error.code, code, error.message);
    if (pattern !== undefined) assert.match(error.message, pattern);
    return true;
  });
}

/** DER ECDSA-Sig-Value from r ‖ s (SEC 1 §C.8): what `openssl dgst -verify` reads. */
function derSignature(raw: Uint8Array): Buffer {
  const integer = (bytes: Uint8Array) => {
    let i = 0;
    while (i < bytes.length - 1 && bytes[i] === 0) i++;
    const body = Buffer.from(bytes.subarray(i));
    const padded = (body[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.of(0), body]) : body;
    return Buffer.concat([Buffer.of(0x02, padded.length), padded]);
  };
  const seq = Buffer.concat([integer(raw.subarray(0, 32)), integer(raw.subarray(32))]);
  return Buffer.concat([Buffer.of(0x30, seq.length), seq]);
}

function pem(spki: Uint8Array): string {
  return createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' })
    .export({ format: 'pem', type: 'spki' })
    .toString();
}

/** Runs openssl; resolves to its exit code and output instead of throwing on "Verification failure". */
async function openssl(args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await execFileAsync('openssl', args);
    return { code: 0, out: stdout + stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

async function withTempDir(run: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'coffer-p11-verify-'));
  try {
    await run(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function label(): string {
  return `resident-${++counter}`;
}

describe('resident keys: generate and sign inside the token', () => {
  test('Ed25519: 32-byte public key, 64-byte RFC 8032 signatures verified by node:crypto and openssl', async () => {
    const key = await generateResidentKey(token, { alg: 'ed25519', label: label() });
    try {
      assert.match(key.handleId, /^[0-9a-f]{32}$/);
      assert.equal(key.publicKey.length, 32);
      const pub = await getResidentPublicKey(token, key.handleId);
      assert.equal(pub.alg, 'ed25519');
      assert.deepEqual(pub.publicKey, key.publicKey);
      const nodeKey = createPublicKey({ key: Buffer.from(pub.spki), format: 'der', type: 'spki' });
      // The SPKI and the raw key agree (JWK x is the raw key).
      assert.equal(nodeKey.export({ format: 'jwk' }).x, Buffer.from(key.publicKey).toString('base64url'));
      for (const message of [new Uint8Array(0), randomBytes(1), randomBytes(5000)]) {
        const signature = await signResident(token, key.handleId, message);
        assert.equal(signature.length, 64);
        assert.equal(verify(null, message, nodeKey, signature), true);
        // Ed25519 is deterministic: the token signs pure Ed25519, not a prehash variant.
        assert.deepEqual(await signResident(token, key.handleId, message), signature);
        const other = Uint8Array.from([...message, 1]);
        assert.equal(verify(null, other, nodeKey, signature), false);
      }
      await withTempDir(async (dir) => {
        const message = randomBytes(100);
        const signature = await signResident(token, key.handleId, message);
        await writeFile(join(dir, 'pub.pem'), pem(pub.spki));
        await writeFile(join(dir, 'msg'), message);
        await writeFile(join(dir, 'sig'), signature);
        const ok = await openssl([
          'pkeyutl',
          '-verify',
          '-pubin',
          '-inkey',
          join(dir, 'pub.pem'),
          '-rawin',
          '-in',
          join(dir, 'msg'),
          '-sigfile',
          join(dir, 'sig'),
        ]);
        assert.equal(ok.code, 0, ok.out);
        assert.match(ok.out, /Signature Verified Successfully/);
        await writeFile(join(dir, 'msg'), Buffer.concat([message, Buffer.of(0)]));
        const bad = await openssl([
          'pkeyutl',
          '-verify',
          '-pubin',
          '-inkey',
          join(dir, 'pub.pem'),
          '-rawin',
          '-in',
          join(dir, 'msg'),
          '-sigfile',
          join(dir, 'sig'),
        ]);
        assert.notEqual(bad.code, 0, bad.out);
      });
    } finally {
      await destroyResidentKey(token, key.handleId);
    }
  });

  test('P-256: 65-byte public key, r ‖ s over SHA-256 verified by node:crypto and openssl dgst -sha256', async () => {
    const key = await generateResidentKey(token, { alg: 'ecdsa-p256', label: label() });
    try {
      assert.equal(key.publicKey.length, 65);
      assert.equal(key.publicKey[0], 0x04);
      const pub = await getResidentPublicKey(token, key.handleId);
      assert.equal(pub.alg, 'ecdsa-p256');
      const nodeKey = createPublicKey({ key: Buffer.from(pub.spki), format: 'der', type: 'spki' });
      const jwk = nodeKey.export({ format: 'jwk' });
      assert.equal(jwk.crv, 'P-256');
      assert.equal(jwk.x, Buffer.from(key.publicKey.subarray(1, 33)).toString('base64url'));
      for (const message of [new Uint8Array(0), randomBytes(33), randomBytes(70_000)]) {
        const signature = await signResident(token, key.handleId, message);
        assert.equal(signature.length, 64);
        assert.equal(verify('sha256', message, { key: nodeKey, dsaEncoding: 'ieee-p1363' }, signature), true);
        assert.equal(
          verify('sha256', randomBytes(8), { key: nodeKey, dsaEncoding: 'ieee-p1363' }, signature),
          false,
        );
      }
      await withTempDir(async (dir) => {
        const message = randomBytes(300);
        const signature = await signResident(token, key.handleId, message);
        await writeFile(join(dir, 'pub.pem'), pem(pub.spki));
        await writeFile(join(dir, 'msg'), message);
        await writeFile(join(dir, 'sig.der'), derSignature(signature));
        const args = [
          'dgst',
          '-sha256',
          '-verify',
          join(dir, 'pub.pem'),
          '-signature',
          join(dir, 'sig.der'),
          join(dir, 'msg'),
        ];
        const ok = await openssl(args);
        assert.equal(ok.code, 0, ok.out);
        assert.match(ok.out, /Verified OK/);
        await writeFile(join(dir, 'msg'), Buffer.concat([message, Buffer.of(0)]));
        const bad = await openssl(args);
        assert.notEqual(bad.code, 0, bad.out);
        assert.match(bad.out, /Verification failure/);
      });
    } finally {
      await destroyResidentKey(token, key.handleId);
    }
  });

  for (const alg of ['ed25519', 'ecdsa-p256'] as ResidentAlgorithm[]) {
    test(`${alg}: the private key is a sensitive, never-extractable token object; CKA_VALUE unreadable`, async () => {
      const key = await generateResidentKey(token, { alg, label: label() });
      try {
        const report = await token.run({ action: 'inspect' }, (lib, session) => {
          const [handle] = findObjects(lib, session, [
            { type: CKA.CLASS, value: CKO.PRIVATE_KEY },
            { type: CKA.ID, value: Buffer.from(key.handleId, 'hex') },
          ]);
          assert.ok(handle !== undefined);
          let valueError: string | undefined;
          try {
            lib.C_GetAttributeValue(session, handle, [{ type: CKA.VALUE }]);
          } catch (error) {
            valueError = ckrName(error);
          }
          const flag = (type: number) => readBool(lib, session, handle, type);
          return {
            valueError,
            sensitive: flag(CKA.SENSITIVE),
            extractable: flag(CKA.EXTRACTABLE),
            neverExtractable: flag(CKA.NEVER_EXTRACTABLE),
            onToken: flag(CKA.TOKEN),
            private: flag(CKA.PRIVATE),
            local: flag(CKA.LOCAL),
            derive: flag(CKA.DERIVE),
          };
        });
        assert.deepEqual(report, {
          valueError: 'CKR_ATTRIBUTE_SENSITIVE',
          sensitive: true,
          extractable: false,
          neverExtractable: true,
          onToken: true,
          private: true,
          local: true,
          derive: false,
        });
      } finally {
        await destroyResidentKey(token, key.handleId);
      }
    });
  }

  test('keys are persistent: a new session (after the old one closed) signs with the same handle', async () => {
    const key = await generateResidentKey(token, { alg: 'ed25519', label: label() });
    const t = hsm.token(LABEL);
    await token.close();
    token = await Pkcs11Token.open({ module: hsm.module, tokenLabel: t.label, pin: t.pin });
    try {
      const message = randomBytes(64);
      const signature = await signResident(token, key.handleId, message);
      const pub = await getResidentPublicKey(token, key.handleId);
      assert.deepEqual(pub.publicKey, key.publicKey);
      const nodeKey = createPublicKey({ key: Buffer.from(pub.spki), format: 'der', type: 'spki' });
      assert.equal(verify(null, message, nodeKey, signature), true);
    } finally {
      await destroyResidentKey(token, key.handleId);
    }
  });
});

describe('resident keys: mechanisms the token lacks', () => {
  test('a required mechanism the token does not have → EUNAVAIL naming it (SoftHSM2 lacks CKM_ECDSA_SHA256)', () => {
    assert.equal(token.supports(CKM.ECDSA_SHA256), false, 'SoftHSM2 2.6 has CKM_ECDSA only');
    assert.throws(
      () => token.requireMechanisms([{ mechanism: CKM.ECDSA_SHA256, uses: ['sign'] }]),
      (error: unknown) =>
        error instanceof CofferError &&
        error.code === 'EUNAVAIL' &&
        /token 'coffer-resident' lacks CKM_ECDSA_SHA256/.test(error.message),
    );
    // Several problems are reported together, including a mechanism present without the needed use.
    assert.throws(
      () =>
        token.requireMechanisms([
          { mechanism: CKM.EDDSA, uses: ['sign'] },
          { mechanism: CKM.ECDSA_SHA256, uses: ['sign'] },
          { mechanism: CKM.AES_KEY_WRAP_PAD, uses: ['encrypt'] },
          { mechanism: 0x80001234, uses: [] },
        ]),
      (error: unknown) =>
        error instanceof CofferError &&
        error.code === 'EUNAVAIL' &&
        /lacks CKM_ECDSA_SHA256/.test(error.message) &&
        /has CKM_AES_KEY_WRAP_PAD but not for encrypt/.test(error.message) &&
        /lacks mechanism 0x80001234/.test(error.message) &&
        !/CKM_EDDSA/.test(error.message),
    );
    // What the token has passes the same probe.
    token.requireMechanisms([
      { mechanism: CKM.EC_EDWARDS_KEY_PAIR_GEN, uses: ['generate_key_pair'] },
      { mechanism: CKM.EDDSA, uses: ['sign', 'verify'] },
      { mechanism: CKM.ECDSA, uses: ['sign'] },
    ]);
  });

  test('P-256 plan on SoftHSM2 falls back to CKM_ECDSA over an in-process SHA-256 digest', () => {
    const plan = residentMechanisms(token, 'ecdsa-p256');
    assert.equal(plan.sign, CKM.ECDSA);
    assert.equal(plan.prehash, true);
    const ed = residentMechanisms(token, 'ed25519');
    assert.equal(ed.sign, CKM.EDDSA);
    assert.equal(ed.prehash, false);
  });
});

describe('resident keys: arguments and lifecycle errors', () => {
  test('duplicate label → EALREADY; destroyed key → EUNAVAIL naming the handle; second destroy → false', async () => {
    const name = label();
    const key = await generateResidentKey(token, { alg: 'ecdsa-p256', label: name });
    await expectCode(
      generateResidentKey(token, { alg: 'ed25519', label: name }),
      'EALREADY',
      new RegExp(name),
    );
    assert.equal(await destroyResidentKey(token, key.handleId), true);
    await expectCode(
      signResident(token, key.handleId, randomBytes(8)),
      'EUNAVAIL',
      new RegExp(`handle ${key.handleId}`),
    );
    await expectCode(getResidentPublicKey(token, key.handleId), 'EUNAVAIL', new RegExp(key.handleId));
    assert.equal(await destroyResidentKey(token, key.handleId), false);
  });

  test('bad arguments → EINVAL / E2BIG before the token is touched', async () => {
    await expectCode(
      generateResidentKey(token, { alg: 'rsa' as ResidentAlgorithm, label: label() }),
      'EINVAL',
      /alg/,
    );
    await expectCode(generateResidentKey(token, { alg: 'ed25519', label: '' }), 'EINVAL', /label/);
    await expectCode(
      generateResidentKey(token, { alg: 'ed25519', label: 'x'.repeat(129) }),
      'EINVAL',
      /label/,
    );
    await expectCode(generateResidentKey(token, { alg: 'ed25519', label: 'key\0hidden' }), 'EINVAL', /label/);
    await expectCode(signResident(token, 'not-hex', randomBytes(8)), 'EINVAL', /handleId/);
    await expectCode(
      signResident(token, 'ab'.repeat(16), 'text' as unknown as Uint8Array),
      'EINVAL',
      /message/,
    );
    await expectCode(signResident(token, 'ab'.repeat(16), new Uint8Array((1 << 20) + 1)), 'E2BIG');
    await expectCode(destroyResidentKey(token, 'AB'.repeat(16)), 'EINVAL');
    assert.throws(() => publicKeySpki('ed25519', new Uint8Array(31)), /32 bytes/);
  });
});
