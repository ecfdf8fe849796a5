// The manifest of SPEC §17.5: order-independent digest, fingerprints of prefix ranges equal to the
// definition recomputed from a filtered list, any changed entry changing the digest, and malformed
// or duplicate entries refused.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { CofferError } from '../errors.js';
import { Manifest, type ManifestEntry, recordHash, uuidKey } from './manifest.js';

const uuidArb = fc.uuid({ version: 4 });
const hashArb = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex'));
const setArb = fc.uniqueArray(fc.record({ uuid: uuidArb, hash: hashArb }), {
  selector: (e) => e.uuid,
  maxLength: 60,
});

/** SPEC §17.5 written out directly, independent of the class's packed layout. */
function definition(entries: ManifestEntry[], prefix: string): string {
  const inRange = entries
    .filter((e) => uuidKey(e.uuid).startsWith(prefix))
    .sort((a, b) => (a.uuid < b.uuid ? -1 : 1));
  const count = Buffer.alloc(4);
  count.writeUInt32BE(inRange.length);
  const parts = [Buffer.from('coffer:sync-range:v1\0'), count];
  for (const e of inRange) parts.push(Buffer.from(uuidKey(e.uuid), 'hex'), Buffer.from(e.hash, 'hex'));
  return createHash('sha256').update(Buffer.concat(parts)).digest('hex');
}

test('fingerprints of prefix ranges follow the definition, whatever the input order', () => {
  fc.assert(
    fc.property(setArb, fc.stringMatching(/^[0-9a-f]{0,3}$/), (set, prefix) => {
      const m = new Manifest(set);
      const shuffled = new Manifest([...set].reverse());
      assert.equal(m.digest(), definition(set, ''));
      assert.equal(m.digest(), shuffled.digest());
      assert.equal(m.fingerprint(prefix), definition(set, prefix));
      assert.equal(m.count(prefix), set.filter((e) => uuidKey(e.uuid).startsWith(prefix)).length);
      assert.ok(m.range(prefix).every((e) => uuidKey(e.uuid).startsWith(prefix)));
    }),
  );
});

test('any added, removed or re-hashed entry changes the digest', () => {
  fc.assert(
    fc.property(
      setArb.filter((s) => s.length > 0),
      fc.nat(),
      hashArb,
      (set, i, other) => {
        const digest = new Manifest(set).digest();
        const k = i % set.length;
        assert.notEqual(new Manifest(set.filter((_, j) => j !== k)).digest(), digest);
        if (other !== set[k]!.hash)
          assert.notEqual(
            new Manifest(set.map((e, j) => (j === k ? { ...e, hash: other } : e))).digest(),
            digest,
          );
      },
    ),
  );
});

test('record hash is SHA-256 of the stored bytes', () => {
  assert.equal(
    recordHash(new Uint8Array()),
    'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  );
});

test('malformed entries, duplicates and prefixes are refused with EINVAL', () => {
  const ok = { uuid: '00000000-0000-4000-8000-000000000001', hash: 'a'.repeat(64) };
  const isInval = (e: unknown) => e instanceof CofferError && e.code === 'EINVAL';
  assert.throws(() => new Manifest([ok, { ...ok, hash: 'b'.repeat(64) }]), isInval);
  assert.throws(() => new Manifest([{ ...ok, uuid: 'AAAAAAAA-0000-4000-8000-000000000001' }]), isInval);
  assert.throws(() => new Manifest([{ ...ok, hash: 'A'.repeat(64) }]), isInval);
  assert.throws(() => new Manifest([{ ...ok, hash: 'a'.repeat(63) }]), isInval);
  const m = new Manifest([ok]);
  for (const prefix of ['G', 'A', '0'.repeat(33), '-']) assert.throws(() => m.fingerprint(prefix), isInval);
});

test('withChanges equals the manifest built from scratch over the merged set, and leaves the original as it was', () => {
  fc.assert(
    fc.property(
      setArb,
      // Changes: some to uuids of the set (new hashes), some new uuids, some repeated (the last wins).
      fc.array(fc.record({ pick: fc.nat(), uuid: uuidArb, hash: hashArb, existing: fc.boolean() }), {
        maxLength: 12,
      }),
      fc.constantFrom('', '0', '8', 'f', 'a5'),
      (base, raw, prefix) => {
        const changes = raw.map((c) => ({
          uuid: c.existing && base.length > 0 ? base[c.pick % base.length]!.uuid : c.uuid,
          hash: c.hash,
        }));
        const original = new Manifest(base);
        const before = original.digest();
        const updated = original.withChanges(changes);
        const merged = new Map(base.map((e) => [e.uuid, e.hash]));
        for (const c of changes) merged.set(c.uuid, c.hash);
        const scratch = new Manifest([...merged].map(([uuid, hash]) => ({ uuid, hash })));
        assert.deepEqual(updated.entries(), scratch.entries());
        assert.equal(updated.digest(), scratch.digest());
        assert.equal(updated.fingerprint(prefix), definition([...scratch.entries()], prefix));
        assert.equal(updated.count(prefix), scratch.count(prefix));
        assert.equal(original.digest(), before, 'the original manifest is unchanged');
      },
    ),
  );
  assert.throws(() => new Manifest([]).withChanges([{ uuid: 'nope', hash: 'x' }]), CofferError);
});
