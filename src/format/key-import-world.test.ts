// Key import against the tools that write the keys people have (SPEC §14.3–14.4): private keys
// written by `openssl` (PKCS#8, SEC 1, encrypted PKCS#8 under PBKDF2 and scrypt), by `ssh-keygen`
// (openssh-key-v1, plain and encrypted with every cipher it offers) and by OpenSSL 3.5 through
// Node 24 (ML-DSA-65 PKCS#8 and JWK) parse to the same public key the tool prints; keys Coffer
// writes are read back by the same tools. Every check also has a negative case.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, test } from 'node:test';
import * as sig from '../crypto/sig.js';
import { CofferError } from '../errors.js';
import { nodeWithMlDsa, run, runNodeJson, scratch } from '../testing/tools.js';
import { parsePrivateKey, parsePublicKey } from './key-import.js';
import { privateKeyToOpenSsh } from './openssh-private-key.js';
import { encryptPkcs8Pem } from './pkcs8-encrypted.js';
import { privateKeyToPem, privateKeyToPkcs8 } from './private-key.js';
import { publicKeyToJwk, publicKeyToPem } from './public-key.js';

const tmp = scratch('key-import');
after(() => tmp.remove());
const code = (c: string) => (e: unknown) => e instanceof CofferError && e.code === c;

function openssl(args: string[]): string {
  const result = run('openssl', args);
  assert.equal(result.status, 0, result.output);
  return result.stdout;
}

/** The public key openssl derives from a private key file. */
function opensslPublic(file: string, passphrase?: string): ReturnType<typeof parsePublicKey> {
  const args = ['pkey', '-in', file, '-pubout'];
  if (passphrase !== undefined) args.push('-passin', `pass:${passphrase}`);
  return parsePublicKey(openssl(args));
}

const GENERATORS = {
  ed25519: ['genpkey', '-algorithm', 'ed25519'],
  'ecdsa-p256': ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'],
  secp256k1: ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:secp256k1'],
} as const;

