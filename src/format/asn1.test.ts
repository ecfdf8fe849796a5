// The strict DER reader/writer: X.690 §10 rules (minimal lengths, no indefinite form, minimal
// INTEGERs and OID arcs, BIT STRINGs without unused bits, no trailing bytes), round trips, and a
// fuzz run showing random input only ever fails with CofferError EINVAL.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { fromHex, toHex } from '../crypto/bytes.js';
import { CofferError } from '../errors.js';
import {
  DerReader,
  encodeBitString,
  encodeOctetString,
  encodeOid,
  encodeSequence,
  encodeTlv,
  encodeUnsignedInteger,
  TAG,
} from './asn1.js';

const einval = { code: 'EINVAL' };
const reader = (hex: string) => new DerReader(fromHex(hex));

test('lengths: short and long form round trip; non-minimal, indefinite and truncated forms are EINVAL', () => {
  for (const size of [0, 1, 127, 128, 255, 256, 65535, 65536]) {
    const element = encodeOctetString(new Uint8Array(size).fill(7));
    const r = new DerReader(element);
    assert.equal(r.octetString().length, size);
    r.end();
  }
  assert.equal(toHex(encodeOctetString(new Uint8Array(128)).subarray(0, 3)), '048180');
  assert.equal(toHex(encodeOctetString(new Uint8Array(256)).subarray(0, 4)), '04820100');
  for (const bad of [
    `04817f${'00'.repeat(127)}`, // long form for a short length
    `0482007f${'00'.repeat(127)}`, // leading zero length byte
    '048000', // indefinite length (BER only)
    '0485' + '0000000001', // 5 length bytes
    '0403aabb', // truncated contents
    '04', // missing length
    '0482', // truncated length
    '', // nothing at all
  ]) {
    assert.throws(() => reader(bad).octetString(), einval, bad);
  }
});

test('tags must match and trailing bytes are refused', () => {
  assert.throws(() => reader('0400').sequence(), einval);
  const r = reader('040000');
  r.octetString();
  assert.equal(r.done, false);
  assert.throws(() => r.end(), einval);
  assert.equal(r.peekTag(), 0x00);
});

test('INTEGER: minimal non-negative encodings only', () => {
  const cases: [string, string][] = [
    ['020100', '00'],
    ['02017f', '7f'],
    ['02020080', '80'],
    ['02030100ff', '0100ff'],
  ];
  for (const [der, magnitude] of cases) {
    assert.equal(toHex(reader(der).unsignedInteger()), magnitude, der);
    assert.equal(toHex(encodeUnsignedInteger(fromHex(magnitude))), der);
  }
  // Leading zeros are stripped on encode; a lone zero stays.
  assert.equal(toHex(encodeUnsignedInteger(fromHex('000001'))), '020101');
  assert.equal(toHex(encodeUnsignedInteger(fromHex('0000'))), '020100');
  assert.equal(toHex(encodeUnsignedInteger(new Uint8Array(0))), '020100');
  for (const bad of ['0200', '020180', '0202ff7f', '0202007f', '0203000001']) {
    assert.throws(() => reader(bad).unsignedInteger(), einval, bad);
  }
});

test('OBJECT IDENTIFIER: known encodings both ways; padded or truncated arcs are EINVAL', () => {
  const known: [string, string][] = [
    ['1.3.101.112', '06032b6570'],
    ['1.2.840.10045.2.1', '06072a8648ce3d0201'],
    ['1.2.840.10045.3.1.7', '06082a8648ce3d030107'],
    ['1.3.132.0.10', '06052b8104000a'],
    ['2.16.840.1.101.3.4.3.18', '0609608648016503040312'],
    ['2.999.3', '0603883703'],
  ];
  for (const [dotted, der] of known) {
    assert.equal(toHex(encodeOid(dotted)), der, dotted);
    assert.equal(reader(der).oid(), dotted, der);
  }
  assert.equal(reader(toHex(encodeOid('1.2.4294967296'))).oid(), '1.2.4294967296');
  for (const bad of ['0600', '06022a80', '06032a8001', '0602802a']) {
    assert.throws(() => reader(bad).oid(), einval, bad);
  }
  for (const bad of ['1', '3.1', '1.40', '1.2.-3', '1..2', '1.02', 'a.b']) {
    assert.throws(() => encodeOid(bad), einval, bad);
  }
});

test('BIT STRING: unused-bit count must be 0; NULL must be empty', () => {
  assert.equal(toHex(new DerReader(encodeBitString(fromHex('abcd'))).bitString()), 'abcd');
  assert.throws(() => reader('030201ab').bitString(), einval);
  assert.throws(() => reader('0300').bitString(), einval);
  reader('0500').null();
  assert.throws(() => reader('050100').null(), einval);
});

test('nested SEQUENCEs round trip', () => {
  const der = encodeSequence(encodeSequence(encodeOid('1.3.101.112')), encodeBitString(new Uint8Array(32)));
  assert.equal(toHex(der.subarray(0, 12)), '302a300506032b6570032100');
  const outer = new DerReader(der);
  const spki = outer.sequence();
  outer.end();
  const alg = spki.sequence();
  assert.equal(alg.oid(), '1.3.101.112');
  alg.end();
  assert.equal(spki.bitString().length, 32);
  spki.end();
  assert.equal(encodeTlv(TAG.NULL).length, 2);
});

test('fuzz: random bytes through every reader method only ever throw CofferError EINVAL', () => {
  const methods = ['sequence', 'unsignedInteger', 'oid', 'bitString', 'octetString', 'null'] as const;
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), fc.constantFrom(...methods), (bytes, method) => {
      try {
        const r = new DerReader(bytes);
        r[method]();
        r.end();
      } catch (error) {
        assert.ok(error instanceof CofferError && error.code === 'EINVAL', String(error));
      }
    }),
    { numRuns: 5000 },
  );
});
