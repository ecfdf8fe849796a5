// Policy defaults and overrides (SPEC §13.1): the SP 800-57 table, the warning rule, field-by-field
// overrides, and the instants derived from a key (due, warning, grace end).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { KEY_ALGORITHMS, type KeyInfo } from '../core/types.js';
import { CofferError } from '../errors.js';
import {
  AES_GCM_MAX_USES,
  ALGORITHM_DEFAULTS,
  DAY_MS,
  dueAt,
  effectivePolicy,
  graceEnd,
  warnAt,
  YEAR_MS,
} from './policy.js';

test('SP 800-57 Table 1 defaults: originator-usage periods within the NIST bounds', () => {
  for (const alg of ['ed25519', 'ecdsa-p256', 'secp256k1', 'ml-dsa-65'] as const) {
    const p = effectivePolicy({ algorithm: alg });
    assert.equal(p.intervalMs, YEAR_MS, 'private signature key: 1–3 years, short end');
    assert.equal(p.gracePeriodMs, 2 * YEAR_MS);
    assert.equal(p.maxUses, undefined);
  }
  for (const alg of ['aes-256-gcm', 'xchacha20-poly1305', 'hmac-sha256'] as const) {
    const p = effectivePolicy({ algorithm: alg });
    assert.ok(p.intervalMs <= 2 * YEAR_MS, 'symmetric keys: OUP ≤ 2 years');
    assert.ok(p.gracePeriodMs <= 3 * YEAR_MS, 'RUP ≤ OUP + 3 years');
  }
  assert.equal(effectivePolicy({ algorithm: 'aes-256-gcm' }).maxUses, AES_GCM_MAX_USES);
  assert.ok(AES_GCM_MAX_USES < 2 ** 32, 'SP 800-38D §8.3: fewer than 2^32 random-nonce encryptions');
  assert.equal(effectivePolicy({ algorithm: 'xchacha20-poly1305' }).maxUses, undefined);
  assert.ok(
    effectivePolicy({ algorithm: 'x-wing' }).intervalMs +
      effectivePolicy({ algorithm: 'x-wing' }).gracePeriodMs <=
      2 * YEAR_MS,
  );
  for (const alg of KEY_ALGORITHMS) {
    const p = effectivePolicy({ algorithm: alg });
    assert.ok(ALGORITHM_DEFAULTS[alg]);
    assert.equal(p.advanceWarningMs, 30 * DAY_MS, 'year-scale intervals warn 30 days ahead');
    assert.equal(p.requireConfirmation, false);
    assert.deepEqual(p.overridden, []);
  }
});

test('the key policy overrides field by field; the default warning is min(30 d, interval / 10)', () => {
  const p = effectivePolicy({ algorithm: 'ed25519', rotation: { intervalMs: 10 * DAY_MS, maxUses: 7 } });
  assert.equal(p.intervalMs, 10 * DAY_MS);
  assert.equal(p.advanceWarningMs, DAY_MS);
  assert.equal(p.gracePeriodMs, 2 * YEAR_MS);
  assert.equal(p.maxUses, 7);
  assert.deepEqual(p.overridden.sort(), ['intervalMs', 'maxUses']);
  const q = effectivePolicy({
    algorithm: 'aes-256-gcm',
    rotation: { advanceWarningMs: 5, gracePeriodMs: 6, requireConfirmation: true, maxUses: 9 },
  });
  assert.deepEqual([q.advanceWarningMs, q.gracePeriodMs, q.requireConfirmation, q.maxUses], [5, 6, true, 9]);
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 10 * YEAR_MS }), (intervalMs) => {
      const w = effectivePolicy({ algorithm: 'ed25519', rotation: { intervalMs } }).advanceWarningMs;
      return w === Math.min(30 * DAY_MS, Math.floor(intervalMs / 10)) && w < intervalMs;
    }),
  );
});

test('due, warning and grace-end instants come from the primary and the version timestamps', () => {
  const key = {
    id: 'k_x',
    algorithm: 'ed25519',
    primaryVersion: 2,
    rotation: { intervalMs: 100, advanceWarningMs: 30, gracePeriodMs: 50 },
    versions: [
      { version: 1, state: 'deactivated', createdAt: 0, deactivatedAt: 1000 },
      { version: 2, state: 'active', createdAt: 1000 },
    ],
  } as unknown as KeyInfo;
  const p = effectivePolicy(key);
  assert.equal(dueAt(key, p), 1100);
  assert.equal(warnAt(key, p), 1070);
  assert.equal(graceEnd(key.versions[0]!, p), 1050, 'deactivation + effective grace');
  assert.equal(graceEnd({ ...key.versions[0]!, graceEndsAt: 1234 }, p), 1234, 'the keystore stamp wins');
  assert.equal(graceEnd(key.versions[1]!, p), undefined, 'the primary never expires');
  assert.equal(graceEnd({ ...key.versions[0]!, state: 'compromised' }, p), undefined);
});

test('effectivePolicy rejects what is not a key', () => {
  for (const bad of [null, 5, { algorithm: 'rsa' }]) {
    assert.throws(
      () => effectivePolicy(bad as never),
      (e: unknown) => e instanceof CofferError && e.code === 'EINVAL',
    );
  }
});
