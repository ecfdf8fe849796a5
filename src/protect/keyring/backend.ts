// The one place that calls @napi-rs/keyring (SPEC §5: macOS Keychain, Windows Credential Manager,
// Linux Secret Service). On Linux every entry is pinned to the 'secret-service' store — the
// library's default silently falls back to the kernel keyutils keyring, which does not survive a
// reboot — and the session bus is probed first, so with no Secret Service the library is never
// called at all. Calls go through the library's async API with a deadline, so an unlock prompt
// nobody answers cannot hang the event loop or the caller forever. Note: libdbus reads
// DBUS_SESSION_BUS_ADDRESS once per process, at the library's first use; the probe reads it on every
// call, so changing it later in a running process points the probe elsewhere than the library.
import { createRequire } from 'node:module';
import type { AsyncEntry, EntryOptions } from '@napi-rs/keyring';
import { CofferError } from '../../errors.js';
import { probeBusName, SECRET_SERVICE_NAME } from './dbus-probe.js';
import {
  type KeyringOperation,
  type KeyringPlatform,
  mapKeyringError,
  SECRET_SERVICE_HOWTO,
} from './errors.js';

type KeyringModule = typeof import('@napi-rs/keyring');

/** Which OS store this process would use, or undefined where the library has none. */
export function keyringPlatform(platform: NodeJS.Platform = process.platform): KeyringPlatform | undefined {
  if (platform === 'linux' || platform === 'freebsd') return 'secret-service';
  if (platform === 'darwin') return 'macos-keychain';
  if (platform === 'win32') return 'windows-credential-manager';
  return undefined;
}

let loaded: KeyringModule | undefined;

/**
 * Loads the native module on first use, so importing Coffer never fails where it has no binary.
 * Through require, not import(): the package is CommonJS, and Node 20's ESM wrapper for CommonJS
 * can hand back an empty namespace when node_modules is reached through a symlink (seen here
 * after an unrelated fs.statSync), while require always resolves the real path.
 */
function loadLibrary(): KeyringModule {
  loaded ??= createRequire(import.meta.url)('@napi-rs/keyring') as KeyringModule;
  if (typeof loaded.AsyncEntry !== 'function') {
    loaded = undefined;
    throw new Error('failed to load native binding: @napi-rs/keyring exports no AsyncEntry');
  }
  return loaded;
}

/**
 * Refuses (EUNAVAIL, with how to start one) unless a Secret Service provider owns or can be
 * activated for org.freedesktop.secrets on the session bus. A bus transport the probe cannot speak
 * (tcp:, launchd:) passes: the entry pin still forbids any fall back to keyutils.
 */
export async function requireSecretService(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const probe = await probeBusName(SECRET_SERVICE_NAME, { env });
  if (probe.status === 'no-bus') {
    throw new CofferError(
      'EUNAVAIL',
      `Secret Service unavailable: no D-Bus session bus (${probe.reason}). ${SECRET_SERVICE_HOWTO}`,
    );
  }
  if (probe.status === 'absent') {
    throw new CofferError(
      'EUNAVAIL',
      `Secret Service unavailable: no provider owns ${SECRET_SERVICE_NAME} on the session bus at ${probe.address} ` +
        `and none can be activated. ${SECRET_SERVICE_HOWTO}`,
    );
  }
}

export interface KeyringBackendOptions {
  /** Deadline for one store call, prompts included. */
  timeoutMs: number;
}

/** One credential (service, account) in the OS store, holding opaque bytes. */
export class KeyringEntry {
  private constructor(
    readonly platform: KeyringPlatform,
    readonly service: string,
    readonly account: string,
    private readonly entry: AsyncEntry,
    private readonly timeoutMs: number,
  ) {}

  /** Checks the platform (and on Linux the Secret Service) and binds the entry, pinned where needed. */
  static async bind(service: string, account: string, options: KeyringBackendOptions): Promise<KeyringEntry> {
    const platform = keyringPlatform();
    if (platform === undefined) {
      throw new CofferError('EUNAVAIL', `no OS keyring on ${process.platform}: use another protector`);
    }
    const context = { platform, operation: 'open' as const, service, account };
    if (platform === 'secret-service') await requireSecretService();
    let lib: KeyringModule;
    try {
      lib = loadLibrary();
    } catch (error) {
      throw mapKeyringError(error, context);
    }
    // Pinning makes the library throw instead of silently using keyutils; ignored off Linux.
    const entryOptions: EntryOptions = { linux: { store: 'secret-service' } };
    try {
      return new KeyringEntry(
        platform,
        service,
        account,
        new lib.AsyncEntry(service, account, entryOptions),
        options.timeoutMs,
      );
    } catch (error) {
      throw mapKeyringError(error, context);
    }
  }

  private async call<T>(operation: KeyringOperation, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        reject(
          new CofferError(
            'EUNAVAIL',
            `OS keyring did not answer within ${Math.round(this.timeoutMs / 1000)} s while trying to ${operation} the keyring ` +
              `entry service=${JSON.stringify(this.service)} account=${JSON.stringify(this.account)} ` +
              '(an unlock prompt may be waiting for an answer)',
          ),
        );
      }, this.timeoutMs);
    });
    try {
      return await Promise.race([run(controller.signal), deadline]);
    } catch (error) {
      throw mapKeyringError(error, {
        platform: this.platform,
        operation,
        service: this.service,
        account: this.account,
      });
    } finally {
      clearTimeout(timer);
    }
  }

  /** The stored bytes, or null when there is no such entry. */
  async read(): Promise<Uint8Array | null> {
    const values = await this.call('read', (signal) => this.entry.getSecret(signal));
    if (values === null) return null;
    const bytes = Uint8Array.from(values);
    // The library hands back a plain array: clear it so one copy fewer of the key lingers.
    values.fill(0);
    return bytes;
  }

  async write(secret: Uint8Array): Promise<void> {
    await this.call('write', (signal) => this.entry.setSecret(secret, signal));
  }

  /** True if an entry was deleted, false if there was none. */
  async remove(): Promise<boolean> {
    return await this.call('delete', (signal) => this.entry.deleteCredential(signal));
  }
}
