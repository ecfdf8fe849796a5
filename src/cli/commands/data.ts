// Data commands (table/keys.ts): sign / verify (raw standard signatures; ECDSA DER recognised or on
// request; verification as a public operation that reports compromised keys), seal / unseal (SPEC §6
// sealed blobs), encrypt / decrypt to an X-Wing public-key string (SPEC §6.1, no keystore needed on the
// sending side), and HMAC tags (mac / verify-mac). Inputs are bounded with messages that say the limit.
import { randomBytes } from 'node:crypto';
import type { CofferOperations } from '../../client/surface.js';
import type { KeyInfo } from '../../core/types.js';
import { CofferError } from '../../errors.js';
import { ecdsaSignatureToDer } from '../../format/ecdsa-der.js';
import { type Context, emit, flag, int, note, str } from '../context.js';
import {
  decodeBase64Text,
  encodeBase64,
  type InputLimit,
  MAX_INPUT_BYTES,
  readFileArg,
  readInput,
  writeBinary,
  writeText,
} from '../io.js';
import type { CommandRun } from '../spec.js';
import { StreamInput, writeStream } from '../stream-io.js';
import { formatSize, MAC_LIMIT, SEAL_LIMIT, SIGN_LIMIT } from '../table/global.js';

const textEncoder = new TextEncoder();

const SIGN_INPUT: InputLimit = { max: SIGN_LIMIT, op: 'sign', advice: 'sign a SHA-256 hash of larger data' };
const VERIFY_INPUT: InputLimit = { max: SIGN_LIMIT, op: 'verify' };
const SEAL_INPUT: InputLimit = { max: SEAL_LIMIT, op: 'seal', advice: 'split the data, or seal a data key' };
const MAC_INPUT: InputLimit = { max: MAC_LIMIT, op: 'mac' };

/** Which command a key of each algorithm is for, when it is used with the wrong one. */
function rightCommand(key: KeyInfo): string {
  switch (key.algorithm) {
    case 'hmac-sha256':
      return 'it makes HMAC tags: use `coffer mac` / `coffer verify-mac`';
    case 'aes-256-gcm':
    case 'xchacha20-poly1305':
      return 'it encrypts: use `coffer seal` / `coffer unseal`';
    case 'x-wing':
      return 'it encrypts: use `coffer seal`, or `coffer encrypt --to` its public key';
    default:
      return 'it signs: use `coffer sign` / `coffer verify`';
  }
}

/** Runs `work`; an EPERM because the key is of another kind says which command the key is for. */
async function withRightTool<T>(
  ops: Pick<CofferOperations, 'getKey'>,
  id: string,
  work: () => Promise<T>,
): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (!(error instanceof CofferError && error.code === 'EPERM')) throw error;
    const key = await ops.getKey(id).catch(() => undefined);
    if (key === undefined) throw error;
    throw new CofferError('EPERM', `${error.message}: key ${id} is ${key.algorithm}, ${rightCommand(key)}`, {
      cause: error,
    });
  }
}

function aad(ctx: Context): Uint8Array | undefined {
  const value = str(ctx.values, 'aad');
  return value === undefined ? undefined : textEncoder.encode(value);
}

async function writeSealed(ctx: Context, keyId: string, sealed: Uint8Array): Promise<void> {
  if (ctx.config.json) return emit(ctx, { keyId, sealed }, '');
  return writeBinary(ctx.streams, sealed, {
    out: str(ctx.values, 'out'),
    base64: flag(ctx.values, 'base64'),
  });
}

async function writePlain(ctx: Context, keyId: string, plaintext: Uint8Array): Promise<void> {
  if (ctx.config.json) return emit(ctx, { keyId, plaintext }, '');
  return writeBinary(ctx.streams, plaintext, { out: str(ctx.values, 'out'), secret: true });
}

/**
 * A signature or tag from `--NAME FILE` or `--NAME-base64 TEXT`. A file holding base64 text (what
 * `coffer sign` prints, redirected) is decoded: raw signatures are never all base64 characters.
 */
