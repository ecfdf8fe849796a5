// `coffer doctor`: what this machine can do, probed for real (DESIGN §7): the Node and OpenSSL
// versions, which crypto primitive runs natively and which in pure JS, and for every protector
// whether it is usable here and, if not, why — tpm2-tools on PATH and a TPM that answers, a PKCS#11
// module and the pkcs11js addon, a D-Bus session bus with a Secret Service provider.
import { execFile } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { cryptoImplementations, nativeSupport } from '../../crypto/features.js';
import type { Config } from '../config.js';
import { emit } from '../context.js';
import type { CommandRun } from '../spec.js';

export interface ProbeReport {
  usable: boolean;
  detail: string;
}

const PKCS11_MODULES = [
  '/usr/lib/softhsm/libsofthsm2.so',
  '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/lib64/pkcs11/libsofthsm2.so',
  '/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so',
  '/usr/lib/x86_64-linux-gnu/libykcs11.so',
  '/usr/local/lib/softhsm/libsofthsm2.so',
  '/opt/homebrew/lib/softhsm/libsofthsm2.so',
];

function onPath(env: Config['env'], program: string): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, program);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  return undefined;
}

function run(
  program: string,
  args: string[],
  env: Config['env'],
  timeoutMs = 5000,
): Promise<{ ok: boolean; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      program,
      args,
      { env: env as NodeJS.ProcessEnv, timeout: timeoutMs },
      (error, _stdout, stderr) => {
        resolve({ ok: error === null, stderr: String(stderr).trim().split('\n').pop() ?? '' });
      },
    );
  });
}

export async function probeTpm2(env: Config['env']): Promise<ProbeReport> {
  const tools = ['tpm2_createprimary', 'tpm2_create', 'tpm2_load', 'tpm2_unseal', 'tpm2_getcap'];
  const missing = tools.filter((t) => onPath(env, t) === undefined);
  if (missing.length > 0)
    return {
      usable: false,
      detail: `tpm2-tools not on PATH (missing ${missing.join(', ')}): install tpm2-tools`,
    };
  const tcti = env.TPM2TOOLS_TCTI;
  if (tcti === undefined || tcti === '') {
    const device = ['/dev/tpmrm0', '/dev/tpm0'].find((d) => existsSync(d));
    if (device === undefined)
      return {
        usable: false,
        detail: 'no TPM device (/dev/tpmrm0, /dev/tpm0) and TPM2TOOLS_TCTI is unset (a simulator needs it)',
      };
    try {
      accessSync(device, constants.R_OK | constants.W_OK);
    } catch {
      return {
        usable: false,
        detail: `${device} exists but this user may not open it: add the user to the tss group`,
      };
    }
  }
  const answer = await run('tpm2_getcap', ['properties-fixed'], env);
  const where = tcti ? `TCTI ${tcti}` : 'the TPM device';
  return answer.ok
    ? { usable: true, detail: `tpm2-tools found and ${where} answers` }
    : {
        usable: false,
        detail: `tpm2-tools found but ${where} does not answer: ${answer.stderr || 'no reply'}`,
      };
}

export async function probePkcs11(env: Config['env']): Promise<ProbeReport & { modules: string[] }> {
  const configured = env.COFFER_PKCS11_MODULE;
  const modules = [configured, env.SOFTHSM2_MODULE, ...PKCS11_MODULES].filter(
    (p, i, all): p is string => p !== undefined && p !== '' && all.indexOf(p) === i && existsSync(p),
  );
  try {
    const { loadBinding } = await import('../../protect/pkcs11/module.js');
    loadBinding();
  } catch (error) {
    return { usable: false, modules, detail: error instanceof Error ? error.message : String(error) };
  }
  if (configured !== undefined && configured !== '' && !modules.includes(configured))
    return { usable: false, modules, detail: `COFFER_PKCS11_MODULE=${configured} does not exist` };
  if (modules.length === 0)
    return {
      usable: false,
      modules,
      detail:
        'pkcs11js loads, but no PKCS#11 module found: install your HSM vendor library or softhsm2 and set COFFER_PKCS11_MODULE',
    };
  return {
    usable: true,
    modules,
    detail: `pkcs11js loads; module ${modules[0]} (pass it with --pkcs11-module)`,
  };
}

export async function probeKeyring(env: Config['env']): Promise<ProbeReport> {
  const { keyringPlatform, probeBusName } = await import('../../protect/keyring/index.js');
  const platform = keyringPlatform();
  if (platform === undefined)
    return { usable: false, detail: `no OS keyring support on ${process.platform}` };
  if (platform !== 'secret-service') return { usable: true, detail: `uses the ${platform}` };
  const probe = await probeBusName(undefined, { env: env as NodeJS.ProcessEnv, timeoutMs: 3000 });
  switch (probe.status) {
    case 'owned':
      return {
        usable: true,
        detail: `a Secret Service provider is running on the session bus (${probe.address})`,
      };
    case 'activatable':
      return {
        usable: true,
        detail: `the session bus will start a Secret Service provider on first use (${probe.address})`,
      };
    case 'absent':
      return {
        usable: false,
        detail: `session bus ${probe.address} has no Secret Service provider: start gnome-keyring-daemon (or KeePassXC/KWallet)`,
      };
    case 'no-bus':
      return { usable: false, detail: `no D-Bus session bus: ${probe.reason}` };
    case 'unsupported':
      return {
        usable: true,
        detail: `session bus ${probe.address} uses a transport the probe cannot inspect; the keyring library will report at use`,
      };
  }
}

export const doctor: CommandRun = async (ctx) => {
  const env = ctx.config.env;
  const implementations = cryptoImplementations();
  const [tpm2, pkcs11, keyring] = await Promise.all([probeTpm2(env), probePkcs11(env), probeKeyring(env)]);
  // Which binding serves sqlite: stores here (SPEC §9.5 "Drivers"): node:sqlite or better-sqlite3.
  const sqlite = (await import('../../storage/sqlite-driver.js')).describeSqliteDriver();
  const passphrase: ProbeReport = {
    usable: true,
    detail: `Argon2id through ${nativeSupport.argon2 ? 'node:crypto (native)' : '@noble/hashes (pure JS: slower unlock; Node ≥ 24.7 is native)'}`,
  };
  const report = {
    node: {
      version: process.versions.node,
      openssl: process.versions.openssl,
      platform: `${process.platform}-${process.arch}`,
    },
    crypto: implementations,
    sqlite,
    protectors: { passphrase, keyring, tpm2, pkcs11 },
  };
  const mark = (p: ProbeReport) => (p.usable ? 'ok ' : 'no ');
  const nativeCount = Object.values(implementations).filter((i) => i === 'node:crypto').length;
  return emit(ctx, report, [
    `Node ${report.node.version} (OpenSSL ${report.node.openssl}) on ${report.node.platform}`,
    `SQLite driver: ${mark(sqlite)}${sqlite.detail}`,
    '',
    `Crypto: ${nativeCount} of ${Object.keys(implementations).length} primitives fully native`,
    ...Object.entries(implementations).map(([name, impl]) => `  ${name.padEnd(20)} ${impl}`),
    '',
    'Protectors:',
    ...Object.entries(report.protectors).map(([name, p]) => `  ${mark(p)} ${name.padEnd(11)} ${p.detail}`),
  ]);
};
