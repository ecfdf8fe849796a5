// Format commands over keystore keys (table/formats.ts; SPEC §14.5–14.12, §14.15.4): JWS / JWT /
// JWKS, SSHSIG and the ssh-agent, X.509, Ethereum / Bitcoin / Solana, age. Each composes the
// operations surface (interop/), so direct, agent and daemon mode give the same output.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, lstatSync, mkdirSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, resolve as resolvePath } from 'node:path';
import { CofferError } from '../../errors.js';
import { ageEncrypt, xwingRecipient } from '../../format/age.js';
import type { BitcoinAddressType } from '../../format/bitcoin.js';
import type { TypedData } from '../../format/eip712.js';
import { type EthereumTransaction, fromHexString } from '../../format/ethereum.js';
import { startSshAgent } from '../../format/ssh-agent-server.js';
import type { SubjectAltName } from '../../format/x509.js';
import { ageDecryptWithKey, ageRecipientOfKey } from '../../interop/age.js';
import { appJwks, signJwsWithKey, signJwtWithKey, verifyJwsWithKey } from '../../interop/jose.js';
import { keystoreAgentProvider, signSshsigWithKey } from '../../interop/ssh.js';
import {
  bitcoinAddressOfKey,
  bitcoinSignMessage,
  ethereumAddressOfKey,
  ethereumSignMessage,
  ethereumSignTransaction,
  ethereumSignTypedData,
  solanaAddressOfKey,
} from '../../interop/wallet.js';
import { csrForKey, selfSignedForKey } from '../../interop/x509.js';
import { type Context, emit, flag, int, note, requireStr, str, strings } from '../context.js';
import { readInput, writeBinary, writeText } from '../io.js';
import type { CommandRun } from '../spec.js';

const MiB = 1024 * 1024;
const PAYLOAD = { max: MiB, op: 'jws sign', advice: 'sign a hash of larger data' };
const TEXT = { max: MiB, op: 'the input' };

function jsonInput(bytes: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new CofferError('EINVAL', `${what} is not JSON`);
  }
}

// ---- JOSE ----

export const jwsSign: CommandRun = async (ctx) => {
  const payload = await readInput(ctx.streams, str(ctx.values, 'in'), PAYLOAD);
  const typ = str(ctx.values, 'typ');
  const kid = str(ctx.values, 'kid');
  const ops = await ctx.ops();
  const token = await signJwsWithKey(ops, ctx.args[0]!, payload, {
    ...(typ !== undefined ? { typ } : {}),
    ...(kid !== undefined ? { kid } : {}),
  });
  const [header, , signature] = token.split('.');
  return emit(ctx, { jws: token }, flag(ctx.values, 'detached') ? `${header}..${signature}` : token);
};

export const jwsVerify: CommandRun = async (ctx) => {
  const token = Buffer.from(await readInput(ctx.streams, str(ctx.values, 'in'), TEXT))
    .toString('utf8')
    .trim();
  const ops = await ctx.ops();
  const { header, payload } = await verifyJwsWithKey(ops, token, ctx.args[0]);
  note(ctx, `valid: ${String(header.alg)} kid ${String(header.kid ?? '-')}`);
  if (ctx.config.json) return emit(ctx, { header, payload }, '');
  ctx.streams.stdout.write(payload);
};

export const jwtSign: CommandRun = async (ctx) => {
  const claims = jsonInput(Buffer.from(requireStr(ctx.values, 'claims', 'a JSON object')), '--claims');
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims))
    throw new CofferError('EINVAL', '--claims must be a JSON object');
  const expiresIn = int(ctx.values, 'expires-in', 1, 10 * 365 * 86_400);
  const ops = await ctx.ops();
  const token = await signJwtWithKey(
    ops,
    ctx.args[0]!,
    claims as Record<string, unknown>,
    expiresIn === undefined ? {} : { expiresIn },
  );
  return emit(ctx, { jwt: token }, token);
};

