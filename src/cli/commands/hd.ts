// `coffer hd …` (table/hd.ts, SPEC §12): BIP-39 seeds kept sealed in the keystore, keys derived from
// them by path (ordinary, non-exportable keystore keys), BIP-44 accounts, xpubs, and the mnemonic
// paper backup. A mnemonic is secret input: it is read from a hidden prompt, a file or stdin, never
// from an argument (which every user sees in `ps`), and shown only when a seed is created.
import type { Bip39Language } from '../../crypto/bip39.js';
import { CofferError } from '../../errors.js';
import type { AccountInfo } from '../../hd/accounts.js';
import type { AccountAlgorithm, SeedInfo } from '../../hd/records.js';
import { type Context, emit, flag, int, iso, keyRow, note, requireStr, str } from '../context.js';
import { readFileArg, readInput, writeText } from '../io.js';
import { canPrompt, promptHidden, promptNewSecret } from '../prompt.js';
import type { CommandRun } from '../spec.js';
import { labels } from './keys.js';

const MAX_INDEX = 0x7fffffff;
const MNEMONIC_INPUT = { max: 4096, op: 'a mnemonic' };

function language(ctx: Context): Bip39Language | undefined {
  return str(ctx.values, 'language') as Bip39Language | undefined;
}

/** The mnemonic: --mnemonic-file, else stdin when it is not a terminal, else a hidden prompt. */
async function readMnemonic(ctx: Context): Promise<string> {
  const file = str(ctx.values, 'mnemonic-file');
  let text: string;
  if (file !== undefined)
    text = Buffer.from(readFileArg(file, '--mnemonic-file', MNEMONIC_INPUT)).toString('utf8');
  else if (!ctx.streams.stdin.isTTY)
    text = Buffer.from(await readInput(ctx.streams, '-', MNEMONIC_INPUT)).toString('utf8');
  else if (canPrompt(ctx.streams))
    text = await promptHidden(ctx.streams, 'Mnemonic (the words, separated by spaces): ');
  else throw new CofferError('EINVAL', 'no mnemonic: give --mnemonic-file FILE or pipe it into stdin');
  const words = text
    .normalize('NFKD')
    .trim()
    .split(/\s+/u)
    .filter((w) => w.length > 0);
  if (words.length === 0) throw new CofferError('EINVAL', 'the mnemonic is empty');
  return words.join(' ');
}

/** The optional BIP-39 passphrase: COFFER_BIP39_PASSPHRASE, or asked for with --bip39-passphrase. */
async function bip39Passphrase(ctx: Context, isNew: boolean): Promise<string | undefined> {
  const fromEnv = ctx.config.env.COFFER_BIP39_PASSPHRASE;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  if (!flag(ctx.values, 'bip39-passphrase')) return undefined;
  if (!canPrompt(ctx.streams))
    throw new CofferError(
      'EINVAL',
      '--bip39-passphrase needs a terminal to ask on, or COFFER_BIP39_PASSPHRASE',
    );
  return isNew
    ? promptNewSecret(ctx.streams, 'BIP-39 passphrase')
    : promptHidden(ctx.streams, 'BIP-39 passphrase: ');
}

/** The words numbered, four to a line, as on the paper backup. */
function numberedWords(mnemonic: string): string[] {
  const words = mnemonic.split(' ');
  const lines: string[] = [];
  for (let i = 0; i < words.length; i += 4) {
    lines.push(
      words
        .slice(i, i + 4)
        .map((word, j) => `${String(i + j + 1).padStart(2)}. ${word.padEnd(10)}`)
        .join(' ')
        .trimEnd(),
    );
  }
  return lines;
}

/** Writes the PNG / SVG paper backup files asked for (mode 0600: they are the secret). */
async function paperFiles(
  ctx: Context,
  mnemonic: string,
): Promise<{ png?: string; svg?: string; terminal: string; mnemonic: string }> {
  const { mnemonicPaperBackup } = await import('../../hd/paper.js');
  const { writeFileAtomic } = await import('../io.js');
  const lang = language(ctx);
  const paper = mnemonicPaperBackup(mnemonic, lang ? { language: lang } : {});
  const png = str(ctx.values, 'png');
  const svg = str(ctx.values, 'svg');
  if (png !== undefined) writeFileAtomic(png, paper.png, 0o600);
  if (svg !== undefined) writeFileAtomic(svg, new TextEncoder().encode(paper.svg), 0o600);
  return {
    ...(png ? { png } : {}),
    ...(svg ? { svg } : {}),
    terminal: paper.terminal,
    mnemonic: paper.mnemonic,
  };
}

