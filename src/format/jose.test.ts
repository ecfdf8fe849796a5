// JOSE (SPEC §14.5) against the `jose` library: tokens Coffer signs verify in jose (EdDSA, ES256;
// ML-DSA-65 through jose on Node 24's WebCrypto) and jose's tokens verify in Coffer; ES256K, which
// jose 6 no longer implements, is checked against OpenSSL through node:crypto instead. Then the
// RFC 8725 rules: alg from the key, no "none", no unknown crit; JWT time claims with skew.
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, sign as nodeSign, verify as nodeVerify } from 'node:crypto';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import * as jose from 'jose';
import * as sig from '../crypto/sig.js';
import { CofferError } from '../errors.js';
import { nodeWithMlDsa, runNodeJson } from '../testing/tools.js';
import {
  buildJwks,
  decodeCompactJws,
  jwkFor,
  keyFromJwks,
  kidFor,
  parseKid,
  signCompactJws,
  signJwt,
  verifyCompactJws,
  verifyJwt,
} from './jose.js';
import { privateKeyToPem } from './private-key.js';
import { publicKeyFromJwk, publicKeyToJwk } from './public-key.js';

const code = (c: string) => (e: unknown) => e instanceof CofferError && e.code === c;
const signerFor = (alg: sig.SigAlgorithm, secretKey: Uint8Array) => (m: Uint8Array) =>
  sig.sign(alg, secretKey, m);
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const enc = new TextEncoder();

for (const alg of ['ed25519', 'ecdsa-p256'] as const) {
  test(`${alg}: Coffer JWS and JWT verify in jose, jose's verify in Coffer, JWKS selects by kid`, async () => {
    const { secretKey, publicKey } = sig.keygen(alg);
    const jwk = jwkFor({ keyId: 'k_abcdefghijklmnopqrstuvwxyz', version: 3, alg, publicKey });
    assert.equal(jwk.kid, 'k_abcdefghijklmnopqrstuvwxyz.3');
    const joseKey = await jose.importJWK(jwk, jwk.alg);
    const token = await signCompactJws(
      enc.encode('hello jose'),
      { alg, kid: jwk.kid },
      signerFor(alg, secretKey),
    );
    const verified = await jose.compactVerify(token, joseKey);
    assert.equal(new TextDecoder().decode(verified.payload), 'hello jose');
    assert.equal(verified.protectedHeader.kid, jwk.kid);
    const jwt = await signJwt(
      { sub: 'alice', aud: 'svc' },
      { alg, kid: jwk.kid, expiresIn: 60 },
      signerFor(alg, secretKey),
    );
    const jwks = jose.createLocalJWKSet(
      buildJwks([
        { keyId: 'k_abcdefghijklmnopqrstuvwxyz', version: 2, alg, publicKey: sig.keygen(alg).publicKey },
        { keyId: 'k_abcdefghijklmnopqrstuvwxyz', version: 3, alg, publicKey },
      ]),
    );
    const { payload } = await jose.jwtVerify(jwt, jwks, { audience: 'svc' });
    assert.equal(payload.sub, 'alice');
    // A flipped signature byte fails in jose too.
    const bad = `${token.slice(0, -3)}${token.slice(-3) === 'AAA' ? 'BAA' : 'AAA'}`;
    await assert.rejects(jose.compactVerify(bad, joseKey));

    // jose signs, Coffer verifies with the key taken from jose's exported JWK.
    const pair = await jose.generateKeyPair(jwk.alg, { extractable: true });
    const theirJwk = await jose.exportJWK(pair.publicKey);
    const theirs = await new jose.SignJWT({ role: 'admin' })
      .setProtectedHeader({ alg: jwk.alg, kid: 'theirs.1' })
      .setIssuedAt()
      .setExpirationTime('5m')
      .setIssuer('jose')
      .sign(pair.privateKey);
    const key = publicKeyFromJwk(theirJwk);
    const checked = await verifyJwt(theirs, key, { issuer: 'jose', required: ['exp'] });
    assert.equal(checked.claims.role, 'admin');
    await assert.rejects(verifyJwt(theirs, { alg, publicKey: sig.keygen(alg).publicKey }), code('EBADMSG'));
    await assert.rejects(verifyJwt(theirs, key, { issuer: 'someone else' }), code('EBADMSG'));
  });
}

