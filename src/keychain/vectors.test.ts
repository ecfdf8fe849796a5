// The vectors of SPEC §16.8, recomputed: record layout, padding sizes, blind-index tags, the cursor.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { insecureSeededRng } from '../crypto/rng.js';
import { indexTag, normalise } from './blind-index.js';
import { encodeCursor, queryHash } from './cursor.js';
import { paddedSize, padme } from './padding.js';
import { type ItemBody, openItemRecord, parseRecord, type RecordHeader, sealItemRecord } from './record.js';

const seq = (start: number, n: number) => Uint8Array.from({ length: n }, (_, i) => (start + i) & 255);
const CLOCK = '018f0000000000000123456789abcdef';

export const VECTOR_HEADER: RecordHeader = {
  uuid: '00000000-0000-4000-8000-000000000001',
  parentKeyId: 'ck_aaaaaaaaaaaaaaaa',
  version: 1,
  clock: CLOCK,
  deviceId: '0123456789abcdef',
};
const BODY: ItemBody = {
  kind: 'generic-password',
  group: 'default',
  sync: true,
  createdAt: 1700000000000,
  modifiedAt: 1700000000000,
  attributes: { service: 'example', account: 'alice' },
  secret: Buffer.from('hunter2').toString('base64'),
  clocks: { secret: CLOCK, 'attr.service': CLOCK, 'attr.account': CLOCK },
};

function vectorRecord(): Uint8Array {
  const rng = insecureSeededRng(new TextEncoder().encode('coffer keychain vectors'));
  return sealItemRecord(VECTOR_HEADER, BODY, seq(0, 32), rng, seq(0x20, 32));
}

test('SPEC §16.8 item record vector: layout, length and SHA-256', () => {
  const record = vectorRecord();
  assert.equal(record.length, 778);
  assert.equal(
    createHash('sha256').update(record).digest('hex'),
    '8cc2da3aad4ba69dd17e82e3830df04c3e3d564b7ccaa0721c31e736d874636f',
  );
  const hex = Buffer.from(record).toString('hex');
  // "CKI1", header length 0xa8, the canonical header, then wrapped length 60.
  assert.ok(hex.startsWith('434b4931000000a8'));
  assert.equal(
    Buffer.from(record.subarray(8, 8 + 0xa8)).toString(),
    '{"clock":"018f0000000000000123456789abcdef","deviceId":"0123456789abcdef","parentKeyId":"ck_aaaaaaaaaaaaaaaa","uuid":"00000000-0000-4000-8000-000000000001","version":1}',
  );
  assert.equal(hex.slice((8 + 0xa8) * 2, (8 + 0xa8 + 2) * 2), '003c');
  // encItem = 12 + padded body (512: the 337-byte body + 4 rounds up past 256) + 16.
  assert.equal(record.length - (10 + 0xa8 + 60), 12 + 512 + 16);
  assert.deepEqual(openItemRecord(parseRecord(record), seq(0, 32)), BODY);
});

test('SPEC §16.8 record vector: any flipped bit is EBADMSG', () => {
  const record = vectorRecord();
  for (let i = 0; i < record.length; i += 7) {
    const copy = Uint8Array.from(record);
    copy[i]! ^= 0x01;
    assert.throws(() => openItemRecord(parseRecord(copy), seq(0, 32)), { code: 'EBADMSG' }, `byte ${i}`);
  }
});

test('SPEC §16.2 padding sizes P(n): 256, powers of two to 4096, Padmé above', () => {
  const table: [number, number][] = [
    [1, 256],
    [256, 256],
    [257, 512],
    [4096, 4096],
    [4097, 4352],
    [5000, 5120],
    [70000, 71680],
  ];
  for (const [n, p] of table) assert.equal(paddedSize(n), p, `P(${n})`);
  // Padmé's overhead stays under 12 % (PURBs, PETS 2019).
  for (let n = 4097; n < 1 << 20; n = Math.floor(n * 1.37)) assert.ok(padme(n) - n <= n * 0.12);
});

test('SPEC §16.8 blind-index tags under the index key 40 41 … 5f', () => {
  const key = seq(0x40, 32);
  const cases: [Parameters<typeof indexTag>[1], string, string, string][] = [
    ['service', 'GitHub', 'github', '182df51dbe9822edb69d7480f7cc19df'],
    ['server', 'Bücher.example.', 'xn--bcher-kva.example', 'da90e432428051784e43dcb8676d1695'],
    ['server', 'xn--bcher-kva.example', 'xn--bcher-kva.example', 'da90e432428051784e43dcb8676d1695'],
    ['account', ' Alice ', 'alice', '61f06a980235ddf7710ec23f4c7798dc'],
  ];
  for (const [field, value, normal, tag] of cases) {
    assert.equal(normalise(field, value), normal);
    assert.equal(indexTag(key, field, value), tag);
  }
  // NFC: a decomposed é and a composed one are one value.
  assert.equal(indexTag(key, 'label', 'Cafe\u0301'), indexTag(key, 'label', 'Caf\u00e9'));
});

test('SPEC §16.8 cursor vector', () => {
  const key = seq(0x40, 32);
  const q = queryHash(key, { service: 'github' });
  assert.equal(q, '1bd75976c8fd3ec129b10ee1188466bd');
  assert.equal(
    encodeCursor(key, q, 'kc/x/service/abc/00000000-0000-4000-8000-000000000001'),
    'eyJhZnRlciI6ImtjL3gvc2VydmljZS9hYmMvMDAwMDAwMDAtMDAwMC00MDAwLTgwMDAtMDAwMDAwMDAwMDAxIiwicSI6IjFiZDc1OTc2YzhmZDNlYzEyOWIxMGVlMTE4ODQ2NmJkIn0.JnxESqR62CWnSr4jg28SfQ',
  );
});
