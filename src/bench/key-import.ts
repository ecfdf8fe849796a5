// Cold keys (issue 14): how a signing KeyObject is best built from stored material, and what a key
// outside the cache costs. Two kinds of rows, each measured side by side in the same run:
// - candidates: each way OpenSSL offers to build an Ed25519 / P-256 private KeyObject from the stored
//   secret (PKCS#8 DER — the way before —, SEC1 DER, JWK, WebCrypto importKey), as a ratio to the
//   PKCS#8 DER import, so the fastest is visible (src/crypto/key-import.ts uses it); where this Node has
//   it, `format: 'raw-private'`; for P-256 also the JWK import with the public point given (as if it
//   were stored with the secret, sparing the ECDH), which Coffer does not do: the import would then
//   trust a point read from the store for `publicKey()`, and it is measured only to bound what it buys;
// - cold/hot: signing through `sig.sign` over a working set of 100 000 keys, taken in turn (the 32 MiB
//   key caches hold about 11 000 Ed25519 or 8 000 P-256 keys, so every call builds its key), against
//   signing with one key (always cached), for the path Coffer takes now and for the way before
//   (PKCS#8 DER import plus SPKI public-key export, as sig-*.ts did), both in this run.
//   Goal: cold ≥ 0.5× hot.
import {
  createECDH,
  createPrivateKey,
  createPublicKey,
  KeyObject,
  sign as nodeSign,
  randomBytes,
  subtle,
} from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { importEcScalar, importEd25519Seed } from '../crypto/key-import.js';
import * as sig from '../crypto/sig.js';
import { type BenchRow, compare, compareAsync, row } from './harness.js';

const PKCS8: Record<'ed25519' | 'ecdsa-p256', string> = {
  ed25519: '302e020100300506032b657004220420',
  'ecdsa-p256': '3041020100301306072a8648ce3d020106082a8648ce3d030107042730250201010420',
};
/** The working set: far more distinct keys than a 32 MiB key cache holds, so each cold call misses. */
const WORKING_SET = 100_000;

/** A valid secret without keygen's public-key derivation: any 32 bytes for Ed25519, d < 2^255 < n for P-256. */
function randomSecret(alg: 'ed25519' | 'ecdsa-p256'): Uint8Array {
  const secret = randomBytes(32);
  if (alg === 'ecdsa-p256') {
    secret[0]! &= 0x7f;
    secret[31]! |= 1;
  }
  return new Uint8Array(secret);
}

function pkcs8(alg: 'ed25519' | 'ecdsa-p256', secret: Uint8Array): KeyObject {
  return createPrivateKey({
    key: Buffer.concat([Buffer.from(PKCS8[alg], 'hex'), secret]),
    format: 'der',
    type: 'pkcs8',
  });
}

/** Secrets whose public point is precomputed for the stored-point rows (the import itself does not cache). */
const STORED_SET = 10_000;

function ecPoint(d: Uint8Array): { x: string; y: string } {
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(d);
  const point = ecdh.getPublicKey();
  return { x: point.subarray(1, 33).toString('base64url'), y: point.subarray(33, 65).toString('base64url') };
}

/**
 * `createPrivateKey({ format: 'raw-private' })` where this Node has it (newer Node 24 releases), checked
 * by importing one key and comparing its public half with the JWK path's; undefined where it is absent.
 */
function rawPrivateImport(alg: 'ed25519' | 'ecdsa-p256'): ((secret: Uint8Array) => KeyObject) | undefined {
  const options =
    alg === 'ed25519' ? { asymmetricKeyType: 'ed25519' } : { asymmetricKeyType: 'ec', namedCurve: 'P-256' };
  const importRaw = (secret: Uint8Array) =>
    createPrivateKey({ key: secret, format: 'raw-private', ...options } as unknown as Parameters<
      typeof createPrivateKey
    >[0]);
  try {
    const secret = randomSecret(alg);
    const viaRaw = createPublicKey(importRaw(secret)).export({ format: 'jwk' });
    const viaJwk = createPublicKey(
      alg === 'ed25519' ? importEd25519Seed(secret) : importEcScalar('prime256v1', secret).key,
    ).export({ format: 'jwk' });
    return viaRaw.x === viaJwk.x && viaRaw.y === viaJwk.y ? importRaw : undefined;
  } catch {
    return undefined;
  }
}

/** The way before issue 14: PKCS#8 DER import, then the public key exported as SPKI. */
function importBefore(alg: 'ed25519' | 'ecdsa-p256', secret: Uint8Array): KeyObject {
  const key = pkcs8(alg, secret);
  createPublicKey(key).export({ format: 'der', type: 'spki' });
  return key;
}

