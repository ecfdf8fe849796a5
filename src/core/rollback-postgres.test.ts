// Rollback attacks on postgres:// (SPEC §4.1, §4.2, §4.5, §8, §15) against a real PostgreSQL cluster
// started for this file; see src/testing/rollback-attacks.ts.
import { postgresForThisFile } from '../testing/postgres.js';
import { exerciseRollbackAttacks } from '../testing/rollback-attacks.js';

exerciseRollbackAttacks('postgres', postgresForThisFile('rollback'));
