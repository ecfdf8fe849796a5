// Keystore reliability on postgres:// (SPEC §9) against a real PostgreSQL cluster started for this
// file: kill -9 amid keystore work, four processes rotating one key, four processes opening at once
// (src/testing/workers/keystore-reliability.ts).
import { after, before } from 'node:test';
import { type PostgresCluster, startPostgres } from '../testing/postgres.js';
import { exerciseKeystoreReliability } from '../testing/workers/keystore-reliability.js';

let cluster: PostgresCluster;
before(async () => {
  cluster = await startPostgres();
});
after(async () => {
  await cluster?.stop();
});

let databases = 0;
exerciseKeystoreReliability('postgres', () => cluster.createDatabase(`keystore_${++databases}`));
