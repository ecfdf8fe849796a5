// Coffer's keys and signatures against the tools people already trust: the `openssl` CLI verifies
// our signatures under our exported PEM keys (and we verify its signatures under its keys), and
// `ssh-keygen` accepts our OpenSSH lines, fingerprints them as we do, and converts them to the same
// SPKI PEM we write. Each check has a negative control, so a tool that says yes to everything fails.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import * as sig from '../crypto/sig.js';
import { CURVES } from '../crypto/sig-ecdsa.js';
import { ecdsaSignatureFromDer, ecdsaSignatureToDer } from './ecdsa-der.js';
import { publicKeyFromPem, publicKeyToOpenSsh, publicKeyToPem } from './public-key.js';

let dir = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'coffer-sig-world-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

function write(name: string, data: Uint8Array | string): string {
  const path = join(dir, name);
  writeFileSync(path, data);
  return path;
}

/** Runs a tool; returns exit status and combined output (never throws on a non-zero exit). */
function run(command: string, args: string[]): { status: number | null; output: string } {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: 20_000 });
  if (result.error) throw result.error;
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

const MESSAGE = new TextEncoder().encode('signed by coffer, checked by openssl');

test('openssl pkeyutl verifies Coffer Ed25519 signatures under the exported SPKI PEM', () => {
  const { secretKey, publicKey } = sig.keygen('ed25519');
  const pem = write('ed.pem', publicKeyToPem('ed25519', publicKey));
  const msg = write('ed.msg', MESSAGE);
  const signature = sig.sign('ed25519', secretKey, MESSAGE);
  const verify = (sigPath: string) =>
    run('openssl', [
      'pkeyutl',
      '-verify',
      '-pubin',
      '-inkey',
      pem,
      '-rawin',
      '-in',
      msg,
      '-sigfile',
      sigPath,
    ]);
  const good = verify(write('ed.sig', signature));
  assert.equal(good.status, 0, good.output);
  assert.match(good.output, /Signature Verified Successfully/);
  const tampered = signature.slice();
  tampered[10]! ^= 1;
  assert.notEqual(verify(write('ed-bad.sig', tampered)).status, 0);
});

for (const alg of ['ecdsa-p256', 'secp256k1'] as const) {
  test(`openssl dgst -sha256 verifies Coffer ${alg} signatures (DER form) under the exported PEM`, () => {
    const { secretKey, publicKey } = sig.keygen(alg);
    const pem = write(`${alg}.pem`, publicKeyToPem(alg, publicKey));
    const msg = write(`${alg}.msg`, MESSAGE);
    const der = ecdsaSignatureToDer(sig.sign(alg, secretKey, MESSAGE));
    const good = run('openssl', [
      'dgst',
      '-sha256',
      '-verify',
      pem,
      '-signature',
      write(`${alg}.sig`, der),
      msg,
    ]);
    assert.equal(good.status, 0, good.output);
    assert.match(good.output, /Verified OK/);
    const other = write(`${alg}-other.msg`, new TextEncoder().encode('another message'));
    assert.notEqual(
      run('openssl', ['dgst', '-sha256', '-verify', pem, '-signature', join(dir, `${alg}.sig`), other])
        .status,
      0,
    );
  });
}

test('Coffer verifies signatures made by openssl under keys openssl generated', () => {
  const cases = [
    { alg: 'ed25519' as const, genpkey: ['-algorithm', 'ed25519'] },
    { alg: 'ecdsa-p256' as const, genpkey: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'] },
    { alg: 'secp256k1' as const, genpkey: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:secp256k1'] },
  ];
  const msg = write('theirs.msg', MESSAGE);
  for (const { alg, genpkey } of cases) {
    const keyPath = join(dir, `${alg}-theirs.key`);
    execFileSync('openssl', ['genpkey', ...genpkey, '-out', keyPath]);
    const pem = execFileSync('openssl', ['pkey', '-in', keyPath, '-pubout'], { encoding: 'utf8' });
    const { publicKey } = publicKeyFromPem(pem, alg);
    const sigPath = join(dir, `${alg}-theirs.sig`);
    if (alg === 'ed25519') {
      execFileSync('openssl', ['pkeyutl', '-sign', '-inkey', keyPath, '-rawin', '-in', msg, '-out', sigPath]);
      assert.equal(sig.verify(alg, publicKey, MESSAGE, readFileSync(sigPath)), true, alg);
      continue;
    }
    for (let i = 0; i < 8; i++) {
      execFileSync('openssl', ['dgst', '-sha256', '-sign', keyPath, '-out', sigPath, msg]);
      const raw = ecdsaSignatureFromDer(readFileSync(sigPath));
      const lowS: boolean =
        BigInt(`0x${Buffer.from(raw.subarray(32)).toString('hex')}`) <= CURVES[alg].halfOrder;
      // OpenSSL does not normalise s: secp256k1 accepts its low-S half only (Coffer's rule).
      assert.equal(sig.verify(alg, publicKey, MESSAGE, raw), alg === 'ecdsa-p256' || lowS, `${alg} #${i}`);
      assert.equal(sig.verify(alg, publicKey, MESSAGE.subarray(1), raw), false);
    }
  }
});

for (const [alg, type] of [
  ['ed25519', 'ED25519'],
  ['ecdsa-p256', 'ECDSA'],
] as const) {
  test(`ssh-keygen accepts the ${alg} OpenSSH line with our fingerprint (and, for ECDSA, our SPKI PEM)`, () => {
    const { publicKey } = sig.keygen(alg);
    const line = publicKeyToOpenSsh(alg, publicKey, 'coffer@test');
    const path = write(`${alg}.pub`, `${line}\n`);
    const listed = run('ssh-keygen', ['-l', '-f', path]);
    assert.equal(listed.status, 0, listed.output);
    const blob = Buffer.from(line.split(' ')[1]!, 'base64');
    const fingerprint = `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
    assert.ok(listed.output.includes(fingerprint), listed.output);
    assert.ok(listed.output.includes(`coffer@test (${type})`), listed.output);
    if (alg === 'ecdsa-p256') {
      // ssh-keygen converts only RSA/DSA/ECDSA keys to PKCS8 ("unsupported key type ED25519").
      const converted = run('ssh-keygen', ['-e', '-m', 'PKCS8', '-f', path]);
      assert.equal(converted.status, 0, converted.output);
      assert.equal(converted.output, publicKeyToPem(alg, publicKey));
    }
    // Negative control: a corrupted blob is refused by ssh-keygen.
    const broken = write(
      `${alg}-broken.pub`,
      `${line.split(' ')[0]} ${blob.subarray(0, -4).toString('base64')}\n`,
    );
    assert.notEqual(run('ssh-keygen', ['-l', '-f', broken]).status, 0);
  });
}
