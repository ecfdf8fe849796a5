// Keychain reliability on postgres:// against a real PostgreSQL started for this file (reliability.ts).
import { after, before } from 'node:test';
import { type PostgresCluster, startPostgres } from '../testing/postgres.js';
import { exerciseKeychainReliability } from './reliability.js';

let cluster: PostgresCluster;
before(async () => {
  cluster = await startPostgres();
});
after(async () => {
  await cluster?.stop();
});
let databases = 0;
exerciseKeychainReliability('postgres', () => cluster.createDatabase(`keychain_${++databases}`));
