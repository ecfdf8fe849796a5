// Data commands: sign / verify (raw standard signatures, DER for ECDSA on request), seal / unseal
// (SPEC §6 sealed blobs), and encrypt / decrypt — sealing to an X-Wing public key given as a coffer
// public-key string (SPEC §6 kind 0x02), which needs no keystore at all on the sending side.
import { randomBytes } from 'node:crypto';
import { keyIdFromBytes } from '../core/ids.js';
import { sealToPublicKey } from '../core/operations.js';
import { parsePublicKeyString } from '../core/public-key-string.js';
import { CofferError } from '../errors.js';
import { parseSealedHeader } from '../format/sealed.js';
import { type Command, type Context, emit, flag, int, str } from './command.js';
import { decodeBase64Text, encodeBase64, readFileArg, readInput, writeBinary, writeText } from './io.js';

const textEncoder = new TextEncoder();

function aad(ctx: Context): Uint8Array | undefined {
  const value = str(ctx.values, 'aad');
  return value === undefined ? undefined : textEncoder.encode(value);
}

/** Reads sealed input: raw bytes, or base64 text with --base64. */
async function sealedInput(ctx: Context): Promise<Uint8Array> {
  const data = await readInput(ctx.config.streams, str(ctx.values, 'in'));
  return flag(ctx.values, 'base64') ? decodeBase64Text(Buffer.from(data).toString('utf8'), 'input') : data;
}

async function writeSealed(ctx: Context, keyId: string, sealed: Uint8Array): Promise<void> {
  if (ctx.config.json) return emit(ctx, { keyId, sealed }, '');
  return writeBinary(ctx.config.streams, sealed, {
    out: str(ctx.values, 'out'),
    base64: flag(ctx.values, 'base64'),
  });
}

async function writePlain(ctx: Context, keyId: string, plaintext: Uint8Array): Promise<void> {
  if (ctx.config.json) return emit(ctx, { keyId, plaintext }, '');
  return writeBinary(ctx.config.streams, plaintext, { out: str(ctx.values, 'out'), secret: true });
}

function headerKeyId(sealed: Uint8Array): string {
  return keyIdFromBytes(parseSealedHeader(sealed).header.keyId);
}

const ioOptions = { in: { type: 'string' }, out: { type: 'string' } } as const;

const sign: Command = {
  path: ['sign'],
  summary: 'sign data with a key: base64 signature on stdout, or raw bytes with --out',
  usage: 'ID [--in FILE] [--out FILE] [--der]',
  options: { ...ioOptions, der: { type: 'boolean' } },
  optionHelp: [
    ['--in FILE', 'data to sign (default: stdin), at most 1 MiB'],
    ['--out FILE', 'write the raw signature bytes to FILE'],
    ['--der', 'ECDSA only: DER (X9.62) signature, as `openssl dgst -verify` expects'],
  ],
  examples: [
    'coffer sign "$KEY" --in invoice.pdf --out invoice.sig',
    'echo -n hello | coffer sign "$KEY"',
    'coffer sign "$P256" --der --in msg.txt --out msg.sig.der',
  ],
  positionals: 1,
  async run(ctx) {
    const id = ctx.args[0]!;
    const data = await readInput(ctx.config.streams, str(ctx.values, 'in'));
    const der = flag(ctx.values, 'der');
    const { signature, version } = await (await ctx.backend()).sign(id, data, der ? { encoding: 'der' } : {});
    if (ctx.config.json)
      return emit(ctx, { keyId: id, version, signature, encoding: der ? 'der' : 'raw' }, '');
    const out = str(ctx.values, 'out');
    if (out !== undefined) return writeBinary(ctx.config.streams, signature, { out });
    return writeText(ctx.config.streams, encodeBase64(signature));
  },
};

const verify: Command = {
  path: ['verify'],
  summary: 'verify a signature; a signature that does not verify exits 7',
  usage: 'ID (--sig FILE | --sig-base64 B64) [--in FILE] [--version N] [--der]',
  options: {
    in: { type: 'string' },
    sig: { type: 'string' },
    'sig-base64': { type: 'string' },
    version: { type: 'string' },
    der: { type: 'boolean' },
  },
  optionHelp: [
    ['--sig FILE', 'the raw signature bytes (as written by `coffer sign --out`)'],
    ['--sig-base64 B64', 'the signature as base64 text (as printed by `coffer sign`)'],
    ['--version N', 'check only this key version (default: every usable version, newest first)'],
  ],
  examples: [
    'coffer verify "$KEY" --sig invoice.sig --in invoice.pdf',
    'coffer verify "$KEY" --sig-base64 "$SIG" --in msg.txt',
  ],
  positionals: 1,
  async run(ctx) {
    const id = ctx.args[0]!;
    const sigFile = str(ctx.values, 'sig');
    const sigText = str(ctx.values, 'sig-base64');
    if ((sigFile === undefined) === (sigText === undefined))
      throw new CofferError(
        'EINVAL',
        'give the signature with exactly one of --sig FILE or --sig-base64 B64',
      );
    const signature =
      sigFile !== undefined ? readFileArg(sigFile, '--sig') : decodeBase64Text(sigText!, '--sig-base64');
    const version = int(ctx.values, 'version', 1, 0xffffffff);
    const data = await readInput(ctx.config.streams, str(ctx.values, 'in'));
    const ok = await (await ctx.backend()).verify(id, data, signature, {
      ...(version !== undefined ? { version } : {}),
      ...(flag(ctx.values, 'der') ? { encoding: 'der' as const } : {}),
    });
    if (!ok) throw new CofferError('EBADMSG', `the signature does not verify under key ${id}`);
    return emit(ctx, { keyId: id, valid: true }, 'signature OK');
  },
};

