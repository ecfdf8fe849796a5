// Wallet formats (SPEC §14.9–14.11) against the libraries wallets use: ethers (addresses, EIP-191,
// EIP-712, RLP, legacy and EIP-1559 transactions, both ways), @scure/btc-signer and @scure/bip32
// (addresses, SLIP-132 versions), Bitcoin Core's own signmessage vector, the BIP-44/49/84 test
// vectors, and for Solana micro-key-producer's SLIP-10 and @solana/addresses plus the
// "abandon … about" wallet vector. Signing always goes through a digest-signer callback.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HDKey } from '@scure/bip32';
import * as btc from '@scure/btc-signer';
import { getAddressDecoder } from '@solana/addresses';
import * as ethers from 'ethers';
import fc from 'fast-check';
import { HDKey as Slip10Key } from 'micro-key-producer/slip10.js';
import { bip32FromSeed } from '../crypto/bip32.js';
import { mnemonicToSeed } from '../crypto/bip39.js';
import { fromHex, toHex } from '../crypto/bytes.js';
import { signDigest } from '../crypto/prehash.js';
import * as sig from '../crypto/sig.js';
import { slip10 } from '../crypto/slip10.js';
import { CofferError } from '../errors.js';
import {
  accountPrefix,
  bitcoinAddress,
  bitcoinMessageHash,
  convertExtendedKey,
  parseBitcoinAddress,
  signBitcoinMessage,
  verifyBitcoinMessage,
} from './bitcoin.js';
import { recoverTypedDataAddress, signTypedData, type TypedData, typedDataHash } from './eip712.js';
import {
  type EthereumTransaction,
  ethereumAddress,
  parseEthereumAddress,
  parseSignedTransaction,
  personalSign,
  recoverPersonalSignAddress,
  signTransaction,
  transactionSigningHash,
  unsignedTransactionBytes,
} from './ethereum.js';
import { type RlpItem, rlpDecode, rlpEncode } from './rlp.js';
import { parseSolanaAddress, solanaAddress, solanaPath } from './solana.js';

const einval = (e: unknown) => e instanceof CofferError && e.code === 'EINVAL';
const ABANDON =
  'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about';
const SEED = mnemonicToSeed(ABANDON);
const signer =
  (secretKey: Uint8Array, hash: 'keccak256' | 'sha256' = 'keccak256') =>
  (d: Uint8Array) =>
    signDigest('secp256k1', secretKey, hash, d, { recoverable: true });
const hex = (b: Uint8Array) => `0x${toHex(b)}`;

// ---- Ethereum ----

test('Ethereum addresses: BIP-44 vector, EIP-55 as ethers writes it, checksum typos refused', () => {
  const node = bip32FromSeed(SEED).derive("m/44'/60'/0'/0/0");
  assert.equal(ethereumAddress(node.publicKey), '0x9858EfFD232B4033E47d90003D41EC34EcaEda94');
  assert.equal(
    ethereumAddress(bip32FromSeed(SEED).derive("m/44'/60'/0'/0/1").publicKey),
    '0x6Fac4D18c912343BF86fa7049364Dd4E424Ab9C0',
  );
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (seed) => {
      const { publicKey } = sig.keygen('secp256k1', seed);
      const ours = ethereumAddress(publicKey);
      assert.equal(ours, ethers.computeAddress(hex(publicKey)));
      assert.equal(parseEthereumAddress(ours.toLowerCase()), ours);
    }),
    { numRuns: 30 },
  );
  const good = '0x9858EfFD232B4033E47d90003D41EC34EcaEda94';
  assert.throws(() => parseEthereumAddress(good.replace('Ef', 'eF')), einval);
  assert.throws(() => parseEthereumAddress(good.slice(0, -1)), einval);
  assert.equal(parseEthereumAddress(good.toUpperCase().replace('0X', '0x')), good);
});

test('EIP-191 personal_sign: ethers verifies ours, we recover ethers’', async () => {
  const { secretKey } = sig.keygen('secp256k1');
  const wallet = new ethers.Wallet(hex(secretKey));
  for (const message of ['hello', '', 'ünïcödé ✓', new Uint8Array([0, 1, 2, 255])]) {
    const ours = await personalSign(message, signer(secretKey));
    assert.equal(ethers.verifyMessage(message, ours), wallet.address);
    const theirs = await wallet.signMessage(message);
    assert.equal(recoverPersonalSignAddress(message, theirs), wallet.address);
    assert.notEqual(recoverPersonalSignAddress(`${String(message)}!`, theirs), wallet.address);
  }
});

