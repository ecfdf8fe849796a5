// SPEC §11.8 vector: the keychain and item records of a version-2 backup payload around the item
// record of SPEC §16.8, recomputed byte for byte; the payload decodes and every record opens; a
// version-1 reader of the same bytes refuses the keychain records.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { concatBytes } from '../crypto/bytes.js';
import { insecureSeededRng } from '../crypto/rng.js';
import { CofferError } from '../errors.js';
import { verifyExportedKeychain } from '../keychain/backup.js';
import { type ItemBody, type RecordHeader, sealItemRecord } from '../keychain/record.js';
import { decodePayload, encodeEndRecord, encodeItemRecord, encodeKeychainRecord } from './payload.js';

const seq = (start: number, n: number) => Uint8Array.from({ length: n }, (_, i) => (start + i) & 255);
const CLOCK = '018f0000000000000123456789abcdef';
const HEADER: RecordHeader = {
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

function vectorPayload(): Uint8Array {
  const rng = insecureSeededRng(new TextEncoder().encode('coffer keychain vectors'));
  const record = sealItemRecord(HEADER, BODY, seq(0, 32), rng, seq(0x20, 32));
  return concatBytes(
    ...encodeKeychainRecord({
      classKeyId: 'ck_aaaaaaaaaaaaaaaa',
      history: { count: 32, bytes: 1048576 },
      classKeys: [{ id: 'ck_aaaaaaaaaaaaaaaa', createdAt: 1700000000000, key: seq(0, 32) }],
    }),
    ...encodeItemRecord({ uuid: HEADER.uuid, current: record, history: [] }),
    ...encodeEndRecord({ keyCount: 0, itemCount: 1, requires: [] }),
  );
}

test('SPEC §11.8: keychain and item payload records', () => {
  const payload = vectorPayload();
  const hex = Buffer.from(payload).toString('hex');
  assert.equal(payload.length, VECTOR.bytes);
  assert.equal(createHash('sha256').update(payload).digest('hex'), VECTOR.sha256);
  assert.ok(hex.startsWith(VECTOR.prefix), hex.slice(0, 40));
  const { keychain, end } = decodePayload(payload, 2);
  assert.deepEqual(end, { keyCount: 0, itemCount: 1, requires: [] });
  assert.equal(keychain?.items[0]?.current.length, 778);
  assert.deepEqual(verifyExportedKeychain(keychain!).get(HEADER.uuid)?.attributes, BODY.attributes);
  assert.throws(
    () => decodePayload(payload, 1),
    (e: unknown) => e instanceof CofferError && e.code === 'EBADMSG',
  );
});

const VECTOR = {
  bytes: 1093,
  sha256: 'fd9039d7ef39df94efdcc7fff5e35b439e66a8822be82d10ef2a68f7d610e97e',
  // 0x03, length 180, JSON length 144: the keychain record's head.
  prefix: '03000000b400000090',
};
