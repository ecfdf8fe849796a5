// `coffer version`, `coffer --version`, `coffer -V`: the package version (exit 0).
import { packageVersion } from '../version.js';
import type { CommandRun } from './spec.js';

export { packageVersion };

export const versionCommand: CommandRun = async (ctx) => {
  const version = await packageVersion();
  ctx.streams.stdout.write(
    ctx.values.json === true
      ? `${JSON.stringify({ version, node: process.versions.node }, null, 2)}\n`
      : `coffer ${version}\n`,
  );
};