const MAIL: TypedData = {
  types: {
    EIP712Domain: [
      { name: 'name', type: 'string' },
      { name: 'version', type: 'string' },
      { name: 'chainId', type: 'uint256' },
      { name: 'verifyingContract', type: 'address' },
    ],
    Person: [
      { name: 'name', type: 'string' },
      { name: 'wallets', type: 'address[]' },
    ],
    Mail: [
      { name: 'from', type: 'Person' },
      { name: 'to', type: 'Person[]' },
      { name: 'contents', type: 'string' },
      { name: 'attachments', type: 'bytes32[2]' },
      { name: 'amount', type: 'int128' },
      { name: 'urgent', type: 'bool' },
      { name: 'blob', type: 'bytes' },
      { name: 'tag', type: 'bytes4' },
      { name: 'grid', type: 'uint8[][]' },
    ],
  },
  primaryType: 'Mail',
  domain: {
    name: 'Ether Mail',
    version: '1',
    chainId: 1,
    verifyingContract: '0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC',
  },
  message: {
    from: {
      name: 'Cow',
      wallets: ['0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826', '0xDeaDbeefdEAdbeefdEadbEEFdeadbeEFdEaDbeeF'],
    },
    to: [{ name: 'Bob', wallets: ['0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB'] }],
    contents: 'Hello, Bob!',
    attachments: [`0x${'11'.repeat(32)}`, `0x${'22'.repeat(32)}`],
    amount: '-170141183460469231731687303715884105728',
    urgent: true,
    blob: '0xdeadbeef',
    tag: '0x01020304',
    grid: [[1, 2], [], [255]],
  },
};

test('EIP-712: digest equals ethers.TypedDataEncoder (nested structs, arrays, int128 min); signatures cross', async () => {
  const { EIP712Domain: _domain, ...types } = MAIL.types;
  assert.equal(hex(typedDataHash(MAIL)), ethers.TypedDataEncoder.hash(MAIL.domain, types, MAIL.message));
  // Without EIP712Domain in `types`, the domain type is inferred from the fields present, as ethers does.
  assert.equal(hex(typedDataHash({ ...MAIL, types })), hex(typedDataHash(MAIL)));
  const { secretKey } = sig.keygen('secp256k1');
  const wallet = new ethers.Wallet(hex(secretKey));
  const ours = await signTypedData(MAIL, signer(secretKey));
  assert.equal(ethers.verifyTypedData(MAIL.domain, types, MAIL.message, ours), wallet.address);
  const theirs = await wallet.signTypedData(MAIL.domain, types, MAIL.message);
  assert.equal(recoverTypedDataAddress(MAIL, theirs), wallet.address);
  // Out-of-range and mistyped values are refused, not wrapped.
  const bad = (message: Record<string, unknown>) =>
    typedDataHash({ ...MAIL, message: { ...MAIL.message, ...message } });
  assert.throws(() => bad({ amount: '170141183460469231731687303715884105728' }), einval);
  assert.throws(() => bad({ tag: '0x010203' }), einval);
  assert.throws(() => bad({ attachments: [`0x${'11'.repeat(32)}`] }), einval);
  assert.throws(() => bad({ grid: [[256]] }), einval);
  assert.throws(() => bad({ extra: 1 }), einval);
  assert.throws(() => bad({ urgent: 1 }), einval);
});

test('property: EIP-712 digests of random uint/bytes/string messages match ethers', () => {
  const types = {
    Msg: [
      { name: 'n', type: 'uint64' },
      { name: 'b', type: 'bytes' },
      { name: 's', type: 'string' },
      { name: 'a', type: 'uint16[]' },
    ],
  };
  fc.assert(
    fc.property(
      fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      fc.uint8Array({ maxLength: 40 }),
      fc.string(),
      fc.array(fc.nat(65535), { maxLength: 5 }),
      (n, b, s, a) => {
        const message = { n: n.toString(), b: hex(b), s, a };
        const domain = { name: 'x', chainId: 5 };
        assert.equal(
          hex(typedDataHash({ types, primaryType: 'Msg', domain, message })),
          ethers.TypedDataEncoder.hash(domain, types, message),
        );
      },
    ),
    { numRuns: 50 },
  );
});

