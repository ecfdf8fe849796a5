// A TPM 2.0 NV counter as a rollback anchor (SPEC §4.2): an 8-byte NV index of type counter that the
// TPM only ever increments. Defined under the owner hierarchy, read and incremented with the index's
// own (empty) authorisation, so day-to-day use needs no owner password. Each call is one tpm2-tools
// process through runTool (no shell, timeout, TCTI in the environment); calls are serialised per TCTI.
import { CofferError } from '../../errors.js';
import type { CounterAnchor } from '../types.js';
import { formatNvIndex } from '../types.js';
import { RC, rcBase, runTool, TpmCommandError, type TpmTarget, withTpmLock } from './tools.js';

/** TPM_RC_NV_UNINITIALIZED (Part 2 §6.6): a counter that was defined but never incremented. */
const NV_UNINITIALIZED = 0x14a;
/** TPM_RC_NV_DEFINED: the index already exists. */
const NV_DEFINED = 0x14c;
/** Attributes of the counter index: counter type, owner may read, index auth reads and writes. */
export const COUNTER_ATTRIBUTES = 'nt=counter|ownerread|authread|authwrite|no_da';
/** TPMA_NV_TPM_NT field (bits 4..7) value of a counter index. */
const NT_COUNTER = 1;
const HANDLE = 0x08b;

function isAbsent(error: unknown): boolean {
  return error instanceof TpmCommandError && error.base === HANDLE;
}

/** Parses `tpm2_nvreadpublic` output for one index: its attributes value (raw). */
export function parseNvAttributes(text: string, index: number): number | undefined {
  const head = text.toLowerCase().indexOf(`${formatNvIndex(index).replace(/^0x0*/, '0x')}:`);
  if (head < 0) return undefined;
  const match = /attributes:\s*\n\s*friendly:[^\n]*\n\s*value:\s*0x([0-9a-fA-F]+)/.exec(text.slice(head));
  return match?.[1] === undefined ? undefined : Number.parseInt(match[1], 16);
}

export function openTpmCounter(index: number, tcti: string | undefined): CounterAnchor {
  const target: TpmTarget = { tcti };
  const handle = formatNvIndex(index);
  const run = (tool: string, args: string[]) => withTpmLock(target, () => runTool(target, tool, args));
  let checked = false;

  /** Refuses an index at that handle that is not a counter (someone else's NV data). */
  const checkType = async (): Promise<void> => {
    if (checked) return;
    const out = Buffer.from(await run('tpm2_nvreadpublic', [handle])).toString('utf8');
    const attributes = parseNvAttributes(out, index);
    if (attributes === undefined)
      throw new CofferError('EUNAVAIL', `tpm2_nvreadpublic ${handle}: unexpected output`);
    if (((attributes >>> 4) & 0xf) !== NT_COUNTER) {
      throw new CofferError(
        'EUNAVAIL',
        `TPM NV index ${handle} exists but is not a counter (someone else's NV data?): choose another nvIndex`,
      );
    }
    checked = true;
  };

  return {
    kind: 'counter',
    async read() {
      try {
        await checkType();
        const out = await run('tpm2_nvread', [handle, '-s', '8']);
        if (out.length !== 8)
          throw new CofferError('EUNAVAIL', `tpm2_nvread ${handle} returned ${out.length} bytes, not 8`);
        const value = Buffer.from(out).readBigUInt64BE(0);
        if (value > BigInt(Number.MAX_SAFE_INTEGER))
          throw new CofferError('EUNAVAIL', `TPM counter ${handle} is beyond 2^53 and cannot be used`);
        return Number(value);
      } catch (error) {
        if (isAbsent(error)) {
          checked = false;
          return 'absent';
        }
        if (error instanceof TpmCommandError && rcBase(error.rc) === NV_UNINITIALIZED) return 'unwritten';
        throw error;
      }
    },
    async create() {
      try {
        await run('tpm2_nvdefine', [handle, '-C', 'o', '-s', '8', '-a', COUNTER_ATTRIBUTES]);
      } catch (error) {
        if (error instanceof TpmCommandError && rcBase(error.rc) === NV_DEFINED) return;
        if (error instanceof TpmCommandError && (error.base === RC.AUTH_FAIL || error.base === RC.BAD_AUTH)) {
          throw new CofferError(
            'EUNAVAIL',
            `cannot define TPM counter ${handle}: the owner hierarchy has a password. Define it once yourself: ` +
              `tpm2_nvdefine ${handle} -C o -P <owner password> -s 8 -a "${COUNTER_ATTRIBUTES}"`,
          );
        }
        throw error;
      }
      await checkType();
    },
    async increment() {
      await checkType();
      await run('tpm2_nvincrement', [handle]);
    },
    async close() {},
  };
}
