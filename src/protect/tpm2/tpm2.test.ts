// The TPM 2.0 protector against a real software TPM (swtpm started by this file): the shared protector
// conformance suite with and without PCR binding, then the TPM-specific promises of SPEC "TPM 2.0
// protector": boot-state changes and TPM clears are EUNAVAIL with their own messages, a reboot keeps
// slots openable, no transient object or session survives an operation, the KEK is never in the state,
// a PCR-bound object cannot be unsealed by password, and tool/TCTI problems say what to do.
import assert from 'node:assert/strict';
import { createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { exerciseProtector } from '../../testing/protector-conformance.js';
import { type Swtpm, startSwtpm } from '../../testing/swtpm.js';
import type { DeviceKeystore, ProtectorState } from '../types.js';
import type { Tpm2Config } from './config.js';
import { tpm2Driver } from './driver.js';
import { PRIMARY_ARGS } from './seal.js';

const SOFTWARE_TPM_CAPABILITIES = {
  hardwareBacked: false,
  nonExportable: false,
  persistent: true,
  userPresence: false,
};
const PCR_MESSAGE = /PCR policy no longer satisfied: boot state changed/;
const CLEARED_MESSAGE = /TPM was cleared or is a different TPM/;
const aad = new TextEncoder().encode('coffer:keyslot:v1|slot=tpm2-test');
const ctx = { slotId: 'tpm2-test' };

let tpm: Swtpm;

before(async () => {
  tpm = await startSwtpm();
});

after(async () => {
  await tpm?.stop();
});

async function expectCode(promise: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.equal((error as { code?: string }).code, code, String(error));
    if (message) assert.match((error as Error).message, message);
    return true;
  });
}

async function assertNoHandles(on: Swtpm, when: string): Promise<void> {
  assert.deepEqual(await on.handles(), { transient: [], loadedSessions: [], savedSessions: [] }, when);
}

/** A loopback port nobody listens on (bound, read, released). */
async function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 1));
    });
  });
}

async function withStartedTpm(run: (own: Swtpm) => Promise<void>): Promise<void> {
  const own = await startSwtpm();
  try {
    await run(own);
  } finally {
    await own.stop();
  }
}

async function roundTrip(device: DeviceKeystore, reopened: DeviceKeystore): Promise<void> {
  const plain = randomBytes(32);
  assert.deepEqual(Buffer.from(await reopened.decrypt(await device.encrypt(plain, aad), aad)), plain);
}

exerciseProtector<Tpm2Config>('tpm2 (swtpm, no PCR binding)', () => ({
  driver: tpm2Driver,
  config: { type: 'tpm2', tcti: tpm.tcti },
  expectedCapabilities: SOFTWARE_TPM_CAPABILITIES,
}));

exerciseProtector<Tpm2Config>('tpm2 (swtpm, PCR binding sha256:0,7)', () => ({
  driver: tpm2Driver,
  config: { type: 'tpm2', tcti: tpm.tcti, pcrs: 'sha256:0,7' },
  expectedCapabilities: SOFTWARE_TPM_CAPABILITIES,
}));

test('tpm2: a selected PCR extended after create → EUNAVAIL (PCR message); the slot opens again once it is restored', async () => {
  // PCR 16 is the debug PCR: resettable at locality 0, so the test can put the "boot state" back.
  const config: Tpm2Config = { type: 'tpm2', tcti: tpm.tcti, pcrs: [16, 7] };
  const { device, state } = await tpm2Driver.create(config, ctx);
  try {
    assert.equal(state.pcrs, 'sha256:7,16', 'number arrays are stored in the canonical sha256 form');
    const cipher = await device.encrypt(randomBytes(32), aad);
    await tpm.extendPcr(23, 'an unrelated measurement');
    const unaffected = await tpm2Driver.open(config, state, ctx);
    await roundTrip(device, unaffected);
    await unaffected.close?.();

    await tpm.extendPcr(16, 'a different bootloader');
    await expectCode(tpm2Driver.open(config, state, ctx), 'EUNAVAIL', PCR_MESSAGE);
    await assertNoHandles(tpm, 'after the refused unseal');

    await tpm.tool('tpm2_pcrreset', ['16']);
    const restored = await tpm2Driver.open(config, state, ctx);
    assert.equal((await restored.decrypt(cipher, aad)).length, 32);
    await restored.close?.();
  } finally {
    await device.close?.();
    await tpm.tool('tpm2_pcrreset', ['16', '23']);
  }
});

