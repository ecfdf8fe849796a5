// `coffer version`, `coffer --version`, `coffer -V`: the package version (exit 0).
import type { CommandRun } from './spec.js';

export async function packageVersion(): Promise<string> {
  try {
    // process.getBuiltinModule where Node has it (≥ 20.16): an ES import of node:fs builds a module
    // namespace that costs `--version` more than everything else it does.
    const { readFileSync } = process.getBuiltinModule?.('node:fs') ?? (await import('node:fs'));
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export const versionCommand: CommandRun = async (ctx) => {
  const version = await packageVersion();
  ctx.streams.stdout.write(
    ctx.values.json === true
      ? `${JSON.stringify({ version, node: process.versions.node }, null, 2)}\n`
      : `coffer ${version}\n`,
  );
};
