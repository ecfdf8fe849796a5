// Public key formats against third-party encodings: Wycheproof's own DER / PEM / JWK for Ed25519
// and secp256k1 keys and DER for ML-DSA-65 keys, node:crypto's SPKI and JWK exports, plus round
// trips for every format and strict rejection of near-misses (wrong OIDs, parameters, hybrid or
// off-curve points, private JWKs, mismatched OpenSSH blobs, non-canonical base64).
import assert from 'node:assert/strict';
import { createPublicKey, type JsonWebKey } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { fromHex, toHex } from '../crypto/bytes.js';
import * as sig from '../crypto/sig.js';
import { CofferError } from '../errors.js';
import { loadJson, type WycheproofFile } from '../testing/vectors.js';
import { encodeBitString, encodeOid, encodeSequence } from './asn1.js';
import {
  exportPublicKey,
  type PublicJwk,
  publicKeyFromJwk,
  publicKeyFromOpenSsh,
  publicKeyFromPem,
  publicKeyFromSpki,
  publicKeyToJwk,
  publicKeyToOpenSsh,
  publicKeyToPem,
  publicKeyToSpki,
} from './public-key.js';

const einval = { code: 'EINVAL' };
const SEED = Uint8Array.from({ length: 32 }, (_, i) => i);

interface KeyGroup {
  publicKeyDer: string;
  publicKeyPem: string;
  publicKeyJwk?: Record<string, string>;
  publicKey: { pk?: string; uncompressed?: string } | string;
}

function groups(file: string): KeyGroup[] {
  const data = loadJson<WycheproofFile<unknown>>(file);
  const out = data.testGroups as unknown as KeyGroup[];
  assert.ok(out.length > 0, `${file}: no groups`);
  return out;
}

test('SPEC vectors: public keys of seed 00 01 … 1f in SPKI, JWK, OpenSSH and PEM', () => {
  const key = (alg: sig.SigAlgorithm) => sig.keygen(alg, SEED).publicKey;
  assert.equal(
    toHex(publicKeyToSpki('ed25519', key('ed25519'))),
    '302a300506032b657003210003a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8',
  );
  assert.equal(
    toHex(publicKeyToSpki('ecdsa-p256', key('ecdsa-p256'))),
    '3059301306072a8648ce3d020106082a8648ce3d03010703420004e5360f21f9d6c45bdf9c479a845800aa2da3ff5f6b07cbb29fb09784aa13b174b91650c3e229d76cff54b2cef9aa59c4f80673338f280b378f76a79b3d5ed360',
  );
  assert.equal(
    toHex(publicKeyToSpki('secp256k1', key('secp256k1'))),
    '3056301006072a8648ce3d020106052b8104000a034200042162b099b2710b552351f7aadb01c30a0b87860e577f8cc00bba555db518e5bb9ef95269223443406fb3ff7c19e025ab3afea268f82d12fde5012aa60a33ae63',
  );
  assert.deepEqual(publicKeyToJwk('ed25519', key('ed25519')), {
    kty: 'OKP',
    crv: 'Ed25519',
    x: 'A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg',
  });
  assert.deepEqual(publicKeyToJwk('secp256k1', key('secp256k1')), {
    kty: 'EC',
    crv: 'secp256k1',
    x: 'IWKwmbJxC1UjUfeq2wHDCguHhg5Xf4zAC7pVXbUY5bs',
    y: 'nvlSaSI0Q0Bvs_98GeAlqzr-omj4LRL95QEqpgozrmM',
  });
  assert.equal(
    publicKeyToOpenSsh('ed25519', key('ed25519'), 'coffer'),
    'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4 coffer',
  );
  assert.equal(
    publicKeyToOpenSsh('ecdsa-p256', key('ecdsa-p256')),
    'ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBOU2DyH51sRb35xHmoRYAKoto/9fawfLsp+wl4SqE7F0uRZQw+Ip12z/VLLO+apZxPgGczOPKAs3j3anmz1e02A=',
  );
  assert.equal(
    publicKeyToPem('ecdsa-p256', key('ecdsa-p256')),
    '-----BEGIN PUBLIC KEY-----\n' +
      'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE5TYPIfnWxFvfnEeahFgAqi2j/19r\n' +
      'B8uyn7CXhKoTsXS5FlDD4inXbP9Uss75qlnE+AZzM48oCzePdqebPV7TYA==\n' +
      '-----END PUBLIC KEY-----\n',
  );
});

