// A minimal, read-only D-Bus client that asks the session bus whether a Secret Service provider owns
// (or can be activated for) `org.freedesktop.secrets` BEFORE @napi-rs/keyring is touched (SPEC §5:
// no silent fall back to the kernel keyutils keyring, which is lost at reboot). The library's Linux
// build silently falls back to keyutils unless an entry is pinned to 'secret-service'; the driver
// pins every entry AND runs this probe, so a missing provider is refused by code we control and is
// reported with a precise reason (no bus vs. no provider). Only what the probe needs of the D-Bus
// Specification is implemented: unix transports, EXTERNAL auth, method calls with one string
// argument, and replies of signature `b`, `s` or `as`.
import { statSync } from 'node:fs';
import { createConnection } from 'node:net';
import { CofferError } from '../../errors.js';

/** The well-known bus name every Secret Service provider (gnome-keyring, KWallet, KeePassXC) owns. */
export const SECRET_SERVICE_NAME = 'org.freedesktop.secrets';

const DEFAULT_TIMEOUT_MS = 5_000;
/** Replies to our three calls are tiny; anything bigger is not a bus we want to keep reading. */
const MAX_MESSAGE = 1 << 20;

export type ProbeResult =
  /** A connection on the bus owns the name now. */
  | { status: 'owned'; address: string }
  /** Nobody owns it, but the bus will start a provider on first use (D-Bus activation). */
  | { status: 'activatable'; address: string }
  /** The bus answered and no provider owns or can be activated for the name. */
  | { status: 'absent'; address: string }
  /** No session bus could be reached: the reason says why (unset address, refused connection…). */
  | { status: 'no-bus'; reason: string }
  /** The address uses a transport this probe does not speak (tcp:, launchd:, autolaunch:…). */
  | { status: 'unsupported'; address: string };

/** One unix-socket address from DBUS_SESSION_BUS_ADDRESS, ready for net.createConnection. */
export interface UnixTransport {
  socketPath: string;
  /** Human-readable form for messages (abstract names shown with an `@`). */
  display: string;
}

/** A socket-level connect failure, as opposed to a bus that answered wrongly. */
class ConnectFailure extends CofferError {}

/** Undoes the D-Bus address value escaping (`%XX`, D-Bus Specification "Server Addresses"). */
function unescapeValue(value: string): string {
  if (!/^(?:[^%]|%[0-9a-fA-F]{2})*$/.test(value)) {
    throw new CofferError('EINVAL', 'malformed D-Bus address: bad %-escape');
  }
  // Escapes stand for bytes, so a path given as escaped UTF-8 comes back as the same characters.
  const parts: Buffer[] = [];
  for (const match of value.matchAll(/%([0-9a-fA-F]{2})|[^%]+/g)) {
    const hex = match[1];
    parts.push(hex === undefined ? Buffer.from(match[0], 'utf8') : Buffer.from([Number.parseInt(hex, 16)]));
  }
  return Buffer.concat(parts).toString('utf8');
}

/**
 * Splits a bus address list (`a;b;c`) into the unix transports this probe can use, and counts the
 * entries it cannot (so the caller can tell "no bus" from "a bus we cannot inspect").
 */
export function parseBusAddress(text: string): { transports: UnixTransport[]; unsupported: number } {
  if (typeof text !== 'string') throw new CofferError('EINVAL', 'D-Bus address must be a string');
  const transports: UnixTransport[] = [];
  let unsupported = 0;
  for (const entry of text.split(';')) {
    if (entry === '') continue;
    const colon = entry.indexOf(':');
    if (colon <= 0) throw new CofferError('EINVAL', 'malformed D-Bus address: missing transport');
    const method = entry.slice(0, colon);
    const params = new Map<string, string>();
    for (const pair of entry.slice(colon + 1).split(',')) {
      if (pair === '') continue;
      const eq = pair.indexOf('=');
      if (eq <= 0) throw new CofferError('EINVAL', 'malformed D-Bus address: parameter without a value');
      params.set(pair.slice(0, eq), unescapeValue(pair.slice(eq + 1)));
    }
    const path = params.get('path');
    const abstract = params.get('abstract');
    if (method === 'unix' && path !== undefined) transports.push({ socketPath: path, display: path });
    else if (method === 'unix' && abstract !== undefined) {
      // Linux abstract namespace: Node takes it as a path starting with NUL.
      transports.push({ socketPath: `\0${abstract}`, display: `@${abstract}` });
    } else unsupported++;
  }
  return { transports, unsupported };
}