test('tpm2: TPM2_Clear and a wiped (different) TPM → EUNAVAIL (cleared message), PCR-bound slots included', async () => {
  await withStartedTpm(async (own) => {
    const plainConfig: Tpm2Config = { type: 'tpm2', tcti: own.tcti };
    const boundConfig: Tpm2Config = { type: 'tpm2', tcti: own.tcti, pcrs: 'sha256:0,7' };
    const a = await tpm2Driver.create(plainConfig, ctx);
    const b = await tpm2Driver.create(boundConfig, ctx);
    await a.device.close?.();
    await b.device.close?.();
    await own.clear();
    await expectCode(tpm2Driver.open(plainConfig, a.state, ctx), 'EUNAVAIL', CLEARED_MESSAGE);
    // The load fails before any policy check: a cleared TPM is never reported as a PCR change.
    await expectCode(tpm2Driver.open(boundConfig, b.state, ctx), 'EUNAVAIL', CLEARED_MESSAGE);
    await assertNoHandles(own, 'after the refused loads');

    const c = await tpm2Driver.create(plainConfig, ctx);
    await c.device.close?.();
    const reopened = await tpm2Driver.open(plainConfig, c.state, ctx);
    await reopened.close?.();
    await own.wipe();
    await expectCode(tpm2Driver.open(plainConfig, c.state, ctx), 'EUNAVAIL', CLEARED_MESSAGE);
    await assertNoHandles(own, 'after the refused load on the new TPM');
  });
});

test('tpm2: a TPM restart (reboot) keeps every slot openable, PCR-bound ones once PCRs are back to boot values', async () => {
  await withStartedTpm(async (own) => {
    const plainConfig: Tpm2Config = { type: 'tpm2', tcti: own.tcti };
    const boundConfig: Tpm2Config = { type: 'tpm2', tcti: own.tcti, pcrs: 'sha256:0,7' };
    const a = await tpm2Driver.create(plainConfig, ctx);
    const b = await tpm2Driver.create(boundConfig, ctx);
    const cipherA = await a.device.encrypt(randomBytes(32), aad);
    const cipherB = await b.device.encrypt(randomBytes(32), aad);
    await a.device.close?.();
    await b.device.close?.();
    await own.extendPcr(7, 'measured after create');
    await expectCode(tpm2Driver.open(boundConfig, b.state, ctx), 'EUNAVAIL', PCR_MESSAGE);
    await own.restart();
    for (const [config, state, cipher] of [
      [plainConfig, a.state, cipherA],
      [boundConfig, b.state, cipherB],
    ] as const) {
      const device = await tpm2Driver.open(config, state, ctx);
      assert.equal((await device.decrypt(cipher, aad)).length, 32);
      await device.close?.();
    }
  });
});

