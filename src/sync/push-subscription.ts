// The device end of the server's push channel (SPEC §17.8 "Push"): a WebSocket that reconnects
// with backoff (re-authenticating each time) until it is unsubscribed, or until the server says
// the session ended for good (4401: the device was removed) — then `onClose` hears why. Frames
// are checked to be `{uuid, gencount, seq, deviceId}` and nothing else; anything else is ignored.
// `ws` is loaded with the first subscription: opening a keystore (which carries `ks.sync`) never loads it.
import type WebSocket from 'ws';
import { CofferError } from '../errors.js';
import type { PushEvent } from './transport.js';

const CLOSE_SESSION_ENDED = 4401;
const MAX_BACKOFF_MS = 10_000;

export interface PushOptions {
  url: URL;
  token: (fresh: boolean) => Promise<string>;
  ca?: string | Buffer | (string | Buffer)[];
  onEvent: (event: PushEvent) => void;
  onClose?: (error?: Error) => void;
  onBytes: (n: number) => void;
}

export function parsePushFrame(text: string): PushEvent | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const e = value as Record<string, unknown>;
  if (typeof e.uuid !== 'string' || typeof e.deviceId !== 'string') return undefined;
  if (!Number.isSafeInteger(e.gencount) || !Number.isSafeInteger(e.seq)) return undefined;
  return { uuid: e.uuid, gencount: e.gencount as number, seq: e.seq as number, deviceId: e.deviceId };
}

export class PushSubscription {
  #socket: WebSocket | undefined;
  #stopped = false;
  #attempt = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: PushOptions) {}

  /** Resolves when the first connection is open (events after that are delivered). */
  start(): Promise<void> {
    return this.#connect(false);
  }

  #connect(fresh: boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      let opened = false;
      this.options
        .token(fresh)
        .then(async (token) => {
          const { default: WebSocketClient } = await import('ws');
          if (this.#stopped) return resolve();
          const socket = new WebSocketClient(
            new URL('/v1/push', this.options.url).toString().replace(/^http/, 'ws'),
            {
              headers: { authorization: `Bearer ${token}` },
              ...(this.options.ca ? { ca: this.options.ca } : {}),
            },
          );
          this.#socket = socket;
          socket.on('open', () => {
            opened = true;
            this.#attempt = 0;
            resolve();
          });
          socket.on('message', (data: Buffer, isBinary: boolean) => {
            this.options.onBytes(data.length);
            if (isBinary) return;
            const event = parsePushFrame(data.toString('utf8'));
            if (event !== undefined) this.options.onEvent(event);
          });
          socket.on('unexpected-response', (_req, res) => {
            const status = res.statusCode ?? 0;
            res.resume();
            socket.terminate();
            const error = new CofferError(
              status === 401 ? 'EPERM' : 'EUNAVAIL',
              `push subscription refused (${status})`,
            );
            if (!opened) {
              opened = true;
              // A 401 with a cached token: retry once with a fresh session before giving up.
              if (status === 401 && !fresh) this.#connect(true).then(resolve, reject);
              else reject(error);
            }
          });
          socket.on('error', (error) => {
            if (!opened) {
              opened = true;
              reject(new CofferError('EUNAVAIL', `push subscription failed: ${error.message}`));
            }
          });
          socket.on('close', (code) => {
            if (this.#socket !== socket || !opened) return;
            this.#closed(code);
          });
        })
        .catch(reject);
    });
  }

  #closed(code: number): void {
    if (this.#stopped) return;
    if (code === CLOSE_SESSION_ENDED) {
      this.#stopped = true;
      this.options.onClose?.(
        new CofferError('EPERM', 'the server ended this device’s session (removed from the circle)'),
      );
      return;
    }
    // Anything else (restart, network): reconnect with exponential backoff and a fresh session.
    const delay = Math.min(MAX_BACKOFF_MS, 250 * 2 ** this.#attempt);
    this.#attempt += 1;
    this.#timer = setTimeout(() => {
      this.#connect(true).catch((error: Error) => {
        if (error instanceof CofferError && error.code === 'EPERM') {
          this.#stopped = true;
          this.options.onClose?.(error);
        } else this.#closed(1006);
      });
    }, delay);
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#socket?.close(1000);
    this.options.onClose?.();
  }
}
