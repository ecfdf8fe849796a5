// Keychain reliability on postgres:// against a real PostgreSQL started for this file (reliability.ts).
import { postgresForThisFile } from '../testing/postgres.js';
import { exerciseKeychainReliability } from './reliability.js';

exerciseKeychainReliability('postgres', postgresForThisFile('keychain'));