export const jwks: CommandRun = async (ctx) => {
  const ops = await ctx.ops();
  const set = await appJwks(ops, requireStr(ctx.values, 'app'));
  return writeText(ctx.streams, JSON.stringify(set, null, ctx.config.json ? 2 : undefined));
};

// ---- SSH ----

async function hashInput(ctx: Context, hash: 'sha512' | 'sha256'): Promise<Uint8Array> {
  const path = str(ctx.values, 'in');
  const h = createHash(hash);
  if (path !== undefined && path !== '-') {
    for await (const chunk of createReadStream(path).on('error', () => {})) h.update(chunk as Buffer);
    return new Uint8Array(h.digest());
  }
  h.update(await readInput(ctx.streams, path, { max: 256 * MiB, op: 'ssh sign' }));
  return new Uint8Array(h.digest());
}

export const sshSign: CommandRun = async (ctx) => {
  const namespace = requireStr(ctx.values, 'namespace', 'e.g. file or git');
  const hash = (str(ctx.values, 'hash') ?? 'sha512') as 'sha512' | 'sha256';
  const digest = await hashInput(ctx, hash);
  const ops = await ctx.ops();
  const armored = await signSshsigWithKey(ops, ctx.args[0]!, { digest }, { namespace, hash });
  return emit(ctx, { signature: armored }, armored.trimEnd());
};

/** Runs the confirmation hook (SPEC §14.7): exit 0 allows the signature, anything else refuses it. */
function runConfirm(command: string, comment: string): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(command, {
      shell: true,
      stdio: 'ignore',
      env: { ...process.env, COFFER_AGENT_KEY: comment },
    });
    child.on('error', () => resolve(false));
    child.on('exit', (code) => resolve(code === 0));
  });
}

/** True when something answers on the Unix socket `path`. */
function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * The agent's socket path: its directory is made 0700 when missing (startSshAgent refuses one that
 * others can enter); a socket left by an agent that died is removed, a live one is EALREADY.
 */
async function agentSocketPath(path: string): Promise<string> {
  const full = resolvePath(path);
  if (!existsSync(dirname(full))) mkdirSync(dirname(full), { recursive: true, mode: 0o700 });
  if (existsSync(full)) {
    if (!lstatSync(full).isSocket())
      throw new CofferError('EINVAL', `--socket ${path} exists and is not a socket: name a new path`);
    if (await socketAnswers(full))
      throw new CofferError('EALREADY', `an agent already listens on ${path}: stop it or name another path`);
    rmSync(full);
  }
  return full;
}

export const sshAgent: CommandRun = async (ctx) => {
  const apps = strings(ctx.values, 'app');
  if (apps.length === 0) throw new CofferError('EINVAL', '--app is required (repeatable)');
  const confirm = str(ctx.values, 'confirm');
  const listen = str(ctx.values, 'socket');
  const path = listen === undefined ? undefined : await agentSocketPath(listen);
  const ops = await ctx.ops();
  const agent = await startSshAgent({
    ...(path !== undefined ? { path } : {}),
    provider: keystoreAgentProvider(ops, apps),
    ...(confirm !== undefined ? { confirm: ({ key }) => runConfirm(confirm, key.comment) } : {}),
    onEvent: (event) => {
      if (event.type !== 'sign') note(ctx, `ssh-agent: ${event.type}: ${event.detail}`);
    },
  });
  // Listen for the signals before saying where the socket is: a caller may stop us at once.
  const stopped = new Promise<void>((done) => {
    for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.once(signal, () => done());
  });
  await emit(ctx, { socket: agent.path, apps }, `SSH_AUTH_SOCK=${agent.path}; export SSH_AUTH_SOCK;`);
  await stopped;
  await agent.close();
};

// ---- X.509 ----

