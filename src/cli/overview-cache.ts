// `coffer --help` prints the overview of every command. Rendering it means compiling the whole
// command table (every command's options, notes and examples), which was most of the CPU `--help`
// cost beyond starting Node; so the build renders the overview once into dist/cli/overview.txt
// (scripts/cli-overview.mjs) and a bare `--help` prints that file. The file is used only while it is
// newer than every file it was rendered from, so a tree compiled without the build step (plain
// `tsc`) falls back to rendering and never prints a stale list.
import type * as Fs from 'node:fs';

const OVERVIEW = new URL('./overview.txt', import.meta.url);
const HELP_RENDERER = new URL('./help.js', import.meta.url);
const TABLE_DIR = new URL('./table/', import.meta.url);

/** The rendered overview, if the build wrote one that is newer than the table and the renderer. */
export function cachedOverview(fs: typeof Fs): string | undefined {
  try {
    const written = fs.statSync(OVERVIEW).mtimeMs;
    if (fs.statSync(HELP_RENDERER).mtimeMs > written) return undefined;
    for (const name of fs.readdirSync(TABLE_DIR))
      if (name.endsWith('.js') && fs.statSync(new URL(name, TABLE_DIR)).mtimeMs > written) return undefined;
    return fs.readFileSync(OVERVIEW, 'utf8');
  } catch {
    return undefined;
  }
}

/** Renders the overview from the table into the cache file (run by the build after `tsc`). */
export async function writeOverviewCache(fs: typeof Fs): Promise<void> {
  const [{ overview }, { COMMANDS }] = await Promise.all([import('./help.js'), import('./table/index.js')]);
  // Written aside and renamed: a `coffer --help` running meanwhile reads the old file or the new one.
  const aside = new URL(`./overview.txt.${process.pid}`, import.meta.url);
  fs.writeFileSync(aside, overview(COMMANDS));
  fs.renameSync(aside, OVERVIEW);
}
