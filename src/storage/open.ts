// Opens a store from its URL (SPEC §9): `sqlite:PATH`, `dir:PATH`, `postgres://…` or
// `postgresql://…`. Backends load lazily, so a CLI run against a dir: store never loads the native
// SQLite module or the PostgreSQL driver. Store URLs may carry a database password: no message from
// here ever repeats the URL, only the scheme or a redacted host description.
import { CofferError } from '../errors.js';
import { parsePostgresUrl } from './pg-url.js';
import type { OpenStorageOptions, Storage } from './types.js';

export type StoreLocation =
  | { kind: 'sqlite'; path: string }
  | { kind: 'dir'; path: string }
  | { kind: 'postgres'; url: string };

/** `sqlite:PATH` or `sqlite:///abs/path` (empty authority); `//host/...` forms are refused. */
function localPath(scheme: string, rest: string): string {
  let path = rest;
  if (path.startsWith('//')) {
    if (!path.startsWith('///')) {
      throw new CofferError(
        'EINVAL',
        `${scheme}: store URLs take a local path (${scheme}:PATH or ${scheme}:///PATH)`,
      );
    }
    path = path.slice(2);
  }
  if (path.length === 0) throw new CofferError('EINVAL', `${scheme}: store URL has an empty path`);
  if (path.includes('\0')) throw new CofferError('EINVAL', `${scheme}: store path contains a NUL byte`);
  return path;
}

/** Parses a store URL without touching the filesystem or network. Throws EINVAL when malformed. */
export function parseStoreUrl(url: unknown): StoreLocation {
  if (typeof url !== 'string' || url.length === 0) {
    throw new CofferError(
      'EINVAL',
      'store URL must be a non-empty string (sqlite:PATH, dir:PATH or postgres://…)',
    );
  }
  const colon = url.indexOf(':');
  const scheme = colon > 0 ? url.slice(0, colon).toLowerCase() : '';
  const rest = url.slice(colon + 1);
  if (scheme === 'sqlite') return { kind: 'sqlite', path: localPath(scheme, rest) };
  if (scheme === 'dir') return { kind: 'dir', path: localPath(scheme, rest) };
  if (scheme === 'postgres' || scheme === 'postgresql') {
    const result = parsePostgresUrl(url);
    // Never the URL itself in these messages: it may hold a password.
    if (result === undefined) throw new CofferError('EINVAL', `malformed ${scheme}:// store URL`);
    const { parsed, socketOnly } = result;
    if (!url.toLowerCase().startsWith(`${scheme}://`)) {
      throw new CofferError('EINVAL', `${scheme} store URLs start with ${scheme}://`);
    }
    if ((socketOnly || parsed.hostname === '') && !parsed.searchParams.has('host')) {
      throw new CofferError(
        'EINVAL',
        `${scheme}:// store URL names no host (use …@HOST:PORT/DB or ?host=/socket/dir)`,
      );
    }
    if (parsed.pathname.length <= 1 && !parsed.searchParams.has('dbname')) {
      throw new CofferError('EINVAL', `${scheme}:// store URL names no database (…/DBNAME)`);
    }
    return { kind: 'postgres', url };
  }
  const shown = /^[A-Za-z][A-Za-z0-9+.-]{0,20}$/.test(scheme) ? `'${scheme}:'` : 'in the URL';
  throw new CofferError(
    'EINVAL',
    `unknown store scheme ${shown}: use sqlite:PATH, dir:PATH or postgres://USER:PASSWORD@HOST:PORT/DB`,
  );
}

/**
 * Opens the store at `url`. A missing store without `create` is ENOENT; an unreachable database or
 * unusable file is EUNAVAIL, with a message saying what to check.
 */
export async function openStorage(url: string, options: OpenStorageOptions = {}): Promise<Storage> {
  const location = parseStoreUrl(url);
  if (typeof options !== 'object' || options === null) {
    throw new CofferError('EINVAL', 'openStorage options must be an object');
  }
  if (options.create !== undefined && typeof options.create !== 'boolean') {
    throw new CofferError('EINVAL', "openStorage option 'create' must be a boolean");
  }
  switch (location.kind) {
    case 'sqlite': {
      const { openSqliteStorage } = await import('./sqlite.js');
      return openSqliteStorage(location.path, options);
    }
    case 'dir': {
      const { openDirStorage } = await import('./dir.js');
      return openDirStorage(location.path, options);
    }
    case 'postgres': {
      const { openPostgresStorage } = await import('./postgres.js');
      return openPostgresStorage(location.url, options);
    }
  }
}