test('RLP: agrees with ethers on random nested items; non-canonical encodings are refused', () => {
  const item: fc.Arbitrary<RlpItem> = fc.letrec<{ node: RlpItem }>((tie) => ({
    node: fc.oneof(
      { depthSize: 'small' },
      fc.uint8Array({ maxLength: 70 }),
      fc.array(tie('node'), { maxLength: 4 }),
    ),
  })).node;
  const toEthers = (i: RlpItem): unknown => (i instanceof Uint8Array ? hex(i) : i.map(toEthers));
  fc.assert(
    fc.property(item, (i) => {
      const encoded = rlpEncode(i);
      assert.equal(hex(encoded), ethers.encodeRlp(toEthers(i) as string));
      assert.deepEqual(rlpDecode(encoded), i);
    }),
    { numRuns: 200 },
  );
  for (const bad of ['8100', '8101', 'b800', `b90001${'00'.repeat(1)}`, 'c2c0', '8201', 'c1c0c0', '00ff']) {
    assert.throws(() => rlpDecode(fromHex(bad)), einval, bad);
  }
});

const TRANSACTIONS: EthereumTransaction[] = [
  {
    type: 0,
    chainId: 1n,
    nonce: 9n,
    gasPrice: 20_000_000_000n,
    gasLimit: 21000n,
    to: '0x3535353535353535353535353535353535353535',
    value: 10n ** 18n,
    data: new Uint8Array(0),
  },
  {
    type: 0,
    chainId: 137n,
    nonce: 0n,
    gasPrice: 1n,
    gasLimit: 100_000n,
    to: null,
    value: 0n,
    data: fromHex('6080604052'),
  },
  {
    type: 2,
    chainId: 1n,
    nonce: 42n,
    maxPriorityFeePerGas: 1_500_000_000n,
    maxFeePerGas: 30_000_000_000n,
    gasLimit: 60_000n,
    to: '0x6Fac4D18c912343BF86fa7049364Dd4E424Ab9C0',
    value: 123456789n,
    data: fromHex('a9059cbb'),
    accessList: [
      { address: '0x9858EfFD232B4033E47d90003D41EC34EcaEda94', storageKeys: [`0x${'00'.repeat(31)}01`] },
    ],
  },
];

function toEthersTx(tx: EthereumTransaction): ethers.TransactionLike {
  const common = {
    chainId: tx.chainId,
    nonce: Number(tx.nonce),
    gasLimit: tx.gasLimit,
    to: tx.to,
    value: tx.value,
    data: hex(tx.data),
  };
  return tx.type === 0
    ? { ...common, type: 0, gasPrice: tx.gasPrice }
    : {
        ...common,
        type: 2,
        maxPriorityFeePerGas: tx.maxPriorityFeePerGas,
        maxFeePerGas: tx.maxFeePerGas,
        accessList: tx.accessList,
      };
}

test('transactions (legacy EIP-155 and EIP-1559): serialisation, hash and signature agree with ethers both ways', async () => {
  const { secretKey } = sig.keygen('secp256k1');
  const wallet = new ethers.Wallet(hex(secretKey));
  for (const tx of TRANSACTIONS) {
    const theirsUnsigned = ethers.Transaction.from(toEthersTx(tx));
    assert.equal(hex(unsignedTransactionBytes(tx)), theirsUnsigned.unsignedSerialized);
    assert.equal(hex(transactionSigningHash(tx)), theirsUnsigned.unsignedHash);
    const ours = await signTransaction(tx, signer(secretKey));
    assert.equal(ours.from, wallet.address);
    const parsedByEthers = ethers.Transaction.from(ours.raw);
    assert.equal(parsedByEthers.from, wallet.address);
    assert.equal(parsedByEthers.hash, ours.hash);
    const theirs = await wallet.signTransaction(toEthersTx(tx));
    const parsed = parseSignedTransaction(theirs);
    assert.equal(parsed.from, wallet.address);
    assert.equal(parsed.hash, ethers.keccak256(theirs));
    assert.deepEqual(parsed.tx, tx);
  }
  // One byte changed in the signature part: another sender or a refusal, never the same sender.
  const raw = (await signTransaction(TRANSACTIONS[2]!, signer(secretKey))).raw;
  const flipped = `${raw.slice(0, -2)}${raw.slice(-2) === '00' ? '01' : '00'}`;
  try {
    assert.notEqual(parseSignedTransaction(flipped).from, wallet.address);
  } catch (error) {
    assert.ok(error instanceof CofferError);
  }
  // Pre-EIP-155 legacy signatures (v = 27/28) are refused.
  const signature = new ethers.Wallet(hex(secretKey)).signingKey.sign(
    ethers.keccak256(
      ethers.encodeRlp(['0x', '0x01', '0x5208', '0x3535353535353535353535353535353535353535', '0x', '0x']),
    ),
  );
  const unprotected = ethers.encodeRlp([
    '0x',
    '0x01',
    '0x5208',
    '0x3535353535353535353535353535353535353535',
    '0x',
    '0x',
    ethers.toBeHex(signature.v),
    signature.r,
    signature.s,
  ]);
  assert.throws(() => parseSignedTransaction(unprotected), /EIP-155/);
});

