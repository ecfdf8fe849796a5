// Passphrase KDFs: published vectors (RFC 9106 §5.3 Argon2id, RFC 7914 §11–12 PBKDF2-SHA256 and scrypt)
// through both engines, native == @noble/hashes on random inputs, the OWASP floors and DoS ceilings
// (EINVAL before any work, for caller options and stored records alike), passphrase encoding (NFC,
// byte bounds, lone surrogates) and the async variant.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { argon2id as nobleArgon2id } from '@noble/hashes/argon2.js';
import { pbkdf2 as noblePbkdf2 } from '@noble/hashes/pbkdf2.js';
import { scrypt as nobleScrypt } from '@noble/hashes/scrypt.js';
import { sha256 } from '@noble/hashes/sha2.js';
import fc from 'fast-check';
import { CofferError } from '../errors.js';
import { toHex, utf8 } from './bytes.js';
import { cryptoImplementations, nativeSupport } from './features.js';
import {
  argon2id,
  DEFAULT_PASSPHRASE_KDF,
  derivePassphraseKey,
  derivePassphraseKeyAsync,
  PASSPHRASE_KDF_LIMITS,
  type PassphraseKdfParams,
  parsePassphraseKdfParams,
  pbkdf2Sha256,
  scrypt,
} from './passphrase-kdf.js';
import {
  _argon2idNative,
  _argon2idNativeAsync,
  _argon2idNoble,
  _argon2idNobleAsync,
  _pbkdf2Sha256Native,
  _pbkdf2Sha256NativeAsync,
  _pbkdf2Sha256Noble,
  _pbkdf2Sha256NobleAsync,
  _scryptNative,
  _scryptNativeAsync,
  _scryptNoble,
  _scryptNobleAsync,
} from './passphrase-kdf-engines.js';

const isInval = (error: unknown) => error instanceof CofferError && error.code === 'EINVAL';
const fill = (length: number, byte: number) => new Uint8Array(length).fill(byte);

const FLOOR = {
  argon2id: { alg: 'argon2id', memoryKiB: 19_456, iterations: 2, parallelism: 1 },
  scrypt: { alg: 'scrypt', N: 2 ** 17, r: 8, p: 1 },
  'pbkdf2-sha256': { alg: 'pbkdf2-sha256', iterations: 600_000 },
} as const satisfies Record<PassphraseKdfParams['alg'], PassphraseKdfParams>;
const SALT = fill(16, 0x5a);

// Node ≥ 24.7 ships crypto.argon2Sync; the detection must agree with the version, so the branch
// taken below is never a silent skip on a Node that should have the native path.
const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
const nodeHasArgon2 = major > 24 || (major === 24 && minor >= 7);

describe('Argon2id', () => {
  // RFC 9106 §5.3: m=32 KiB, t=3, p=4, P=32×01, S=16×02, K=8×03, X=12×04, T=32 bytes.
  const rfc = {
    password: fill(32, 0x01),
    salt: fill(16, 0x02),
    secret: fill(8, 0x03),
    associatedData: fill(12, 0x04),
    memoryKiB: 32,
    iterations: 3,
    parallelism: 4,
    length: 32,
  };
  const rfcTag = '0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659';

  test('RFC 9106 §5.3 test vector: the pure-JS engine computes it (on every Node)', () => {
    assert.equal(toHex(_argon2idNoble(rfc)), rfcTag);
  });

  test('engine choice is reported truthfully and matches this Node version', () => {
    assert.equal(nativeSupport.argon2, nodeHasArgon2, `Node ${process.versions.node}`);
    assert.equal(cryptoImplementations().argon2id, nodeHasArgon2 ? 'node:crypto' : '@noble/hashes');
    if (!nodeHasArgon2) {
      // No native engine to compare with: prove the refusal is explicit, not a wrong answer.
      assert.throws(
        () => _argon2idNative(rfc),
        (e: unknown) => e instanceof CofferError && e.code === 'EUNAVAIL',
      );
    }
  });

  test('native engine (when this Node has one) computes the RFC 9106 vector and equals noble on random inputs', async () => {
    if (!nodeHasArgon2) {
      // Node 20: the process uses @noble/hashes, whose correctness the RFC vector above pins.
      assert.equal(cryptoImplementations().argon2id, '@noble/hashes');
      assert.equal(toHex(_argon2idNoble(rfc)), rfcTag);
      return;
    }
    assert.equal(toHex(_argon2idNative(rfc)), rfcTag);
    assert.equal(toHex(await _argon2idNativeAsync(rfc)), rfcTag);
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 64 }),
        fc.uint8Array({ minLength: 8, maxLength: 32 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 64 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 4, max: 80 }),
        fc.option(fc.uint8Array({ minLength: 1, maxLength: 16 }), { nil: undefined }),
        (password, salt, parallelism, extraKiB, iterations, length, secret) => {
          const input = {
            password,
            salt,
            memoryKiB: 8 * parallelism + extraKiB,
            iterations,
            parallelism,
            length,
            ...(secret === undefined ? {} : { secret }),
          };
          assert.equal(toHex(_argon2idNative(input)), toHex(_argon2idNoble(input)));
        },
      ),
      { numRuns: 60 },
    );
  });

  test('public argon2id at the floor (19 MiB, t=2, p=1) equals @noble/hashes argon2id', () => {
    const ours = argon2id(
      'correct horse battery staple',
      SALT,
      { memoryKiB: 19_456, iterations: 2, parallelism: 1 },
      32,
    );
    const theirs = nobleArgon2id(utf8.encode('correct horse battery staple'), SALT, {
      m: 19_456,
      t: 2,
      p: 1,
      dkLen: 32,
    });
    assert.equal(toHex(ours), toHex(theirs));
  });
});

