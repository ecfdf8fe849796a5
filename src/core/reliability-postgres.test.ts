// Keystore reliability on postgres:// (SPEC §9) against a real PostgreSQL cluster started for this
// file: kill -9 amid keystore work, four processes rotating one key, four processes opening at once
// (src/testing/workers/keystore-reliability.ts).
import { postgresForThisFile } from '../testing/postgres.js';
import { exerciseKeystoreReliability } from '../testing/workers/keystore-reliability.js';

exerciseKeystoreReliability('postgres', postgresForThisFile('keystore'));
