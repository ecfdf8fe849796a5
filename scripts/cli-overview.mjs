// Build step after tsc: renders `coffer --help`'s overview into dist/cli/overview.txt so a bare
// `--help` does not compile the whole command table (src/cli/overview-cache.ts says when it is used).
import * as fs from 'node:fs';
import { writeOverviewCache } from '../dist/cli/overview-cache.js';

await writeOverviewCache(fs);