describe('scrypt and PBKDF2-HMAC-SHA256', () => {
  test('RFC 7914 §12 scrypt vectors on both engines', () => {
    const cases = [
      {
        password: '',
        salt: '',
        N: 16,
        r: 1,
        p: 1,
        out: '77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906',
      },
      {
        password: 'password',
        salt: 'NaCl',
        N: 1024,
        r: 8,
        p: 16,
        out: 'fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640',
      },
    ];
    for (const c of cases) {
      const input = {
        password: utf8.encode(c.password),
        salt: utf8.encode(c.salt),
        N: c.N,
        r: c.r,
        p: c.p,
        length: 64,
      };
      assert.equal(toHex(_scryptNative(input)), c.out);
      assert.equal(toHex(_scryptNoble(input)), c.out);
    }
  });

  test('RFC 7914 §11 PBKDF2-HMAC-SHA256 vectors on both engines', () => {
    const cases = [
      {
        password: 'passwd',
        salt: 'salt',
        iterations: 1,
        out: '55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783',
      },
      {
        password: 'Password',
        salt: 'NaCl',
        iterations: 80_000,
        out: '4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56a1d425a1225833549adb841b51c9b3176a272bdebba1d078478f62b397f33c8d',
      },
    ];
    for (const c of cases) {
      const input = {
        password: utf8.encode(c.password),
        salt: utf8.encode(c.salt),
        iterations: c.iterations,
        length: 64,
      };
      assert.equal(toHex(_pbkdf2Sha256Native(input)), c.out);
      assert.equal(toHex(_pbkdf2Sha256Noble(input)), c.out);
    }
  });

  test('native scrypt and PBKDF2 equal @noble/hashes on random inputs (small costs)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 80 }),
        fc.uint8Array({ minLength: 0, maxLength: 40 }),
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 2000 }),
        fc.integer({ min: 1, max: 96 }),
        (password, salt, log2N, r, p, iterations, length) => {
          const s = { password, salt, N: 2 ** log2N, r, p, length };
          assert.equal(toHex(_scryptNative(s)), toHex(_scryptNoble(s)));
          const k = { password, salt, iterations, length };
          assert.equal(toHex(_pbkdf2Sha256Native(k)), toHex(_pbkdf2Sha256Noble(k)));
        },
      ),
      { numRuns: 60 },
    );
  });

  test('public scrypt and pbkdf2Sha256 at their floors equal @noble/hashes', () => {
    const pw = 'Tr0ub4dor&3';
    assert.equal(
      toHex(scrypt(pw, SALT, { N: 2 ** 17, r: 8, p: 1 }, 32)),
      toHex(nobleScrypt(utf8.encode(pw), SALT, { N: 2 ** 17, r: 8, p: 1, dkLen: 32, maxmem: 2 ** 28 })),
    );
    assert.equal(
      toHex(pbkdf2Sha256(pw, SALT, { iterations: 600_000 }, 32)),
      toHex(noblePbkdf2(sha256, utf8.encode(pw), SALT, { c: 600_000, dkLen: 32 })),
    );
  });
});