function subjectAltNames(ctx: Context): SubjectAltName[] {
  return strings(ctx.values, 'san').map((item) => {
    const colon = item.indexOf(':');
    const type = item.slice(0, colon);
    const value = item.slice(colon + 1);
    if (colon <= 0 || !['dns', 'email', 'ip', 'uri'].includes(type))
      throw new CofferError(
        'EINVAL',
        `--san takes dns:, email:, ip: or uri:VALUE, got ${JSON.stringify(item)}`,
      );
    return { [type]: value } as SubjectAltName;
  });
}

export const x509Csr: CommandRun = async (ctx) => {
  const ops = await ctx.ops();
  const sans = subjectAltNames(ctx);
  const pem = await csrForKey(ops, ctx.args[0]!, {
    subject: requireStr(ctx.values, 'subject', 'e.g. "CN=api,O=Example"'),
    ...(sans.length > 0 ? { subjectAltNames: sans } : {}),
  });
  return emit(ctx, { csr: pem }, pem.trimEnd());
};

export const x509SelfSigned: CommandRun = async (ctx) => {
  const days = int(ctx.values, 'days', 1, 36_500);
  if (days === undefined) throw new CofferError('EINVAL', '--days is required');
  const ops = await ctx.ops();
  const sans = subjectAltNames(ctx);
  const pem = await selfSignedForKey(
    ops,
    ctx.args[0]!,
    {
      subject: requireStr(ctx.values, 'subject', 'e.g. "CN=Internal CA"'),
      ...(flag(ctx.values, 'is-ca') ? { ca: true } : {}),
      ...(sans.length > 0 ? { subjectAltNames: sans } : {}),
    },
    { days },
  );
  return emit(ctx, { certificate: pem }, pem.trimEnd());
};

// ---- wallets ----

export const ethAddress: CommandRun = async (ctx) => {
  const address = await ethereumAddressOfKey(await ctx.ops(), ctx.args[0]!);
  return emit(ctx, { address }, address);
};

export const ethSignMessage: CommandRun = async (ctx) => {
  const message = await readInput(ctx.streams, str(ctx.values, 'in'), TEXT);
  const signature = await ethereumSignMessage(await ctx.ops(), ctx.args[0]!, message);
  return emit(ctx, { signature }, signature);
};

export const ethSignTypedData: CommandRun = async (ctx) => {
  const typed = jsonInput(
    await readInput(ctx.streams, str(ctx.values, 'in'), TEXT),
    'typed data',
  ) as TypedData;
  const signature = await ethereumSignTypedData(await ctx.ops(), ctx.args[0]!, typed);
  return emit(ctx, { signature }, signature);
};

/** Transaction JSON: integers as decimal (or 0x-hex) strings or numbers, bytes as 0x-hex. */
function transaction(json: unknown): EthereumTransaction {
  if (typeof json !== 'object' || json === null)
    throw new CofferError('EINVAL', 'the transaction must be a JSON object');
  const t = json as Record<string, unknown>;
  const big = (name: string): bigint => {
    const value = t[name];
    if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
    if (typeof value === 'string' && /^(0x[0-9a-fA-F]+|[0-9]+)$/.test(value)) return BigInt(value);
    throw new CofferError('EINVAL', `transaction field ${name} must be an integer`);
  };
  const type = t.type === undefined ? 2 : Number(t.type);
  const common = {
    chainId: big('chainId'),
    nonce: big('nonce'),
    gasLimit: big('gasLimit'),
    to: typeof t.to === 'string' && t.to !== '' ? t.to : null,
    value: t.value === undefined ? 0n : big('value'),
    data: t.data === undefined ? new Uint8Array(0) : fromHexString(t.data, 'data'),
  };
  if (type === 0) return { type: 0, ...common, gasPrice: big('gasPrice') } as EthereumTransaction;
  if (type !== 2) throw new CofferError('EINVAL', 'transaction type must be 0 (legacy) or 2 (EIP-1559)');
  return {
    type: 2,
    ...common,
    maxPriorityFeePerGas: big('maxPriorityFeePerGas'),
    maxFeePerGas: big('maxFeePerGas'),
    accessList: Array.isArray(t.accessList) ? t.accessList : [],
  } as EthereumTransaction;
}

