// X.509 (SPEC §14.8) against OpenSSL: CSRs pass `openssl req -verify`, self-signed certificates
// pass `openssl verify` and print the subject, validity, serial and extensions we asked for in
// `openssl x509 -text`, for Ed25519, P-256 and secp256k1 (ML-DSA-65 through OpenSSL 3.5 in Node
// 24); each with a negative control. Then the DN parser (RFC 4514 subset) and its refusals.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { fromHex } from '../crypto/bytes.js';
import * as sig from '../crypto/sig.js';
import { CofferError } from '../errors.js';
import { nodeWithMlDsa, run, runNodeJson, scratch } from '../testing/tools.js';
import {
  certificateToPem,
  createCsr,
  createSelfSignedCertificate,
  csrToPem,
  encodeTime,
  subjectKeyIdentifier,
} from './x509.js';
import { encodeName, formatName, parseName } from './x509-name.js';

const tmp = scratch('x509');
after(() => tmp.remove());
const einval = (e: unknown) => e instanceof CofferError && e.code === 'EINVAL';

function openssl(args: string[], input?: string) {
  return run('openssl', args, input === undefined ? {} : { input });
}

const SUBJECT = 'CN=build signer,OU=Release\\, Tools,O=Example GmbH,L=München,C=DE';

for (const alg of ['ed25519', 'ecdsa-p256', 'secp256k1'] as const) {
  test(`${alg}: openssl req -verify accepts the CSR; openssl verify and x509 -text accept the self-signed certificate`, async () => {
    const { secretKey, publicKey } = sig.keygen(alg);
    const signer = (m: Uint8Array) => sig.sign(alg, secretKey, m);
    const fields = {
      subject: SUBJECT,
      alg,
      publicKey,
      subjectAltNames: [
        { dns: 'build.example.org' },
        { ip: '192.0.2.7' },
        { ip: '2001:db8::1' },
        { email: 'release@example.org' },
        { uri: 'https://example.org/signer' },
      ],
      extendedKeyUsage: ['codeSigning' as const],
    };
    const csr = tmp.write(`${alg}.csr`, csrToPem(await createCsr(fields, signer)));
    const verified = openssl(['req', '-in', csr, '-verify', '-noout', '-text']);
    assert.equal(verified.status, 0, verified.output);
    assert.match(verified.output, /verify OK/i);
    assert.match(
      verified.output,
      /Subject: C = DE, L = M(ü|\\C3\\BC)nchen, O = Example GmbH, OU = "Release, Tools", CN = build signer/,
    );
    assert.match(verified.output, /Requested Extensions:/);
    assert.match(
      verified.output,
      /DNS:build\.example\.org, IP Address:192\.0\.2\.7, IP Address:2001:DB8:0:0:0:0:0:1, email:release@example\.org, URI:https:\/\/example\.org\/signer/,
    );

    const notBefore = Date.UTC(2026, 0, 2, 3, 4, 5);
    const der = await createSelfSignedCertificate(
      { ...fields, ca: true, pathLength: 0 },
      { days: 30, notBefore, serial: fromHex('0102030405060708') },
      signer,
    );
    const cert = tmp.write(`${alg}.crt`, certificateToPem(der));
    const verify = openssl(['verify', '-no_check_time', '-check_ss_sig', '-CAfile', cert, cert]);
    assert.equal(verify.status, 0, verify.output);
    const text = openssl(['x509', '-in', cert, '-noout', '-text']).output;
    assert.match(text, /Version: 3 \(0x2\)/);
    assert.match(
      text,
      /Serial Number: 72623859790382856 \(0x102030405060708\)|Serial Number:\s+01:02:03:04:05:06:07:08/,
    );
    assert.match(text, /Not Before: Jan {2}2 03:04:05 2026 GMT/);
    assert.match(text, /Not After : Feb {2}1 03:04:05 2026 GMT/);
    assert.match(text, /X509v3 Basic Constraints: critical\s+CA:TRUE, pathlen:0/);
    assert.match(text, /X509v3 Key Usage: critical\s+Digital Signature, Certificate Sign, CRL Sign/);
    assert.match(text, /X509v3 Extended Key Usage:\s+Code Signing/);
    const ski = Buffer.from(subjectKeyIdentifier(alg, publicKey))
      .toString('hex')
      .toUpperCase()
      .match(/../g)!
      .join(':');
    assert.match(text, new RegExp(`X509v3 Subject Key Identifier:\\s+${ski}`));
    assert.match(text, new RegExp(`X509v3 Authority Key Identifier:\\s+(keyid:)?${ski}`));
    // OpenSSL's own view of the key matches ours (node:crypto is OpenSSL too, a second reader).
    const x509 = new X509Certificate(der);
    assert.equal(x509.checkIssued(x509), true);
    assert.equal(x509.verify(x509.publicKey), true);
    // Negative controls: a flipped signature bit fails both checks.
    const tampered = der.slice();
    tampered[tampered.length - 5]! ^= 1;
    const bad = tmp.write(`${alg}-bad.crt`, certificateToPem(tampered));
    assert.notEqual(openssl(['verify', '-no_check_time', '-check_ss_sig', '-CAfile', bad, bad]).status, 0);
    const badCsr = await createCsr(fields, signer);
    badCsr[badCsr.length - 3]! ^= 1;
    // OpenSSL 3.0's `req -verify` exits 0 even on failure, so its verdict is read from the output.
    const rejected = openssl([
      'req',
      '-in',
      tmp.write(`${alg}-bad.csr`, csrToPem(badCsr)),
      '-verify',
      '-noout',
    ]).output;
    assert.match(rejected, /verify failure/);
    assert.doesNotMatch(rejected, /verify OK/);
  });
}

