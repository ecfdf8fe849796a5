// Outside checks of the formats through the daemon that jose cannot make (SPEC §14.15.4): ES256K
// JWS verified by @noble/curves and by OpenSSL through node:crypto against the JWKS route's key
// (jose 6 has no ES256K); ML-DSA-65 JWS verified by jose on a runtime with native ML-DSA; Bitcoin
// signed messages verified by recovering the key with @noble/curves over the signmessage hash and
// comparing @scure/btc-signer's address. None of them go through Coffer's verify code.
import assert from 'node:assert/strict';
import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import { after, before, test } from 'node:test';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import * as btc from '@scure/btc-signer';
import * as jose from 'jose';
import { nativeSupport } from '../crypto/features.js';
import { type DaemonFixture, startDaemon } from '../testing/daemon.js';
import { nodeWithMlDsa, runNodeJson } from '../testing/tools.js';
import { signJwsWithKey, signJwtWithKey } from './jose.js';
import { bitcoinAddressOfKey, bitcoinSignMessage } from './wallet.js';

let d: DaemonFixture;
before(async () => {
  d = await startDaemon();
});
after(async () => {
  await d?.cleanup();
});

const enc = new TextEncoder();

/** The JWKS route's entry for `kid`. */
async function jwkOf(app: string, kid: string): Promise<Record<string, unknown>> {
  const set = (await d.admin.jwks(app)) as { keys: Record<string, unknown>[] };
  const jwk = set.keys.find((k) => k.kid === kid);
  assert.ok(jwk, `kid ${kid} not in the JWKS of ${app}`);
  return jwk;
}

test('ES256K JWS through the daemon: @noble/curves and OpenSSL (node:crypto) verify it with the JWKS key', async () => {
  const key = await d.admin.createKey({ app: 'k1', purpose: 'jws', algorithm: 'secp256k1' });
  const payload = enc.encode('{"iss":"coffer","n":1}');
  const token = await signJwsWithKey(d.admin, key.id, payload, { typ: 'JOSE' });
  const [h, p, s] = token.split('.') as [string, string, string];
  const header = JSON.parse(Buffer.from(h, 'base64url').toString());
  assert.deepEqual(header, { alg: 'ES256K', kid: `${key.id}.1`, typ: 'JOSE' });
  assert.deepEqual(Buffer.from(p, 'base64url'), Buffer.from(payload));
  const jwk = await jwkOf('k1', `${key.id}.1`);
  assert.deepEqual([jwk.kty, jwk.crv, jwk.alg], ['EC', 'secp256k1', 'ES256K']);
  const signingInput = enc.encode(`${h}.${p}`);
  const signature = Buffer.from(s, 'base64url');
  assert.equal(signature.length, 64);
  // @noble/curves: the JWK's x ‖ y as an uncompressed point; SHA-256 of the signing input.
  const point = Buffer.concat([
    Buffer.from([4]),
    Buffer.from(jwk.x as string, 'base64url'),
    Buffer.from(jwk.y as string, 'base64url'),
  ]);
  assert.equal(secp256k1.verify(signature, signingInput, point), true);
  // OpenSSL, from the JWK itself.
  const openssl = createPublicKey({ key: jwk as never, format: 'jwk' });
  assert.equal(
    nodeVerify('sha256', signingInput, { key: openssl, dsaEncoding: 'ieee-p1363' }, signature),
    true,
  );
  // Negative controls: one changed payload byte, and the signature of another token.
  const altered = enc.encode(`${h}.${Buffer.from('{"iss":"coffer","n":2}').toString('base64url')}`);
  assert.equal(secp256k1.verify(signature, altered, point), false);
  assert.equal(nodeVerify('sha256', altered, { key: openssl, dsaEncoding: 'ieee-p1363' }, signature), false);
});

