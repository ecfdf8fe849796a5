// Keychain reliability on postgres:// against a real PostgreSQL started for this file (reliability.ts).

import { exerciseKeychainReliability } from '../testing/keychain-reliability.js';
import { postgresForThisFile } from '../testing/postgres.js';

exerciseKeychainReliability('postgres', postgresForThisFile('keychain'));
