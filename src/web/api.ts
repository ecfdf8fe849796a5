// The console's only way to the daemon (docs/console.md): same-origin fetch to /v1 with the token in
// the Authorization header — never a cookie, so no other site can make the browser send it (no CSRF),
// and never stored: it lives in this page's memory and is gone on reload or sign-out.

export interface KeyVersion {
  version: number;
  state: string;
  createdAt: number;
  activatedAt?: number;
  deactivatedAt?: number;
  compromisedAt?: number;
  destroyedAt?: number;
}

export interface KeyInfo {
  id: string;
  app: string;
  purpose: string;
  algorithm: string;
  state: string;
  primaryVersion: number;
  createdAt: number;
  uses?: string[];
  versions: KeyVersion[];
}

export interface AuditEntry {
  seq: number;
  event: string;
  actor: string;
  at: number;
  keyId?: string;
  details?: Record<string, unknown>;
}

export interface Status {
  locked: boolean;
  lockedOutUntil?: number;
  keystoreId: string;
  version: string;
}

export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

let token: string | undefined;

export function setToken(value: string | undefined): void {
  token = value;
}

export function signedIn(): boolean {
  return token !== undefined;
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`/v1${path}`, {
    method,
    headers,
    credentials: 'omit',
    cache: 'no-store',
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text === '' ? {} : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (!res.ok) {
    const error = (parsed as { error?: { code?: string; message?: string } } | undefined)?.error;
    throw new ApiError(error?.code ?? 'EINTERNAL', error?.message ?? `HTTP ${res.status}`, res.status);
  }
  return parsed as T;
}

/**
 * Server-sent events read through fetch, since EventSource cannot send an Authorization header.
 * Calls `onEvent` per event until `signal` aborts; resolves when the stream ends.
 */
export async function streamEvents(
  path: string,
  onEvent: (type: string, data: string) => void,
  signal: AbortSignal,
): Promise<void> {
  const res = await fetch(`/v1${path}`, {
    headers: { accept: 'text/event-stream', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    credentials: 'omit',
    cache: 'no-store',
    signal,
  });
  if (!res.ok || !res.body) {
    const body = (await res.json().catch(() => ({}))) as { error?: { code?: string; message?: string } };
    throw new ApiError(
      body.error?.code ?? 'EINTERNAL',
      body.error?.message ?? `HTTP ${res.status}`,
      res.status,
    );
  }
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end = buffer.indexOf('\n\n');
    while (end >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let type = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) type = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
      }
      if (data.length > 0) onEvent(type, data.join('\n'));
      end = buffer.indexOf('\n\n');
    }
  }
}

export function when(ms: number | undefined): string {
  return ms === undefined ? '—' : new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
}
