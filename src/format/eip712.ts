// EIP-712 typed structured data (SPEC §14.9.3): encodeType with referenced struct types sorted by
// name, typeHash, encodeData for every Solidity type the standard covers — uint<N>/int<N>
// (two's complement), address, bool, bytes<N>, dynamic bytes and string (hashed), fixed and dynamic
// arrays (hash of the concatenated encodings) and nested structs (hashStruct) — the domain
// separator, and the digest keccak256(0x19 0x01 ‖ domainSeparator ‖ hashStruct(message)) that
// eth_signTypedData_v4 signs. Input is the JSON form wallets exchange; values are validated
// against their types (range, length, checksum) and anything else is EINVAL.
import { concatBytes } from '../crypto/bytes.js';
import { digest } from '../crypto/hash.js';
import { CofferError } from '../errors.js';
import {
  type DigestSigner,
  fromHexString,
  parseEthereumAddress,
  recoverAddress,
  toHexString,
} from './ethereum.js';

export interface TypedDataField {
  name: string;
  type: string;
}

export interface TypedData {
  types: Record<string, TypedDataField[]>;
  primaryType: string;
  domain: Record<string, unknown>;
  message: Record<string, unknown>;
}

const keccak = (data: Uint8Array): Uint8Array => digest('keccak256', data);
const enc = new TextEncoder();

/** EIP-712's domain fields in their canonical order (used when `types` omits EIP712Domain). */
const DOMAIN_FIELDS: TypedDataField[] = [
  { name: 'name', type: 'string' },
  { name: 'version', type: 'string' },
  { name: 'chainId', type: 'uint256' },
  { name: 'verifyingContract', type: 'address' },
  { name: 'salt', type: 'bytes32' },
];

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const MAX_DEPTH = 32;

function invalid(why: string): never {
  throw new CofferError('EINVAL', `EIP-712: ${why}`);
}

function baseType(type: string): string {
  const bracket = type.indexOf('[');
  return bracket < 0 ? type : type.slice(0, bracket);
}

function checkTypes(types: Record<string, TypedDataField[]>): void {
  if (typeof types !== 'object' || types === null || Array.isArray(types)) invalid('types must be an object');
  for (const [name, members] of Object.entries(types)) {
    if (!IDENTIFIER.test(name)) invalid(`bad type name '${name}'`);
    if (!Array.isArray(members)) invalid(`type ${name} must list its members`);
    const seen = new Set<string>();
    for (const m of members) {
      if (typeof m?.name !== 'string' || !IDENTIFIER.test(m.name) || typeof m.type !== 'string')
        invalid(`bad member in ${name}`);
      if (seen.has(m.name)) invalid(`duplicate member ${name}.${m.name}`);
      seen.add(m.name);
      if (!/^[A-Za-z_$][A-Za-z0-9_$]*(\[[0-9]*\])*$/.test(m.type))
        invalid(`bad type '${m.type}' of ${name}.${m.name}`);
      const base = baseType(m.type);
      if (!(base in types) && !isAtomic(base) && base !== 'bytes' && base !== 'string')
        invalid(`unknown type '${base}'`);
    }
  }
}

function isAtomic(type: string): boolean {
  if (type === 'address' || type === 'bool') return true;
  const int = /^u?int([0-9]+)$/.exec(type);
  if (int) {
    const bits = Number(int[1]);
    return bits >= 8 && bits <= 256 && bits % 8 === 0 && !int[1]!.startsWith('0');
  }
  const bytes = /^bytes([0-9]+)$/.exec(type);
  return bytes !== null && Number(bytes[1]) >= 1 && Number(bytes[1]) <= 32 && !bytes[1]!.startsWith('0');
}

/** Struct types `primary` references, directly or not (itself included). */
function dependencies(
  types: Record<string, TypedDataField[]>,
  primary: string,
  found = new Set<string>(),
): Set<string> {
  if (found.has(primary) || !(primary in types)) return found;
  found.add(primary);
  for (const member of types[primary]!) dependencies(types, baseType(member.type), found);
  return found;
}

/** encodeType: the primary type, then referenced struct types sorted by name. */
export function encodeType(types: Record<string, TypedDataField[]>, primary: string): string {
  const deps = [...dependencies(types, primary)].filter((t) => t !== primary).sort();
  return [primary, ...deps]
    .map((t) => `${t}(${types[t]!.map((m) => `${m.type} ${m.name}`).join(',')})`)
    .join('');
}

export function typeHash(types: Record<string, TypedDataField[]>, primary: string): Uint8Array {
  return keccak(enc.encode(encodeType(types, primary)));
}

function toBigInt(value: unknown, what: string): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value))
      invalid(`${what}: numbers beyond 2^53 must be given as strings or bigints`);
    return BigInt(value);
  }
  if (typeof value === 'string' && /^(-?[0-9]+|0x[0-9a-fA-F]+)$/.test(value)) return BigInt(value);
  invalid(`${what} must be an integer (number, bigint, decimal or 0x string)`);
}

function word(n: bigint): Uint8Array {
  return Uint8Array.from(Buffer.from((n & ((1n << 256n) - 1n)).toString(16).padStart(64, '0'), 'hex'));
}