for (const [alg, generate] of Object.entries(GENERATORS)) {
  test(`openssl ${alg}: PKCS#8 PEM and DER, and encrypted PKCS#8 (PBKDF2, scrypt) import`, () => {
    const pem = tmp.path(`${alg}.pem`);
    openssl([...generate, '-out', pem]);
    const expected = opensslPublic(pem);
    assert.equal(expected.alg, alg);
    const fromPem = parsePrivateKey(readFileSync(pem, 'utf8'));
    assert.deepEqual({ alg: fromPem.alg, publicKey: fromPem.publicKey }, expected);
    const der = tmp.path(`${alg}.der`);
    openssl(['pkey', '-in', pem, '-outform', 'DER', '-out', der]);
    assert.deepEqual(parsePrivateKey(new Uint8Array(readFileSync(der))).secretKey, fromPem.secretKey);
    for (const [name, args] of [
      ['pbkdf2-aes256', ['-v2', 'aes-256-cbc']],
      ['pbkdf2-sha1-aes128', ['-v2', 'aes-128-cbc', '-v2prf', 'hmacWithSHA1']],
      ['pbkdf2-sha512-aes192', ['-v2', 'aes-192-cbc', '-v2prf', 'hmacWithSHA512']],
      ['scrypt', ['-scrypt']],
    ] as const) {
      const out = tmp.path(`${alg}-${name}.pem`);
      openssl(['pkcs8', '-topk8', '-in', pem, ...args, '-passout', 'pass:correct horse', '-out', out]);
      const text = readFileSync(out, 'utf8');
      assert.match(text, /^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
      assert.deepEqual(
        parsePrivateKey(text, { passphrase: 'correct horse' }).secretKey,
        fromPem.secretKey,
        name,
      );
      assert.throws(() => parsePrivateKey(text, { passphrase: 'correct horse!' }), code('EBADMSG'), name);
      const outDer = tmp.path(`${alg}-${name}.der`);
      openssl([
        'pkcs8',
        '-topk8',
        '-in',
        pem,
        ...args,
        '-passout',
        'pass:pw',
        '-outform',
        'DER',
        '-out',
        outDer,
      ]);
      assert.deepEqual(
        parsePrivateKey(new Uint8Array(readFileSync(outDer)), { passphrase: 'pw' }).secretKey,
        fromPem.secretKey,
      );
    }
  });
}

test('openssl ecparam -genkey (SEC 1 "EC PRIVATE KEY") imports for both curves', () => {
  for (const [alg, curve] of [
    ['ecdsa-p256', 'prime256v1'],
    ['secp256k1', 'secp256k1'],
  ] as const) {
    const file = tmp.path(`${curve}-sec1.pem`);
    openssl(['ecparam', '-name', curve, '-genkey', '-noout', '-out', file]);
    const text = readFileSync(file, 'utf8');
    assert.match(text, /^-----BEGIN EC PRIVATE KEY-----/);
    const parsed = parsePrivateKey(text);
    assert.deepEqual({ alg: parsed.alg, publicKey: parsed.publicKey }, opensslPublic(file));
    assert.equal(parsed.alg, alg);
  }
});

test('openssl reads the keys Coffer writes: PKCS#8 PEM and encrypted PKCS#8 (PBKDF2 and scrypt)', () => {
  for (const alg of ['ed25519', 'ecdsa-p256', 'secp256k1'] as const) {
    const { secretKey, publicKey } = sig.keygen(alg);
    const plain = tmp.write(`ours-${alg}.pem`, privateKeyToPem(alg, secretKey));
    assert.deepEqual(opensslPublic(plain), { alg, publicKey });
    const pbkdf2 = tmp.write(
      `ours-${alg}-pbkdf2.pem`,
      encryptPkcs8Pem(privateKeyToPkcs8(alg, secretKey), 'pw', {
        kdf: { type: 'pbkdf2', prf: 'sha256', iterations: 600_000 },
      }),
    );
    assert.deepEqual(opensslPublic(pbkdf2, 'pw'), { alg, publicKey });
    assert.notEqual(run('openssl', ['pkey', '-in', pbkdf2, '-passin', 'pass:wrong', '-pubout']).status, 0);
    // OpenSSL caps scrypt at 32 MiB by default: N = 2^14, r = 8 is what its own -scrypt writes.
    const scryptFile = tmp.write(
      `ours-${alg}-scrypt.pem`,
      encryptPkcs8Pem(privateKeyToPkcs8(alg, secretKey), 'pw', {
        kdf: { type: 'scrypt', N: 1 << 14, r: 8, p: 1 },
      }),
    );
    assert.deepEqual(opensslPublic(scryptFile, 'pw'), { alg, publicKey });
  }
});

function sshKeygen(args: string[]): string {
  const result = run('ssh-keygen', args);
  assert.equal(result.status, 0, result.output);
  return result.stdout;
}

const SSH_CIPHERS = [
  'aes128-ctr',
  'aes192-ctr',
  'aes256-ctr',
  'aes128-cbc',
  'aes192-cbc',
  'aes256-cbc',
  'aes128-gcm@openssh.com',
  'aes256-gcm@openssh.com',
];

test('ssh-keygen keys import: ed25519 and ecdsa P-256, plain and under every AES cipher it offers', () => {
  for (const [type, alg] of [
    ['ed25519', 'ed25519'],
    ['ecdsa', 'ecdsa-p256'],
  ] as const) {
    const plain = tmp.path(`ssh-${type}`);
    sshKeygen(['-q', '-t', type, '-N', '', '-C', 'plain comment', '-f', plain]);
    const expected = parsePublicKey(readFileSync(`${plain}.pub`, 'utf8'));
    const parsed = parsePrivateKey(readFileSync(plain, 'utf8'));
    assert.deepEqual({ alg: parsed.alg, publicKey: parsed.publicKey }, expected);
    assert.equal(parsed.alg, alg);
    for (const cipher of SSH_CIPHERS) {
      const file = tmp.path(`ssh-${type}-${cipher}`);
      sshKeygen(['-q', '-t', type, '-N', 'sesame', '-Z', cipher, '-a', '4', '-f', file]);
      const text = readFileSync(file, 'utf8');
      const key = parsePrivateKey(text, { passphrase: 'sesame' });
      assert.deepEqual(
        { alg: key.alg, publicKey: key.publicKey },
        parsePublicKey(readFileSync(`${file}.pub`, 'utf8')),
        cipher,
      );
      assert.throws(() => parsePrivateKey(text, { passphrase: 'Sesame' }), code('EBADMSG'), cipher);
    }
  }
});

test('ssh-keygen: chacha20-poly1305 keys are refused by name; Coffer-written keys are read by ssh-keygen -y', () => {
  const file = tmp.path('ssh-chacha');
  sshKeygen([
    '-q',
    '-t',
    'ed25519',
    '-N',
    'pw',
    '-Z',
    'chacha20-poly1305@openssh.com',
    '-a',
    '2',
    '-f',
    file,
  ]);
  assert.throws(
    () => parsePrivateKey(readFileSync(file, 'utf8'), { passphrase: 'pw' }),
    /chacha20-poly1305@openssh.com/,
  );
  for (const alg of ['ed25519', 'ecdsa-p256'] as const) {
    const { secretKey, publicKey } = sig.keygen(alg);
    const plain = tmp.write(
      `ours-ssh-${alg}`,
      privateKeyToOpenSsh(alg, secretKey, { comment: 'from coffer' }),
    );
    assert.deepEqual(parsePublicKey(sshKeygen(['-y', '-f', plain]).trim()), { alg, publicKey });
    const locked = tmp.write(
      `ours-ssh-${alg}-enc`,
      privateKeyToOpenSsh(alg, secretKey, { passphrase: 'pw', rounds: 4 }),
    );
    assert.deepEqual(parsePublicKey(sshKeygen(['-y', '-P', 'pw', '-f', locked]).trim()), { alg, publicKey });
    assert.notEqual(run('ssh-keygen', ['-y', '-P', 'nope', '-f', locked]).status, 0);
  }
});

test('private JWKs that node:crypto (OpenSSL) exports import with the same public key', async () => {
  const { generateKeyPairSync } = await import('node:crypto');
  for (const [alg, type, curve] of [
    ['ed25519', 'ed25519', undefined],
    ['ecdsa-p256', 'ec', 'prime256v1'],
    ['secp256k1', 'ec', 'secp256k1'],
  ] as const) {
    const pair = (
      generateKeyPairSync as (
        t: string,
        o?: object,
      ) => { privateKey: import('node:crypto').KeyObject; publicKey: import('node:crypto').KeyObject }
    )(type, curve ? { namedCurve: curve } : undefined);
    const jwk = pair.privateKey.export({ format: 'jwk' });
    const parsed = parsePrivateKey(JSON.stringify(jwk));
    const spki = new Uint8Array(pair.publicKey.export({ format: 'der', type: 'spki' }));
    assert.deepEqual({ alg: parsed.alg, publicKey: parsed.publicKey }, parsePublicKey(spki));
    assert.equal(parsed.alg, alg);
  }
});

test('ML-DSA-65 keys OpenSSL 3.5 writes (PKCS#8, SPKI, JWK) import; OpenSSL 3.5 reads Coffer-written ones', () => {
  const node = nodeWithMlDsa();
  const fromOpenSsl = runNodeJson<{ pkcs8: string; spki: string; jwk: Record<string, string> }>(
    node,
    `import { generateKeyPairSync } from 'node:crypto';
     const { privateKey, publicKey } = generateKeyPairSync('ml-dsa-65');
     console.log(JSON.stringify({
       pkcs8: privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64'),
       spki: publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
       jwk: privateKey.export({ format: 'jwk' }),
     }));`,
    null,
  );
  const expected = parsePublicKey(new Uint8Array(Buffer.from(fromOpenSsl.spki, 'base64')));
  assert.equal(expected.alg, 'ml-dsa-65');
  const parsed = parsePrivateKey(new Uint8Array(Buffer.from(fromOpenSsl.pkcs8, 'base64')));
  assert.deepEqual({ alg: parsed.alg, publicKey: parsed.publicKey }, expected);
  const fromJwk = parsePrivateKey(fromOpenSsl.jwk);
  assert.deepEqual(fromJwk.secretKey, parsed.secretKey);
  assert.deepEqual(parsePublicKey({ kty: 'AKP', alg: 'ML-DSA-65', pub: fromOpenSsl.jwk.pub! }), expected);

  const ours = sig.keygen('ml-dsa-65');
  const back = runNodeJson<{ spki: string; jwkPub: string }>(
    node,
    `import { createPrivateKey, createPublicKey } from 'node:crypto';
     const arg = JSON.parse(process.argv[1]);
     const key = createPrivateKey({ key: arg.pem, format: 'pem' });
     const pub = createPublicKey(arg.spkiPem);
     console.log(JSON.stringify({
       spki: createPublicKey(key).export({ format: 'der', type: 'spki' }).toString('base64'),
       jwkPub: pub.export({ format: 'jwk' }).pub,
     }));`,
    {
      pem: privateKeyToPem('ml-dsa-65', ours.secretKey),
      spkiPem: publicKeyToPem('ml-dsa-65', ours.publicKey),
    },
  );
  assert.deepEqual(parsePublicKey(new Uint8Array(Buffer.from(back.spki, 'base64'))), {
    alg: 'ml-dsa-65',
    publicKey: ours.publicKey,
  });
  assert.equal(back.jwkPub, (publicKeyToJwk('ml-dsa-65', ours.publicKey) as { pub: string }).pub);
});