function seedLine(seed: SeedInfo): string {
  return [
    seed.id,
    `${seed.app}/${seed.purpose}`.padEnd(24),
    `${seed.words} words`,
    seed.source,
    seed.state,
    seed.label ? JSON.stringify(seed.label) : '',
  ]
    .join('  ')
    .trimEnd();
}

function seedDetails(seed: SeedInfo): string[] {
  return [
    `id           ${seed.id}`,
    `app          ${seed.app}`,
    `purpose      ${seed.purpose}`,
    ...(seed.label ? [`label        ${seed.label}`] : []),
    `state        ${seed.state}${seed.destroyedAt ? ` since ${iso(seed.destroyedAt)}` : ''}`,
    `source       ${seed.source}, ${seed.words} words (${seed.language})${seed.passphrase ? ', with a BIP-39 passphrase' : ''}`,
    `fingerprint  ${seed.fingerprint} (BIP-32 master)`,
    `created      ${iso(seed.createdAt)}`,
    ...(seed.insecure
      ? ['WARNING      created in insecure deterministic mode: never use it for real funds']
      : []),
  ];
}

export const create: CommandRun = async (ctx) => {
  const words = int(ctx.values, 'words', 12, 24);
  const passphrase = await bip39Passphrase(ctx, true);
  const label = str(ctx.values, 'label');
  const lang = language(ctx);
  const { seed, mnemonic } = await (await ctx.ops()).hd.createSeed({
    app: requireStr(ctx.values, 'app'),
    purpose: requireStr(ctx.values, 'purpose'),
    ...(words !== undefined ? { words } : {}),
    ...(lang ? { language: lang } : {}),
    ...(label !== undefined ? { label } : {}),
    ...(passphrase !== undefined ? { passphrase } : {}),
  });
  const paper = await paperFiles(ctx, mnemonic);
  if (ctx.config.json)
    return emit(
      ctx,
      { seed, mnemonic, ...(paper.png ? { png: paper.png } : {}), ...(paper.svg ? { svg: paper.svg } : {}) },
      '',
    );
  const lines = [
    seed.id,
    '',
    `Write these ${seed.words} words down in order and keep them offline. They are shown only this once;`,
    'with them (and the BIP-39 passphrase, if you set one) the seed can be restored anywhere.',
    '',
    ...numberedWords(mnemonic),
  ];
  if (flag(ctx.values, 'qr')) lines.push('', paper.terminal);
  await writeText(ctx.streams, lines.join('\n'));
  if (paper.png || paper.svg)
    note(ctx, `paper backup written to ${[paper.png, paper.svg].filter(Boolean).join(' and ')} (mode 0600)`);
};

export const importSeed: CommandRun = async (ctx) => {
  const app = requireStr(ctx.values, 'app');
  const purpose = requireStr(ctx.values, 'purpose');
  const mnemonic = await readMnemonic(ctx);
  const passphrase = await bip39Passphrase(ctx, false);
  const label = str(ctx.values, 'label');
  const lang = language(ctx);
  const seed = await (await ctx.ops()).hd.importSeed({
    app,
    purpose,
    mnemonic,
    ...(lang ? { language: lang } : {}),
    ...(label !== undefined ? { label } : {}),
    ...(passphrase !== undefined ? { passphrase } : {}),
  });
  return emit(ctx, seed, seed.id);
};

export const list: CommandRun = async (ctx) => {
  const app = str(ctx.values, 'app');
  const seeds = await (await ctx.ops()).hd.listSeeds(app !== undefined ? { app } : {});
  return emit(ctx, seeds, seeds.map(seedLine));
};

export const show: CommandRun = async (ctx) => {
  const seed = await (await ctx.ops()).hd.getSeed(ctx.args[0]!);
  return emit(ctx, seed, seedDetails(seed));
};