test('Ed25519 tokens with the RFC 9864 alg "Ed25519" verify in jose and in Coffer', async () => {
  const { secretKey, publicKey } = sig.keygen('ed25519');
  const token = await signCompactJws(
    enc.encode('x'),
    { alg: 'ed25519', fullySpecified: true },
    signerFor('ed25519', secretKey),
  );
  assert.equal(decodeCompactJws(token).header.alg, 'Ed25519');
  const joseKey = await jose.importJWK(publicKeyToJwk('ed25519', publicKey), 'Ed25519');
  await jose.compactVerify(token, joseKey);
  await verifyCompactJws(token, { alg: 'ed25519', publicKey });
});

test('ES256K (RFC 8812): OpenSSL verifies Coffer tokens; OpenSSL-signed tokens (either S half) verify in Coffer', async () => {
  const { secretKey, publicKey } = sig.keygen('secp256k1');
  const jwk = publicKeyToJwk('secp256k1', publicKey);
  const opensslPublic = createPublicKey({ key: jwk, format: 'jwk' });
  const token = await signCompactJws(
    enc.encode('k1'),
    { alg: 'secp256k1' },
    signerFor('secp256k1', secretKey),
  );
  const [h, p, s] = token.split('.') as [string, string, string];
  assert.equal(JSON.parse(Buffer.from(h, 'base64url').toString()).alg, 'ES256K');
  assert.equal(
    nodeVerify(
      'sha256',
      Buffer.from(`${h}.${p}`),
      { key: opensslPublic, dsaEncoding: 'ieee-p1363' },
      Buffer.from(s, 'base64url'),
    ),
    true,
  );
  // OpenSSL's own ES256K tokens: RFC 8812 does not ask for low-S, so both halves must verify.
  const opensslPrivate = createPrivateKey(privateKeyToPem('secp256k1', secretKey));
  const header = Buffer.from(JSON.stringify({ alg: 'ES256K', typ: 'JWT' })).toString('base64url');
  const claims = Buffer.from(JSON.stringify({ sub: 'k1' })).toString('base64url');
  for (let i = 0; i < 8; i++) {
    const signature = nodeSign('sha256', Buffer.from(`${header}.${claims}`), {
      key: opensslPrivate,
      dsaEncoding: 'ieee-p1363',
    });
    const { claims: c } = await verifyJwt(`${header}.${claims}.${signature.toString('base64url')}`, {
      alg: 'secp256k1',
      publicKey,
    });
    assert.equal(c.sub, 'k1');
  }
  // jose 6 (WebCrypto only) has no ES256K: say so, so the day it does this test is revisited.
  await assert.rejects(jose.importJWK(jwk, 'ES256K'), /not supported|Unsupported/i);
});

