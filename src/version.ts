// The package's version, read once from package.json: what `coffer --version` prints and what the
// daemon reports in /v1/health and its OpenAPI document. 'unknown' if package.json cannot be read
// (a bundled copy without it); never an invented number.
let cached: string | undefined;

export async function packageVersion(): Promise<string> {
  if (cached !== undefined) return cached;
  try {
    // process.getBuiltinModule where Node has it (≥ 20.16): an ES import of node:fs builds a module
    // namespace that costs `--version` more than everything else it does.
    const { readFileSync } = process.getBuiltinModule?.('node:fs') ?? (await import('node:fs'));
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version?: unknown;
    };
    cached = typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    cached = 'unknown';
  }
  return cached;
}
