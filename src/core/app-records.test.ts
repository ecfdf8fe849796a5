// Sealed extension records: round trip, CAS, names validated, and tampering or moving → EBADMSG.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openStorage } from '../storage/open.js';
import { tempKeystore } from '../testing/keystore.js';

test('ext records: write, read, list, CAS, delete; audit events go in the same batch', async () => {
  const { ks, url, cleanup } = await tempKeystore();
  await ks.writeRecords(
    'daemon',
    [{ name: 'tokens/t1', value: { scope: ['sign'] }, expectRevision: 0 }],
    [{ event: 'token.create' }],
  );
  const got = await ks.getRecord<{ scope: string[] }>('daemon', 'tokens/t1');
  assert.deepEqual(got?.value, { scope: ['sign'] });
  await assert.rejects(ks.writeRecords('daemon', [{ name: 'tokens/t1', value: {}, expectRevision: 0 }]), {
    code: 'ECONFLICT',
  });
  await ks.writeRecords('daemon', [{ name: 'tokens/t2', value: 2 }]);
  assert.deepEqual(
    (await ks.listRecords('daemon', 'tokens/')).map((r) => r.name),
    ['tokens/t1', 'tokens/t2'],
  );
  assert.equal((await ks.auditTail(1))[0]!.event, 'token.create');
  await assert.rejects(ks.getRecord('bad ns', 'x'), { code: 'EINVAL' });
  await assert.rejects(ks.getRecord('daemon', '../x'), { code: 'EINVAL' });
  const storage = await openStorage(url);
  const t1 = (await storage.get('ext/daemon/tokens/t1'))!;
  await storage.write([{ op: 'put', key: 'ext/daemon/tokens/t2', value: t1.value }]);
  await assert.rejects(ks.getRecord('daemon', 'tokens/t2'), { code: 'EBADMSG' });
  await storage.close();
  await ks.writeRecords('daemon', [{ name: 'tokens/t2', value: undefined }]);
  assert.equal(await ks.getRecord('daemon', 'tokens/t2'), undefined);
  assert.equal((await ks.verifyAudit()).ok, true);
  await cleanup();
});
