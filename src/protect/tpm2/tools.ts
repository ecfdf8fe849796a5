// Runs tpm2-tools for the TPM 2.0 protector and turns their failures into CofferErrors (SPEC "TPM 2.0
// protector", error mapping). Tools are spawned without a shell, with a timeout, the TCTI in the
// environment and the secret only on stdin/stdout: a key on a command line is visible to every local
// user through /proc, and a key in a temp file outlives a crash. Output holding the KEK is collected in
// chunks this module can wipe, which execFile's internal buffering would not allow.
import { spawn } from 'node:child_process';
import { CofferError } from '../../errors.js';

/** Where tpm2-tools talk to: the TCTI (undefined = TPM2TOOLS_TCTI or the tools' own default order). */
export interface TpmTarget {
  tcti: string | undefined;
}

export interface RunOptions {
  /** Bytes written to the tool's stdin (the KEK for `tpm2_create -i -`). */
  input?: Uint8Array;
  /** Set when stdout is secret: the collected chunks are zeroed once copied out. */
  secretOutput?: boolean;
  timeoutMs?: number;
}

export const DEFAULT_TIMEOUT_MS = 30_000;
const MAX_STDOUT = 1 << 20;
const MAX_STDERR = 64 << 10;

/** TPM 2.0 response codes the protector maps (TPM 2.0 Library Part 2 §6.6), after rcBase(). */
export const RC = {
  HIERARCHY: 0x085,
  AUTH_FAIL: 0x08e,
  POLICY_FAIL: 0x09d,
  INTEGRITY: 0x09f,
  BAD_AUTH: 0x0a2,
  INITIALIZE: 0x100,
  AUTH_UNAVAILABLE: 0x12f,
  OBJECT_MEMORY: 0x902,
  SESSION_MEMORY: 0x903,
  YIELDED: 0x908,
  TESTING: 0x90a,
  LOCKOUT: 0x921,
  RETRY: 0x922,
  PCR_CHANGED: 0x928,
} as const;

/**
 * Strips the handle/parameter/session number from a format-one response code so it can be compared
 * with RC (Part 2 §6.6.3: bit 7 set → error number in bits 0–5). Codes from TSS layers pass unchanged.
 */
export function rcBase(rc: number): number {
  if (rc >>> 16 !== 0) return rc;
  if ((rc & 0x80) !== 0) return 0x80 | (rc & 0x3f);
  return rc & 0xfff;
}

/** A tool exited with a TPM response code; callers remap known codes to precise messages. */
export class TpmCommandError extends CofferError {
  readonly tool: string;
  readonly rc: number;

  constructor(tool: string, rc: number, detail: string) {
    super('EUNAVAIL', `${tool} failed: TPM response 0x${rc.toString(16)}${detail ? ` (${detail})` : ''}`);
    this.tool = tool;
    this.rc = rc;
  }

  get base(): number {
    return rcBase(this.rc);
  }
}

/** The last `ERROR: Esys_X(0x…)` code a tool printed (tpm2-tools also spells it `Eys_Load`). */
export function parseResponseCode(stderr: string): number | undefined {
  const last = [...stderr.matchAll(/ERROR: \w+\(0x([0-9A-Fa-f]{1,8})\)/g)].at(-1);
  return last?.[1] === undefined ? undefined : Number.parseInt(last[1], 16);
}

/** One printable, bounded line for an error message; tool stderr never holds the KEK (it only uses stdin). */
function lastErrorLine(stderr: string): string {
  const lines = stderr.split('\n').filter((line) => /^(ERROR|WARNING)/.test(line));
  const line = lines.at(-1) ?? stderr.split('\n').filter(Boolean).at(-1) ?? '';
  return line.replace(/[^\x20-\x7e]/g, '?').slice(0, 200);
}

export function tctiLabel(target: TpmTarget): string {
  const tcti = target.tcti ?? process.env.TPM2TOOLS_TCTI;
  return tcti ?? 'tpm2-tools default (tabrmd, then /dev/tpmrm0, then /dev/tpm0)';
}

/** True when a resource manager isolates each tool's connection, so leftover handles die with it. */
export function isResourceManaged(target: TpmTarget): boolean {
  const tcti = target.tcti ?? process.env.TPM2TOOLS_TCTI;
  return tcti !== undefined && (/^device:\/dev\/tpmrm\d+$/.test(tcti) || /^tabrmd(:|$)/.test(tcti));
}

function tctiHint(label: string, stderr: string): string {
  if (/Permission denied/.test(stderr)) {
    return 'this user may not open the TPM device: add the user to the tss group';
  }
  if (label.startsWith('device:')) return 'check that the TPM device exists (a TPM 2.0 enabled in firmware)';
  if (/^(swtpm|mssim)/.test(label)) return 'start the TPM simulator (swtpm socket --tpm2 …) listening there';
  if (label.startsWith('tabrmd')) return 'start the tpm2-abrmd resource manager';
  return "set the protector's tcti option (e.g. device:/dev/tpmrm0) or start tpm2-abrmd";
}