/**
 * The session bus address the library would use: DBUS_SESSION_BUS_ADDRESS, else the systemd-style
 * `$XDG_RUNTIME_DIR/bus` socket (libdbus and zbus both fall back to it), else none.
 */
export function sessionBusAddress(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const fromEnv = env.DBUS_SESSION_BUS_ADDRESS;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const runtime = env.XDG_RUNTIME_DIR;
  if (runtime === undefined || runtime === '') return undefined;
  const candidate = `${runtime}/bus`;
  try {
    if (statSync(candidate).isSocket())
      return `unix:path=${candidate.replace(/[%;,=]/g, (c) => `%${c.charCodeAt(0).toString(16)}`)}`;
  } catch {
    // No socket there: the caller reports "no session bus".
  }
  return undefined;
}

// ---- wire format (D-Bus Specification "Message Format"), little-endian on write ----

class Writer {
  readonly bytes: number[] = [];
  align(n: number): void {
    while (this.bytes.length % n !== 0) this.bytes.push(0);
  }
  u8(value: number): void {
    this.bytes.push(value & 0xff);
  }
  u32(value: number): void {
    this.align(4);
    this.bytes.push(value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, (value >>> 24) & 0xff);
  }
  setU32(offset: number, value: number): void {
    this.bytes[offset] = value & 0xff;
    this.bytes[offset + 1] = (value >>> 8) & 0xff;
    this.bytes[offset + 2] = (value >>> 16) & 0xff;
    this.bytes[offset + 3] = (value >>> 24) & 0xff;
  }
  string(value: string): void {
    const encoded = Buffer.from(value, 'utf8');
    this.u32(encoded.length);
    this.bytes.push(...encoded, 0);
  }
  signature(value: string): void {
    this.u8(value.length);
    this.bytes.push(...Buffer.from(value, 'ascii'), 0);
  }
}

interface Call {
  path: string;
  iface: string;
  member: string;
  /** One string argument (signature `s`) or none. */
  arg?: string;
}

const BUS_DEST = 'org.freedesktop.DBus';
const BUS_PATH = '/org/freedesktop/DBus';

/** Encodes a METHOD_CALL to the bus driver. */
export function encodeCall(serial: number, call: Call): Buffer {
  const body = new Writer();
  if (call.arg !== undefined) body.string(call.arg);
  const w = new Writer();
  w.u8(0x6c); // 'l': little-endian
  w.u8(1); // METHOD_CALL
  w.u8(0);
  w.u8(1); // protocol version
  w.u32(body.bytes.length);
  w.u32(serial);
  w.u32(0); // header field array length, patched below
  const start = w.bytes.length;
  const field = (code: number, sig: 'o' | 's' | 'g', value: string) => {
    w.align(8);
    w.u8(code);
    w.signature(sig);
    if (sig === 'g') w.signature(value);
    else w.string(value);
  };
  field(1, 'o', call.path);
  field(2, 's', call.iface);
  field(3, 's', call.member);
  field(6, 's', BUS_DEST);
  if (call.arg !== undefined) field(8, 'g', 's');
  w.setU32(12, w.bytes.length - start);
  w.align(8);
  return Buffer.from([...w.bytes, ...body.bytes]);
}

class Reader {
  offset = 0;
  constructor(
    private readonly buf: Buffer,
    private readonly little: boolean,
    private readonly end: number = buf.length,
  ) {}
  private need(n: number): void {
    if (this.offset + n > this.end) throw new CofferError('EUNAVAIL', 'D-Bus probe: truncated message');
  }
  align(n: number): void {
    this.offset = Math.ceil(this.offset / n) * n;
  }
  u8(): number {
    this.need(1);
    return this.buf[this.offset++] ?? 0;
  }
  u32(): number {
    this.align(4);
    this.need(4);
    const v = this.little ? this.buf.readUInt32LE(this.offset) : this.buf.readUInt32BE(this.offset);
    this.offset += 4;
    return v;
  }
  string(): string {
    const length = this.u32();
    this.need(length + 1);
    const s = this.buf.toString('utf8', this.offset, this.offset + length);
    this.offset += length + 1;
    return s;
  }
  signature(): string {
    const length = this.u8();
    this.need(length + 1);
    const s = this.buf.toString('ascii', this.offset, this.offset + length);
    this.offset += length + 1;
    return s;
  }
}

