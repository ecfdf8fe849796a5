// `coffer key import`, `coffer anchor add|list|rm` and `coffer verify-bundle` (table/formats.ts;
// SPEC §14.13, §14.15): keys brought in from outside, and signed bundles checked against them.

import type { KeyInfo } from '../../core/types.js';
import { KEY_USES } from '../../core/types.js';
import { CofferError } from '../../errors.js';
import type { DetachedSignature } from '../../format/trust-anchors.js';
import { listTrustAnchors, verifyBundleWithAnchors } from '../../interop/trust-anchors.js';
import { type Context, emit, flag, int, keyRow, note, requireStr, str, strings } from '../context.js';
import { decodeBase64Text, readFileArg, readInput } from '../io.js';
import { canPrompt, promptHidden } from '../prompt.js';
import type { CommandRun } from '../spec.js';
import { labels } from './keys.js';

const KEY_FILE = { max: 64 * 1024, op: 'key import' };

/** Key files are text (PEM, OpenSSH, JWK) or DER bytes; text is passed as text so its form is recognised. */
function keyInput(bytes: Uint8Array): string | Uint8Array {
  const printable = bytes.every((b) => b === 9 || b === 10 || b === 13 || (b >= 0x20 && b < 0x7f));
  const text = Buffer.from(bytes).toString('latin1');
  return printable && text.trim().length > 0 ? text : bytes;
}

async function importPassphrase(ctx: Context): Promise<string | undefined> {
  const fromEnv = ctx.config.env.COFFER_IMPORT_PASSPHRASE;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  // Without either, an encrypted file fails in the parser with "a passphrase is needed".
  if (!flag(ctx.values, 'ask-passphrase')) return undefined;
  if (!canPrompt(ctx.streams))
    throw new CofferError(
      'EINVAL',
      '--ask-passphrase needs a terminal to ask on, or COFFER_IMPORT_PASSPHRASE',
    );
  return promptHidden(ctx.streams, 'Passphrase of the key file: ');
}

export const keyImport: CommandRun = async (ctx) => {
  const v = ctx.values;
  const app = requireStr(v, 'app');
  const purpose = requireStr(v, 'purpose');
  const input = keyInput(await readInput(ctx.streams, requireStr(v, 'in', 'the key file'), KEY_FILE));
  const uses = strings(v, 'uses');
  for (const use of uses) {
    if (!(KEY_USES as readonly string[]).includes(use)) throw new CofferError('EINVAL', `unknown use ${use}`);
  }
  const passphrase = await importPassphrase(ctx);
  const ops = await ctx.ops();
  const key = await ops.importKey(
    {
      app,
      purpose,
      ...(str(v, 'alg') !== undefined ? { algorithm: str(v, 'alg') as KeyInfo['algorithm'] } : {}),
      ...(uses.length > 0 ? { uses: uses as KeyInfo['uses'] } : {}),
      ...(labels(v) ? { labels: labels(v) } : {}),
      ...(flag(v, 'no-backup') ? { backupAllowed: false } : {}),
      ...(str(v, 'replaces') !== undefined ? { replaces: str(v, 'replaces')! } : {}),
    },
    input,
    passphrase === undefined ? {} : { passphrase },
  );
  return emit(ctx, key, key.id);
};

export const anchorAdd: CommandRun = async (ctx) => {
  const v = ctx.values;
  const spec = {
    app: requireStr(v, 'app'),
    set: requireStr(v, 'set'),
    name: requireStr(v, 'name'),
    ...(str(v, 'alg') !== undefined ? { algorithm: str(v, 'alg') as KeyInfo['algorithm'] } : {}),
    ...(str(v, 'replaces') !== undefined ? { replaces: str(v, 'replaces')! } : {}),
  };
  const input = keyInput(await readInput(ctx.streams, requireStr(v, 'in', 'the public key file'), KEY_FILE));
  const ops = await ctx.ops();
  const key = await ops.addTrustAnchor(spec, input);
  return emit(ctx, key, key.id);
};

export const anchorList: CommandRun = async (ctx) => {
  const ops = await ctx.ops();
  const set = str(ctx.values, 'set');
  const anchors = await listTrustAnchors(ops, requireStr(ctx.values, 'app'), set);
  return emit(
    ctx,
    anchors,
    anchors.map((k) => `${k.purpose}\t${k.labels['trust-anchor'] ?? ''}\t${keyRow(k)}`),
  );
};

export const anchorRemove: CommandRun = async (ctx) => {
  const id = ctx.args[0]!;
  const ops = await ctx.ops();
  const info = await ops.getKey(id);
  if (info.origin !== 'trust-anchor')
    throw new CofferError('EPERM', `key ${id} is not a trust anchor: use \`coffer key destroy\` for keys`);
  const reason = str(ctx.values, 'reason');
  const key = await ops.destroy(id, reason === undefined ? {} : { reason });
  return emit(ctx, key, `${id} destroyed`);
};

/** `--sig [ANCHOR=]FILE`: raw bytes, or base64 text as `coffer sign` prints it. */
function rawSignature(spec: string): DetachedSignature {
  const eq = spec.indexOf('=');
  const anchor = eq > 0 && !spec.slice(0, eq).includes('/') ? spec.slice(0, eq) : undefined;
  const path = anchor === undefined ? spec : spec.slice(eq + 1);
  const bytes = readFileArg(path, '--sig', { max: 64 * 1024, op: '--sig' });
  const text = Buffer.from(bytes).toString('latin1').trim();
  const signature =
    /^[A-Za-z0-9+/]+={0,2}$/.test(text) && text.length % 4 === 0 ? decodeBase64Text(text, '--sig') : bytes;
  return anchor === undefined ? { signature } : { anchor, signature };
}

export const verifyBundle: CommandRun = async (ctx) => {
  const v = ctx.values;
  const app = requireStr(v, 'app');
  const set = requireStr(v, 'set');
  const threshold = int(v, 'threshold', 1, 256);
  const file = await readInput(ctx.streams, requireStr(v, 'in', 'the signed file'), {
    max: 256 * 1024 * 1024,
    op: 'verify-bundle',
  });
  const signatures: DetachedSignature[] = [
    ...strings(v, 'sig').map(rawSignature),
    ...strings(v, 'jws').map((path) => ({
      jws: Buffer.from(readFileArg(path, '--jws', { max: 64 * 1024, op: '--jws' }))
        .toString('utf8')
        .trim(),
    })),
  ];
  if (signatures.length === 0) throw new CofferError('EINVAL', 'give at least one --sig or --jws');
  const ops = await ctx.ops();
  const verdict = await verifyBundleWithAnchors(
    ops,
    { app, set, ...(threshold !== undefined ? { threshold } : {}) },
    file,
    signatures,
  );
  const summary = `${verdict.signers.length} of ${verdict.threshold} required anchors of ${set} signed${verdict.signers.length ? `: ${verdict.signers.join(', ')}` : ''}`;
  if (!verdict.accepted) {
    if (ctx.config.json) await emit(ctx, verdict, '');
    throw new CofferError('EBADMSG', `bundle not accepted: ${summary}`);
  }
  note(ctx, `accepted: ${summary}`);
  return emit(ctx, verdict, '');
};