test('an end-entity certificate: cA false, digitalSignature only, and keyCertSign is refused without ca', async () => {
  const { secretKey, publicKey } = sig.keygen('ecdsa-p256');
  const signer = (m: Uint8Array) => sig.sign('ecdsa-p256', secretKey, m);
  const der = await createSelfSignedCertificate(
    { subject: 'CN=leaf', alg: 'ecdsa-p256', publicKey },
    { days: 1 },
    signer,
  );
  const text = openssl(['x509', '-noout', '-text'], certificateToPem(der)).output;
  assert.match(text, /X509v3 Basic Constraints: critical\s+CA:FALSE/);
  assert.match(text, /X509v3 Key Usage: critical\s+Digital Signature\n/);
  await assert.rejects(
    createSelfSignedCertificate(
      { subject: 'CN=leaf', alg: 'ecdsa-p256', publicKey, keyUsage: ['keyCertSign'] },
      { days: 1 },
      signer,
    ),
    einval,
  );
  await assert.rejects(
    createSelfSignedCertificate(
      { subject: 'CN=leaf', alg: 'ecdsa-p256', publicKey, pathLength: 1 },
      { days: 1 },
      signer,
    ),
    einval,
  );
  // A signer that holds another key is caught before a certificate nobody can verify is issued.
  const other = sig.keygen('ecdsa-p256');
  await assert.rejects(
    createCsr({ subject: 'CN=x', alg: 'ecdsa-p256', publicKey }, (m) =>
      sig.sign('ecdsa-p256', other.secretKey, m),
    ),
    einval,
  );
});

test('ML-DSA-65 certificates (RFC 9881) verify in OpenSSL 3.5 through Node 24', async () => {
  const { secretKey, publicKey } = sig.keygen('ml-dsa-65');
  const der = await createSelfSignedCertificate(
    { subject: 'CN=pq root', alg: 'ml-dsa-65', publicKey, ca: true },
    { days: 365 },
    (m) => sig.sign('ml-dsa-65', secretKey, m),
  );
  const tampered = der.slice();
  tampered[tampered.length - 10]! ^= 1;
  const result = runNodeJson<{ good: boolean; bad: boolean; subject: string }>(
    nodeWithMlDsa(),
    `import { X509Certificate } from 'node:crypto';
     const [good, bad] = JSON.parse(process.argv[1]).map((b) => new X509Certificate(Buffer.from(b, 'base64')));
     console.log(JSON.stringify({ good: good.verify(good.publicKey), bad: bad.verify(bad.publicKey), subject: good.subject }));`,
    [Buffer.from(der).toString('base64'), Buffer.from(tampered).toString('base64')],
  );
  assert.deepEqual(result, { good: true, bad: false, subject: 'CN=pq root' });
});

test('DN parser: RFC 4514 order and escapes; multi-valued RDNs; refusals', () => {
  const name = parseName('CN=a\\+b,OU=x+O=y,C=DE');
  assert.deepEqual(
    name.map((rdn) => rdn.map((a) => `${a.type}=${a.value}`)),
    [['C=DE'], ['OU=x', 'O=y'], ['CN=a+b']],
  );
  assert.equal(formatName(name), 'CN=a\\+b,OU=x+O=y,C=DE');
  assert.deepEqual(parseName('CN=\\ lead and trail\\ ')[0]![0]!.value, ' lead and trail ');
  assert.deepEqual(parseName('CN=caf\\C3\\A9')[0]![0]!.value, 'café');
  assert.deepEqual(parseName('2.5.4.3=by oid')[0]![0]!.type, 'CN');
  assert.equal(parseName('emailAddress=a@b.example')[0]![0]!.type, 'EMAILADDRESS');
  for (const bad of [
    '',
    'CN=',
    'CN=a,',
    'CN=a, O=b',
    'CN= a',
    'CN=a ',
    'CN=a"b',
    'CN=#0403616263',
    'XX=a',
    'C=Germany',
    'C=de',
    'CN=a\\',
    'CN=a\\zz',
    'CN=a\\C3',
    'CN=a+CN=b',
    `CN=${'x'.repeat(65)}`,
    'DC=a b',
    'CN=line\\0Abreak',
    'CN=tab\there',
  ]) {
    assert.throws(() => parseName(bad), einval, bad);
  }
});

test('property: formatName(parseName(x)) re-parses to the same DER', () => {
  const value = fc
    .string({ minLength: 1, maxLength: 20 })
    .filter((s) => [...s].every((c) => c.charCodeAt(0) >= 0x20 && c.charCodeAt(0) !== 0x7f));
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.constantFrom('CN', 'O', 'OU', 'L', 'ST'), value), { minLength: 1, maxLength: 4 }),
      (pairs) => {
        const escaped = pairs
          .map(([t, v]) => `${t}=${formatName([[{ type: t, oid: '', value: v }]]).slice(t.length + 1)}`)
          .join(',');
        const parsed = parseName(escaped);
        assert.deepEqual(encodeName(parseName(formatName(parsed))), encodeName(parsed));
      },
    ),
  );
});

test('times: UTCTime through 2049, GeneralizedTime from 2050', () => {
  assert.equal(
    Buffer.from(encodeTime(Date.UTC(2049, 11, 31, 23, 59, 59)))
      .toString('latin1')
      .slice(2),
    '491231235959Z',
  );
  assert.equal(
    Buffer.from(encodeTime(Date.UTC(2050, 0, 1)))
      .toString('latin1')
      .slice(2),
    '20500101000000Z',
  );
  assert.equal(encodeTime(Date.UTC(2050, 0, 1))[0], 0x18);
  assert.throws(() => encodeTime(Date.UTC(1949, 0, 1)), einval);
});