function bytesArgument(ctx: Context, name: 'sig' | 'mac'): Uint8Array {
  const file = str(ctx.values, name);
  const text = str(ctx.values, `${name}-base64`);
  if ((file === undefined) === (text === undefined))
    throw new CofferError(
      'EINVAL',
      `give the ${name === 'sig' ? 'signature' : 'tag'} with exactly one of --${name} FILE or --${name}-base64 B64`,
    );
  if (text !== undefined) return decodeBase64Text(text, `--${name}-base64`);
  const bytes = readFileArg(file!, `--${name}`, { max: 64 * 1024, op: `--${name}` });
  const asText = Buffer.from(bytes).toString('latin1');
  if (/^[A-Za-z0-9+/]+={0,2}\s*$/.test(asText) && asText.trim().length % 4 === 0)
    return decodeBase64Text(asText, `--${name}`);
  return bytes;
}

const DIGEST_BYTES: Readonly<Record<string, number>> = { sha256: 32, sha384: 48, sha512: 64, keccak256: 32 };

/** A digest given as raw bytes or as hex text (what sha256sum prints), for `sign --prehashed`. */
function digestInput(hash: string, input: Uint8Array): Uint8Array {
  const text = Buffer.from(input).toString('latin1').trim();
  if (/^[0-9a-fA-F]+$/.test(text) && text.length === 2 * (DIGEST_BYTES[hash] ?? 0))
    return new Uint8Array(Buffer.from(text, 'hex'));
  return input;
}

export const sign: CommandRun = async (ctx) => {
  const id = ctx.args[0]!;
  const data = await readInput(ctx.streams, str(ctx.values, 'in'), SIGN_INPUT);
  const der = flag(ctx.values, 'der');
  const prehashed = str(ctx.values, 'prehashed') as 'sha256' | 'sha384' | 'sha512' | 'keccak256' | undefined;
  const ops = await ctx.ops();
  const { signature: raw, version } = await withRightTool(ops, id, () =>
    prehashed !== undefined
      ? ops.signDigest(id, digestInput(prehashed, data), { hash: prehashed })
      : ops.sign(id, data, der ? { encoding: 'der' } : {}),
  );
  const signature = prehashed !== undefined && der ? ecdsaSignatureToDer(raw) : raw;
  if (ctx.config.json) return emit(ctx, { keyId: id, version, signature, encoding: der ? 'der' : 'raw' }, '');
  const out = str(ctx.values, 'out');
  if (out !== undefined) return writeBinary(ctx.streams, signature, { out });
  return writeText(ctx.streams, encodeBase64(signature));
};

const UNSOUND = new Set(['compromised', 'destroyed']);

export const verify: CommandRun = async (ctx) => {
  const id = ctx.args[0]!;
  if (flag(ctx.values, 'der') && flag(ctx.values, 'raw'))
    throw new CofferError('EINVAL', '--der and --raw exclude each other');
  const signature = bytesArgument(ctx, 'sig');
  const version = int(ctx.values, 'version', 1, 0xffffffff);
  const data = await readInput(ctx.streams, str(ctx.values, 'in'), VERIFY_INPUT);
  const ops = await ctx.ops();
  const check = await withRightTool(ops, id, () =>
    ops.checkSignature(id, data, signature, {
      ...(version !== undefined ? { version } : {}),
      ...(flag(ctx.values, 'der') ? { encoding: 'der' as const } : {}),
      ...(flag(ctx.values, 'raw') ? { encoding: 'raw' as const } : {}),
    }),
  );
  if (!check.valid) {
    throw new CofferError(
      'EBADMSG',
      `the signature does not verify under key ${id}${version !== undefined ? ` v${version}` : ''} ` +
        `(${signature.length}-byte ${check.encoding} signature): wrong data, wrong key, or altered`,
    );
  }
  const state = UNSOUND.has(check.versionState ?? '') ? check.versionState! : check.keyState;
  if (UNSOUND.has(state)) {
    const which = UNSOUND.has(check.keyState) ? `key ${id}` : `version ${check.version} of key ${id}`;
    if (flag(ctx.values, 'strict'))
      throw new CofferError('EKEYREVOKED', `the signature is valid, but ${which} is ${state} (--strict)`);
    note(
      ctx,
      `warning: ${which} is ${state}: the signature is mathematically valid, but anyone holding the leaked key could have made it`,
    );
  }
  return emit(
    ctx,
    { keyId: id, ...check },
    `signature OK (key ${id} v${check.version}${UNSOUND.has(state) ? `, ${state}` : ''})`,
  );
};