test('tpm2: no transient object or session is left after create, open or a failed open', async () => {
  await assertNoHandles(tpm, 'before');
  for (const pcrs of [undefined, 'sha256:0,7']) {
    const config: Tpm2Config = { type: 'tpm2', tcti: tpm.tcti, ...(pcrs ? { pcrs } : {}) };
    const { device, state } = await tpm2Driver.create(config, ctx);
    await assertNoHandles(tpm, `after create (${pcrs ?? 'no PCRs'})`);
    const reopened = await tpm2Driver.open(config, state, ctx);
    await assertNoHandles(tpm, `after open (${pcrs ?? 'no PCRs'})`);
    await roundTrip(device, reopened);
    await assertNoHandles(tpm, 'after encrypt/decrypt (in process)');
    const priv = Buffer.from(state.sealedPrivate as string, 'base64');
    priv[priv.length - 1] = (priv[priv.length - 1] ?? 0) ^ 1;
    await expectCode(
      tpm2Driver.open(config, { ...state, sealedPrivate: priv.toString('base64') }, ctx),
      'EUNAVAIL',
      CLEARED_MESSAGE,
    );
    await assertNoHandles(tpm, 'after a failed load');
    await device.close?.();
    await reopened.close?.();
  }
});

/** Unseals a slot's KEK with tpm2-tools directly, as an attacker holding the state and the TPM would. */
async function unsealByHand(on: Swtpm, state: ProtectorState, auth: string[]): Promise<Buffer> {
  const dir = await mkdtemp(join(tmpdir(), 'coffer-tpm2-test-'));
  try {
    await writeFile(join(dir, 'p.pub'), Buffer.from(state.sealedPublic as string, 'base64'));
    await writeFile(join(dir, 'p.priv'), Buffer.from(state.sealedPrivate as string, 'base64'));
    await on.tool('tpm2_createprimary', ['-Q', ...PRIMARY_ARGS, '-c', join(dir, 'primary.ctx')]);
    await on.tool('tpm2_flushcontext', ['-t']);
    const load = ['-Q', '-C', join(dir, 'primary.ctx'), '-u', join(dir, 'p.pub'), '-r', join(dir, 'p.priv')];
    await on.tool('tpm2_load', [...load, '-c', join(dir, 'p.ctx')]);
    await on.tool('tpm2_flushcontext', ['-t']);
    return await on.tool('tpm2_unseal', ['-c', join(dir, 'p.ctx'), ...auth]);
  } finally {
    await on.tool('tpm2_flushcontext', ['-t']);
    await rm(dir, { recursive: true, force: true });
  }
}

test('tpm2: the KEK never appears in the state; tpm2-tools unseal it and it decrypts nonce ‖ ct ‖ tag (SPEC layout)', async () => {
  for (const pcrs of [undefined, 'sha256:0,7']) {
    const config: Tpm2Config = { type: 'tpm2', tcti: tpm.tcti, ...(pcrs ? { pcrs } : {}) };
    const { device, state } = await tpm2Driver.create(config, ctx);
    try {
      const kek = await unsealByHand(tpm, state, pcrs ? ['-p', `pcr:${pcrs}`] : []);
      assert.equal(kek.length, 32);
      const json = JSON.stringify(state);
      for (const encoding of ['hex', 'base64', 'base64url', 'latin1'] as const) {
        assert.equal(json.includes(kek.toString(encoding)), false, `KEK (${encoding}) in state`);
      }
      assert.equal(json.toLowerCase().includes(kek.toString('hex')), false);
      assert.equal(Buffer.from(json).includes(kek), false);

      const plain = randomBytes(40);
      const cipher = Buffer.from(await device.encrypt(plain, aad));
      assert.equal(cipher.length, 12 + plain.length + 16);
      const decipher = createDecipheriv('aes-256-gcm', kek, cipher.subarray(0, 12));
      decipher.setAAD(aad);
      decipher.setAuthTag(cipher.subarray(cipher.length - 16));
      const out = Buffer.concat([decipher.update(cipher.subarray(12, cipher.length - 16)), decipher.final()]);
      assert.deepEqual(out, plain);
      kek.fill(0);

      if (pcrs) {
        // With userWithAuth clear, the empty password cannot stand in for the PCR policy.
        await assert.rejects(unsealByHand(tpm, state, []), /0x12F|authValue or authPolicy is not available/i);
      }
      await assertNoHandles(tpm, 'after the manual unseals');
    } finally {
      await device.close?.();
    }
  }
});

