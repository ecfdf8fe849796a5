// SPEC §14's own test vectors (formats the standards give no vectors for in Coffer's terms): every
// value is computed from the §1.B.9 keys (seed 00 01 … 1f) and must not change. Ed25519 signing is
// deterministic, so JWS, SSHSIG and certificate bytes are fixed; ECDSA values are addresses and
// digests only (ECDSA signatures are randomised).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { toHex } from '../crypto/bytes.js';
import * as kem from '../crypto/kem.js';
import * as sig from '../crypto/sig.js';
import { encodeAgeIdentity, encodeAgeRecipient } from './age.js';
import { bitcoinAddress, bitcoinMessageHash } from './bitcoin.js';
import { ethereumAddress, personalMessageHash, transactionSigningHash } from './ethereum.js';
import { jwkFor, signCompactJws } from './jose.js';
import { solanaAddress } from './solana.js';
import { signSshsig } from './sshsig.js';
import { createSelfSignedCertificate } from './x509.js';

const SEED = Uint8Array.from({ length: 32 }, (_, i) => i);
const ed = sig.keygen('ed25519', SEED);
const k1 = sig.keygen('secp256k1', SEED);
const signEd = (m: Uint8Array) => sig.sign('ed25519', ed.secretKey, m);
const enc = new TextEncoder();

test('§14.5 JWS and JWK vector', async () => {
  assert.equal(
    await signCompactJws(
      enc.encode('{"sub":"coffer"}'),
      { alg: 'ed25519', kid: 'k_aaaaaaaaaaaaaaaaaaaaaaaaaa.1' },
      signEd,
    ),
    'eyJhbGciOiJFZERTQSIsImtpZCI6ImtfYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWEuMSJ9.eyJzdWIiOiJjb2ZmZXIifQ.DT8WreFLSPYQYWY75u_dzQ3dBqq82oKyo1teFsZv4KvpxxSRVb1ANeaWojve17OXi8btcZVxd0qDbjmxNFkpCQ',
  );
  assert.equal(
    JSON.stringify(
      jwkFor({ keyId: 'k_aaaaaaaaaaaaaaaaaaaaaaaaaa', version: 1, alg: 'ed25519', publicKey: ed.publicKey }),
    ),
    '{"kty":"OKP","crv":"Ed25519","x":"A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg","kid":"k_aaaaaaaaaaaaaaaaaaaaaaaaaa.1","alg":"EdDSA","use":"sig"}',
  );
});

test('§14.6 SSHSIG vector', async () => {
  assert.equal(
    await signSshsig(
      enc.encode('coffer\n'),
      { alg: 'ed25519', publicKey: ed.publicKey, namespace: 'file' },
      signEd,
    ),
    [
      '-----BEGIN SSH SIGNATURE-----',
      'U1NIU0lHAAAAAQAAADMAAAALc3NoLWVkMjU1MTkAAAAgA6EHv/POEL4dcN0Y50vAmWfk1j',
      'CbpQ1fHdyGZBJVMbgAAAAEZmlsZQAAAAAAAAAGc2hhNTEyAAAAUwAAAAtzc2gtZWQyNTUx',
      'OQAAAECiQKYZOyLmtvJ9CQxAT+pPoJiQUxOjttIU4mKxTDh+bZpQHxqiOP6kkDEGBCyS8J',
      'yE16ZhGRjE9C96xT0HnfQA',
      '-----END SSH SIGNATURE-----',
      '',
    ].join('\n'),
  );
});

test('§14.8 certificate vector', async () => {
  const der = await createSelfSignedCertificate(
    { subject: 'CN=Coffer test vector,O=Coffer,C=DE', alg: 'ed25519', publicKey: ed.publicKey, ca: true },
    { days: 365, notBefore: Date.UTC(2026, 0, 1), serial: Uint8Array.of(1) },
    signEd,
  );
  assert.equal(der.length, 396);
  assert.equal(
    createHash('sha256').update(der).digest('hex'),
    '5651bb07e252f4f23bcfd4e657418731d7aac94c520ae3273ae869bcdbf973cf',
  );
});

test('§14.9–14.11 wallet vectors', () => {
  assert.equal(ethereumAddress(k1.publicKey), '0xc6945334c13EC50c9c90Be5C3Cc186D3Bc69f4d5');
  assert.equal(
    toHex(personalMessageHash('coffer')),
    'd8d1c2c40e2d1616abab7b77f1c709e2b9d5fca855d35dcaab9097657777ae0a',
  );
  const tx = {
    type: 2 as const,
    chainId: 1n,
    nonce: 0n,
    maxPriorityFeePerGas: 1n,
    maxFeePerGas: 2n,
    gasLimit: 21000n,
    to: '0x9858EfFD232B4033E47d90003D41EC34EcaEda94',
    value: 1n,
    data: new Uint8Array(0),
    accessList: [],
  };
  assert.equal(
    toHex(transactionSigningHash(tx)),
    '2673847ba55d4b7aa9c2ef86734b8823de16e3602b7ef6e1d869cc7bb5408e25',
  );
  assert.equal(bitcoinAddress(k1.publicKey, 'p2pkh'), '17vt32vG3vQuUXU3WAyJbwbfgMcM8Nyfrs');
  assert.equal(bitcoinAddress(k1.publicKey, 'p2sh-p2wpkh'), '3GwENgo9AdqVfj4cg3WjGQVL46uPZJpVxU');
  assert.equal(bitcoinAddress(k1.publicKey, 'p2wpkh'), 'bc1qfsqkwyrt6s37stp3qeagrmml89zlezksuqs2rt');
  assert.equal(
    toHex(bitcoinMessageHash('coffer')),
    '76817524fdbc5e4811da020fc2d7b00a1f12452d13fe3d1be7e280783dfde45b',
  );
  assert.equal(solanaAddress(ed.publicKey), 'FAe4sisG95oZ42w7buUn5qEE4TAnfTTFPiguZUHmhiF');
});

test('§14.12 age identity and recipient of the X-Wing seed 00 … 1f', () => {
  assert.equal(
    encodeAgeIdentity(SEED),
    'AGE-SECRET-KEY-PQ-1QQQSYQCYQ5RQWZQFPG9SCRGWPUGPZYSNZS23V9CCRYDPK8QARC0S5DYVQQ',
  );
  const recipient = encodeAgeRecipient(kem.keygen('x-wing', SEED).publicKey);
  assert.equal(recipient.length, 1959);
  assert.ok(recipient.startsWith('age1pq1da2qnzs2pejpz3npfd5kpwnqmpsr6ch5g'));
  assert.equal(
    createHash('sha256').update(recipient).digest('hex'),
    'e1704ce7caadaa4e436845c280d1527742f46a8af62d934c41b60c624e7cb185',
  );
});
