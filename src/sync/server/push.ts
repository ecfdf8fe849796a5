// Push to devices over WebSocket (SPEC §17.8 "Push"): one socket per subscribed device, one text
// frame `{uuid, gencount, seq, deviceId}` per accepted write to its account — never content. The
// store's events arrive after commit (and from every instance on PostgreSQL, via LISTEN/NOTIFY). A
// circle upload that drops a device closes that device's sockets with 4401.

import type { WebSocket } from 'ws';
import { canonicalJson } from '../../core/encoding.js';
import type { Identity, StoreEvent } from './store.js';

export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_SESSION_ENDED = 4401;
const PING_MS = 30_000;

interface Subscriber extends Identity {
  socket: WebSocket;
  alive: boolean;
}

export class PushHub {
  readonly #byAccount = new Map<string, Set<Subscriber>>();
  readonly #ping: NodeJS.Timeout;

  constructor() {
    // A peer that vanished without a close frame is found by a missed pong and dropped.
    this.#ping = setInterval(() => {
      for (const set of this.#byAccount.values())
        for (const sub of set) {
          if (!sub.alive) sub.socket.terminate();
          else {
            sub.alive = false;
            sub.socket.ping();
          }
        }
    }, PING_MS);
    this.#ping.unref();
  }

  add(who: Identity, socket: WebSocket): void {
    const sub: Subscriber = { ...who, socket, alive: true };
    const set = this.#byAccount.get(who.accountId) ?? new Set<Subscriber>();
    this.#byAccount.set(who.accountId, set);
    set.add(sub);
    socket.on('pong', () => {
      sub.alive = true;
    });
    socket.on('close', () => {
      set.delete(sub);
      if (set.size === 0 && this.#byAccount.get(who.accountId) === set) this.#byAccount.delete(who.accountId);
    });
    // Devices send nothing on this socket; a frame from one is ignored (and bounded by maxPayload).
    socket.on('message', () => undefined);
    socket.on('error', () => socket.terminate());
  }

  deliver(event: StoreEvent): void {
    const set = this.#byAccount.get(event.accountId);
    if (set === undefined) return;
    if (event.type === 'record') {
      const frame = canonicalJson({
        deviceId: event.deviceId,
        gencount: event.gencount,
        seq: event.seq,
        uuid: event.uuid,
      });
      for (const sub of set) if (sub.socket.readyState === sub.socket.OPEN) sub.socket.send(frame);
      return;
    }
    const kept = new Set(event.devices);
    for (const sub of set)
      if (!kept.has(sub.deviceId)) sub.socket.close(CLOSE_SESSION_ENDED, 'device removed from the circle');
  }

  get size(): number {
    let n = 0;
    for (const set of this.#byAccount.values()) n += set.size;
    return n;
  }

  closeAll(): void {
    clearInterval(this.#ping);
    for (const set of this.#byAccount.values())
      for (const sub of set) sub.socket.close(CLOSE_GOING_AWAY, 'server shutting down');
  }
}
