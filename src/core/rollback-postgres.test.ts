// Rollback attacks on postgres:// (SPEC §4.1, §4.2, §4.5, §8, §15) against a real PostgreSQL cluster
// started for this file; see src/testing/rollback-attacks.ts.
import { after, before } from 'node:test';
import { type PostgresCluster, startPostgres } from '../testing/postgres.js';
import { exerciseRollbackAttacks } from '../testing/rollback-attacks.js';

let cluster: PostgresCluster;
before(async () => {
  cluster = await startPostgres();
});
after(async () => {
  await cluster?.stop();
});

let databases = 0;
exerciseRollbackAttacks('postgres', () => cluster.createDatabase(`rollback_${++databases}`));