const sealedOptions = { ...ioOptions, aad: { type: 'string' }, base64: { type: 'boolean' } } as const;
const sealedHelp: [string, string][] = [
  ['--aad TEXT', 'associated data: authenticated, not encrypted; unseal needs the same text'],
  [
    '--in FILE / --out FILE',
    'input and output (default stdin / stdout; binary is never written to a terminal)',
  ],
  ['--base64', 'the sealed side is base64 text (output of seal/encrypt, input of unseal/decrypt)'],
];

const seal: Command = {
  path: ['seal'],
  summary: 'encrypt data under a key (AES-256-GCM, XChaCha20-Poly1305 or X-Wing) with optional AAD',
  usage: 'ID [--aad TEXT] [--in FILE] [--out FILE] [--base64]',
  options: sealedOptions,
  optionHelp: sealedHelp,
  examples: [
    'coffer seal "$KEY" --aad customer=7 --in card.txt --out card.sealed',
    'echo secret | coffer seal "$KEY" --base64',
  ],
  positionals: 1,
  async run(ctx) {
    const id = ctx.args[0]!;
    const plaintext = await readInput(ctx.config.streams, str(ctx.values, 'in'));
    const a = aad(ctx);
    const sealed = await (await ctx.backend()).seal(id, plaintext, a ? { aad: a } : {});
    return writeSealed(ctx, id, sealed);
  },
};

async function unsealRun(ctx: Context, id: string | undefined): Promise<void> {
  const sealed = await sealedInput(ctx);
  // The blob names its key and version (SPEC §6): no ID needed, no trial decryption.
  const keyId = id ?? headerKeyId(sealed);
  const a = aad(ctx);
  const plaintext = await (await ctx.backend()).unseal(keyId, sealed, a ? { aad: a } : {});
  return writePlain(ctx, keyId, plaintext);
}

const unseal: Command = {
  path: ['unseal'],
  summary: 'decrypt a sealed blob (the key id is read from its header when ID is left out)',
  usage: '[ID] [--aad TEXT] [--in FILE] [--out FILE] [--base64]',
  options: sealedOptions,
  optionHelp: sealedHelp,
  examples: [
    'coffer unseal "$KEY" --aad customer=7 --in card.sealed --out card.txt',
    'coffer unseal --in card.sealed | less',
  ],
  positionals: [0, 1],
  run: (ctx) => unsealRun(ctx, ctx.args[0]),
};

const encrypt: Command = {
  path: ['encrypt'],
  summary: 'encrypt to an X-Wing public key (no keystore needed): `coffer key public ID --format coffer`',
  usage: '--to PUBLIC_KEY [--aad TEXT] [--in FILE] [--out FILE] [--base64]',
  options: { ...sealedOptions, to: { type: 'string' }, 'to-file': { type: 'string' } },
  optionHelp: [
    ['--to KEY', 'the recipient: a coffer1:xwing:… public-key string'],
    ['--to-file FILE', 'read the recipient public-key string from FILE'],
    ...sealedHelp,
  ],
  examples: [
    'coffer encrypt --to "$(cat alice.coffer)" --in report.pdf --out report.pdf.sealed',
    'coffer encrypt --to-file alice.coffer --base64 < note.txt',
  ],
  positionals: 0,
  async run(ctx) {
    const to = str(ctx.values, 'to');
    const toFile = str(ctx.values, 'to-file');
    if ((to === undefined) === (toFile === undefined))
      throw new CofferError('EINVAL', 'give the recipient with exactly one of --to KEY or --to-file FILE');
    const recipient = parsePublicKeyString(
      to ?? Buffer.from(readFileArg(toFile!, '--to-file')).toString('utf8'),
    );
    const plaintext = await readInput(ctx.config.streams, str(ctx.values, 'in'));
    const sealed = sealToPublicKey(recipient, plaintext, aad(ctx) ?? new Uint8Array(0), (n) =>
      randomBytes(n),
    );
    return writeSealed(ctx, recipient.keyId, sealed);
  },
};

const decrypt: Command = {
  path: ['decrypt'],
  summary: 'decrypt what `coffer encrypt` made, with the key its header names',
  usage: '[--aad TEXT] [--in FILE] [--out FILE] [--base64]',
  options: sealedOptions,
  optionHelp: sealedHelp,
  examples: ['coffer decrypt --in report.pdf.sealed --out report.pdf'],
  positionals: 0,
  run: (ctx) => unsealRun(ctx, undefined),
};

export const dataCommands: Command[] = [sign, verify, seal, unseal, encrypt, decrypt];