export async function benchKeyImport(options: { rounds?: number; ms?: number } = {}): Promise<BenchRow[]> {
  const rounds = options.rounds ?? 3;
  const ms = options.ms ?? 200;
  const rows: BenchRow[] = [];
  const message = new Uint8Array(64).fill(1);
  for (const alg of ['ed25519', 'ecdsa-p256'] as const) {
    const secrets = Array.from({ length: WORKING_SET }, () => randomSecret(alg));
    let i = 0;
    const next = () => secrets[i++ % WORKING_SET]!;
    const base = () => pkcs8(alg, next());
    const hash = alg === 'ed25519' ? null : 'sha256';
    const candidates: [string, () => unknown][] =
      alg === 'ed25519'
        ? [['createPrivateKey JWK (d; x derived by OpenSSL) — used', () => importEd25519Seed(next())]]
        : [
            [
              'createPrivateKey JWK (d, x, y from createECDH) — used where raw-private is absent',
              () => importEcScalar('prime256v1', next()),
            ],
            [
              'createPrivateKey SEC1 DER with public point (from createECDH)',
              () => {
                const d = next();
                const ecdh = createECDH('prime256v1');
                ecdh.setPrivateKey(d);
                const der = Buffer.concat([
                  Buffer.from('30770201010420', 'hex'),
                  d,
                  Buffer.from('a00a06082a8648ce3d030107a144034200', 'hex'),
                  ecdh.getPublicKey(),
                ]);
                return createPrivateKey({ key: der, format: 'der', type: 'sec1' });
              },
            ],
          ];
    // The public point as if stored beside the secret (no ECDH at import): what storing it would buy.
    const stored = secrets
      .slice(0, STORED_SET)
      .map((d) => ({ d, ...(alg === 'ecdsa-p256' ? ecPoint(d) : {}) }));
    let j = 0;
    const nextStored = () => stored[j++ % STORED_SET]!;
    if (alg === 'ecdsa-p256') {
      candidates.push([
        'createPrivateKey JWK (d, x, y given — public point stored, no ECDH)',
        () => {
          const { d, x, y } = nextStored();
          return createPrivateKey({
            key: { kty: 'EC', crv: 'P-256', d: Buffer.from(d).toString('base64url'), x, y },
            format: 'jwk',
          });
        },
      ]);
    }
    const raw = rawPrivateImport(alg);
    if (raw)
      candidates.push([
        alg === 'ed25519'
          ? "createPrivateKey format 'raw-private' (Node ≥ 24)"
          : "createPrivateKey format 'raw-private' (Node ≥ 24) — used where present",
        () => raw(next()),
      ]);
    for (const [name, candidate] of candidates) {
      rows.push(
        row('keyimport', `${alg}: ${name}`, compare(candidate, base, { rounds, ms }), 'PKCS#8 DER import'),
      );
    }
    const algorithm = alg === 'ed25519' ? { name: 'Ed25519' } : { name: 'ECDSA', namedCurve: 'P-256' };
    rows.push(
      row(
        'keyimport',
        `${alg}: WebCrypto importKey pkcs8 → KeyObject.from`,
        await compareAsync(
          async () =>
            KeyObject.from(
              await subtle.importKey(
                'pkcs8',
                Buffer.concat([Buffer.from(PKCS8[alg], 'hex'), next()]),
                algorithm,
                true, // extractable: Node 24 deprecates KeyObject.from on a non-extractable key (DEP0204)
                ['sign'],
              ),
            ),
          base,
          { rounds, ms },
        ),
        'PKCS#8 DER import',
      ),
    );
    // Cold against hot, now and before, in alternating rounds.
    const hotSecret = secrets[0]!;
    const hotKey = pkcs8(alg, hotSecret);
    sig.clearKeyCache();
    const hot = () => sig.sign(alg, hotSecret, message);
    const now = compare(() => sig.sign(alg, next(), message), hot, { rounds, ms });
    const before = compare(
      () => nodeSign(hash, message, importBefore(alg, next())),
      () => nodeSign(hash, message, hotKey),
      {
        rounds,
        ms,
      },
    );
    rows.push(
      row('keyimport', `${alg}: cold sign (key built each call), now`, now, 'hot sign (cached key)', 0.5),
    );
    if (alg === 'ecdsa-p256') {
      // The bound of the stored-point path: JWK import with x, y given, then sign, against the hot sign.
      const storedPoint = compare(
        () => {
          const { d, x, y } = nextStored();
          const key = createPrivateKey({
            key: { kty: 'EC', crv: 'P-256', d: Buffer.from(d).toString('base64url'), x, y },
            format: 'jwk',
          });
          return nodeSign(hash, message, key); // DER: ieee-p1363 halves Node 24's sign rate
        },
        () => nodeSign(hash, message, hotKey),
        { rounds, ms },
      );
      rows.push(
        row(
          'keyimport',
          `${alg}: cold sign, public point stored (JWK d, x, y; not Coffer's path)`,
          storedPoint,
          'hot sign (cached key)',
        ),
      );
    }
    if (alg === 'ed25519') {
      // The first pass of issue 14: the JWK import, still followed by an SPKI export of the public key.
      const firstPass = compare(
        () => {
          const key = importEd25519Seed(next());
          createPublicKey(key).export({ format: 'der', type: 'spki' });
          return nodeSign(null, message, key);
        },
        () => nodeSign(null, message, hotKey),
        { rounds, ms },
      );
      rows.push(
        row(
          'keyimport',
          `${alg}: cold sign, first pass (JWK + SPKI public export)`,
          firstPass,
          'hot sign (cached key)',
        ),
      );
    }
    rows.push(
      row(
        'keyimport',
        `${alg}: cold sign, before (PKCS#8 DER + public export)`,
        before,
        'hot sign (cached key)',
      ),
    );
  }
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  for (const r of await benchKeyImport()) console.log(JSON.stringify(r));
}
