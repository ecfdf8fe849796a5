// A throwaway SoftHSM2 for tests: a temporary token directory with its own softhsm2.conf, tokens
// initialised with `softhsm2-util --init-token --free`, SOFTHSM2_CONF pointed at it for this process
// (SoftHSM reads it at C_Initialize), and everything removed again by close(). Nothing is mocked: the
// tests talk to the real libsofthsm2 through pkcs11js.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Where distributions install the SoftHSM2 PKCS#11 module; SOFTHSM2_MODULE overrides. */
const MODULE_CANDIDATES = [
  '/usr/lib/softhsm/libsofthsm2.so',
  '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/lib64/pkcs11/libsofthsm2.so',
  '/usr/lib/pkcs11/libsofthsm2.so',
  '/usr/local/lib/softhsm/libsofthsm2.so',
  '/opt/homebrew/lib/softhsm/libsofthsm2.so',
];

/** The SoftHSM2 module path; throws (never skips) when SoftHSM2 is not installed. */
export function findSoftHsmModule(): string {
  const override = process.env.SOFTHSM2_MODULE;
  const found = [override, ...MODULE_CANDIDATES].find(
    (path) => path !== undefined && path !== '' && existsSync(path),
  );
  if (found === undefined) {
    throw new Error(
      `SoftHSM2 module not found (looked in ${MODULE_CANDIDATES.join(', ')}; set SOFTHSM2_MODULE)`,
    );
  }
  return found;
}

export interface SoftHsmTokenSpec {
  label: string;
  pin?: string;
  soPin?: string;
}

export interface SoftHsmToken {
  label: string;
  pin: string;
  soPin: string;
}

export interface SoftHsm {
  /** Absolute path of libsofthsm2.so. */
  module: string;
  /** The temporary directory holding softhsm2.conf and the tokens. */
  dir: string;
  tokens: SoftHsmToken[];
  /** The token with this label (throws if there is none). */
  token(label: string): SoftHsmToken;
  /** Restores SOFTHSM2_CONF and deletes the directory. Call only after every session is closed. */
  close(): Promise<void>;
}

let active: string | undefined;

/**
 * Creates the directory, the config and the tokens. All tokens are initialised before anything loads
 * the module, because SoftHSM2 builds its slot list at C_Initialize.
 */
export async function startSoftHsm(specs: SoftHsmTokenSpec[] = [{ label: 'coffer-test' }]): Promise<SoftHsm> {
  if (active !== undefined)
    throw new Error(`a SoftHSM2 fixture is already active in this process (${active})`);
  const module = findSoftHsmModule();
  const dir = await mkdtemp(join(tmpdir(), 'coffer-softhsm-'));
  active = dir;
  const previous = process.env.SOFTHSM2_CONF;
  const conf = join(dir, 'softhsm2.conf');
  const cleanup = async () => {
    if (previous === undefined) delete process.env.SOFTHSM2_CONF;
    else process.env.SOFTHSM2_CONF = previous;
    await rm(dir, { recursive: true, force: true });
    active = undefined;
  };
  try {
    const tokenDir = join(dir, 'tokens');
    await mkdir(tokenDir, { mode: 0o700 });
    await writeFile(
      conf,
      `directories.tokendir = ${tokenDir}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`,
      { mode: 0o600 },
    );
    const env = { ...process.env, SOFTHSM2_CONF: conf };
    const tokens: SoftHsmToken[] = [];
    for (const spec of specs) {
      const token = { label: spec.label, pin: spec.pin ?? '246810', soPin: spec.soPin ?? '13579135' };
      await run(
        'softhsm2-util',
        ['--init-token', '--free', '--label', token.label, '--so-pin', token.soPin, '--pin', token.pin],
        { env },
      );
      tokens.push(token);
    }
    process.env.SOFTHSM2_CONF = conf;
    return {
      module,
      dir,
      tokens,
      token(label: string): SoftHsmToken {
        const token = tokens.find((t) => t.label === label);
        if (token === undefined) throw new Error(`no SoftHSM2 test token labelled ${label}`);
        return token;
      },
      close: cleanup,
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}