test('Wycheproof Ed25519 keys: our SPKI, PEM and JWK equal theirs, and theirs parse back', () => {
  let n = 0;
  for (const g of groups('wycheproof/ed25519_test.json')) {
    const raw = fromHex((g.publicKey as { pk: string }).pk);
    assert.equal(toHex(publicKeyToSpki('ed25519', raw)), g.publicKeyDer);
    assert.equal(publicKeyToPem('ed25519', raw).trim(), g.publicKeyPem.trim());
    const { kid: _kid, ...jwk } = g.publicKeyJwk ?? {};
    assert.deepEqual(publicKeyToJwk('ed25519', raw), jwk);
    assert.deepEqual(publicKeyFromSpki(fromHex(g.publicKeyDer)), { alg: 'ed25519', publicKey: raw });
    assert.deepEqual(publicKeyFromPem(g.publicKeyPem), { alg: 'ed25519', publicKey: raw });
    assert.deepEqual(publicKeyFromJwk(g.publicKeyJwk), { alg: 'ed25519', publicKey: raw });
    n++;
  }
  assert.ok(n >= 40, `${n} groups`);
});

test('Wycheproof secp256k1 keys: SPKI, PEM and JWK agree both ways (canonical raw is compressed)', () => {
  let n = 0;
  for (const g of groups('wycheproof/ecdsa_secp256k1_sha256_p1363_test.json')) {
    const uncompressed = fromHex((g.publicKey as { uncompressed: string }).uncompressed);
    const parsed = publicKeyFromSpki(fromHex(g.publicKeyDer), 'secp256k1');
    assert.equal(parsed.publicKey.length, 33);
    assert.equal(toHex(parsed.publicKey.subarray(1)), toHex(uncompressed.subarray(1, 33)));
    assert.equal(parsed.publicKey[0], 0x02 | (uncompressed[64]! & 1));
    // Writing back from either form gives exactly Wycheproof's (uncompressed) encodings.
    for (const form of [parsed.publicKey, uncompressed]) {
      assert.equal(toHex(publicKeyToSpki('secp256k1', form)), g.publicKeyDer);
      assert.equal(publicKeyToPem('secp256k1', form).trim(), g.publicKeyPem.trim());
    }
    assert.deepEqual(publicKeyFromPem(g.publicKeyPem), parsed);
    if (g.publicKeyJwk !== undefined) {
      const { kid: _kid, ...jwk } = g.publicKeyJwk;
      assert.deepEqual(publicKeyToJwk('secp256k1', uncompressed), jwk);
      assert.deepEqual(publicKeyFromJwk(g.publicKeyJwk), parsed);
    }
    n++;
  }
  assert.ok(n >= 50, `${n} groups`);
});

test('Wycheproof ML-DSA-65 keys: our SPKI equals theirs; their wrong-length keys are refused', () => {
  let good = 0;
  let refused = 0;
  for (const g of groups('wycheproof/mldsa_65_verify_test.json')) {
    const raw = fromHex(g.publicKey as string);
    const der = fromHex(g.publicKeyDer);
    if (raw.length !== 1952) {
      assert.throws(() => publicKeyFromSpki(der), einval);
      assert.throws(() => publicKeyToSpki('ml-dsa-65', raw), einval);
      refused++;
      continue;
    }
    assert.equal(toHex(publicKeyToSpki('ml-dsa-65', raw)), g.publicKeyDer);
    assert.deepEqual(publicKeyFromSpki(der), { alg: 'ml-dsa-65', publicKey: raw });
    good++;
  }
  assert.ok(good >= 20 && refused === 4, `${good} good, ${refused} refused`);
});

test('node:crypto agrees: our SPKI imports, and its SPKI and JWK exports equal ours', () => {
  for (const alg of ['ed25519', 'ecdsa-p256', 'secp256k1'] as const) {
    const { publicKey } = sig.keygen(alg, SEED);
    const spki = publicKeyToSpki(alg, publicKey);
    const key = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
    assert.deepEqual(new Uint8Array(key.export({ format: 'der', type: 'spki' })), spki);
    assert.deepEqual(key.export({ format: 'jwk' }), publicKeyToJwk(alg, publicKey));
    assert.equal(key.export({ format: 'pem', type: 'spki' }), publicKeyToPem(alg, publicKey));
    const fromJwk = createPublicKey({
      key: publicKeyToJwk(alg, publicKey) as unknown as JsonWebKey,
      format: 'jwk',
    });
    assert.deepEqual(new Uint8Array(fromJwk.export({ format: 'der', type: 'spki' })), spki);
  }
});