/** What --json prints for a stream written to --out (the stream itself is the output, never JSON). */
function streamSummary(keyId: string, version: number, bytes: number, out: string, what: string) {
  return { keyId, version, format: 'stream', [what]: bytes, out };
}

/**
 * A stream's bytes are the output: with --json they must go to --out (stdout then carries the JSON
 * summary); --base64 is for one-shot blobs, which fit in memory.
 */
function checkStreamOutput(ctx: Context, why: string): void {
  if (flag(ctx.values, 'base64'))
    throw new CofferError('EINVAL', `--base64 is for one-shot blobs (≤ ${formatSize(SEAL_LIMIT)}); ${why}`);
  if (ctx.config.json && (str(ctx.values, 'out') ?? '-') === '-')
    throw new CofferError('EINVAL', `${why}: with --json, give --out FILE (the stream is binary, not JSON)`);
}

export const seal: CommandRun = async (ctx) => {
  const id = ctx.args[0]!;
  const a = aad(ctx);
  const input = StreamInput.open(ctx.streams, str(ctx.values, 'in'));
  // Up to the one-shot bound the output stays a sealed blob (SPEC §6), unless --stream asks otherwise.
  const small = flag(ctx.values, 'stream') ? undefined : await input.within(SEAL_LIMIT);
  if (small !== undefined) {
    const ops = await ctx.ops();
    const sealed = await withRightTool(ops, id, () => ops.seal(id, small, a ? { aad: a } : {}));
    return writeSealed(ctx, id, sealed);
  }
  checkStreamOutput(
    ctx,
    flag(ctx.values, 'stream')
      ? '--stream'
      : `${input.description} is over ${formatSize(SEAL_LIMIT)}, so it is sealed as a stream`,
  );
  const ops = await ctx.streamOps();
  const stream = await withRightTool(ops, id, () => ops.sealStream(id, input.stream(), a ? { aad: a } : {}));
  const out = str(ctx.values, 'out');
  const bytes = await writeStream(ctx.streams, stream, { out, secret: false });
  if (ctx.config.json) return emit(ctx, streamSummary(id, stream.version, bytes, out!, 'sealedBytes'), '');
};

/** The key a sealed blob or stream names in its header (SPEC §6, §6.2); loaded only when no ID is given. */
async function headerKeyId(sealed: Uint8Array, shape: 'one-shot' | 'stream'): Promise<string> {
  const [{ keyIdFromBytes }, { parseSealedHeader }, { parseStreamHeader }] = await Promise.all([
    import('../../core/ids.js'),
    import('../../format/sealed.js'),
    import('../../format/sealed-stream.js'),
  ]);
  return keyIdFromBytes(
    shape === 'stream' ? parseStreamHeader(sealed).header.keyId : parseSealedHeader(sealed).header.keyId,
  );
}

/** One-shot blob or sealed stream, by the kind byte of the header (SPEC §6.2: 0x03, 0x04 are streams). */
async function shapeOf(first: Uint8Array): Promise<'one-shot' | 'stream'> {
  const { sealedShape } = await import('../../format/sealed-stream.js');
  try {
    return sealedShape(first);
  } catch {
    return 'one-shot'; // not Coffer data at all: the one-shot path says so, as it always did
  }
}

