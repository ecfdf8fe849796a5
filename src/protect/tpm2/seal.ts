// The TPM 2.0 operations behind the protector (SPEC "TPM 2.0 protector"): re-create the storage
// primary from its fixed template, seal a KEK as a keyed-hash data object (optionally under a PolicyPCR
// policy), load and unseal it, and read what kind of TPM answers. Each operation runs in one TpmSession:
// a 0700 temp dir for context files and, on a TPM without a resource manager, a flush of every
// transient object and session the tools leave behind (each tool is its own process and does not flush
// what it loaded, and a TPM has only a few object slots).
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CofferError } from '../../errors.js';
import { formatPcrSelection, type PcrSelection } from './config.js';
import {
  isResourceManaged,
  RC,
  type RunOptions,
  runTool,
  TpmCommandError,
  type TpmTarget,
  withTpmLock,
} from './tools.js';

/**
 * The storage primary's template: the tpm2-tools form of an ECC NIST P-256 restricted decryption key with
 * AES-128-CFB for child protection, sha256 name, noDA and an empty unique field. It is deterministic,
 * so the same owner seed always yields the same primary and its children load again.
 */
export const PRIMARY_ARGS = [
  '-C',
  'o',
  '-g',
  'sha256',
  '-G',
  'ecc256:aes128cfb',
  '-a',
  'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda|restricted|decrypt',
] as const;

/**
 * Sealed-object attributes. PCR-bound objects drop userWithAuth, so only the policy authorises unsealing
 * (with userWithAuth set an empty password would bypass the PCRs), and set adminWithPolicy, so admin
 * commands (ObjectChangeAuth) need a policy this object's PolicyPCR digest can never satisfy.
 */
export function sealedAttributes(pcrBound: boolean): string {
  return pcrBound ? 'fixedtpm|fixedparent|noda|adminwithpolicy' : 'fixedtpm|fixedparent|noda|userwithauth';
}

const PCR_MESSAGE =
  'PCR policy no longer satisfied: boot state changed (firmware, bootloader or Secure Boot settings differ from when this slot was created); open another keyslot and re-create this one';
const CLEARED_MESSAGE =
  "TPM was cleared or is a different TPM: the sealed key no longer loads under this TPM's storage primary (or the slot state was altered); open another keyslot and re-create this one";

export interface TpmInfo {
  manufacturer: string;
  vendor: string;
  /** A software TPM (swtpm / the IBM simulator): keys live in an ordinary process and its state files. */
  software: boolean;
}

function fourChars(raw: number): string {
  const bytes = [raw >>> 24, (raw >>> 16) & 0xff, (raw >>> 8) & 0xff, raw & 0xff];
  return String.fromCharCode(...bytes.filter((b) => b >= 0x20 && b < 0x7f));
}

/** Reads TPM2_PT_MANUFACTURER and TPM2_PT_VENDOR_STRING_1..4 from `tpm2_getcap properties-fixed`. */
export function parseTpmInfo(text: string): TpmInfo {
  const raw = (property: string): number | undefined => {
    const match = new RegExp(`^${property}:\\s*\\n\\s*raw:\\s*0x([0-9A-Fa-f]{1,8})`, 'm').exec(text);
    return match?.[1] === undefined ? undefined : Number.parseInt(match[1], 16);
  };
  const manufacturerRaw = raw('TPM2_PT_MANUFACTURER');
  if (manufacturerRaw === undefined) {
    throw new CofferError(
      'EUNAVAIL',
      'tpm2_getcap did not report TPM2_PT_MANUFACTURER: unexpected tpm2-tools output',
    );
  }
  const manufacturer = fourChars(manufacturerRaw).trim();
  const vendor = [1, 2, 3, 4]
    .map((n) => fourChars(raw(`TPM2_PT_VENDOR_STRING_${n}`) ?? 0))
    .join('')
    .replace(/\s+/g, ' ')
    .trim();
  // swtpm runs libtpms, IBM's reference code, which reports manufacturer "IBM" and vendor "SW TPM";
  // IBM's own simulator reports the same. No hardware TPM uses that pair.
  const software = manufacturer === 'IBM' && vendor === 'SW TPM';
  return { manufacturer, vendor, software };
}