// ---- Bitcoin ----

test('Bitcoin addresses: BIP-44/49/84 vectors and @scure/btc-signer agree for random keys', () => {
  const root = bip32FromSeed(SEED);
  assert.equal(
    bitcoinAddress(root.derive("m/44'/0'/0'/0/0").publicKey, 'p2pkh'),
    '1LqBGSKuX5yYUonjxT5qGfpUsXKYYWeabA',
  );
  assert.equal(
    bitcoinAddress(root.derive("m/49'/0'/0'/0/0").publicKey, 'p2sh-p2wpkh'),
    '37VucYSaXLCAsxYyAPfbSi9eh4iEcbShgf',
  );
  assert.equal(
    bitcoinAddress(root.derive("m/84'/0'/0'/0/0").publicKey, 'p2wpkh'),
    'bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu',
  );
  assert.equal(
    bitcoinAddress(root.derive("m/84'/0'/0'/0/1").publicKey, 'p2wpkh'),
    'bc1qnjg0jd8228aq7egyzacy8cys3knf9xvrerkf9g',
  );
  assert.equal(
    bitcoinAddress(root.derive("m/84'/0'/0'/1/0").publicKey, 'p2wpkh'),
    'bc1q8c6fshw2dlwun7ekn9qwf37cu2rn755upcp6el',
  );
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.constantFrom('mainnet', 'testnet') as fc.Arbitrary<'mainnet' | 'testnet'>,
      (seed, network) => {
        const { publicKey } = sig.keygen('secp256k1', seed);
        const net = network === 'mainnet' ? btc.NETWORK : btc.TEST_NETWORK;
        assert.equal(bitcoinAddress(publicKey, 'p2pkh', network), btc.p2pkh(publicKey, net).address);
        assert.equal(bitcoinAddress(publicKey, 'p2wpkh', network), btc.p2wpkh(publicKey, net).address);
        assert.equal(
          bitcoinAddress(publicKey, 'p2sh-p2wpkh', network),
          btc.p2sh(btc.p2wpkh(publicKey, net), net).address,
        );
        for (const type of ['p2pkh', 'p2wpkh', 'p2sh-p2wpkh'] as const) {
          assert.deepEqual(parseBitcoinAddress(bitcoinAddress(publicKey, type, network)).type, type);
        }
      },
    ),
    { numRuns: 30 },
  );
  assert.throws(() => parseBitcoinAddress('bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyv'), einval);
  assert.throws(() => parseBitcoinAddress('1LqBGSKuX5yYUonjxT5qGfpUsXKYYWeabB'), einval);
});

test('SLIP-132: xpub → ypub / zpub give the BIP-49 / BIP-84 account keys; @scure/bip32 reads them', () => {
  const root = bip32FromSeed(SEED);
  assert.equal(
    convertExtendedKey(root.derive("m/84'/0'/0'").xpub, accountPrefix(84)),
    'zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUkgDKf31mGDtKsAYz2oz2AGutZYs',
  );
  const ypub = convertExtendedKey(root.derive("m/49'/0'/0'").xpub, accountPrefix(49));
  assert.equal(
    ypub,
    'ypub6Ww3ibxVfGzLrAH1PNcjyAWenMTbbAosGNB6VvmSEgytSER9azLDWCxoJwW7Ke7icmizBMXrzBx9979FfaHxHcrArf3zbeJJJUZPf663zsP',
  );
  const scure = HDKey.fromExtendedKey(ypub, { private: 0x049d7878, public: 0x049d7cb2 });
  assert.equal(
    toHex(scure.deriveChild(0).deriveChild(0).publicKey!),
    toHex(root.derive("m/49'/0'/0'/0/0").publicKey),
  );
  assert.equal(convertExtendedKey(ypub, 'xpub'), root.derive("m/49'/0'/0'").xpub);
  assert.throws(() => convertExtendedKey(ypub, 'zprv'), einval);
  assert.equal(accountPrefix(84, 'testnet'), 'vpub');
});