function encodeValue(
  types: Record<string, TypedDataField[]>,
  type: string,
  value: unknown,
  what: string,
  depth: number,
): Uint8Array {
  if (depth > MAX_DEPTH) invalid('nested too deeply');
  const array = /^(.*)\[([0-9]*)\]$/.exec(type);
  if (array) {
    if (!Array.isArray(value)) invalid(`${what} must be an array`);
    if (array[2] !== '' && value.length !== Number(array[2]))
      invalid(`${what} must have ${array[2]} elements`);
    return keccak(
      concatBytes(...value.map((v, i) => encodeValue(types, array[1]!, v, `${what}[${i}]`, depth + 1))),
    );
  }
  if (type in types) {
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      invalid(`${what} must be an object`);
    return hashStructAt(types, type, value as Record<string, unknown>, what, depth + 1);
  }
  if (type === 'string') {
    if (typeof value !== 'string') invalid(`${what} must be a string`);
    return keccak(enc.encode(value));
  }
  if (type === 'bytes') {
    const bytes = value instanceof Uint8Array ? value : fromHexString(value, what);
    return keccak(bytes);
  }
  if (type === 'bool') {
    if (typeof value !== 'boolean') invalid(`${what} must be a boolean`);
    return word(value ? 1n : 0n);
  }
  if (type === 'address') {
    if (typeof value !== 'string') invalid(`${what} must be an address string`);
    return word(BigInt(parseEthereumAddress(value)));
  }
  const fixed = /^bytes([0-9]+)$/.exec(type);
  if (fixed) {
    const n = Number(fixed[1]);
    const bytes = value instanceof Uint8Array ? value : fromHexString(value, what);
    if (bytes.length !== n) invalid(`${what} must be exactly ${n} bytes`);
    const out = new Uint8Array(32);
    out.set(bytes);
    return out;
  }
  const int = /^(u?)int([0-9]+)$/.exec(type)!;
  const bits = BigInt(int[2]!);
  const n = toBigInt(value, what);
  const [min, max] =
    int[1] === 'u' ? [0n, (1n << bits) - 1n] : [-(1n << (bits - 1n)), (1n << (bits - 1n)) - 1n];
  if (n < min || n > max) invalid(`${what} is out of range for ${type}`);
  return word(n); // two's complement through the 256-bit mask
}

function hashStructAt(
  types: Record<string, TypedDataField[]>,
  primary: string,
  data: Record<string, unknown>,
  what: string,
  depth: number,
): Uint8Array {
  const members = types[primary]!;
  for (const key of Object.keys(data)) {
    if (!members.some((m) => m.name === key)) invalid(`${what}.${key} is not a member of ${primary}`);
  }
  const encoded = members.map((m) => {
    if (!(m.name in data)) invalid(`${what}.${m.name} is missing`);
    return encodeValue(types, m.type, data[m.name], `${what}.${m.name}`, depth);
  });
  return keccak(concatBytes(typeHash(types, primary), ...encoded));
}

/** hashStruct(s) = keccak256(typeHash ‖ encodeData(s)). */
export function hashStruct(
  types: Record<string, TypedDataField[]>,
  primary: string,
  data: Record<string, unknown>,
): Uint8Array {
  checkTypes(types);
  if (!(primary in types)) invalid(`unknown primary type '${primary}'`);
  return hashStructAt(types, primary, data, primary, 0);
}

function withDomainType(typed: TypedData): Record<string, TypedDataField[]> {
  if ('EIP712Domain' in typed.types) return typed.types;
  const fields = DOMAIN_FIELDS.filter((f) => typed.domain[f.name] !== undefined);
  return { ...typed.types, EIP712Domain: fields };
}

export function domainSeparator(typed: TypedData): Uint8Array {
  return hashStruct(withDomainType(typed), 'EIP712Domain', typed.domain);
}

/** The digest eth_signTypedData_v4 signs: keccak256(0x19 0x01 ‖ domainSeparator ‖ hashStruct(message)). */
export function typedDataHash(typed: TypedData): Uint8Array {
  if (typeof typed !== 'object' || typed === null) invalid('typed data must be an object');
  const types = withDomainType(typed);
  if (typed.primaryType === 'EIP712Domain') invalid('primaryType must be the message type, not EIP712Domain');
  return keccak(
    concatBytes(
      Uint8Array.of(0x19, 0x01),
      hashStruct(types, 'EIP712Domain', typed.domain),
      hashStruct(types, typed.primaryType, typed.message),
    ),
  );
}

/** eth_signTypedData_v4: 0x ‖ r ‖ s ‖ v (v = 27 + recovery id). */
export async function signTypedData(typed: TypedData, signer: DigestSigner): Promise<string> {
  const signature = await signer(typedDataHash(typed));
  if (!(signature instanceof Uint8Array) || signature.length !== 65 || signature[64]! > 1) {
    throw new CofferError('EINVAL', 'the signer must return r ‖ s ‖ v with v ∈ {0, 1}');
  }
  return toHexString(concatBytes(signature.subarray(0, 64), Uint8Array.of(27 + signature[64]!)));
}

export function recoverTypedDataAddress(typed: TypedData, signature: string): string {
  const bytes = fromHexString(signature, 'signature', 65);
  const v = bytes[64]! >= 27 ? bytes[64]! - 27 : bytes[64]!;
  if (v > 1) throw new CofferError('EINVAL', 'signature v must be 27 or 28');
  return recoverAddress(typedDataHash(typed), concatBytes(bytes.subarray(0, 64), Uint8Array.of(v)));
}