test('round trips for every algorithm and format, from random keys', () => {
  for (const alg of sig.SIG_ALGORITHMS) {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (seed) => {
        const { publicKey } = sig.keygen(alg, seed);
        assert.deepEqual(publicKeyFromSpki(publicKeyToSpki(alg, publicKey), alg), { alg, publicKey });
        assert.deepEqual(publicKeyFromPem(publicKeyToPem(alg, publicKey), alg), { alg, publicKey });
        assert.deepEqual(exportPublicKey(alg, publicKey, 'raw'), publicKey);
        assert.deepEqual(publicKeyFromJwk(publicKeyToJwk(alg, publicKey), alg), { alg, publicKey });
        if (alg === 'ed25519' || alg === 'ecdsa-p256') {
          const line = publicKeyToOpenSsh(alg, publicKey, 'me@host');
          assert.deepEqual(publicKeyFromOpenSsh(line, alg), { alg, publicKey, comment: 'me@host' });
        }
      }),
      { numRuns: alg === 'ml-dsa-65' ? 5 : 30 },
    );
  }
});

test('exportPublicKey covers every format and refuses unknown ones', () => {
  const { publicKey } = sig.keygen('ed25519', SEED);
  assert.ok(exportPublicKey('ed25519', publicKey, 'spki') instanceof Uint8Array);
  assert.match(exportPublicKey('ed25519', publicKey, 'pem') as string, /^-----BEGIN PUBLIC KEY-----\n/);
  assert.deepEqual(exportPublicKey('ed25519', publicKey, 'jwk'), publicKeyToJwk('ed25519', publicKey));
  assert.equal(exportPublicKey('ed25519', publicKey, 'openssh'), publicKeyToOpenSsh('ed25519', publicKey));
  assert.throws(() => exportPublicKey('ed25519', publicKey, 'der' as 'spki'), einval);
  assert.throws(() => exportPublicKey('rsa' as 'ed25519', publicKey, 'raw'), einval);
  // RFC 9964 §6: ML-DSA-65 has a JWK form (kty AKP), and a private member in it is refused on parse.
  const mldsa = sig.keygen('ml-dsa-65', SEED).publicKey;
  const akp = exportPublicKey('ml-dsa-65', mldsa, 'jwk') as { kty: string; alg: string; pub: string };
  assert.deepEqual(Object.keys(akp), ['kty', 'alg', 'pub']);
  assert.equal(akp.kty, 'AKP');
  assert.equal(akp.alg, 'ML-DSA-65');
  assert.deepEqual(publicKeyFromJwk(akp), { alg: 'ml-dsa-65', publicKey: mldsa });
  assert.throws(() => publicKeyFromJwk({ ...akp, priv: 'AAAA' }), einval);
  assert.throws(() => publicKeyFromJwk({ ...akp, alg: 'ML-DSA-44' }), einval);
  assert.throws(() => publicKeyFromJwk({ ...akp, pub: akp.pub.slice(4) }), einval);
  assert.throws(
    () => exportPublicKey('secp256k1', sig.keygen('secp256k1', SEED).publicKey, 'openssh'),
    einval,
  );
});