test('Bitcoin Signed Message: Bitcoin Core’s signmessagewithprivkey vector, and our signatures verify', async () => {
  // Core's test (rpc_signmessagewithprivkey.py): key, testnet P2PKH address, message, signature.
  const secretKey = fromHex('d2b8a0116d641fe7d3036f8464628fb595b480414c13a301b3d4038c811c28b0');
  const address = 'mpLQjfK79b7CCV4VMJWEWAj5Mpx8Up5zxB';
  const message = 'This is just a test message';
  const expected = 'INbVnW4e6PeRmsv2Qgu8NuopvrVjkcxob+sX8OcZG0SALhWybUjzMLPdAsXI46YZGb0KQTRii+wWIQzRpG/U+S0=';
  assert.equal(bitcoinAddress(sig.publicKey('secp256k1', secretKey), 'p2pkh', 'testnet'), address);
  assert.equal(verifyBitcoinMessage(address, message, expected), true);
  assert.equal(verifyBitcoinMessage(address, `${message}.`, expected), false);
  // Core signs with plain RFC 6979 nonces: a deterministic signer reproduces its bytes exactly.
  const { secp256k1 } = await import('@noble/curves/secp256k1.js');
  const deterministic = (d: Uint8Array) => {
    const s = secp256k1.sign(d, secretKey, { prehash: false, lowS: true, format: 'recovered' });
    return Uint8Array.from([...s.subarray(1), s[0]!]);
  };
  assert.equal(await signBitcoinMessage(message, deterministic), expected);
  // Our hedged signatures verify for every address type of the key, and BIP-137 headers bind the type.
  const { secretKey: k, publicKey } = sig.keygen('secp256k1');
  for (const type of ['p2pkh', 'p2sh-p2wpkh', 'p2wpkh'] as const) {
    const addr = bitcoinAddress(publicKey, type);
    const plain = await signBitcoinMessage('hi', signer(k, 'sha256'));
    assert.equal(verifyBitcoinMessage(addr, 'hi', plain), true);
    const bip137 = await signBitcoinMessage('hi', signer(k, 'sha256'), { addressType: type, bip137: true });
    assert.equal(verifyBitcoinMessage(addr, 'hi', bip137), true);
    assert.equal(
      verifyBitcoinMessage(bitcoinAddress(sig.keygen('secp256k1').publicKey, type), 'hi', plain),
      false,
    );
  }
  const segwit = await signBitcoinMessage('hi', signer(k, 'sha256'), { addressType: 'p2wpkh', bip137: true });
  assert.equal(verifyBitcoinMessage(bitcoinAddress(publicKey, 'p2pkh'), 'hi', segwit), false);
  assert.equal(toHex(bitcoinMessageHash('')).length, 64);
});

// ---- Solana ----

test('Solana: the "abandon … about" wallet vector, SLIP-10 as micro-key-producer, addresses as @solana/addresses', () => {
  const account = slip10('ed25519', SEED, solanaPath(0));
  assert.equal(solanaAddress(account.publicKey), 'HAgk14JpMQLgt6rVgv7cBQFJWFto5Dqxi472uT3DKpqk');
  const decoder = getAddressDecoder();
  for (const index of [0, 1, 7]) {
    const ours = slip10('ed25519', SEED, solanaPath(index));
    const theirs = Slip10Key.fromMasterSeed(SEED).derive(solanaPath(index));
    assert.deepEqual(ours.publicKey, theirs.publicKeyRaw);
    const address = solanaAddress(ours.publicKey);
    assert.equal(address, decoder.decode(ours.publicKey));
    assert.deepEqual(parseSolanaAddress(address), ours.publicKey);
  }
  assert.throws(() => parseSolanaAddress('HAgk14JpMQLgt6rVgv7cBQFJWFto5Dqxi472uT3DKpq0'), einval);
  assert.throws(() => solanaPath(-1), einval);
});
