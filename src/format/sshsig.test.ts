// SSHSIG (SPEC §14.6) against ssh-keygen: our signatures pass `ssh-keygen -Y verify` (with an
// allowed-signers file) and `-Y check-novalidate`, ssh-keygen's signatures verify here, for
// ssh-ed25519 and ecdsa-sha2-nistp256 and both hashes; negative controls for a changed message,
// namespace and signer. The codec's strictness and a fuzz run follow.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, test } from 'node:test';
import fc from 'fast-check';
import * as sig from '../crypto/sig.js';
import { CofferError } from '../errors.js';
import { run, scratch } from '../testing/tools.js';
import { parsePublicKey } from './key-import.js';
import { publicKeyToOpenSsh } from './public-key.js';
import { decodeSshSignature, encodeSshSignature, parseSshsig, signSshsig, verifySshsig } from './sshsig.js';

const tmp = scratch('sshsig');
after(() => tmp.remove());
const code = (c: string) => (e: unknown) => e instanceof CofferError && e.code === c;
const MESSAGE = new TextEncoder().encode('release v1.2.3 tarball\n');

for (const alg of ['ed25519', 'ecdsa-p256'] as const) {
  for (const hash of ['sha512', 'sha256'] as const) {
    test(`${alg}/${hash}: ssh-keygen -Y verify and check-novalidate accept Coffer's SSHSIG`, async () => {
      const { secretKey, publicKey } = sig.keygen(alg);
      const armored = await signSshsig(MESSAGE, { alg, publicKey, namespace: 'file', hash }, (m) =>
        sig.sign(alg, secretKey, m),
      );
      const msg = tmp.write(`${alg}-${hash}.msg`, MESSAGE);
      const sigFile = tmp.write(`${alg}-${hash}.sig`, armored);
      const line = publicKeyToOpenSsh(alg, publicKey);
      const allowed = tmp.write(`${alg}-${hash}.allowed`, `release@example.org namespaces="file" ${line}\n`);
      const verify = (file: string, namespace = 'file', allowedFile = allowed) =>
        run(
          'ssh-keygen',
          ['-Y', 'verify', '-f', allowedFile, '-I', 'release@example.org', '-n', namespace, '-s', sigFile],
          { input: readFileSync(file) },
        );
      const good = verify(msg);
      assert.equal(good.status, 0, good.output);
      assert.match(good.output, /Good "file" signature for release@example.org/);
      const novalidate = run('ssh-keygen', ['-Y', 'check-novalidate', '-n', 'file', '-s', sigFile], {
        input: MESSAGE,
      });
      assert.equal(novalidate.status, 0, novalidate.output);
      // Negative controls: another message, another namespace, another allowed key.
      assert.notEqual(verify(tmp.write(`${alg}-${hash}.other`, 'release v1.2.4\n')).status, 0);
      assert.notEqual(verify(msg, 'git').status, 0);
      const stranger = publicKeyToOpenSsh(alg, sig.keygen(alg).publicKey);
      assert.notEqual(
        verify(msg, 'file', tmp.write(`${alg}-${hash}.allowed2`, `release@example.org ${stranger}\n`)).status,
        0,
      );
      // And Coffer verifies its own with the same rules.
      assert.equal(
        verifySshsig(armored, MESSAGE, { namespace: 'file', allowedKeys: [{ alg, publicKey }] }).alg,
        alg,
      );
    });
  }
}

test('signatures made by ssh-keygen -Y sign verify in Coffer; tampering is EBADMSG', () => {
  for (const type of ['ed25519', 'ecdsa'] as const) {
    const keyFile = tmp.path(`their-${type}`);
    assert.equal(run('ssh-keygen', ['-q', '-t', type, '-N', '', '-f', keyFile]).status, 0);
    const msgFile = tmp.write(`their-${type}.msg`, MESSAGE);
    const signed = run('ssh-keygen', ['-Y', 'sign', '-f', keyFile, '-n', 'git', msgFile]);
    assert.equal(signed.status, 0, signed.output);
    const armored = readFileSync(`${msgFile}.sig`, 'utf8');
    const signer = parsePublicKey(readFileSync(`${keyFile}.pub`, 'utf8'));
    const result = verifySshsig(armored, MESSAGE, { namespace: 'git', allowedKeys: [signer] });
    assert.deepEqual(result.publicKey, signer.publicKey);
    assert.equal(result.hash, 'sha512');
    assert.throws(
      () => verifySshsig(armored, new TextEncoder().encode('other'), { namespace: 'git' }),
      code('EBADMSG'),
    );
    assert.throws(() => verifySshsig(armored, MESSAGE, { namespace: 'file' }), code('EBADMSG'));
    assert.throws(
      () => verifySshsig(armored, MESSAGE, { namespace: 'git', allowedKeys: [] }),
      code('EBADMSG'),
    );
  }
});

test('digest input: a file hashed by the caller signs the same as the whole message', async () => {
  const { secretKey, publicKey } = sig.keygen('ed25519');
  const { createHash } = await import('node:crypto');
  const digest = new Uint8Array(createHash('sha512').update(MESSAGE).digest());
  const armored = await signSshsig({ digest }, { alg: 'ed25519', publicKey, namespace: 'file' }, (m) =>
    sig.sign('ed25519', secretKey, m),
  );
  verifySshsig(armored, MESSAGE, { namespace: 'file' });
  verifySshsig(armored, { digest }, { namespace: 'file' });
  // A signer holding another key is caught before anything is published.
  const other = sig.keygen('ed25519');
  await assert.rejects(
    signSshsig(MESSAGE, { alg: 'ed25519', publicKey, namespace: 'file' }, (m) =>
      sig.sign('ed25519', other.secretKey, m),
    ),
    code('EINVAL'),
  );
});

test('SSH signature blobs: ECDSA mpints round trip; wrong type or widths are EINVAL', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 64, maxLength: 64 }), (raw) => {
      assert.deepEqual(decodeSshSignature('ecdsa-p256', encodeSshSignature('ecdsa-p256', raw)), raw);
      assert.deepEqual(decodeSshSignature('ed25519', encodeSshSignature('ed25519', raw)), raw);
    }),
  );
  const ed = encodeSshSignature('ed25519', new Uint8Array(64));
  assert.throws(() => decodeSshSignature('ecdsa-p256', ed), code('EINVAL'));
});

test('fuzz: mutated SSHSIG armour only ever fails with CofferError', async () => {
  const { secretKey, publicKey } = sig.keygen('ecdsa-p256');
  const armored = await signSshsig(MESSAGE, { alg: 'ecdsa-p256', publicKey, namespace: 'file' }, (m) =>
    sig.sign('ecdsa-p256', secretKey, m),
  );
  const body = Buffer.from(armored.split('\n').slice(1, -2).join(''), 'base64');
  fc.assert(
    fc.property(fc.nat(), fc.integer({ min: 1, max: 255 }), (at, xor) => {
      const mutated = Buffer.from(body);
      mutated[at % mutated.length]! ^= xor;
      const text = `-----BEGIN SSH SIGNATURE-----\n${mutated
        .toString('base64')
        .match(/.{1,70}/g)!
        .join('\n')}\n-----END SSH SIGNATURE-----\n`;
      try {
        verifySshsig(text, MESSAGE, { namespace: 'file' });
        assert.fail('a mutated signature verified');
      } catch (error) {
        assert.ok(error instanceof CofferError, String(error));
      }
    }),
    { numRuns: 300 },
  );
  assert.equal(parseSshsig(armored).namespace, 'file');
});
