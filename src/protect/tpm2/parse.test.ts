// Pure parsing of the TPM 2.0 protector: the config/PCR-selection grammar, the strict state codec, TPM
// response-code decoding (TPM 2.0 Library Part 2 §6.6) and the tpm2-tools output the driver reads. The
// tool outputs below were captured from tpm2-tools 5.4 against swtpm 0.7; tpm2.test.ts covers the live path.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  buildState,
  formatPcrSelection,
  PCR_BANKS,
  parseConfig,
  parsePcrSelection,
  parseState,
} from './config.js';
import { parseActivePcrs, parseTpmInfo, sealedAttributes } from './seal.js';
import { parseResponseCode, RC, rcBase } from './tools.js';

function throwsCode(run: () => unknown, code: string): void {
  assert.throws(run, (error: unknown) => {
    assert.equal((error as { code?: string }).code, code, String(error));
    return true;
  });
}

describe('tpm2 config: PCR selection grammar', () => {
  test('number arrays mean the sha256 bank and normalise to the tpm2-tools string', () => {
    assert.equal(formatPcrSelection(parsePcrSelection([7, 0, 7])), 'sha256:0,7');
    assert.equal(formatPcrSelection(parsePcrSelection('sha256:7,0')), 'sha256:0,7');
    assert.equal(
      formatPcrSelection(parsePcrSelection('sha384:1+sha1:23,4')),
      'sha1:4,23+sha384:1',
      'banks are ordered sha1, sha256, sha384, sha512',
    );
  });

  test('property: format(parse(x)) is a fixed point, and arrays equal their sha256 string', () => {
    const bankSel = fc.record({
      bank: fc.constantFrom(...PCR_BANKS),
      pcrs: fc.uniqueArray(fc.integer({ min: 0, max: 23 }), { minLength: 1, maxLength: 24 }),
    });
    fc.assert(
      fc.property(
        fc.uniqueArray(bankSel, { minLength: 1, maxLength: 4, selector: (s) => s.bank }),
        (sels) => {
          const text = sels.map((s) => `${s.bank}:${s.pcrs.join(',')}`).join('+');
          const canonical = formatPcrSelection(parsePcrSelection(text));
          assert.equal(formatPcrSelection(parsePcrSelection(canonical)), canonical);
          const first = sels[0];
          if (first !== undefined) {
            assert.equal(
              formatPcrSelection(parsePcrSelection(first.pcrs)),
              formatPcrSelection(parsePcrSelection(`sha256:${first.pcrs.join(',')}`)),
            );
          }
        },
      ),
    );
  });

  test('malformed selections are EINVAL', () => {
    const bad: unknown[] = [
      '',
      'sha256',
      'sha256:',
      'sha256:24',
      'sha256:-1',
      'sha256:07',
      'sha256:1,,2',
      'sha256: 1',
      'md5:1',
      'SHA256:1',
      'sha256:1+sha256:2',
      'sha256:1+',
      [],
      [24],
      [-1],
      [1.5],
      ['1'],
      [Number.NaN],
      42,
      null,
      { sha256: [1] },
    ];
    for (const value of bad) throwsCode(() => parsePcrSelection(value), 'EINVAL');
  });

  test('property: any index outside 0..23 is EINVAL in both forms', () => {
    fc.assert(
      fc.property(fc.oneof(fc.integer({ min: 24, max: 1000 }), fc.integer({ min: -1000, max: -1 })), (i) => {
        throwsCode(() => parsePcrSelection([i]), 'EINVAL');
        throwsCode(() => parsePcrSelection(`sha256:${i}`), 'EINVAL');
      }),
    );
  });

  test('config: type, unknown keys and tcti are checked', () => {
    assert.deepEqual(parseConfig({ type: 'tpm2' }), { tcti: undefined, pcrs: null });
    assert.equal(parseConfig({ type: 'tpm2', tcti: 'device:/dev/tpmrm0' }).tcti, 'device:/dev/tpmrm0');
    assert.equal(parseConfig({ type: 'tpm2', tcti: 'tabrmd' }).tcti, 'tabrmd');
    for (const bad of [
      null,
      'tpm2',
      { type: 'tpm' },
      { type: 'tpm2', pcr: [0] },
      { type: 'tpm2', tcti: 42 },
      { type: 'tpm2', tcti: '' },
      { type: 'tpm2', tcti: '-Tdevice' },
      { type: 'tpm2', tcti: 'device:/dev/tpm\n0' },
      { type: 'tpm2', tcti: `device:${'x'.repeat(300)}` },
      { type: 'tpm2', pcrs: [] },
    ]) {
      throwsCode(() => parseConfig(bad), 'EINVAL');
    }
  });
});