export const destroy: CommandRun = async (ctx) => {
  if (!flag(ctx.values, 'yes'))
    throw new CofferError(
      'EINVAL',
      'destroying a seed cannot be undone (only its mnemonic restores it): add --yes',
    );
  const reason = str(ctx.values, 'reason');
  const seed = await (await ctx.ops()).hd.destroySeed(ctx.args[0]!, reason !== undefined ? { reason } : {});
  return emit(ctx, seed, `${seed.id} destroyed; keys already derived from it stay`);
};

export const derive: CommandRun = async (ctx) => {
  const [seedId, path] = ctx.args as [string, string];
  const algorithm = str(ctx.values, 'alg') as AccountAlgorithm | undefined;
  const purpose = str(ctx.values, 'purpose');
  const extra = labels(ctx.values);
  const key = await (await ctx.ops()).hd.deriveKey(seedId, {
    path,
    ...(algorithm ? { algorithm } : {}),
    ...(purpose !== undefined ? { purpose } : {}),
    ...(extra ? { labels: extra } : {}),
    ...(flag(ctx.values, 'no-backup') ? { backupAllowed: false } : {}),
  });
  return emit(ctx, key, key.id);
};

export const keys: CommandRun = async (ctx) => {
  const derived = await (await ctx.ops()).hd.derivedKeys(ctx.args[0]!);
  return emit(
    ctx,
    derived,
    derived.map((k) => `${keyRow(k)}  ${k.labels['hd-path'] ?? ''}`.trimEnd()),
  );
};

export const xpub: CommandRun = async (ctx) => {
  const [seedId, path] = ctx.args as [string, string | undefined];
  const value = await (await ctx.ops()).hd.xpub(seedId, path);
  return emit(ctx, { seed: seedId, path: path ?? 'm', xpub: value }, value);
};

function coordinates(ctx: Context): { coinType: number; account: number } {
  const coinType = int(ctx.values, 'coin', 0, MAX_INDEX);
  if (coinType === undefined)
    throw new CofferError(
      'EINVAL',
      '--coin is required: the SLIP-44 coin type (0 bitcoin, 60 ethereum, 501 solana…)',
    );
  return { coinType, account: int(ctx.values, 'account', 0, MAX_INDEX) ?? 0 };
}

function accountLines(a: AccountInfo): string[] {
  return [
    `account      m/44'/${a.coinType}'/${a.account}' of ${a.seed}`,
    `algorithm    ${a.algorithm}`,
    `purpose      ${a.keyPurpose} (of its keys)`,
    ...(a.xpub ? [`xpub         ${a.xpub}`] : []),
    `next         receive ${a.next.receive}, change ${a.next.change}`,
    `created      ${iso(a.createdAt)}`,
  ];
}

export const addAccount: CommandRun = async (ctx) => {
  const { coinType, account } = coordinates(ctx);
  const algorithm = str(ctx.values, 'alg') as AccountAlgorithm | undefined;
  const purpose = str(ctx.values, 'purpose');
  const info = await (await ctx.ops()).hd.createAccount(ctx.args[0]!, {
    coinType,
    account,
    ...(algorithm ? { algorithm } : {}),
    ...(purpose !== undefined ? { purpose } : {}),
  });
  return emit(ctx, info, accountLines(info));
};

export const account: CommandRun = async (ctx) => {
  const { coinType, account: number } = coordinates(ctx);
  const info = await (await ctx.ops()).hd.getAccount(ctx.args[0]!, coinType, number);
  return emit(ctx, info, accountLines(info));
};

export const next: CommandRun = async (ctx) => {
  const { coinType, account: number } = coordinates(ctx);
  const result = await (await ctx.ops()).hd.nextKey(ctx.args[0]!, {
    coinType,
    account: number,
    chain: flag(ctx.values, 'change') ? 'change' : 'receive',
  });
  return emit(ctx, result, `${result.key.id}  ${result.path}`);
};

export const paper: CommandRun = async (ctx) => {
  const mnemonic = await readMnemonic(ctx);
  const { terminal, ...files } = await paperFiles(ctx, mnemonic);
  if (ctx.config.json) return emit(ctx, files, '');
  const lines = [...numberedWords(files.mnemonic)];
  if (!flag(ctx.values, 'no-qr')) lines.push('', terminal);
  await writeText(ctx.streams, lines.join('\n'));
  if (files.png || files.svg)
    note(ctx, `paper backup written to ${[files.png, files.svg].filter(Boolean).join(' and ')} (mode 0600)`);
};