export interface Message {
  type: number;
  replySerial?: number;
  errorName?: string;
  signature: string;
  body: Buffer;
  little: boolean;
}

/** Decodes one message from the front of `buf`, or returns undefined while it is incomplete. */
export function decodeMessage(buf: Buffer): { message: Message; length: number } | undefined {
  if (buf.length < 16) return undefined;
  const endian = buf[0];
  if (endian !== 0x6c && endian !== 0x42) throw new CofferError('EUNAVAIL', 'D-Bus probe: bad endianness');
  const little = endian === 0x6c;
  const head = new Reader(buf, little);
  head.offset = 1;
  const type = head.u8();
  head.u8();
  head.u8();
  const bodyLength = head.u32();
  head.u32(); // serial
  const fieldsLength = head.u32();
  const fieldsEnd = 16 + fieldsLength;
  const bodyStart = Math.ceil(fieldsEnd / 8) * 8;
  const total = bodyStart + bodyLength;
  if (total > MAX_MESSAGE) throw new CofferError('EUNAVAIL', 'D-Bus probe: oversized message');
  if (buf.length < total) return undefined;
  const fields = new Reader(buf, little, fieldsEnd);
  fields.offset = 16;
  const message: Message = { type, signature: '', body: buf.subarray(bodyStart, total), little };
  while (fields.offset < fieldsEnd) {
    fields.align(8);
    if (fields.offset >= fieldsEnd) break;
    const code = fields.u8();
    const sig = fields.signature();
    let value: string | number;
    if (sig === 'u') value = fields.u32();
    else if (sig === 's' || sig === 'o') value = fields.string();
    else if (sig === 'g') value = fields.signature();
    else throw new CofferError('EUNAVAIL', `D-Bus probe: unexpected header field type ${sig}`);
    if (code === 5 && typeof value === 'number') message.replySerial = value;
    else if (code === 4 && typeof value === 'string') message.errorName = value;
    else if (code === 8 && typeof value === 'string') message.signature = value;
  }
  return { message, length: total };
}

function readBoolean(message: Message): boolean {
  if (message.signature !== 'b') throw new CofferError('EUNAVAIL', 'D-Bus probe: expected a boolean reply');
  return new Reader(message.body, message.little).u32() !== 0;
}

function readStringArray(message: Message): string[] {
  if (message.signature !== 'as') throw new CofferError('EUNAVAIL', 'D-Bus probe: expected a string array');
  const r = new Reader(message.body, message.little);
  const length = r.u32();
  const end = r.offset + length;
  const out: string[] = [];
  while (r.offset < end) out.push(r.string());
  return out;
}