describe('tpm2 state codec', () => {
  const blob = (size: number) => {
    const b = Buffer.alloc(size + 2, 0xab);
    b.writeUInt16BE(size, 0);
    return new Uint8Array(b);
  };
  const good = buildState(parsePcrSelection('sha256:0,7'), new Uint8Array(32).fill(1), blob(78), blob(158));
  const plain = buildState(null, null, blob(46), blob(158));

  test('built states parse back after a JSON round trip', () => {
    for (const state of [good, plain]) {
      const parsed = parseState(JSON.parse(JSON.stringify(state)));
      assert.deepEqual(parsed.state, state);
      assert.equal(parsed.sealedPublic.length, Buffer.from(state.sealedPublic, 'base64').length);
    }
  });

  test('every altered or missing field is EINVAL', () => {
    const mutations: Record<string, unknown>[] = [
      { version: 2 },
      { hierarchy: 'endorsement' },
      { template: 'rsa2048' },
      { pcrs: 'sha256:7,0' },
      { pcrs: 'sha256:99' },
      { pcrs: null },
      { policyDigest: null },
      { policyDigest: 'AB'.repeat(32) },
      { policyDigest: 'ab'.repeat(20) },
      { sealedPublic: '' },
      { sealedPublic: `${good.sealedPublic}=` },
      { sealedPublic: good.sealedPublic.replace(/.$/, '!') },
      { sealedPrivate: Buffer.from(blob(10)).subarray(0, 8).toString('base64') },
      { sealedPrivate: 42 },
      { extra: true },
    ];
    for (const mutation of mutations) throwsCode(() => parseState({ ...good, ...mutation }), 'EINVAL');
    throwsCode(() => parseState({ ...plain, policyDigest: 'ab'.repeat(32) }), 'EINVAL');
    const { sealedPrivate: _, ...missing } = good;
    throwsCode(() => parseState(missing), 'EINVAL');
    throwsCode(() => parseState(null), 'EINVAL');
    throwsCode(() => parseState([good]), 'EINVAL');
  });
});

describe('tpm2 tool output', () => {
  test('response codes: format-one codes lose their parameter/session number (Part 2 §6.6.3)', () => {
    assert.equal(rcBase(0x99d), RC.POLICY_FAIL, 'PolicyPCR mismatch at Unseal, session 1');
    assert.equal(rcBase(0x1df), RC.INTEGRITY, 'Load under a different storage primary, parameter 1');
    assert.equal(rcBase(0x98e), RC.AUTH_FAIL);
    assert.equal(rcBase(0x12f), RC.AUTH_UNAVAILABLE);
    assert.equal(rcBase(0x902), RC.OBJECT_MEMORY);
    assert.equal(rcBase(0x921), RC.LOCKOUT);
    assert.equal(rcBase(0xa0001), 0xa0001, 'TSS-layer codes pass through');
  });

  test('the last ESYS response code is read from tool stderr', () => {
    const unseal = [
      'WARNING:esys:src/tss2-esys/api/Esys_Unseal.c:295:Esys_Unseal_Finish() Received TPM Error ',
      'ERROR:esys:src/tss2-esys/api/Esys_Unseal.c:98:Esys_Unseal() Esys Finish ErrorCode (0x0000099d) ',
      'ERROR: Esys_Unseal(0x99D) - tpm:session(1):a policy check failed',
      'ERROR: Unable to run tpm2_unseal',
    ].join('\n');
    assert.equal(parseResponseCode(unseal), 0x99d);
    assert.equal(
      parseResponseCode('ERROR: Eys_Load(0x1DF) - tpm:parameter(1):integrity check failed'),
      0x1df,
    );
    assert.equal(parseResponseCode('ERROR: Could not load tcti, got: "device:/x"'), undefined);
  });

  test('swtpm is recognised as a software TPM by manufacturer and vendor strings', () => {
    const swtpm = [
      'TPM2_PT_FAMILY_INDICATOR:',
      '  raw: 0x322E3000',
      '  value: "2.0"',
      'TPM2_PT_MANUFACTURER:',
      '  raw: 0x49424D00',
      '  value: "IBM"',
      'TPM2_PT_VENDOR_STRING_1:',
      '  raw: 0x53572020',
      '  value: "SW"',
      'TPM2_PT_VENDOR_STRING_2:',
      '  raw: 0x2054504D',
      '  value: "TPM"',
      'TPM2_PT_VENDOR_STRING_3:',
      '  raw: 0x0',
      '  value: ""',
      'TPM2_PT_VENDOR_STRING_4:',
      '  raw: 0x0',
      '  value: ""',
    ].join('\n');
    assert.deepEqual(parseTpmInfo(swtpm), { manufacturer: 'IBM', vendor: 'SW TPM', software: true });
    const infineon = swtpm
      .replace('0x49424D00', '0x49465800')
      .replace('0x53572020', '0x534C4239')
      .replace('0x2054504D', '0x36373000');
    assert.deepEqual(parseTpmInfo(infineon), { manufacturer: 'IFX', vendor: 'SLB9670', software: false });
    throwsCode(() => parseTpmInfo('garbage'), 'EUNAVAIL');
  });

  test('active PCR banks are read from tpm2_getcap pcrs', () => {
    const banks = parseActivePcrs(
      'selected-pcrs:\n  - sha1: [ ]\n  - sha256: [ 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23 ]\n',
    );
    assert.equal(banks.get('sha1')?.size, 0);
    assert.equal(banks.get('sha256')?.size, 24);
    assert.equal(banks.has('sha384'), false);
  });

  test('PCR-bound objects cannot be authorised by password (no userWithAuth)', () => {
    assert.equal(sealedAttributes(true).includes('userwithauth'), false);
    assert.ok(sealedAttributes(true).includes('adminwithpolicy'));
    assert.ok(sealedAttributes(false).includes('userwithauth'));
  });
});