/** Active PCR banks and their indices from `tpm2_getcap pcrs`. */
export function parseActivePcrs(text: string): Map<string, Set<number>> {
  const banks = new Map<string, Set<number>>();
  for (const match of text.matchAll(/^\s*-\s*(\w+):\s*\[([^\]]*)\]/gm)) {
    const indices = (match[2] ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
      .map(Number);
    banks.set(match[1] ?? '', new Set(indices));
  }
  return banks;
}

/** One locked, cleaned-up stretch of TPM work; see the file comment. */
export class TpmSession {
  readonly dir: string;
  private readonly managed: boolean;

  constructor(
    readonly target: TpmTarget,
    dir: string,
  ) {
    this.dir = dir;
    this.managed = isResourceManaged(target);
  }

  path(name: string): string {
    return join(this.dir, name);
  }

  run(tool: string, args: readonly string[], options?: RunOptions): Promise<Uint8Array> {
    return runTool(this.target, tool, args, options);
  }

  /** Runs a tool, then flushes what it left loaded (kinds: t = transient objects, l = loaded sessions). */
  async runAndFlush(tool: string, args: readonly string[], kinds: 't' | 'l', options?: RunOptions) {
    try {
      return await this.run(tool, args, options);
    } finally {
      if (!this.managed) await this.run('tpm2_flushcontext', [`-${kinds}`]).catch(() => undefined);
    }
  }

  /** Final cleanup: every transient object, loaded and saved session. Errors here must not mask the result. */
  async sweep(): Promise<void> {
    if (this.managed) return;
    for (const kind of ['-t', '-l', '-s']) await this.run('tpm2_flushcontext', [kind]).catch(() => undefined);
  }
}

export async function withTpm<T>(target: TpmTarget, work: (session: TpmSession) => Promise<T>): Promise<T> {
  return withTpmLock(target, async () => {
    // mkdtemp creates the directory 0700: context files are not secret, but nobody else needs them.
    const dir = await mkdtemp(join(tmpdir(), 'coffer-tpm2-'));
    const session = new TpmSession(target, dir);
    try {
      return await work(session);
    } finally {
      await session.sweep();
      await rm(dir, { recursive: true, force: true });
    }
  });
}

export async function readTpmInfo(session: TpmSession): Promise<TpmInfo> {
  const out = await session.run('tpm2_getcap', ['properties-fixed']);
  return parseTpmInfo(Buffer.from(out).toString('utf8'));
}

/** Refuses a selection the TPM cannot measure: PolicyPCR over an inactive bank would bind to nothing. */
export async function checkPcrBanks(session: TpmSession, selection: PcrSelection): Promise<void> {
  const active = parseActivePcrs(Buffer.from(await session.run('tpm2_getcap', ['pcrs'])).toString('utf8'));
  for (const { bank, pcrs } of selection) {
    const indices = active.get(bank);
    const missing = pcrs.filter((i) => !indices?.has(i));
    if (indices === undefined || missing.length > 0) {
      throw new CofferError(
        'EUNAVAIL',
        `PCR bank ${bank} is not active on this TPM for PCR ${missing.join(',') || pcrs.join(',')} (active banks: ${[...active.keys()].join(', ') || 'none'})`,
      );
    }
  }
}

function mapOwnerErrors(error: unknown): unknown {
  if (!(error instanceof TpmCommandError)) return error;
  switch (error.base) {
    case RC.AUTH_FAIL:
    case RC.BAD_AUTH:
      return new CofferError(
        'EUNAVAIL',
        'the TPM owner hierarchy has an authorization value: the tpm2 protector needs it empty (the Linux default)',
        { cause: error },
      );
    case RC.HIERARCHY:
      return new CofferError('EUNAVAIL', 'the TPM owner hierarchy is disabled (enable it in firmware)', {
        cause: error,
      });
    case RC.LOCKOUT:
      return new CofferError(
        'EUNAVAIL',
        'the TPM is in dictionary-attack lockout: wait for it to recover or reset it (tpm2_dictionarylockout -c)',
        { cause: error },
      );
    case RC.INITIALIZE:
      return new CofferError('EUNAVAIL', 'the TPM has not been started (run tpm2_startup -c)', {
        cause: error,
      });
    default:
      return error;
  }
}