test('ML-DSA-65 (RFC 9964): jose on Node 24 verifies Coffer tokens and signs tokens Coffer verifies', async () => {
  const { secretKey, publicKey } = sig.keygen('ml-dsa-65');
  const jwk = jwkFor({ keyId: 'k_pq', version: 1, alg: 'ml-dsa-65', publicKey });
  assert.deepEqual([jwk.kty, jwk.alg], ['AKP', 'ML-DSA-65']);
  const token = await signJwt(
    { sub: 'pq' },
    { alg: 'ml-dsa-65', kid: jwk.kid, expiresIn: 300 },
    signerFor('ml-dsa-65', secretKey),
  );
  const result = runNodeJson<{
    sub: string;
    kid: string;
    theirs: string;
    theirJwk: Record<string, string>;
    tampered: string;
  }>(
    nodeWithMlDsa(),
    `import * as jose from ${JSON.stringify(new URL('node_modules/jose/dist/webapi/index.js', `file://${repoRoot}`).href)};
     const arg = JSON.parse(process.argv[1]);
     const key = await jose.importJWK(arg.jwk, 'ML-DSA-65');
     const { payload, protectedHeader } = await jose.jwtVerify(arg.token, key);
     let tampered = 'accepted';
     try { await jose.jwtVerify(arg.token.slice(0, -4) + 'AAAA', key); } catch (e) { tampered = e.code ?? 'rejected'; }
     const pair = await jose.generateKeyPair('ML-DSA-65', { extractable: true });
     const theirs = await new jose.SignJWT({ sub: 'from-jose' }).setProtectedHeader({ alg: 'ML-DSA-65' }).setIssuedAt().sign(pair.privateKey);
     console.log(JSON.stringify({ sub: payload.sub, kid: protectedHeader.kid, theirs, theirJwk: await jose.exportJWK(pair.publicKey), tampered }));`,
    { jwk, token },
  );
  assert.equal(result.sub, 'pq');
  assert.equal(result.kid, jwk.kid);
  assert.notEqual(result.tampered, 'accepted');
  const theirKey = publicKeyFromJwk(result.theirJwk);
  const { claims } = await verifyJwt(result.theirs, theirKey);
  assert.equal(claims.sub, 'from-jose');
});

test('RFC 8725: the key decides the algorithm; none, alg swaps and unknown crit are refused', async () => {
  const ed = sig.keygen('ed25519');
  const p256 = sig.keygen('ecdsa-p256');
  const token = await signCompactJws(enc.encode('p'), { alg: 'ed25519' }, signerFor('ed25519', ed.secretKey));
  await assert.rejects(
    verifyCompactJws(token, { alg: 'ecdsa-p256', publicKey: p256.publicKey }),
    code('EBADMSG'),
  );
  const [, p, s] = token.split('.');
  const forge = (header: object) => `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${p}.${s}`;
  await assert.rejects(
    verifyCompactJws(forge({ alg: 'none' }), { alg: 'ed25519', publicKey: ed.publicKey }),
    code('EBADMSG'),
  );
  await assert.rejects(
    verifyCompactJws(forge({ alg: 'ES256' }), { alg: 'ed25519', publicKey: ed.publicKey }),
    code('EBADMSG'),
  );
  const crit = await signCompactJws(
    enc.encode('p'),
    { alg: 'ed25519', header: { exp2: 1 } },
    signerFor('ed25519', ed.secretKey),
  );
  const edKey = { alg: 'ed25519' as const, publicKey: ed.publicKey };
  await verifyCompactJws(crit, edKey);
  await assert.rejects(
    signCompactJws(
      enc.encode('p'),
      { alg: 'ed25519', header: { crit: ['b64'] } },
      signerFor('ed25519', ed.secretKey),
    ),
    code('EINVAL'),
  );
  // A correctly signed token whose header lists a critical extension is still refused (RFC 7515 §4.1.11).
  const critHeader = Buffer.from(JSON.stringify({ alg: 'EdDSA', crit: ['exp2'], exp2: 1 })).toString(
    'base64url',
  );
  const critInput = `${critHeader}.${p}`;
  const critSig = Buffer.from(sig.sign('ed25519', ed.secretKey, enc.encode(critInput))).toString('base64url');
  await assert.rejects(verifyCompactJws(`${critInput}.${critSig}`, edKey), /critical extensions/);
  // A signer returning the wrong length is caught at signing time.
  await assert.rejects(
    signCompactJws(enc.encode('p'), { alg: 'ed25519' }, () => new Uint8Array(63)),
    code('EINVAL'),
  );
});

test('JWT time claims: exp, nbf, iat with clock tolerance; maxAge; audience lists; typ', async () => {
  const { secretKey, publicKey } = sig.keygen('ed25519');
  const key = { alg: 'ed25519' as const, publicKey };
  const t0 = 1_700_000_000;
  const at = (seconds: number) => () => seconds * 1000;
  const signer = signerFor('ed25519', secretKey);
  const jwt = await signJwt(
    { nbf: t0 + 10, aud: ['a', 'b'] },
    { alg: 'ed25519', now: at(t0), expiresIn: 100 },
    signer,
  );
  assert.equal(decodeCompactJws(jwt).header.typ, 'JWT');
  await assert.rejects(verifyJwt(jwt, key, { now: at(t0 + 9) }), /not valid yet/);
  await verifyJwt(jwt, key, { now: at(t0 + 9), clockTolerance: 1 });
  await verifyJwt(jwt, key, { now: at(t0 + 99), audience: 'b' });
  await assert.rejects(verifyJwt(jwt, key, { now: at(t0 + 100) }), /expired/);
  await verifyJwt(jwt, key, { now: at(t0 + 100), clockTolerance: 5 });
  await assert.rejects(verifyJwt(jwt, key, { now: at(t0 + 50), audience: 'c' }), /audience/);
  await assert.rejects(verifyJwt(jwt, key, { now: at(t0 + 50), maxAge: 30 }), /maxAge/);
  await assert.rejects(verifyJwt(jwt, key, { now: at(t0 - 5) }), /future|not valid yet/);
  await assert.rejects(verifyJwt(jwt, key, { now: at(t0 + 50), required: ['jti'] }), /jti/);
  await assert.rejects(verifyJwt(jwt, key, { now: at(t0 + 50), typ: 'at+jwt' }), code('EBADMSG'));
  const badExp = await signCompactJws(
    enc.encode(JSON.stringify({ exp: 'tomorrow' })),
    { alg: 'ed25519' },
    signer,
  );
  await assert.rejects(verifyJwt(badExp, key), code('EINVAL'));
});

test('kid scheme and JWKS lookup', () => {
  assert.equal(kidFor('k_abc', 7), 'k_abc.7');
  assert.deepEqual(parseKid('k_abc.7'), { keyId: 'k_abc', version: 7 });
  for (const bad of ['k_abc', 'k_abc.0', 'k_abc.07', 'a.b.1', 'k_abc.4294967296', 7])
    assert.equal(parseKid(bad), undefined);
  assert.throws(() => kidFor('k.a', 1), code('EINVAL'));
  const one = sig.keygen('ecdsa-p256');
  const jwks = buildJwks([{ keyId: 'k_a', version: 1, alg: 'ecdsa-p256', publicKey: one.publicKey }]);
  assert.deepEqual(keyFromJwks(jwks, { kid: 'k_a.1', alg: 'ES256' }), {
    alg: 'ecdsa-p256',
    publicKey: one.publicKey,
  });
  assert.throws(() => keyFromJwks(jwks, { kid: 'k_a.2', alg: 'ES256' }), code('EBADMSG'));
  assert.throws(() => keyFromJwks(jwks, { kid: 'k_a.1', alg: 'EdDSA' }), code('EBADMSG'));
  assert.throws(
    () =>
      buildJwks([
        { keyId: 'k_a', version: 1, alg: 'ecdsa-p256', publicKey: one.publicKey },
        { keyId: 'k_a', version: 1, alg: 'ecdsa-p256', publicKey: one.publicKey },
      ]),
    code('EINVAL'),
  );
});

test('fuzz: arbitrary tokens only ever fail with CofferError', async () => {
  const key = { alg: 'ed25519' as const, publicKey: sig.keygen('ed25519').publicKey };
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        fc.string(),
        fc.tuple(fc.base64String(), fc.base64String(), fc.base64String()).map((p) => p.join('.')),
      ),
      async (token) => {
        try {
          await verifyJwt(token, key);
          assert.fail('a random token verified');
        } catch (error) {
          assert.ok(error instanceof CofferError, String(error));
        }
      },
    ),
    { numRuns: 300 },
  );
});
