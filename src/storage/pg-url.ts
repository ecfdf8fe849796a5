// Parsing of postgres:// store URLs, shared by open.ts (validation, before the driver loads) and
// postgres.ts (messages). Accepts what libpq and node-postgres accept, including an empty host
// with the socket directory in `?host=`, and yields a description that never includes the password.

export interface PostgresTarget {
  host: string;
  port: string;
  database: string;
  user: string;
  /** Kept only so messages can be scrubbed of it; never printed. */
  password: string;
}

/**
 * WHATWG URL rejects `user@/db` (userinfo without a host), which libpq allows for Unix sockets; a
 * placeholder host makes it parseable. Returns undefined when the URL is malformed.
 */
export function parsePostgresUrl(url: string): { parsed: URL; socketOnly: boolean } | undefined {
  try {
    return { parsed: new URL(url), socketOnly: false };
  } catch {
    if (!url.includes('@/')) return undefined;
    try {
      return { parsed: new URL(url.replace('@/', '@socket.invalid/')), socketOnly: true };
    } catch {
      return undefined;
    }
  }
}

const decode = (text: string) => {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
};

export function describeTarget(url: string): PostgresTarget {
  const result = parsePostgresUrl(url);
  if (result === undefined) return { host: '(unparsed)', port: '', database: '', user: '', password: '' };
  const { parsed, socketOnly } = result;
  const params = parsed.searchParams;
  const hostname = socketOnly ? '' : decode(parsed.hostname);
  return {
    host: params.get('host') ?? (hostname || 'localhost'),
    port: params.get('port') ?? (parsed.port || '5432'),
    database: decode(parsed.pathname.slice(1)) || params.get('dbname') || '(default)',
    user: decode(parsed.username) || params.get('user') || '(default)',
    password: decode(parsed.password) || params.get('password') || '',
  };
}