/** Re-creates the storage primary into `primary.ctx` (flushed from the TPM right after). */
export async function createPrimary(session: TpmSession): Promise<string> {
  const context = session.path('primary.ctx');
  await session
    .runAndFlush('tpm2_createprimary', ['-Q', ...PRIMARY_ARGS, '-c', context], 't')
    .catch((error) => {
      throw mapOwnerErrors(error);
    });
  return context;
}

/** Computes the PolicyPCR digest over the PCRs' current values (a trial session inside the tool). */
export async function createPcrPolicy(session: TpmSession, selection: PcrSelection): Promise<Uint8Array> {
  const file = session.path('pcr.policy');
  await session.runAndFlush(
    'tpm2_createpolicy',
    ['-Q', '--policy-pcr', '-g', 'sha256', '-l', formatPcrSelection(selection), '-L', file],
    'l',
  );
  const digest = new Uint8Array(await readFile(file));
  if (digest.length !== 32)
    throw new CofferError('EUNAVAIL', 'tpm2_createpolicy wrote an unexpected policy digest');
  return digest;
}

/** Seals `kek` under the primary; the KEK reaches the tool only through its stdin. */
export async function sealKek(
  session: TpmSession,
  primary: string,
  kek: Uint8Array,
  policyFile: string | null,
): Promise<{ sealedPublic: Uint8Array; sealedPrivate: Uint8Array }> {
  const pub = session.path('sealed.pub');
  const priv = session.path('sealed.priv');
  const args = ['-Q', '-C', primary, '-g', 'sha256', '-a', sealedAttributes(policyFile !== null)];
  if (policyFile !== null) args.push('-L', policyFile);
  args.push('-i', '-', '-u', pub, '-r', priv);
  await session.runAndFlush('tpm2_create', args, 't', { input: kek }).catch((error) => {
    throw mapOwnerErrors(error);
  });
  return {
    sealedPublic: new Uint8Array(await readFile(pub)),
    sealedPrivate: new Uint8Array(await readFile(priv)),
  };
}

/**
 * Loads the sealed object under the primary and unseals it. With a PCR selection the tool runs a
 * policy session itself (`-p pcr:…`: PolicyPCR then Unseal in one process), so no session context ever
 * crosses a process boundary. Returns the unsealed bytes; the caller owns and wipes them.
 */
export async function unsealKek(
  session: TpmSession,
  primary: string,
  sealed: { sealedPublic: Uint8Array; sealedPrivate: Uint8Array },
  selection: PcrSelection | null,
): Promise<Uint8Array> {
  const pub = session.path('load.pub');
  const priv = session.path('load.priv');
  const context = session.path('sealed.ctx');
  await writeFile(pub, sealed.sealedPublic, { mode: 0o600 });
  await writeFile(priv, sealed.sealedPrivate, { mode: 0o600 });
  try {
    await session.runAndFlush('tpm2_load', ['-Q', '-C', primary, '-u', pub, '-r', priv, '-c', context], 't');
  } catch (error) {
    if (error instanceof TpmCommandError && error.tool === 'tpm2_load') {
      throw new CofferError('EUNAVAIL', CLEARED_MESSAGE, { cause: error });
    }
    throw mapOwnerErrors(error);
  }
  const args = ['-c', context];
  if (selection !== null) args.push('-p', `pcr:${formatPcrSelection(selection)}`);
  for (let attempt = 0; ; attempt++) {
    try {
      return await session.runAndFlush('tpm2_unseal', args, 't', { secretOutput: true });
    } catch (error) {
      if (!(error instanceof TpmCommandError)) throw error;
      // A PCR extended between PolicyPCR and Unseal, or a busy TPM: the next try sees a settled state.
      const transient = [RC.PCR_CHANGED, RC.RETRY, RC.YIELDED, RC.TESTING] as number[];
      if (transient.includes(error.base) && attempt === 0) continue;
      if (error.base === RC.POLICY_FAIL) throw new CofferError('EUNAVAIL', PCR_MESSAGE, { cause: error });
      if (error.base === RC.AUTH_UNAVAILABLE || error.base === RC.AUTH_FAIL) {
        throw new CofferError(
          'EUNAVAIL',
          'the sealed object does not accept the authorization this slot state describes (PCR binding mismatch): the slot state was altered',
          { cause: error },
        );
      }
      throw mapOwnerErrors(error);
    }
  }
}