describe('engine failures', () => {
  // The policy layer keeps these inputs away from the engines; if an engine still refuses (or runs out
  // of memory), the caller sees EINTERNAL naming the KDF with the cause attached, on every engine and
  // both call styles (node:crypto's callback APIs throw synchronously on bad parameters).
  const password = utf8.encode('correct horse');
  const scryptBad = { password, salt: SALT, N: 3, r: 1, p: 1, length: 16 };
  const pbkdf2Bad = { password, salt: SALT, iterations: 0, length: 16 };
  const argon2Bad = { password, salt: SALT, memoryKiB: 8, iterations: 1, parallelism: 0, length: 16 };
  const engines: [string, () => Uint8Array | Promise<Uint8Array>][] = [
    ['scrypt', () => _scryptNative(scryptBad)],
    ['scrypt', () => _scryptNativeAsync(scryptBad)],
    ['scrypt', () => _scryptNoble(scryptBad)],
    ['scrypt', () => _scryptNobleAsync(scryptBad)],
    ['pbkdf2-sha256', () => _pbkdf2Sha256Native(pbkdf2Bad)],
    ['pbkdf2-sha256', () => _pbkdf2Sha256NativeAsync(pbkdf2Bad)],
    ['pbkdf2-sha256', () => _pbkdf2Sha256Noble(pbkdf2Bad)],
    ['pbkdf2-sha256', () => _pbkdf2Sha256NobleAsync(pbkdf2Bad)],
    ['argon2id', () => _argon2idNoble(argon2Bad)],
    ['argon2id', () => _argon2idNobleAsync(argon2Bad)],
  ];
  if (nodeHasArgon2) {
    engines.push(['argon2id', () => _argon2idNative(argon2Bad)]);
    engines.push(['argon2id', () => _argon2idNativeAsync(argon2Bad)]);
  }
  test('a refused engine call is EINTERNAL naming the KDF, with the cause, sync and async alike', async () => {
    for (const [kdf, run] of engines) {
      await assert.rejects(
        async () => run(),
        (error: unknown) =>
          error instanceof CofferError &&
          error.code === 'EINTERNAL' &&
          error.message.startsWith(`${kdf} derivation failed: `) &&
          error.cause instanceof Error &&
          !error.message.includes('correct horse'),
        `${kdf} ${String(run)}`,
      );
    }
  });
});

