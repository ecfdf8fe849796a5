// SPEC §17.10 as a property against the real sync server in a child process that is killed with
// SIGKILL while a device is syncing and restarted on the same store and port: 3 devices with real
// keystores make random adds, updates, deletes and undeletes, sync in random order, restart, and
// the server dies mid-sync. After the server comes back and everyone syncs, every device holds the
// same records, nothing is queued, and every write a device acknowledged is current or in its
// history: nothing is lost to a server crash.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { CofferError } from '../../errors.js';
import { currentKey } from '../../keychain/keychain.js';
import type { Item } from '../../keychain/types.js';
import { siblingScript } from '../../testing/crash.js';
import {
  type DeviceSet,
  makeDevices,
  quietly,
  syncAll,
  type TestDevice,
} from '../../testing/sync-devices.js';
import { dumpSyncStore } from '../../testing/sync-server-dump.js';
import { freePort } from '../../testing/testscript.js';
import { HttpSyncTransport } from '../http-transport.js';

const worker = siblingScript(import.meta.url, '../../testing/workers/sync-server.js');

type Command =
  | { op: 'add'; dev: number }
  | { op: 'update' | 'delete' | 'undelete'; dev: number; item: number }
  | { op: 'sync' | 'restart' | 'crash'; dev: number };

const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ op: fc.constant('add' as const), dev: fc.nat(2) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constantFrom('update' as const, 'update' as const, 'delete' as const, 'undelete' as const),
      dev: fc.nat(2),
      item: fc.nat(5),
    }),
  },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('sync' as const), dev: fc.nat(2) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('restart' as const), dev: fc.nat(2) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('crash' as const), dev: fc.nat(2) }) },
);

/** The server child: started on the store and port, killed with SIGKILL, started again. */
class ServerProcess {
  #child: ChildProcess | undefined;
  constructor(
    readonly store: string,
    readonly port: number,
  ) {}

  async start(): Promise<void> {
    const child = spawn(process.execPath, [worker], {
      env: { ...process.env, COFFER_TEST_STORE: this.store, COFFER_TEST_PORT: String(this.port) },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    this.#child = child;
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('ready')) resolve();
      });
      child.once('exit', (code, signal) => reject(new Error(`the server child exited (${code ?? signal})`)));
    });
  }

  kill(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    return gone;
  }
}

const isServerDown = (error: unknown) =>
  error instanceof CofferError && ['EUNAVAIL', 'EINTERNAL'].includes(error.code);

describe('sync convergence with the server killed mid-sync (property)', () => {
  let dir: string;
  let server: ServerProcess;
  let set: DeviceSet;
  const url = () => `http://127.0.0.1:${server.port}`;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'coffer-converge-'));
    server = new ServerProcess(`sqlite:${join(dir, 'sync.db')}`, await freePort());
    await server.start();
    set = await makeDevices(
      {
        transport: (signer) => new HttpSyncTransport({ url: url(), signer }),
        dump: async () => [new Uint8Array(await dumpSyncStore(server.store))],
        close: async () => {},
      },
      3,
    );
  });
  after(async () => {
    await set?.close();
    await server?.kill();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('devices end identical and no acknowledged write is lost', async () => {
    let counter = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(command, { minLength: 6, maxLength: 16 }),
        fc.nat(40),
        async (commands, delay) => {
          const devices = set.devices as TestDevice[];
          const ids: string[] = [];
          const acked: { dev: number; id: string; value: string }[] = [];
          for (const c of commands) {
            const d = devices[c.dev]!;
            const id = ids.length > 0 && 'item' in c ? ids[c.item % ids.length]! : undefined;
            const tag = `v${++counter}`;
            if (c.op === 'add') {
              const info = await d.ks.keychain.add({ kind: 'note', attributes: {}, secret: tag });
              ids.push(info.id);
              acked.push({ dev: c.dev, id: info.id, value: tag });
            } else if (c.op === 'update' && id) {
              if (await quietly(() => d.ks.keychain.update(id, { secret: tag })))
                acked.push({ dev: c.dev, id, value: tag });
            } else if (c.op === 'delete' && id) await quietly(() => d.ks.keychain.delete(id));
            else if (c.op === 'undelete' && id) await quietly(() => d.ks.keychain.undelete(id));
            else if (c.op === 'sync') await d.engine.now();
            else if (c.op === 'restart') await d.restart();
            else if (c.op === 'crash') {
              // SIGKILL while this device is in the middle of a sync, then the server comes back.
              const syncing = d.engine.now().catch((error: unknown) => {
                if (!isServerDown(error)) throw error;
              });
              await new Promise((resolve) => setTimeout(resolve, delay));
              await server.kill();
              await syncing;
              await server.start();
            }
          }
          await syncAll(devices, 8);

          const [first, ...others] = devices;
          for (const id of ids) {
            const reference = await first!.ks.keychain.syncAccess().get(currentKey(id));
            for (const d of others) {
              const stored = await d.ks.keychain.syncAccess().get(currentKey(id));
              assert.equal(
                Buffer.from(stored!.value).toString('hex'),
                Buffer.from(reference!.value).toString('hex'),
                `${d.name} and ${first!.name} hold the same record of ${id}`,
              );
            }
          }
          for (const d of devices)
            assert.equal((await d.engine.status()).queued, 0, `${d.name} has nothing queued`);
          for (const w of acked) {
            const kc = devices[w.dev]!.ks.keychain;
            const current = await quietly(() => kc.get(w.id));
            const versions: Item[] = [...(current ? [current] : []), ...(await kc.history(w.id))];
            assert.ok(
              versions.some((v) => Buffer.from(v.secret).toString() === w.value),
              `write ${w.value} of device ${w.dev} on ${w.id} is current or in its history`,
            );
          }
        },
      ),
      { numRuns: Number(process.env.SYNC_CRASH_PROPERTY_RUNS ?? 4), endOnFailure: true },
    );
  });
});
