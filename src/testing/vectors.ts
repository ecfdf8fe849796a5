// Locates and loads the third-party vector files copied into `vectors/` (DEVELOPERS: tests never read
// ../shared). A loader that finds zero cases throws, so a silently empty file can never pass.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findVectorsDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'vectors');
    if (existsSync(join(candidate, 'README.md'))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  const fromCwd = join(process.cwd(), 'vectors');
  if (existsSync(join(fromCwd, 'README.md'))) return fromCwd;
  throw new Error('vectors/ not found above the test file or in the working directory');
}

export const VECTORS_DIR = findVectorsDir();

export function vectorPath(relative: string): string {
  return join(VECTORS_DIR, relative);
}

export function loadJson<T = unknown>(relative: string): T {
  return JSON.parse(readFileSync(vectorPath(relative), 'utf8')) as T;
}

export interface WycheproofGroup<T> {
  type?: string;
  tests: T[];
  [field: string]: unknown;
}

export interface WycheproofFile<T> {
  algorithm: string;
  numberOfTests?: number;
  testGroups: WycheproofGroup<T>[];
}

export interface WycheproofCase {
  tcId: number;
  comment: string;
  result: 'valid' | 'invalid' | 'acceptable';
  flags?: string[];
  [field: string]: unknown;
}

/**
 * Runs `check` on every case of a Wycheproof file and returns how many ran. Throws if the file
 * yields no case, or if the count differs from the file's own numberOfTests when it states one.
 */
export function forEachWycheproofCase<T extends WycheproofCase>(
  relative: string,
  check: (testCase: T, group: WycheproofGroup<T>) => void,
  filter: (group: WycheproofGroup<T>) => boolean = () => true,
): number {
  const file = loadJson<WycheproofFile<T>>(relative);
  let count = 0;
  let total = 0;
  for (const group of file.testGroups) {
    total += group.tests.length;
    if (!filter(group)) continue;
    for (const testCase of group.tests) {
      check(testCase, group);
      count++;
    }
  }
  if (count === 0) throw new Error(`${relative}: 0 cases ran`);
  if (file.numberOfTests !== undefined && total !== file.numberOfTests) {
    throw new Error(`${relative}: file states ${file.numberOfTests} tests but holds ${total}`);
  }
  return count;
}

/** Throws unless a plain JSON vector list has cases. */
export function nonEmpty<T>(name: string, cases: T[] | undefined): T[] {
  if (!cases || cases.length === 0) throw new Error(`${name}: 0 cases`);
  return cases;
}