describe('parameter policy: OWASP floors and denial-of-service ceilings', () => {
  const L = PASSPHRASE_KDF_LIMITS;

  test('the exported limits are the documented ones, and the default is Argon2id 64 MiB t=3 p=1', () => {
    assert.deepEqual(
      { ...L.argon2id.memoryKiB, t: { ...L.argon2id.iterations }, p: { ...L.argon2id.parallelism } },
      { min: 19_456, max: 2_097_152, t: { min: 2, max: 20 }, p: { min: 1, max: 16 } },
    );
    assert.deepEqual({ ...L.scrypt.N }, { min: 2 ** 17, max: 2 ** 21 });
    assert.equal(L.scrypt.r.min, 8);
    assert.equal(L.scrypt.maxMemoryBytes, 2 ** 31);
    assert.deepEqual({ ...L['pbkdf2-sha256'].iterations }, { min: 600_000, max: 10_000_000 });
    assert.deepEqual(
      [L.saltBytes.min, L.saltBytes.max, L.outputBytes.min, L.outputBytes.max],
      [16, 64, 16, 64],
    );
    assert.deepEqual(
      { ...DEFAULT_PASSPHRASE_KDF },
      { alg: 'argon2id', memoryKiB: 65_536, iterations: 3, parallelism: 1 },
    );
    assert.ok(
      Object.isFrozen(DEFAULT_PASSPHRASE_KDF) && Object.isFrozen(L) && Object.isFrozen(L.argon2id.memoryKiB),
    );
    assert.deepEqual(parsePassphraseKdfParams(DEFAULT_PASSPHRASE_KDF), DEFAULT_PASSPHRASE_KDF);
  });

  test('floors and ceilings themselves are accepted; one step beyond either is EINVAL', () => {
    const ok: PassphraseKdfParams[] = [
      FLOOR.argon2id,
      { alg: 'argon2id', memoryKiB: 2_097_152, iterations: 20, parallelism: 16 },
      FLOOR.scrypt,
      { alg: 'scrypt', N: 2 ** 21, r: 8, p: 16 },
      { alg: 'scrypt', N: 2 ** 17, r: 128, p: 1 },
      FLOOR['pbkdf2-sha256'],
      { alg: 'pbkdf2-sha256', iterations: 10_000_000 },
    ];
    for (const params of ok) assert.deepEqual(parsePassphraseKdfParams(params), params);
    const refused: unknown[] = [
      { ...FLOOR.argon2id, memoryKiB: 19_455 },
      { ...FLOOR.argon2id, memoryKiB: 2_097_153 },
      { ...FLOOR.argon2id, memoryKiB: 100 * 1024 * 1024 }, // a tampered record asking for 100 GiB
      { ...FLOOR.argon2id, iterations: 1 },
      { ...FLOOR.argon2id, iterations: 21 },
      { ...FLOOR.argon2id, parallelism: 0 },
      { ...FLOOR.argon2id, parallelism: 17 },
      { ...FLOOR.scrypt, N: 2 ** 16 },
      { ...FLOOR.scrypt, N: 2 ** 22 },
      { ...FLOOR.scrypt, N: 2 ** 17 + 2 ** 16 }, // not a power of two
      { ...FLOOR.scrypt, r: 7 },
      { ...FLOOR.scrypt, r: 129 },
      { ...FLOOR.scrypt, N: 2 ** 21, r: 9 }, // 128·N·r over 2 GiB
      { ...FLOOR.scrypt, N: 2 ** 18, r: 128 },
      { ...FLOOR.scrypt, p: 0 },
      { ...FLOOR.scrypt, p: 17 },
      { alg: 'pbkdf2-sha256', iterations: 599_999 },
      { alg: 'pbkdf2-sha256', iterations: 10_000_001 },
    ];
    for (const params of refused) {
      assert.throws(() => parsePassphraseKdfParams(params), isInval, JSON.stringify(params));
      // derivePassphraseKey refuses before deriving: a 100 GiB request fails at once with EINVAL.
      assert.throws(
        () => derivePassphraseKey(params as PassphraseKdfParams, 'pw', SALT),
        isInval,
        JSON.stringify(params),
      );
    }
  });

  test('malformed parameter records → EINVAL (strict shape: known alg, exactly its fields, integers)', () => {
    const malformed: unknown[] = [
      null,
      undefined,
      'argon2id',
      [],
      [FLOOR.argon2id],
      {},
      { alg: 'argon2d', memoryKiB: 19_456, iterations: 2, parallelism: 1 },
      { alg: 'bcrypt', cost: 12 },
      { memoryKiB: 19_456, iterations: 2, parallelism: 1 },
      { ...FLOOR.argon2id, salt: 'x' },
      { alg: 'argon2id', memoryKiB: 19_456, iterations: 2 },
      { ...FLOOR.argon2id, memoryKiB: '19456' },
      { ...FLOOR.argon2id, memoryKiB: 19_456.5 },
      { ...FLOOR.argon2id, iterations: Number.NaN },
      { ...FLOOR.argon2id, iterations: Number.POSITIVE_INFINITY },
      { ...FLOOR.scrypt, N: 2 ** 17, r: 8, p: 1, maxmem: 1 },
      { alg: 'scrypt', N: '131072', r: 8, p: 1 },
      { alg: 'pbkdf2-sha256', iterations: 600_000, hash: 'sha512' },
      new (class Params {
        alg = 'pbkdf2-sha256';
        iterations = 600_000;
      })(),
    ];
    for (const value of malformed) {
      assert.throws(() => parsePassphraseKdfParams(value), isInval, String(JSON.stringify(value)));
    }
    // The per-algorithm functions check their options the same way.
    const opts = { memoryKiB: 19_456, iterations: 2, parallelism: 1 };
    assert.throws(() => argon2id('pw', SALT, { ...opts, extra: 1 } as typeof opts, 32), isInval);
    assert.throws(() => argon2id('pw', SALT, null as unknown as typeof opts, 32), isInval);
    assert.throws(() => scrypt('pw', SALT, { N: 2 ** 17, r: 4, p: 1 }, 32), isInval);
    assert.throws(() => pbkdf2Sha256('pw', SALT, { iterations: 1000 }, 32), isInval);
  });

  test('parsing returns a frozen copy: later changes to the source object have no effect', () => {
    const source = { alg: 'pbkdf2-sha256', iterations: 600_000 };
    const parsed = parsePassphraseKdfParams(source);
    source.iterations = 1;
    assert.equal((parsed as { iterations: number }).iterations, 600_000);
    assert.ok(Object.isFrozen(parsed));
  });
});

