// Data commands: sign / verify, seal / unseal, encrypt / decrypt to a public key, mac / verify-mac.
import type { CommandSpec, OptionSpec, RunName } from '../spec.js';
import { formatSize, MAC_LIMIT, SEAL_LIMIT, SIGN_LIMIT } from './limits.js';

const run = (name: RunName<typeof import('../commands/data.js')>) => async () =>
  (await import('../commands/data.js'))[name];

const ID = [{ name: 'ID' }] as const;
const file = (help: string): OptionSpec => ({ type: 'string', value: 'FILE', help, complete: 'file' });

const sealedOptions = {
  aad: {
    type: 'string',
    value: 'TEXT',
    help: 'associated data: authenticated, not encrypted; unseal needs the same text',
  },
  in: file(`input (default stdin), at most ${formatSize(SEAL_LIMIT)} of plaintext per call`),
  out: file('output (default stdout; binary is never written to a terminal)'),
  base64: {
    type: 'boolean',
    help: 'the sealed side is base64 text (output of seal/encrypt, input of unseal/decrypt)',
  },
} as const satisfies Record<string, OptionSpec>;

export const dataTable: CommandSpec[] = [
  {
    path: ['sign'],
    summary: 'sign data with a key: base64 signature on stdout, or raw bytes with --out',
    usage: 'ID [--in FILE] [--out FILE] [--der]',
    args: ID,
    options: {
      in: file(
        `data to sign (default stdin), at most ${formatSize(SIGN_LIMIT)}: sign a hash of larger files`,
      ),
      out: file('write the raw signature bytes to FILE'),
      der: { type: 'boolean', help: 'ECDSA only: DER (X9.62) signature, as `openssl dgst -verify` expects' },
    },
    notes: ['HMAC keys make tags, not signatures: use `coffer mac`.'],
    examples: [
      'coffer sign "$KEY" --in invoice.pdf --out invoice.sig',
      'echo -n hello | coffer sign "$KEY"',
      'coffer sign "$P256" --der --in msg.txt --out msg.sig.der',
    ],
    load: run('sign'),
  },
  {
    path: ['verify'],
    summary: 'verify a signature: exit 0 valid, exit 7 invalid (warns when the key is compromised)',
    usage: 'ID (--sig FILE | --sig-base64 B64) [--in FILE] [--version N] [--der | --raw] [--strict]',
    args: ID,
    options: {
      in: file(`the signed data (default stdin), at most ${formatSize(SIGN_LIMIT)}`),
      sig: file('the signature bytes (as written by `coffer sign --out`)'),
      'sig-base64': {
        type: 'string',
        value: 'B64',
        help: 'the signature as base64 text (as printed by `coffer sign`)',
      },
      version: {
        type: 'string',
        value: 'N',
        help: 'check only this key version (default: every version, newest first)',
      },
      der: { type: 'boolean', help: 'ECDSA: the signature is DER (recognised by itself when not 64 bytes)' },
      raw: { type: 'boolean', help: 'ECDSA: the signature is raw r‖s (64 bytes)' },
      strict: {
        type: 'boolean',
        help: 'fail (exit 6, EKEYREVOKED) when the verifying key or version is compromised or destroyed',
      },
    },
    notes: [
      'Verifying is a public operation: a compromised or destroyed key still answers (its public key is kept),',
      'with a warning on stderr and keyState/versionState in --json — a signature under a leaked key proves',
      'little. Pre-active keys, versions below the minimum decryption version and past their grace end are',
      'refused (exit 6). ECDSA signatures are read as raw when 64 bytes long and as DER otherwise.',
    ],
    examples: [
      'coffer verify "$KEY" --sig invoice.sig --in invoice.pdf',
      'coffer verify "$KEY" --sig-base64 "$SIG" --in msg.txt',
      'coffer verify "$P256" --sig msg.sig.der --in msg.txt --strict --json',
    ],
    load: run('verify'),
  },
  {
    path: ['seal'],
    summary: 'encrypt data under a key (AES-256-GCM, XChaCha20-Poly1305 or X-Wing) with optional AAD',
    usage: 'ID [--aad TEXT] [--in FILE] [--out FILE] [--base64]',
    args: ID,
    options: sealedOptions,
    examples: [
      'coffer seal "$KEY" --aad customer=7 --in card.txt --out card.sealed',
      'echo secret | coffer seal "$KEY" --base64',
    ],
    load: run('seal'),
  },
  {
    path: ['unseal'],
    summary: 'decrypt a sealed blob (the key id is read from its header when ID is left out)',
    usage: '[ID] [--aad TEXT] [--in FILE] [--out FILE] [--base64]',
    args: [{ name: 'ID', optional: true }],
    options: sealedOptions,
    examples: [
      'coffer unseal "$KEY" --aad customer=7 --in card.sealed --out card.txt',
      'coffer unseal --in card.sealed | less',
    ],
    load: run('unseal'),
  },
  {
    path: ['encrypt'],
    summary: 'encrypt to an X-Wing public key (no keystore needed): `coffer key public ID --format coffer`',
    usage: '--to PUBLIC_KEY [--aad TEXT] [--in FILE] [--out FILE] [--base64]',
    options: {
      to: { type: 'string', value: 'KEY', help: 'the recipient: a coffer1:xwing:… public-key string' },
      'to-file': file('read the recipient public-key string from FILE'),
      ...sealedOptions,
    },
    examples: [
      'coffer encrypt --to "$(cat alice.coffer)" --in report.pdf --out report.pdf.sealed',
      'coffer encrypt --to-file alice.coffer --base64 < note.txt',
    ],
    load: run('encrypt'),
  },
  {
    path: ['decrypt'],
    summary: 'decrypt what `coffer encrypt` made, with the key its header names',
    usage: '[--aad TEXT] [--in FILE] [--out FILE] [--base64]',
    options: sealedOptions,
    examples: ['coffer decrypt --in report.pdf.sealed --out report.pdf'],
    load: run('decrypt'),
  },
  {
    path: ['mac'],
    summary: 'compute an HMAC-SHA256 tag with an hmac-sha256 key: base64 on stdout, raw bytes with --out',
    usage: 'ID [--in FILE] [--out FILE]',
    args: ID,
    options: {
      in: file(`the data (default stdin), at most ${formatSize(MAC_LIMIT)}`),
      out: file('write the raw 32-byte tag to FILE'),
    },
    examples: [
      'coffer key create --app api --purpose webhooks --alg hmac-sha256',
      'coffer mac "$KEY" --in payload.json',
      'coffer mac "$KEY" --in payload.json --out payload.tag',
    ],
    load: run('mac'),
  },
  {
    path: ['verify-mac'],
    summary: 'check an HMAC tag: exit 0 valid, exit 7 invalid',
    usage: 'ID (--mac FILE | --mac-base64 B64) [--in FILE] [--version N]',
    args: ID,
    options: {
      in: file(`the data (default stdin), at most ${formatSize(MAC_LIMIT)}`),
      mac: file('the raw tag (as written by `coffer mac --out`)'),
      'mac-base64': {
        type: 'string',
        value: 'B64',
        help: 'the tag as base64 text (as printed by `coffer mac`)',
      },
      version: { type: 'string', value: 'N', help: 'check only this key version' },
    },
    examples: [
      'coffer verify-mac "$KEY" --mac-base64 "$TAG" --in payload.json',
      'coffer verify-mac "$KEY" --mac payload.tag --in payload.json',
    ],
    load: run('verifyMac'),
  },
];