/** What the bus says about one name, over one transport. */
async function askBus(
  transport: UnixTransport,
  name: string,
  timeoutMs: number,
): Promise<{ owned: boolean; activatable: boolean }> {
  const uid = process.getuid?.();
  if (uid === undefined) throw new CofferError('EUNAVAIL', 'D-Bus probe: no user id on this platform');
  return await new Promise((resolve, reject) => {
    const socket = createConnection({ path: transport.socketPath });
    let phase: 'auth' | 'messages' = 'auth';
    let pending = Buffer.alloc(0);
    let owned: boolean | undefined;
    let activatable: boolean | undefined;
    let settled = false;
    const finish = (error: Error | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve({ owned: owned ?? false, activatable: activatable ?? false });
    };
    const timer = setTimeout(
      () =>
        finish(
          new CofferError('EUNAVAIL', `D-Bus bus at ${transport.display} did not answer in ${timeoutMs} ms`),
        ),
      timeoutMs,
    );
    socket.on('connect', () => {
      connected = true;
      // EXTERNAL auth: the bus checks our uid from the socket credentials (D-Bus Spec "Authentication").
      socket.write(`\0AUTH EXTERNAL ${Buffer.from(String(uid), 'ascii').toString('hex')}\r\n`);
    });
    let connected = false;
    socket.on('error', (error: NodeJS.ErrnoException) => {
      const message = `cannot connect to the D-Bus session bus at ${transport.display} (${error.code ?? error.message})`;
      finish(connected ? new CofferError('EUNAVAIL', message) : new ConnectFailure('EUNAVAIL', message));
    });
    socket.on('close', () =>
      finish(new CofferError('EUNAVAIL', `D-Bus bus at ${transport.display} closed the connection`)),
    );
    socket.on('data', (chunk: Buffer) => {
      try {
        pending = Buffer.concat([pending, chunk]);
        if (phase === 'auth') {
          const eol = pending.indexOf('\r\n');
          if (eol < 0) {
            if (pending.length > 4096) throw new CofferError('EUNAVAIL', 'D-Bus probe: bad auth reply');
            return;
          }
          const line = pending.subarray(0, eol).toString('latin1');
          pending = pending.subarray(eol + 2);
          if (!line.startsWith('OK ')) {
            throw new CofferError('EUNAVAIL', `D-Bus bus at ${transport.display} refused authentication`);
          }
          phase = 'messages';
          // Hello must come first on a bus connection; the two queries are pipelined after it.
          socket.write(
            Buffer.concat([
              Buffer.from('BEGIN\r\n', 'latin1'),
              encodeCall(1, { path: BUS_PATH, iface: BUS_DEST, member: 'Hello' }),
              encodeCall(2, { path: BUS_PATH, iface: BUS_DEST, member: 'NameHasOwner', arg: name }),
              encodeCall(3, { path: BUS_PATH, iface: BUS_DEST, member: 'ListActivatableNames' }),
            ]),
          );
        }
        for (;;) {
          const decoded = decodeMessage(pending);
          if (decoded === undefined || settled) break;
          pending = pending.subarray(decoded.length);
          const { message } = decoded;
          if (message.type !== 2 && message.type !== 3) continue; // signals such as NameAcquired
          if (message.replySerial === 1 && message.type === 3) {
            throw new CofferError('EUNAVAIL', `D-Bus bus refused Hello (${message.errorName ?? 'error'})`);
          }
          if (message.replySerial === 2) {
            if (message.type === 3) {
              throw new CofferError(
                'EUNAVAIL',
                `D-Bus NameHasOwner failed (${message.errorName ?? 'error'})`,
              );
            }
            owned = readBoolean(message);
          }
          if (message.replySerial === 3) {
            // A bus policy may forbid listing; that only means "not known to be activatable".
            activatable = message.type === 2 ? readStringArray(message).includes(name) : false;
          }
          if (owned !== undefined && activatable !== undefined) finish(undefined);
        }
      } catch (error) {
        finish(error as Error);
      }
    });
  });
}

/**
 * Asks the session bus (from `env`, default process.env) whether `name` is owned or activatable.
 * Never throws for an unreachable bus: that is the `no-bus` result. Throws EINVAL for a malformed
 * address or arguments.
 */
export async function probeBusName(
  name: string = SECRET_SERVICE_NAME,
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<ProbeResult> {
  if (typeof name !== 'string' || !/^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_-][A-Za-z0-9_-]*)+$/.test(name)) {
    throw new CofferError('EINVAL', 'bus name must be a well-known D-Bus name');
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 600_000) {
    throw new CofferError('EINVAL', 'timeoutMs must be an integer from 1 to 600000');
  }
  const address = sessionBusAddress(options.env ?? process.env);
  if (address === undefined) {
    return {
      status: 'no-bus',
      reason: 'DBUS_SESSION_BUS_ADDRESS is not set and $XDG_RUNTIME_DIR/bus does not exist',
    };
  }
  const parsed = parseBusAddress(address);
  let unsupported = parsed.unsupported;
  const reasons: string[] = [];
  for (const transport of parsed.transports) {
    try {
      const { owned, activatable } = await askBus(transport, name, timeoutMs);
      if (owned) return { status: 'owned', address: transport.display };
      return { status: activatable ? 'activatable' : 'absent', address: transport.display };
    } catch (error) {
      // Node 20 (measured; Node 24 is fine) pads abstract socket names to the full sockaddr_un
      // length, so it cannot reach a bus listening on an exact-length abstract name (as dbus-daemon
      // does). A failed connect there proves nothing: leave the verdict to the pinned library.
      if (error instanceof ConnectFailure && transport.socketPath.startsWith('\0')) unsupported++;
      reasons.push(error instanceof Error ? error.message : String(error));
    }
  }
  if (unsupported > 0) return { status: 'unsupported', address };
  return { status: 'no-bus', reason: reasons.join('; ') || 'the D-Bus address lists no usable transport' };
}