describe('salt, output length and passphrase encoding', () => {
  const P = FLOOR['pbkdf2-sha256'];

  test('salt 16–64 bytes and output 16–64 bytes; outside → EINVAL', () => {
    assert.equal(derivePassphraseKey(P, 'pw', fill(16, 1), 16).length, 16);
    assert.equal(derivePassphraseKey(P, 'pw', fill(64, 1), 64).length, 64);
    for (const salt of [fill(0, 1), fill(15, 1), fill(65, 1), 'saltsaltsaltsalt', [1, 2], null]) {
      assert.throws(() => derivePassphraseKey(P, 'pw', salt as Uint8Array), isInval, String(salt));
    }
    for (const length of [0, 15, 65, 32.5, -32, '32', null]) {
      assert.throws(() => derivePassphraseKey(P, 'pw', SALT, length as number), isInval, String(length));
    }
  });

  test('strings are NFC-normalised; bytes are used exactly as given; a string equals its NFC UTF-8 bytes', () => {
    const precomposed = 'caf\u00e9 \u00c5ngstr\u00f6m';
    const decomposed = 'cafe\u0301 A\u030angstro\u0308m';
    assert.notEqual(precomposed, decomposed);
    const a = derivePassphraseKey(P, precomposed, SALT);
    assert.deepEqual(derivePassphraseKey(P, decomposed, SALT), a);
    assert.deepEqual(derivePassphraseKey(P, utf8.encode(precomposed), SALT), a);
    assert.notDeepEqual(derivePassphraseKey(P, utf8.encode(decomposed), SALT), a);
    // NFC, not NFKC: compatibility characters stay distinct ("ﬁ" ligature vs "fi").
    assert.notDeepEqual(derivePassphraseKey(P, '\ufb01', SALT), derivePassphraseKey(P, 'fi', SALT));
  });

  test('passphrase bounds: 1–1024 bytes once encoded, well-formed strings only', () => {
    assert.equal(derivePassphraseKey(P, 'x'.repeat(1024), SALT).length, 32);
    assert.equal(derivePassphraseKey(P, '\u{1F511}', SALT).length, 32); // a surrogate pair is fine
    const refused: unknown[] = [
      '',
      new Uint8Array(0),
      'x'.repeat(1025),
      new Uint8Array(1025),
      '\u20ac'.repeat(342), // 342 characters but 1026 bytes
      'ab\ud800cd', // lone high surrogate
      'ab\udc00', // lone low surrogate
      42,
      null,
      undefined,
      ['p', 'w'],
      new ArrayBuffer(8),
    ];
    for (const pw of refused) {
      assert.throws(() => derivePassphraseKey(P, pw as string, SALT), isInval, String(pw).slice(0, 20));
    }
  });

  test('error messages never contain the passphrase', () => {
    const secret = 'hunter2-very-secret-passphrase';
    for (const run of [
      () => derivePassphraseKey(P, secret, fill(3, 0)),
      () => derivePassphraseKey({ ...P, iterations: 5 }, secret, SALT),
      () => derivePassphraseKey(P, `${secret}\ud800`, SALT),
    ]) {
      assert.throws(run, (error: unknown) => {
        assert.ok(isInval(error));
        assert.equal((error as Error).message.includes(secret), false);
        return true;
      });
    }
  });
});

describe('derivePassphraseKeyAsync', () => {
  test('gives the same bytes as the sync call for every algorithm at its floor', async () => {
    for (const params of Object.values(FLOOR)) {
      const sync = derivePassphraseKey(params, 'same passphrase', SALT, 48);
      assert.deepEqual(await derivePassphraseKeyAsync(params, 'same passphrase', SALT, 48), sync, params.alg);
    }
  });

  test('validates exactly like the sync call (rejects with EINVAL)', async () => {
    await assert.rejects(derivePassphraseKeyAsync({ ...FLOOR.argon2id, iterations: 1 }, 'pw', SALT), isInval);
    await assert.rejects(derivePassphraseKeyAsync(FLOOR.argon2id, '', SALT), isInval);
    await assert.rejects(derivePassphraseKeyAsync(FLOOR.argon2id, 'pw', fill(8, 0)), isInval);
  });

  test('leaves the event loop running while it derives', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    try {
      await derivePassphraseKeyAsync(FLOOR.argon2id, 'pw', SALT);
    } finally {
      clearInterval(timer);
    }
    assert.ok(ticks > 0, 'timers fired during the derivation');
  });
});