test('ML-DSA-65 JWT through the daemon: jose verifies it with the JWKS key where ML-DSA is native', async (t) => {
  const key = await d.admin.createKey({ app: 'pq', purpose: 'jwt', algorithm: 'ml-dsa-65' });
  const jwt = await signJwtWithKey(d.admin, key.id, { sub: 'pq-svc', aud: 'api' }, { expiresIn: 120 });
  const jwk = await jwkOf('pq', `${key.id}.1`);
  assert.deepEqual([jwk.kty, jwk.alg], ['AKP', 'ML-DSA-65']);
  const tampered = `${jwt.slice(0, -4)}${jwt.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
  if (nativeSupport.mlDsa65) {
    // This runtime's WebCrypto has ML-DSA (Node ≥ 24.7): jose checks in this process.
    const verifier = await jose.importJWK(jwk as jose.JWK, 'ML-DSA-65');
    const { payload, protectedHeader } = await jose.jwtVerify(jwt, verifier, { audience: 'api' });
    assert.equal(payload.sub, 'pq-svc');
    assert.equal(protectedHeader.alg, 'ML-DSA-65');
    await assert.rejects(jose.jwtVerify(tampered, verifier), /signature verification failed/);
    return;
  }
  // No native ML-DSA here (Node 20): the same check runs in jose under the project's Node 24.
  const node = nodeWithMlDsa();
  t.diagnostic(`ML-DSA-65: this runtime has no native ML-DSA; jose checked under ${node}`);
  const joseUrl = new URL('../../node_modules/jose/dist/webapi/index.js', import.meta.url).href;
  const result = runNodeJson<{ sub: string; alg: string; tampered: string }>(
    node,
    `import * as jose from ${JSON.stringify(joseUrl)};
     const arg = JSON.parse(process.argv[1]);
     const key = await jose.importJWK(arg.jwk, 'ML-DSA-65');
     const { payload, protectedHeader } = await jose.jwtVerify(arg.jwt, key, { audience: 'api' });
     let tampered = 'accepted';
     try { await jose.jwtVerify(arg.tampered, key); } catch (e) { tampered = e.code ?? 'rejected'; }
     console.log(JSON.stringify({ sub: payload.sub, alg: protectedHeader.alg, tampered }));`,
    { jwk, jwt, tampered },
  );
  assert.deepEqual(result, {
    sub: 'pq-svc',
    alg: 'ML-DSA-65',
    tampered: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
  });
});

/** double-SHA-256(varint ‖ "Bitcoin Signed Message:\n" ‖ varint(len) ‖ message), for short messages. */
function signmessageHash(message: Uint8Array): Uint8Array {
  const magic = enc.encode('Bitcoin Signed Message:\n');
  assert.ok(message.length < 0xfd);
  const data = Buffer.concat([Buffer.from([magic.length]), magic, Buffer.from([message.length]), message]);
  return sha256(sha256(data));
}

/** verifymessage's logic: recover the key from header ‖ r ‖ s, derive the address, compare. */
function recoveredAddress(signature: string, message: Uint8Array, type: 'p2pkh' | 'p2wpkh' | 'p2sh-p2wpkh') {
  const bytes = Buffer.from(signature, 'base64');
  assert.equal(bytes.length, 65);
  const header = bytes[0]!;
  const recovery = (header - 27) % 4;
  const sig = secp256k1.Signature.fromBytes(bytes.subarray(1), 'compact').addRecoveryBit(recovery);
  const publicKey = sig.recoverPublicKey(signmessageHash(message)).toBytes(true);
  const address =
    type === 'p2pkh'
      ? btc.p2pkh(publicKey).address
      : type === 'p2wpkh'
        ? btc.p2wpkh(publicKey).address
        : btc.p2sh(btc.p2wpkh(publicKey)).address;
  return { header, address };
}

test('Bitcoin signed messages through the daemon: the key recovered by @noble/curves has our address', async () => {
  const key = await d.admin.createKey({ app: 'btc', purpose: 'msg', algorithm: 'secp256k1' });
  const message = enc.encode('I own this address');
  // Bitcoin Core's form: header 31 + recid (compressed P2PKH).
  const core = await bitcoinSignMessage(d.admin, key.id, message);
  const p2pkh = await bitcoinAddressOfKey(d.admin, key.id, 'p2pkh');
  const recovered = recoveredAddress(core, message, 'p2pkh');
  assert.ok(recovered.header >= 31 && recovered.header <= 34, `header ${recovered.header}`);
  assert.equal(recovered.address, p2pkh);
  assert.notEqual(recoveredAddress(core, enc.encode('I own this addresS'), 'p2pkh').address, p2pkh);
  // BIP-137 headers for segwit addresses: 39–42 P2WPKH, 35–38 P2SH-P2WPKH.
  for (const [type, low] of [
    ['p2wpkh', 39],
    ['p2sh-p2wpkh', 35],
  ] as const) {
    const signature = await bitcoinSignMessage(d.admin, key.id, message, { addressType: type, bip137: true });
    const r = recoveredAddress(signature, message, type);
    assert.ok(r.header >= low && r.header <= low + 3, `${type} header ${r.header}`);
    assert.equal(r.address, await bitcoinAddressOfKey(d.admin, key.id, type));
  }
});