function failure(target: TpmTarget, tool: string, code: number | null, stderr: string): CofferError {
  const label = tctiLabel(target);
  if (/Could not load tcti|Failed to instantiate TCTI|^ERROR:tcti:/m.test(stderr)) {
    return new CofferError(
      'EUNAVAIL',
      `cannot reach the TPM through TCTI "${label}": ${tctiHint(label, stderr)} (${lastErrorLine(stderr)})`,
    );
  }
  const rc = parseResponseCode(stderr);
  if (rc !== undefined) {
    const line = stderr.split('\n').findLast((l) => /^ERROR: \w+\(0x/.test(l)) ?? '';
    return new TpmCommandError(
      tool,
      rc,
      line
        .replace(/^ERROR: /, '')
        .replace(/[^\x20-\x7e]/g, '?')
        .slice(0, 200),
    );
  }
  return new CofferError('EUNAVAIL', `${tool} failed (exit ${code ?? 'signal'}): ${lastErrorLine(stderr)}`);
}

/**
 * Runs one tpm2-tools program and resolves with its stdout. Failures become CofferError EUNAVAIL
 * (TpmCommandError when the TPM answered with a response code).
 */
export function runTool(target: TpmTarget, tool: string, args: readonly string[], options: RunOptions = {}) {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const env: NodeJS.ProcessEnv = { ...process.env, TSS2_LOG: 'all+error' };
  if (target.tcti !== undefined) env.TPM2TOOLS_TCTI = target.tcti;
  return new Promise<Uint8Array>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let stdoutLength = 0;
    let stderr = '';
    let timedOut = false;
    let overflow = false;
    let spawnError: NodeJS.ErrnoException | undefined;
    const wipeChunks = () => {
      if (options.secretOutput) for (const chunk of chunks) chunk.fill(0);
    };
    const child = spawn(tool, args, {
      env,
      shell: false,
      stdio: ['pipe', 'pipe', 'pipe'],
      windowsHide: true,
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (error: NodeJS.ErrnoException) => {
      spawnError ??= error;
    });
    child.stdout.on('data', (chunk: Buffer) => {
      stdoutLength += chunk.length;
      chunks.push(chunk);
      if (stdoutLength > MAX_STDOUT && !overflow) {
        overflow = true;
        child.kill('SIGKILL');
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (text: string) => {
      stderr = (stderr + text).slice(-MAX_STDERR);
    });
    // A tool that exits before reading its input makes the write fail with EPIPE; its exit status
    // then says what went wrong, so the stream error itself is not the story.
    child.stdin.on('error', () => {});
    if (options.input !== undefined) {
      child.stdin.end(Buffer.from(options.input.buffer, options.input.byteOffset, options.input.byteLength));
    } else {
      child.stdin.end();
    }
    child.on('close', (code) => {
      clearTimeout(timer);
      if (spawnError !== undefined) {
        wipeChunks();
        reject(
          spawnError.code === 'ENOENT'
            ? new CofferError(
                'EUNAVAIL',
                `tpm2-tools not found (${tool} is not on PATH): install tpm2-tools (Debian/Ubuntu: apt install tpm2-tools; Fedora: dnf install tpm2-tools)`,
              )
            : new CofferError('EUNAVAIL', `cannot run ${tool}: ${spawnError.code ?? spawnError.message}`),
        );
        return;
      }
      if (timedOut || overflow) {
        wipeChunks();
        reject(
          new CofferError(
            'EUNAVAIL',
            timedOut
              ? `${tool} did not finish within ${Math.round(timeoutMs / 1000)} s: the TPM behind "${tctiLabel(target)}" is not responding`
              : `${tool} wrote more output than expected`,
          ),
        );
        return;
      }
      if (code !== 0) {
        wipeChunks();
        reject(failure(target, tool, code, stderr));
        return;
      }
      const out = new Uint8Array(stdoutLength);
      let offset = 0;
      for (const chunk of chunks) {
        out.set(chunk, offset);
        offset += chunk.length;
      }
      wipeChunks();
      resolve(out);
    });
  });
}

const queues = new Map<string, Promise<void>>();

/**
 * Serialises TPM work per TCTI inside this process. Without a resource manager the TPM has a handful
 * of object slots shared by everyone, and the cleanup flushes would cut into a concurrent operation.
 */
export async function withTpmLock<T>(target: TpmTarget, run: () => Promise<T>): Promise<T> {
  const key = target.tcti ?? process.env.TPM2TOOLS_TCTI ?? '';
  const previous = queues.get(key) ?? Promise.resolve();
  let release!: () => void;
  const mine = new Promise<void>((resolve) => {
    release = resolve;
  });
  const tail = previous.then(() => mine);
  queues.set(key, tail);
  await previous;
  try {
    return await run();
  } finally {
    release();
    if (queues.get(key) === tail) queues.delete(key);
  }
}