/** TPMT_PUBLIC head (Part 2 §12.2.4) after the TPM2B size: type, nameAlg, objectAttributes, authPolicy. */
function publicHead(b64: string): { type: number; nameAlg: number; attributes: number; authPolicy: string } {
  const bytes = Buffer.from(b64, 'base64');
  const policyLength = bytes.readUInt16BE(10);
  return {
    type: bytes.readUInt16BE(2),
    nameAlg: bytes.readUInt16BE(4),
    attributes: bytes.readUInt32BE(6),
    authPolicy: bytes.subarray(12, 12 + policyLength).toString('hex'),
  };
}

test('tpm2: sealed objects have the SPEC attributes, and policyDigest = PolicyPCR over the PCR values', async () => {
  await tpm.extendPcr(16, 'a measured component');
  try {
    const plain = await tpm2Driver.create({ type: 'tpm2', tcti: tpm.tcti }, ctx);
    await plain.device.close?.();
    assert.deepEqual(publicHead(plain.state.sealedPublic as string), {
      type: 0x0008, // TPM_ALG_KEYEDHASH
      nameAlg: 0x000b, // TPM_ALG_SHA256
      attributes: 0x452, // fixedTPM | fixedParent | userWithAuth | noDA
      authPolicy: '',
    });

    const bound = await tpm2Driver.create({ type: 'tpm2', tcti: tpm.tcti, pcrs: 'sha256:0,16' }, ctx);
    await bound.device.close?.();
    const dir = await mkdtemp(join(tmpdir(), 'coffer-tpm2-test-'));
    let values: Buffer;
    try {
      await tpm.tool('tpm2_pcrread', ['-Q', '-o', join(dir, 'pcrs'), 'sha256:0,16']);
      values = await readFile(join(dir, 'pcrs'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    // Part 3 §23.7: H(old ‖ TPM_CC_PolicyPCR ‖ TPML_PCR_SELECTION ‖ H(PCR values in selection order)).
    const selection = Buffer.from([0, 0, 0, 1, 0x00, 0x0b, 3, 0b0000_0001, 0, 0b0000_0001]); // PCR 0 and 16
    const expected = createHash('sha256')
      .update(Buffer.alloc(32))
      .update(Buffer.from([0x00, 0x00, 0x01, 0x7f]))
      .update(selection)
      .update(createHash('sha256').update(values).digest())
      .digest('hex');
    assert.equal(bound.state.policyDigest, expected);
    assert.deepEqual(publicHead(bound.state.sealedPublic as string), {
      type: 0x0008,
      nameAlg: 0x000b,
      attributes: 0x492, // fixedTPM | fixedParent | adminWithPolicy | noDA — no userWithAuth
      authPolicy: expected,
    });
  } finally {
    await tpm.tool('tpm2_pcrreset', ['16']);
  }
});

test('tpm2: tpm2-tools missing → EUNAVAIL saying to install them', async () => {
  const path = process.env.PATH;
  process.env.PATH = join(tmpdir(), 'coffer-no-such-dir');
  try {
    await expectCode(
      tpm2Driver.create({ type: 'tpm2', tcti: tpm.tcti }, ctx),
      'EUNAVAIL',
      /tpm2-tools not found .*install tpm2-tools/,
    );
  } finally {
    process.env.PATH = path;
  }
});

test('tpm2: an unreachable TCTI → EUNAVAIL saying what to start or check', async () => {
  const port = await closedPort();
  await expectCode(
    tpm2Driver.create({ type: 'tpm2', tcti: `swtpm:host=127.0.0.1,port=${port}` }, ctx),
    'EUNAVAIL',
    /cannot reach the TPM through TCTI "swtpm:host=127\.0\.0\.1,port=\d+": start the TPM simulator/,
  );
  await expectCode(
    tpm2Driver.create({ type: 'tpm2', tcti: 'device:/nonexistent/tpmrm0' }, ctx),
    'EUNAVAIL',
    /cannot reach the TPM through TCTI "device:\/nonexistent\/tpmrm0": check that the TPM device exists/,
  );
});

test('tpm2: bad config, context or state → EINVAL before any TPM work', async () => {
  // The TCTI points nowhere: reaching the TPM would surface as EUNAVAIL, so EINVAL proves nothing ran.
  const tcti = `swtpm:host=127.0.0.1,port=${await closedPort()}`;
  const badConfigs: unknown[] = [
    { type: 'tpm2', tcti, pcrs: 'sha256:24' },
    { type: 'tpm2', tcti, pcrs: 'md5:1' },
    { type: 'tpm2', tcti, pcrs: [] },
    { type: 'tpm2', tcti, pcrs: [0.5] },
    { type: 'tpm2', tcti, pcr: [0] },
    { type: 'tpm2', tcti: '--help' },
    { type: 'tpm', tcti },
  ];
  for (const config of badConfigs) {
    await expectCode(tpm2Driver.create(config as Tpm2Config, ctx), 'EINVAL');
  }
  await expectCode(tpm2Driver.create({ type: 'tpm2', tcti }, {} as typeof ctx), 'EINVAL');

  const { device, state } = await tpm2Driver.create({ type: 'tpm2', tcti: tpm.tcti, pcrs: [0, 7] }, ctx);
  await device.close?.();
  const bound: Tpm2Config = { type: 'tpm2', tcti, pcrs: 'sha256:0,7' };
  await expectCode(tpm2Driver.open(bound, { ...state, version: 2 }, ctx), 'EINVAL');
  await expectCode(tpm2Driver.open(bound, { ...state, sealedPublic: 'not base64!' }, ctx), 'EINVAL');
  await expectCode(tpm2Driver.open(bound, { ...state, extra: 1 }, ctx), 'EINVAL');
  // The config must name the selection the object is sealed to (its policy cannot change).
  await expectCode(tpm2Driver.open({ ...bound, pcrs: [0] }, state, ctx), 'EINVAL', /differ from the slot/);
  await expectCode(tpm2Driver.open({ type: 'tpm2', tcti }, state, ctx), 'EINVAL', /bound to PCRs sha256:0,7/);

  // A state stripped of its PCR binding reaches the TPM, which still demands the policy.
  const stripped = { ...state, pcrs: null, policyDigest: null };
  await expectCode(
    tpm2Driver.open({ type: 'tpm2', tcti: tpm.tcti }, stripped, ctx),
    'EUNAVAIL',
    /slot state was altered/,
  );
  await assertNoHandles(tpm, 'after the refused unseal');
});

test('tpm2: concurrent creates and opens on one TCTI are serialised and all succeed', async () => {
  const config: Tpm2Config = { type: 'tpm2', tcti: tpm.tcti, pcrs: 'sha256:0,7' };
  const created = await Promise.all([1, 2, 3, 4].map((n) => tpm2Driver.create(config, { slotId: `c${n}` })));
  const opened = await Promise.all(created.map(({ state }) => tpm2Driver.open(config, state, ctx)));
  for (const [i, { device }] of created.entries()) {
    const other = opened[i];
    assert.ok(other);
    await roundTrip(device, other);
    await device.close?.();
    await other.close?.();
  }
  await assertNoHandles(tpm, 'after concurrent work');
});

test('tpm2: a closed device refuses to work (the KEK is wiped); close is idempotent', async () => {
  const { device } = await tpm2Driver.create({ type: 'tpm2', tcti: tpm.tcti }, ctx);
  const cipher = await device.encrypt(randomBytes(32), aad);
  await device.close?.();
  await device.close?.();
  await expectCode(device.decrypt(cipher, aad), 'EUNAVAIL', /closed/);
  await expectCode(device.encrypt(randomBytes(32), aad), 'EUNAVAIL', /closed/);
});
