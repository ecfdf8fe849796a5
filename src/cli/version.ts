// `coffer version`, `coffer --version`, `coffer -V`: the package version (exit 0).
import { readFileSync } from 'node:fs';
import type { CommandRun } from './spec.js';

export function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export const versionCommand: CommandRun = async (ctx) => {
  const version = packageVersion();
  ctx.streams.stdout.write(
    ctx.values.json === true
      ? `${JSON.stringify({ version, node: process.versions.node }, null, 2)}\n`
      : `coffer ${version}\n`,
  );
};
