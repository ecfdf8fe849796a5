// SPEC §17.10.3: the device manifest's vector (body, signed message, Ed25519 signature, layout), and
// the parser's refusals: every flipped bit, a missing signature, a member's key under another id,
// and arbitrary bytes (fast-check) are EBADMSG, never accepted and never another error.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { b64, canonicalJson } from '../../core/encoding.js';
import { keygen, sign } from '../../crypto/sig.js';
import type { MemberKeys } from '../transport.js';
import {
  type DeviceManifest,
  encodeSigned,
  parseSigned,
  signedBytes,
  signManifest,
  verifyManifest,
} from './device-manifest.js';

const seq = (a: number, n: number) => Uint8Array.from({ length: n }, (_, i) => (a + i) & 0xff);
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

const BODY: DeviceManifest = {
  format: 'coffer-sync-device-manifest',
  version: 1,
  account: 'acct-example',
  deviceId: '0123456789abcdef',
  generation: 7,
  seq: 42,
  digest: '758cbcb918fafd15fcb89e38d221fb466ffbc0a24588fb52da5f1d91e9b8514e',
  count: 2,
  wrote: [{ uuid: '00000000-0000-4000-8000-000000000001', gencount: 3, seq: 41 }],
};
const ed = keygen('ed25519', seq(0x00, 32));
const ml = keygen('ml-dsa-65', seq(0x20, 32));
const member: MemberKeys = {
  deviceId: BODY.deviceId,
  ed25519: b64.encode(ed.publicKey),
  mldsa65: b64.encode(ml.publicKey),
};
const signer = {
  accountId: BODY.account,
  deviceId: BODY.deviceId,
  sign: async (m: Uint8Array) => ({
    ed25519: sign('ed25519', ed.secretKey, m),
    mldsa65: sign('ml-dsa-65', ml.secretKey, m),
  }),
};

describe('device manifest (SPEC §17.10.3)', () => {
  it('matches the vector', async () => {
    const bodyBytes = new TextEncoder().encode(canonicalJson(BODY));
    assert.equal(bodyBytes.length, 297);
    assert.equal(
      new TextDecoder().decode(bodyBytes),
      '{"account":"acct-example","count":2,"deviceId":"0123456789abcdef","digest":"758cbcb918fafd15fcb89e38d221fb466ffbc0a24588fb52da5f1d91e9b8514e","format":"coffer-sync-device-manifest","generation":7,"seq":42,"version":1,"wrote":[{"gencount":3,"seq":41,"uuid":"00000000-0000-4000-8000-000000000001"}]}',
    );
    const message = signedBytes(bodyBytes);
    assert.equal(message.length, 328);
    assert.equal(sha(message), '48abbb10fd3aef0d13d58f5ad2f4e93248b188a46b39c73ac75281ed0cc1f3aa');
    assert.equal(hex(ed.publicKey), '03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8');
    assert.equal(sha(ml.publicKey), '408071bcaf4fe051b0b68f8e5b2a9dbbc15dabd9440757bf197a677bbca50b9b');
    assert.equal(
      hex(sign('ed25519', ed.secretKey, message)),
      'dc31109aa076e5820a128385cec501b595c66b685288895d80cf38c3a110c16d97828a2162456292fcb3f1a96a66be71321a63974b0c55a56d97641610ab2203',
    );
    const stored = await signManifest(BODY, signer);
    assert.equal(stored.length, 3682);
    assert.equal(hex(stored.subarray(0, 12)), '43444d31000001297b226163');
    assert.deepEqual(verifyManifest(stored, [member]), BODY);
  });

  it('refuses every flipped bit of the body and signatures', async () => {
    const stored = await signManifest(BODY, signer);
    // Every bit of the header and body, and a sample of signature bits (ML-DSA verification is slow).
    const positions = [...Array(8 + 297 + 2 + 64).keys(), 8 + 297 + 66 + 2, stored.length - 1];
    for (const at of positions)
      for (const bit of [0, 5]) {
        const bad = Uint8Array.from(stored);
        bad[at]! ^= 1 << bit;
        assert.throws(() => verifyManifest(bad, [member]), { code: 'EBADMSG' }, `byte ${at} bit ${bit}`);
      }
  });

  it('refuses a manifest by a non-member, or under another member id', async () => {
    const stored = await signManifest(BODY, signer);
    assert.throws(() => verifyManifest(stored, []), /not a member/);
    const other = keygen('ed25519', seq(0x40, 32));
    assert.throws(
      () => verifyManifest(stored, [{ ...member, ed25519: b64.encode(other.publicKey) }]),
      /does not verify \(Ed25519\)/,
    );
    const split = parseSigned(stored);
    const noMl = encodeSigned(split.bodyBytes, split.ed25519, new Uint8Array(3309));
    assert.throws(() => verifyManifest(noMl, [member]), /does not verify \(ML-DSA-65\)/);
  });

  it('refuses a body that is not canonical or has fields off', async () => {
    const message = (body: unknown, raw?: string) => {
      const bytes = new TextEncoder().encode(raw ?? canonicalJson(body));
      const m = signedBytes(bytes);
      return encodeSigned(bytes, sign('ed25519', ed.secretKey, m), sign('ml-dsa-65', ml.secretKey, m));
    };
    assert.throws(() => verifyManifest(message(null, JSON.stringify(BODY)), [member]), /canonical/);
    assert.throws(() => verifyManifest(message({ ...BODY, extra: 1 }), [member]), /fields/);
    assert.throws(() => verifyManifest(message({ ...BODY, generation: 0 }), [member]), /generation/);
    const unsorted = { ...BODY, wrote: [BODY.wrote[0]!, BODY.wrote[0]!] };
    assert.throws(() => verifyManifest(message(unsorted), [member]), /sorted/);
  });

  it('parses arbitrary bytes only to EBADMSG (fuzz)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 4000 }), (bytes) => {
        assert.throws(() => parseSigned(bytes), { code: 'EBADMSG' });
      }),
      { numRuns: 300 },
    );
  });
});