async function unsealRun(ctx: Context, id: string | undefined): Promise<void> {
  const a = aad(ctx);
  const input = StreamInput.open(ctx.streams, str(ctx.values, 'in'));
  let sealed: Uint8Array | undefined;
  let source: AsyncIterable<Uint8Array>;
  let shape: 'one-shot' | 'stream';
  if (flag(ctx.values, 'base64')) {
    // Base64 text is bounded like a blob; what it decodes to may still be a (small) stream.
    const text = await input.within(MAX_INPUT_BYTES);
    if (text === undefined)
      throw new CofferError(
        'E2BIG',
        `${input.description} holds more than ${formatSize(MAX_INPUT_BYTES)}: unseal takes base64 only that large; give larger sealed data as binary`,
      );
    sealed = decodeBase64Text(Buffer.from(text).toString('utf8'), 'input');
    shape = await shapeOf(sealed);
    const whole = sealed;
    source = (async function* () {
      yield whole;
    })();
  } else {
    const { MAX_STREAM_HEADER_LENGTH } = await import('../../format/sealed-stream.js');
    const head = await input.peek(MAX_STREAM_HEADER_LENGTH);
    shape = await shapeOf(head);
    if (shape === 'one-shot') {
      sealed = await input.within(MAX_INPUT_BYTES);
      if (sealed === undefined)
        throw new CofferError(
          'E2BIG',
          `${input.description} holds more than ${formatSize(MAX_INPUT_BYTES)} and is not a sealed stream: a one-shot sealed blob is never that large`,
        );
    } else sealed = head;
    source = input.stream();
  }
  // The blob or stream names its key and version (SPEC §6, §6.2): no ID needed, no trial decryption.
  const keyId = id ?? (await headerKeyId(sealed, shape));
  if (shape === 'one-shot') {
    const blob = sealed;
    const ops = await ctx.ops();
    const plaintext = await withRightTool(ops, keyId, () => ops.unseal(keyId, blob, a ? { aad: a } : {}));
    return writePlain(ctx, keyId, plaintext);
  }
  checkStreamOutput(ctx, 'the input is a sealed stream');
  const ops = await ctx.streamOps();
  const stream = await withRightTool(ops, keyId, () => ops.unsealStream(keyId, source, a ? { aad: a } : {}));
  const out = str(ctx.values, 'out');
  const bytes = await writeStream(ctx.streams, stream, { out, secret: true });
  if (ctx.config.json)
    return emit(ctx, streamSummary(keyId, stream.version, bytes, out!, 'plaintextBytes'), '');
}

export const unseal: CommandRun = (ctx) => unsealRun(ctx, ctx.args[0]);
export const decrypt: CommandRun = (ctx) => unsealRun(ctx, undefined);

export const encrypt: CommandRun = async (ctx) => {
  const to = str(ctx.values, 'to');
  const toFile = str(ctx.values, 'to-file');
  if ((to === undefined) === (toFile === undefined))
    throw new CofferError('EINVAL', 'give the recipient with exactly one of --to KEY or --to-file FILE');
  // Only encrypt needs the crypto itself in this process: the other commands leave it to the keystore.
  const [{ sealToPublicKey }, { parsePublicKeyString }] = await Promise.all([
    import('../../core/operations.js'),
    import('../../core/public-key-string.js'),
  ]);
  const recipient = parsePublicKeyString(
    to ?? Buffer.from(readFileArg(toFile!, '--to-file')).toString('utf8'),
  );
  const plaintext = await readInput(ctx.streams, str(ctx.values, 'in'), { ...SEAL_INPUT, op: 'encrypt' });
  const sealed = sealToPublicKey(recipient, plaintext, aad(ctx) ?? new Uint8Array(0), (n) => randomBytes(n));
  return writeSealed(ctx, recipient.keyId, sealed);
};

export const mac: CommandRun = async (ctx) => {
  const id = ctx.args[0]!;
  const data = await readInput(ctx.streams, str(ctx.values, 'in'), MAC_INPUT);
  const ops = await ctx.ops();
  const result = await withRightTool(ops, id, () => ops.mac(id, data));
  if (ctx.config.json) return emit(ctx, { keyId: id, version: result.version, mac: result.mac }, '');
  const out = str(ctx.values, 'out');
  if (out !== undefined) return writeBinary(ctx.streams, result.mac, { out });
  return writeText(ctx.streams, encodeBase64(result.mac));
};

export const verifyMac: CommandRun = async (ctx) => {
  const id = ctx.args[0]!;
  const tag = bytesArgument(ctx, 'mac');
  const version = int(ctx.values, 'version', 1, 0xffffffff);
  const data = await readInput(ctx.streams, str(ctx.values, 'in'), { ...MAC_INPUT, op: 'verify-mac' });
  const ops = await ctx.ops();
  const valid = await withRightTool(ops, id, () =>
    ops.verifyMac(id, data, tag, version !== undefined ? { version } : {}),
  );
  if (!valid)
    throw new CofferError(
      'EBADMSG',
      `the tag does not verify under key ${id}: wrong data, wrong key, or altered`,
    );
  return emit(ctx, { keyId: id, valid: true }, 'tag OK');
};