test('SPKI strictness: wrong OIDs, parameters, curves, points and trailing bytes are EINVAL', () => {
  const ed = sig.keygen('ed25519', SEED).publicKey;
  const p256 = sig.keygen('ecdsa-p256', SEED).publicKey;
  const ecAlg = (curve: string) => encodeSequence(encodeOid('1.2.840.10045.2.1'), encodeOid(curve));
  const hybrid = p256.slice();
  hybrid[0] = 0x06 | (p256[64]! & 1);
  const offCurve = p256.slice();
  offCurve[64]! ^= 1;
  const bad: [string, Uint8Array][] = [
    [
      'ed25519 with NULL params',
      encodeSequence(encodeSequence(encodeOid('1.3.101.112'), Uint8Array.of(5, 0)), encodeBitString(ed)),
    ],
    ['X25519 OID', encodeSequence(encodeSequence(encodeOid('1.3.101.110')), encodeBitString(ed))],
    [
      'ed25519 31 bytes',
      encodeSequence(encodeSequence(encodeOid('1.3.101.112')), encodeBitString(ed.subarray(1))),
    ],
    [
      'ed25519 non-canonical',
      encodeSequence(
        encodeSequence(encodeOid('1.3.101.112')),
        encodeBitString(new Uint8Array(32).fill(0xff)),
      ),
    ],
    [
      'EC without curve',
      encodeSequence(encodeSequence(encodeOid('1.2.840.10045.2.1')), encodeBitString(p256)),
    ],
    ['P-384 curve', encodeSequence(ecAlg('1.3.132.0.34'), encodeBitString(p256))],
    ['hybrid point', encodeSequence(ecAlg('1.2.840.10045.3.1.7'), encodeBitString(hybrid))],
    ['off-curve point', encodeSequence(ecAlg('1.2.840.10045.3.1.7'), encodeBitString(offCurve))],
    ['P-256 point on secp256k1', encodeSequence(ecAlg('1.3.132.0.10'), encodeBitString(p256))],
    ['trailing byte', Uint8Array.of(...publicKeyToSpki('ed25519', ed), 0)],
  ];
  for (const [name, der] of bad) assert.throws(() => publicKeyFromSpki(der), einval, name);
  // A compressed point is legal in SPKI (RFC 5480 §2.2) and comes back canonical (65 bytes).
  const compressed = Uint8Array.of(0x02 | (p256[64]! & 1), ...p256.subarray(1, 33));
  const der = encodeSequence(ecAlg('1.2.840.10045.3.1.7'), encodeBitString(compressed));
  assert.deepEqual(publicKeyFromSpki(der), { alg: 'ecdsa-p256', publicKey: p256 });
  assert.throws(() => publicKeyFromSpki(publicKeyToSpki('ed25519', ed), 'ecdsa-p256'), einval);
  assert.throws(() => publicKeyToSpki('ecdsa-p256', hybrid), einval);
});

test('PEM strictness: one PUBLIC KEY block, canonical base64, CRLF and 76-column lines accepted', () => {
  const { publicKey } = sig.keygen('ecdsa-p256', SEED);
  const pem = publicKeyToPem('ecdsa-p256', publicKey);
  const body = pem.split('\n').slice(1, -2).join('');
  const expected = { alg: 'ecdsa-p256', publicKey };
  assert.deepEqual(publicKeyFromPem(pem.replaceAll('\n', '\r\n')), expected);
  assert.deepEqual(publicKeyFromPem(`\n  ${pem}\n\n`), expected);
  assert.deepEqual(
    publicKeyFromPem(
      `-----BEGIN PUBLIC KEY-----\n${body.match(/.{1,76}/g)!.join('\n')}\n-----END PUBLIC KEY-----`,
    ),
    expected,
  );
  const bad = [
    pem.replace('PUBLIC KEY-----\n', 'PRIVATE KEY-----\n'),
    pem.replace('-----END PUBLIC KEY-----', '-----END CERTIFICATE-----'),
    pem.replace('\n', '\nProc-Type: 4,ENCRYPTED\n'),
    pem.replace('\n', '\n\n'),
    `${pem}${pem}`,
    `-----BEGIN PUBLIC KEY-----\n${body}\n-----END PUBLIC KEY-----`, // one 120-char line
    pem.replace(/A/, '*'),
    pem.replace(/==\n/, '=\n'),
    'not a pem',
  ];
  for (const text of bad) assert.throws(() => publicKeyFromPem(text), einval, text.slice(0, 40));
  // Non-zero trailing bits in the last base64 group: Buffer would accept it, the parser does not.
  const last = body.slice(-4);
  const tweaked = body.slice(0, -4) + last[0] + last[1] + (last[2] === 'A' ? 'B' : 'A') + last[3];
  assert.throws(
    () =>
      publicKeyFromPem(
        `-----BEGIN PUBLIC KEY-----\n${tweaked.match(/.{1,64}/g)!.join('\n')}\n-----END PUBLIC KEY-----`,
      ),
    einval,
  );
  assert.throws(() => publicKeyFromPem(42 as unknown as string), einval);
});

