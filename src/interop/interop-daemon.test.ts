// The standard formats through the daemon (SPEC §14.15), checked by outside libraries: a key imported
// over the import wrap signs what node:crypto verifies; JWS/JWT verified by `jose` against the JWKS
// route; wallet addresses and signatures by ethers and @scure/btc-signer; age files from
// `age-encryption` decrypted by a keystore x-wing key; and token scopes on the new routes.
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, sign as nodeSign, verify as nodeVerify } from 'node:crypto';
import { after, before, test } from 'node:test';
import * as btc from '@scure/btc-signer';
import { Encrypter } from 'age-encryption';
import * as ethers from 'ethers';
import * as jose from 'jose';
import { CofferError } from '../errors.js';
import { type DaemonFixture, startDaemon } from '../testing/daemon.js';
import { ageDecryptWithKey, ageRecipientOfKey } from './age.js';
import { signJwsWithKey, signJwtWithKey } from './jose.js';
import {
  bitcoinAddressOfKey,
  ethereumAddressOfKey,
  ethereumSignMessage,
  ethereumSignTypedData,
} from './wallet.js';

let d: DaemonFixture;
before(async () => {
  d = await startDaemon();
});
after(async () => {
  await d?.cleanup();
});

const code = (c: string) => (e: unknown) => e instanceof CofferError && e.code === c;
const message = new TextEncoder().encode('coffer formats through the daemon');

test('key import over the import wrap: the key signs what node:crypto verifies, and is marked imported', async () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const key = await d.admin.importKey({ app: 'ci', purpose: 'deploy' }, pem);
  assert.equal(key.origin, 'imported');
  const { signature } = await d.admin.sign(key.id, message);
  assert.ok(nodeVerify(null, message, publicKey, signature));
  // An encrypted PKCS#8: the passphrase is used by the client only.
  const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const encrypted = p256.privateKey
    .export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'file-pw' })
    .toString();
  await assert.rejects(
    d.admin.importKey({ app: 'ci', purpose: 'p' }, encrypted, { passphrase: 'nope' }),
    code('EBADMSG'),
  );
  const ec = await d.admin.importKey({ app: 'ci', purpose: 'p' }, encrypted, { passphrase: 'file-pw' });
  // Prehashed: a signature over SHA-256(m) given as a digest verifies as one over m.
  const digest = createHash('sha256').update(message).digest();
  const { signature: pre } = await d.admin.signDigest(ec.id, digest, { hash: 'sha256' });
  assert.ok(nodeVerify('sha256', message, { key: p256.publicKey, dsaEncoding: 'ieee-p1363' }, pre));
  await assert.rejects(d.admin.signDigest(ec.id, digest.subarray(1), { hash: 'sha256' }), code('EINVAL'));
  await assert.rejects(d.admin.rotate(key.id), code('EPERM'));
});

test('trust anchors hold public keys only and verify', async () => {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const anchor = await d.admin.addTrustAnchor(
    { app: 'deploy', set: 'release', name: 'alice' },
    publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  );
  assert.equal(anchor.origin, 'trust-anchor');
  assert.deepEqual(anchor.uses, ['verify']);
  await assert.rejects(d.admin.sign(anchor.id, message), code('EPERM'));
  const sig = nodeSign(null, message, privateKey);
  assert.equal((await d.admin.checkSignature(anchor.id, message, sig)).valid, true);
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  assert.deepEqual(Buffer.from((await d.admin.publicKey(anchor.id, 'spki')) as Uint8Array), spki);
});

test('JWS and JWT verified by jose against the JWKS route', async () => {
  for (const algorithm of ['ed25519', 'ecdsa-p256'] as const) {
    const key = await d.admin.createKey({ app: 'auth', purpose: algorithm, algorithm });
    const jwt = await signJwtWithKey(d.admin, key.id, { sub: 'svc', aud: 'api' }, { expiresIn: 60 });
    const jwks = jose.createLocalJWKSet((await d.admin.jwks('auth')) as never);
    const { payload, protectedHeader } = await jose.jwtVerify(jwt, jwks, { audience: 'api' });
    assert.equal(payload.sub, 'svc');
    assert.equal(protectedHeader.kid, `${key.id}.1`);
    const jws = await signJwsWithKey(d.admin, key.id, message);
    const verified = await jose.compactVerify(jws, jwks);
    assert.deepEqual(Buffer.from(verified.payload), Buffer.from(message));
  }
});

test('wallet signing with a non-exportable secp256k1 key, checked by ethers and @scure/btc-signer', async () => {
  const key = await d.admin.createKey({ app: 'wallet', purpose: 'eth', algorithm: 'secp256k1' });
  const address = await ethereumAddressOfKey(d.admin, key.id);
  const raw = (await d.admin.publicKey(key.id, 'raw')) as Uint8Array;
  assert.equal(address, ethers.computeAddress(ethers.hexlify(raw)));
  const signature = await ethereumSignMessage(d.admin, key.id, 'hello wallet');
  assert.equal(ethers.verifyMessage('hello wallet', signature), address);
  const typed = {
    domain: { name: 'Coffer', version: '1', chainId: 1 },
    types: {
      Mail: [
        { name: 'to', type: 'address' },
        { name: 'contents', type: 'string' },
      ],
    },
    primaryType: 'Mail',
    message: { to: '0x9858EfFD232B4033E47d90003D41EC34EcaEda94', contents: 'hi' },
  };
  const typedSig = await ethereumSignTypedData(d.admin, key.id, typed as never);
  assert.equal(ethers.verifyTypedData(typed.domain, typed.types, typed.message, typedSig), address);
  const compressed = ethers.SigningKey.computePublicKey(ethers.hexlify(raw), true);
  assert.equal(
    await bitcoinAddressOfKey(d.admin, key.id, 'p2wpkh'),
    btc.p2wpkh(ethers.getBytes(compressed)).address,
  );
});

test('age: a file age-encryption wrote to the key recipient is decrypted by the keystore', async () => {
  const key = await d.admin.createKey({ app: 'files', purpose: 'age', algorithm: 'x-wing' });
  const recipient = await ageRecipientOfKey(d.admin, key.id);
  const encrypter = new Encrypter();
  encrypter.addRecipient(recipient);
  const file = await encrypter.encrypt(message);
  assert.deepEqual(Buffer.from(await ageDecryptWithKey(d.admin, key.id, file)), Buffer.from(message));
});

test('token scopes: another app is invisible on the new routes', async () => {
  const other = await d.admin.createKey({ app: 'b', purpose: 'p', algorithm: 'secp256k1' });
  const { token } = await d.admin.tokens.create({ apps: ['a'], ops: ['*'] });
  const client = d.client(token);
  const pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  await assert.rejects(client.importKey({ app: 'b', purpose: 'p' }, pem), code('EPERM'));
  await assert.rejects(
    client.addTrustAnchor({ app: 'b', set: 's', name: 'n' }, new Uint8Array(32).fill(7)),
    code('EPERM'),
  );
  await assert.rejects(client.signDigest(other.id, new Uint8Array(32), { hash: 'sha256' }), code('ENOENT'));
  await assert.rejects(client.jwks('b'), code('ENOENT'));
  assert.equal((await client.importKey({ app: 'a', purpose: 'p' }, pem)).app, 'a');
});
