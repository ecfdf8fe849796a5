// Bad input to the sync server's request parsers (SPEC §17.8), fuzzed with fast-check: JSON bodies,
// wire records, range requests and change queries give a clear CofferError code and never reach the
// store; and over HTTP, junk of any shape leaves what is stored unchanged.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { CofferError } from '../../errors.js';
import { circleOf, makeTestDevice, testRecord } from '../../testing/sync-transport-suite.js';
import { HttpSyncTransport } from '../http-transport.js';
import { Manifest } from '../manifest.js';
import { answerRanges } from '../reconcile.js';
import { checkCircle } from './auth.js';
import { parseChangesQuery, parsePuts, parseRanges, parseUuids } from './parse.js';
import { SyncServer } from './server.js';

const CODES = new Set(['EINVAL', 'EBADMSG', 'E2BIG']);

function refusedClearly(fn: () => unknown): void {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof CofferError, `not a CofferError: ${String(error)}`);
    assert.ok(CODES.has(error.code), `code ${error.code}`);
    return;
  }
}

/** A valid record with one field replaced by an arbitrary JSON value. */
const mutatedRecord = fc
  .tuple(
    fc.constantFrom(
      'uuid',
      'parentKeyId',
      'gencount',
      'clock',
      'deviceId',
      'wrappedKey',
      'encItem',
      'tomb',
      'extra',
    ),
    fc.jsonValue(),
  )
  .map(([field, value]) => ({ ...testRecord({ gencount: 2 }), [field]: value }));

describe('request parsers', () => {
  test('parsePuts: arbitrary JSON and mutated records are refused with EINVAL/EBADMSG/E2BIG or parse', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (body) => refusedClearly(() => parsePuts(body))),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(mutatedRecord, fc.jsonValue(), (record, ifGencount) => {
        refusedClearly(() => parsePuts({ puts: [{ record, ifGencount }] }));
        refusedClearly(() => parsePuts({ puts: [{ record, ifGencount: 1 }] }));
      }),
      { numRuns: 300 },
    );
  });

  test('a record that is not a record is EBADMSG; a gencount not above ifGencount is EINVAL', () => {
    assert.throws(() => parsePuts({ puts: [{ record: { uuid: 'x' }, ifGencount: 0 }] }), { code: 'EBADMSG' });
    const r = testRecord({ gencount: 2 });
    assert.throws(() => parsePuts({ puts: [{ record: r, ifGencount: 2 }] }), { code: 'EINVAL' });
    assert.throws(
      () =>
        parsePuts({
          puts: [
            { record: r, ifGencount: 0 },
            { record: r, ifGencount: 0 },
          ],
        }),
      {
        code: 'EINVAL',
      },
    );
    assert.throws(() => parsePuts({ puts: Array.from({ length: 501 }, () => ({})) }), { code: 'E2BIG' });
  });

  test('ranges, uuids, change queries and circles: arbitrary input is refused clearly', () => {
    const manifest = new Manifest([]);
    fc.assert(
      fc.property(fc.jsonValue(), (body) => {
        refusedClearly(() => answerRanges(manifest, parseRanges(body)));
        refusedClearly(() => parseUuids(body));
        refusedClearly(() => checkCircle(body));
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.array(fc.record({ prefix: fc.string(), fingerprint: fc.string() })), (requests) =>
        refusedClearly(() => answerRanges(manifest, parseRanges({ requests }))),
      ),
      { numRuns: 200 },
    );
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom('since', 'limit', 'x'), fc.string()), (query) =>
        refusedClearly(() => parseChangesQuery(new URLSearchParams(query))),
      ),
      { numRuns: 200 },
    );
  });
});

describe('junk over HTTP changes nothing stored', () => {
  let dir: string;
  let server: SyncServer;
  let t: HttpSyncTransport;
  let token: string;
  const kept = testRecord({ gencount: 1 });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'coffer-sync-fuzz-'));
    server = await SyncServer.start({
      store: `sqlite:${join(dir, 'f.db')}`,
      limits: { perDevice: { rate: 0, burst: 0 }, perAccount: { rate: 0, burst: 0 } },
    });
    const device = makeTestDevice('acct-fuzz');
    t = new HttpSyncTransport({ url: server.url, signer: device.signer });
    await t.createAccount('acct-fuzz', circleOf(1, [device]));
    await t.putRecords([{ record: kept, ifGencount: 0 }]);
    // Any valid session token of this device (the transport keeps its own private).
    const { authMessage } = await import('./auth.js');
    const { b64 } = await import('../../core/encoding.js');
    const c = (await (
      await fetch(new URL('/v1/auth/challenge', server.url), {
        method: 'POST',
        body: JSON.stringify({ accountId: 'acct-fuzz', deviceId: device.signer.deviceId }),
      })
    ).json()) as { nonce: string; expiresAt: number; serverId: string };
    const sig = await device.signer.sign(
      authMessage({ accountId: 'acct-fuzz', deviceId: device.signer.deviceId, ...c }),
    );
    const s = (await (
      await fetch(new URL('/v1/auth/session', server.url), {
        method: 'POST',
        body: JSON.stringify({
          accountId: 'acct-fuzz',
          deviceId: device.signer.deviceId,
          nonce: c.nonce,
          ed25519: b64.encode(sig.ed25519),
          mldsa65: b64.encode(sig.mldsa65),
        }),
      })
    ).json()) as { token: string };
    token = s.token;
  });
  after(async () => {
    await t.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('bodies of any shape on every write route: a 4xx with a CofferError code, the store unchanged', async () => {
    const before = await t.changes(0);
    const routes: [string, string][] = [
      ['POST', '/v1/records/put'],
      ['PUT', '/v1/circle'],
      ['POST', '/v1/ranges'],
      ['PUT', '/v1/device-manifest'],
      ['POST', '/v1/records/get'],
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...routes),
        fc.oneof(
          fc.jsonValue().map((v) => JSON.stringify(v)),
          fc.string(),
          mutatedRecord.map((record) => JSON.stringify({ puts: [{ record, ifGencount: 1 }] })),
        ),
        async ([method, path], body) => {
          const res = await fetch(new URL(path, server.url), {
            method,
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            body,
          });
          const answer = (await res.json()) as { error?: { code?: string } };
          if (res.status >= 400) {
            assert.ok(res.status < 500, `status ${res.status}: ${JSON.stringify(answer)}`);
            assert.ok(answer.error?.code && CODES.has(answer.error.code), JSON.stringify(answer));
          }
        },
      ),
      { numRuns: 150 },
    );
    const after = await t.changes(0);
    assert.deepEqual(after.records, before.records);
    assert.equal(after.digest, before.digest);
    assert.deepEqual(await t.getRecords([kept.uuid]), [kept]);
    assert.equal((await t.getCircle()).version, 1);
  });
});