export const ethSignTransaction: CommandRun = async (ctx) => {
  const tx = transaction(jsonInput(await readInput(ctx.streams, str(ctx.values, 'in'), TEXT), 'transaction'));
  const signed = await ethereumSignTransaction(await ctx.ops(), ctx.args[0]!, tx);
  return emit(ctx, signed, signed.raw);
};

export const btcAddress: CommandRun = async (ctx) => {
  const type = (str(ctx.values, 'type') ?? 'p2wpkh') as BitcoinAddressType;
  const address = await bitcoinAddressOfKey(
    await ctx.ops(),
    ctx.args[0]!,
    type,
    flag(ctx.values, 'testnet') ? 'testnet' : 'mainnet',
  );
  return emit(ctx, { address, type }, address);
};

export const btcSignMessage: CommandRun = async (ctx) => {
  const message = await readInput(ctx.streams, str(ctx.values, 'in'), TEXT);
  const type = str(ctx.values, 'type') as BitcoinAddressType | undefined;
  const signature = await bitcoinSignMessage(await ctx.ops(), ctx.args[0]!, message, {
    ...(type !== undefined ? { addressType: type } : {}),
    ...(flag(ctx.values, 'bip137') ? { bip137: true } : {}),
  });
  return emit(ctx, { signature }, signature);
};

export const solAddress: CommandRun = async (ctx) => {
  const address = await solanaAddressOfKey(await ctx.ops(), ctx.args[0]!);
  return emit(ctx, { address }, address);
};

// ---- age ----

export const ageRecipient: CommandRun = async (ctx) => {
  const recipient = await ageRecipientOfKey(await ctx.ops(), ctx.args[0]!);
  return emit(ctx, { recipient }, recipient);
};

/** Encrypts to age1pq1… recipients; needs no keystore (the recipient strings are public). */
export const ageEncryptTo: CommandRun = async (ctx) => {
  const to = strings(ctx.values, 'to');
  if (to.length === 0)
    throw new CofferError('EINVAL', '--to is required: an age1pq1… recipient (repeatable)');
  const recipients = to.map((given) => {
    const r = given.trim();
    if (!r.toLowerCase().startsWith('age1pq1'))
      throw new CofferError(
        'EINVAL',
        `--to ${r.slice(0, 12)}…: only post-quantum age1pq1… recipients are supported (not X25519 age1… or SSH keys)`,
      );
    return xwingRecipient(r);
  });
  const plaintext = await readInput(ctx.streams, str(ctx.values, 'in'), {
    max: 256 * MiB,
    op: 'age encrypt',
  });
  const out = str(ctx.values, 'out');
  if (flag(ctx.values, 'armor')) {
    const text = await ageEncrypt(plaintext, recipients, { armor: true });
    if (out === undefined || out === '-') return writeText(ctx.streams, text.trimEnd());
    return writeBinary(ctx.streams, Buffer.from(text, 'latin1'), { out });
  }
  const file = await ageEncrypt(plaintext, recipients);
  return writeBinary(ctx.streams, file, out === undefined ? {} : { out });
};

export const ageDecrypt: CommandRun = async (ctx) => {
  const file = await readInput(ctx.streams, str(ctx.values, 'in'), { max: 256 * MiB, op: 'age decrypt' });
  const text = Buffer.from(file.subarray(0, 40)).toString('latin1');
  const input = text.startsWith('-----BEGIN AGE ENCRYPTED FILE-----')
    ? Buffer.from(file).toString('latin1')
    : file;
  const plaintext = await ageDecryptWithKey(await ctx.ops(), ctx.args[0]!, input);
  return writeBinary(ctx.streams, plaintext, { out: str(ctx.values, 'out'), secret: true });
};