test('JWK strictness: private members, wrong kty/crv, short or padded coordinates are EINVAL', () => {
  const ed = publicKeyToJwk('ed25519', sig.keygen('ed25519', SEED).publicKey) as PublicJwk & { x: string };
  const k1 = publicKeyToJwk('secp256k1', sig.keygen('secp256k1', SEED).publicKey) as PublicJwk & {
    x: string;
    y: string;
  };
  assert.deepEqual(publicKeyFromJwk({ ...ed, kid: 'k', use: 'sig', alg: 'EdDSA' }).alg, 'ed25519');
  const bad: unknown[] = [
    { ...ed, d: ed.x },
    { ...ed, crv: 'X25519' },
    { ...ed, kty: 'EC' },
    { ...ed, x: `${ed.x}=` },
    { ...ed, x: ed.x.slice(1) },
    { ...ed, x: ed.x.replace(/[A-Za-z]/, '+') },
    { ...k1, crv: 'P-384' },
    { ...k1, y: k1.x }, // off curve (almost surely)
    { ...k1, y: undefined },
    { ...k1, x: 5 },
    null,
    [],
    'jwk',
  ];
  for (const jwk of bad) assert.throws(() => publicKeyFromJwk(jwk), einval, JSON.stringify(jwk));
  assert.throws(() => publicKeyFromJwk(ed, 'secp256k1'), einval);
});

test('OpenSSH strictness: blob type must match the line, ECDSA must be uncompressed nistp256', () => {
  const ed = sig.keygen('ed25519', SEED).publicKey;
  const p256 = sig.keygen('ecdsa-p256', SEED).publicKey;
  const edLine = publicKeyToOpenSsh('ed25519', ed);
  const ecLine = publicKeyToOpenSsh('ecdsa-p256', p256, 'a comment with spaces');
  assert.deepEqual(publicKeyFromOpenSsh(`${edLine}\n`), { alg: 'ed25519', publicKey: ed, comment: '' });
  assert.equal(publicKeyFromOpenSsh(ecLine).comment, 'a comment with spaces');
  const blob = (...parts: Uint8Array[]) =>
    Buffer.concat(
      parts.map((p) => Buffer.concat([Buffer.from([0, 0, (p.length >> 8) & 0xff, p.length & 0xff]), p])),
    ).toString('base64');
  const txt = (s: string) => new TextEncoder().encode(s);
  const compressed = Uint8Array.of(0x02 | (p256[64]! & 1), ...p256.subarray(1, 33));
  const bad = [
    `ssh-rsa ${edLine.split(' ')[1]}`,
    `ecdsa-sha2-nistp256 ${edLine.split(' ')[1]}`,
    `ssh-ed25519 ${blob(txt('ssh-ed25519'), ed, ed)}`,
    `ssh-ed25519 ${blob(txt('ssh-ed25519'), ed.subarray(1))}`,
    `ecdsa-sha2-nistp256 ${blob(txt('ecdsa-sha2-nistp256'), txt('nistp384'), p256)}`,
    `ecdsa-sha2-nistp256 ${blob(txt('ecdsa-sha2-nistp256'), txt('nistp256'), compressed)}`,
    `ssh-ed25519 ${blob(txt('ssh-ed25519'))}AA==`,
    `ssh-ed25519  ${edLine.split(' ')[1]}`,
    `from="10.0.0.1" ${edLine}`,
    `${edLine} two\nlines`,
    `${edLine} tab\there`,
    'ssh-ed25519',
  ];
  for (const line of bad) assert.throws(() => publicKeyFromOpenSsh(line), einval, line);
  assert.throws(() => publicKeyToOpenSsh('ed25519', ed, 'evil\nssh-ed25519 AAAA'), einval);
  assert.throws(() => publicKeyFromOpenSsh(edLine, 'ecdsa-p256'), einval);
});

test('fuzz: random bytes and strings never throw anything but CofferError EINVAL', () => {
  const onlyEinval = (run: () => unknown) => {
    try {
      run();
    } catch (error) {
      assert.ok(error instanceof CofferError && error.code === 'EINVAL', String(error));
    }
  };
  const spki = publicKeyToSpki('ecdsa-p256', sig.keygen('ecdsa-p256', SEED).publicKey);
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 120 }),
      fc.string({ maxLength: 120 }),
      fc.nat(),
      (bytes, text, at) => {
        onlyEinval(() => publicKeyFromSpki(bytes));
        onlyEinval(() => publicKeyFromPem(text));
        onlyEinval(() => publicKeyFromOpenSsh(text));
        onlyEinval(() => publicKeyFromJwk({ kty: 'EC', crv: 'P-256', x: text, y: text }));
        const mutated = spki.slice();
        mutated[at % mutated.length]! ^= 1 + (at % 255);
        onlyEinval(() => publicKeyFromSpki(mutated));
      },
    ),
    { numRuns: 2000 },
  );
});
