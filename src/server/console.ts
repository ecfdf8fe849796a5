// The web console's assets (docs/console.md): the files Vite built into dist/ui, served at /ui on the
// daemon's own listeners. The file set is read once at start and served from memory by exact name,
// so no request path ever reaches the filesystem (no traversal). Every answer carries a strict
// Content-Security-Policy — scripts, styles and connections to this origin only, no inline code, no
// eval, no framing — and the page sends its token in the Authorization header, never a cookie.
import { readdirSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
};

interface Asset {
  body: Buffer;
  type: string;
  /** Hashed names (assets/…-HASH.js) never change content: cache them; the page itself never. */
  immutable: boolean;
}

/** dist/ui beside dist/server (where the package's build puts it). */
export const DEFAULT_CONSOLE_DIR = fileURLToPath(new URL('../ui/', import.meta.url));

function loadAssets(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  const walk = (path: string) => {
    for (const entry of readdirSync(path, { withFileTypes: true })) {
      const full = join(path, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile() && TYPES[extname(entry.name)]) {
        const name = relative(dir, full).split(sep).join('/');
        assets.set(name, {
          body: readFileSync(full),
          type: TYPES[extname(entry.name)] as string,
          immutable: name.startsWith('assets/'),
        });
      }
    }
  };
  try {
    walk(dir);
  } catch {
    // Not built (a checkout before `npm run build`): /ui says so instead of failing the daemon.
  }
  return assets;
}

function send(
  res: ServerResponse,
  head: boolean,
  status: number,
  type: string,
  body: Buffer | string,
  cache: string,
): void {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  res.writeHead(status, {
    'content-type': type,
    'content-length': bytes.length,
    'cache-control': cache,
    'content-security-policy': CONSOLE_CSP,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
  });
  res.end(head ? undefined : bytes);
}

/** Whether a request path belongs to the console. */
export function isConsolePath(path: string): boolean {
  return path === '/ui' || path.startsWith('/ui/');
}

/** The /ui request handler over the assets in `dir` (read now, once). */
export function consoleHandler(dir = DEFAULT_CONSOLE_DIR) {
  const assets = loadAssets(dir);
  return (request: IncomingMessage, res: ServerResponse, path: string): void => {
    const head = request.method === 'HEAD';
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      send(res, head, 405, 'text/plain; charset=utf-8', 'the console answers GET only\n', 'no-store');
      return;
    }
    if (path === '/ui') {
      res.setHeader('location', '/ui/');
      send(res, head, 308, 'text/plain; charset=utf-8', 'see /ui/\n', 'no-store');
      return;
    }
    const name = path === '/ui/' ? 'index.html' : path.slice('/ui/'.length);
    const asset = assets.get(name);
    if (!asset) {
      const missing =
        assets.size === 0
          ? 'the web console is not built: run `npm run build` in the Coffer checkout\n'
          : 'no such file in the console\n';
      send(res, head, 404, 'text/plain; charset=utf-8', missing, 'no-store');
      return;
    }
    send(
      res,
      head,
      200,
      asset.type,
      asset.body,
      asset.immutable ? 'public, max-age=31536000, immutable' : 'no-store',
    );
  };
}
