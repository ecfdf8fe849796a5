// Maps what the OS credential store (through @napi-rs/keyring) reports onto Coffer's error codes, keeping
// SPEC §5's three outcomes apart: "not found" (ENOENT), "locked" (ELOCKED: a locked collection or
// keychain, or an unlock prompt the user dismissed) and "failed" (EUNAVAIL). The library surfaces
// keyring-core errors only as text ("Couldn't access platform storage: …", "Platform failure: …"),
// so classification is by message; the texts matched here are the ones its Linux build, the
// apple-native and windows-native stores and security-framework produce. Messages name the service
// and account (not secret) and never carry key bytes: the library's own text holds D-Bus / OS
// status strings only.
import { CofferError } from '../../errors.js';

export type KeyringPlatform = 'secret-service' | 'macos-keychain' | 'windows-credential-manager';

export type KeyringOperation = 'read' | 'write' | 'delete' | 'open';

export interface ErrorContext {
  platform: KeyringPlatform;
  operation: KeyringOperation;
  service: string;
  account: string;
}

/** How to get a usable Secret Service, for every "unreachable" message on Linux. */
export const SECRET_SERVICE_HOWTO =
  'Start one: log in to a desktop session that runs gnome-keyring or KWallet, or, headless, run ' +
  'the program under `dbus-run-session -- sh -c \'printf %s "$KEYRING_PASSWORD" | ' +
  "gnome-keyring-daemon --unlock --components=secrets; exec <command>'` " +
  '(gnome-keyring-daemon --start --components=secrets starts it on an existing session bus). ' +
  'Coffer never falls back to the kernel keyutils keyring, which is lost at reboot.';

const UNLOCK_HINT: Record<KeyringPlatform, string> = {
  'secret-service':
    'unlock the login collection (log in to the desktop, answer the unlock prompt, or ' +
    '`gnome-keyring-daemon --unlock` with the password on stdin) and try again',
  'macos-keychain':
    'unlock the login keychain (`security unlock-keychain`, or answer the Keychain prompt) and try again; ' +
    'over SSH the Keychain cannot show its prompt',
  'windows-credential-manager': 'sign in to the Windows account that owns the credential and try again',
};

/** Locked store, dismissed or cancelled prompt, or (macOS) no UI allowed to ask for the password. */
const LOCKED =
  /\blocked\b|prompt (?:was )?dismissed|interaction is not allowed|user cancell?ed|errSecInteractionNotAllowed|-25308\b|passphrase you entered is not correct|-25293\b/i;

/** Linux: no session bus, or a bus with no Secret Service provider behind it. */
const UNREACHABLE =
  /no dbus session or secret service provider|no secret service provider or dbus session|ServiceUnknown|not provided by any \.service files|NameHasNoOwner|failed to connect to socket|disconnected from d-bus|connection closed before prompt completed|no such logon session/i;

const NOT_FOUND = /no matching (?:entry|credential)|errSecItemNotFound|-25300\b|element not found/i;

const AMBIGUOUS = /ambiguous|matched by multiple credentials|more than one/i;

const TOO_LONG = /longer than the platform limit|\btoo long\b/i;

const NO_BINDING = /cannot find native binding|failed to load native binding/i;

/** The library's text, bounded so a pathological message cannot bloat logs. */
export function describe(error: unknown): string {
  const text =
    error instanceof Error
      ? error.message +
        (error.cause instanceof Error && !error.message.includes(error.cause.message)
          ? `: ${error.cause.message}`
          : '')
      : String(error);
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

function where(context: ErrorContext): string {
  return `keyring entry service=${JSON.stringify(context.service)} account=${JSON.stringify(context.account)}`;
}

const STORE_NAME: Record<KeyringPlatform, string> = {
  'secret-service': 'Secret Service',
  'macos-keychain': 'macOS Keychain',
  'windows-credential-manager': 'Windows Credential Manager',
};

/** Converts anything thrown by @napi-rs/keyring into the CofferError the contract calls for. */
export function mapKeyringError(error: unknown, context: ErrorContext): CofferError {
  if (error instanceof CofferError) return error;
  const text = describe(error);
  const store = STORE_NAME[context.platform];
  const options = { cause: error };
  if (NO_BINDING.test(text)) {
    return new CofferError(
      'EUNAVAIL',
      `OS keyring unavailable: @napi-rs/keyring has no native binary for ${process.platform}-${process.arch} (${text})`,
      options,
    );
  }
  if (LOCKED.test(text)) {
    return new CofferError(
      'ELOCKED',
      `${store} is locked: cannot ${context.operation} the ${where(context)}; ${UNLOCK_HINT[context.platform]} (${text})`,
      options,
    );
  }
  if (context.platform === 'secret-service' && UNREACHABLE.test(text)) {
    return new CofferError(
      'EUNAVAIL',
      `Secret Service unreachable (${text}). ${SECRET_SERVICE_HOWTO}`,
      options,
    );
  }
  if (context.platform === 'windows-credential-manager' && /logon session/i.test(text)) {
    return new CofferError(
      'EUNAVAIL',
      `Windows Credential Manager unavailable: no logon session (a service account needs its user profile loaded) (${text})`,
      options,
    );
  }
  if (
    context.platform === 'secret-service' &&
    context.operation === 'write' &&
    /no result found/i.test(text)
  ) {
    // Storing goes to the collection aliased "default"; a provider that was never unlocked has none.
    return new CofferError(
      'EUNAVAIL',
      `the Secret Service has no default collection to store the ${where(context)} in (no login keyring yet): ` +
        `create and unlock one, e.g. \`gnome-keyring-daemon --unlock\` with the password on stdin (${text})`,
      options,
    );
  }
  if (NOT_FOUND.test(text)) {
    return new CofferError('ENOENT', `no ${where(context)} in the ${store}`, options);
  }
  if (AMBIGUOUS.test(text)) {
    return new CofferError(
      'EUNAVAIL',
      `more than one ${store} item matches the ${where(context)}; remove the duplicates (written by another program) first (${text})`,
      options,
    );
  }
  if (TOO_LONG.test(text)) {
    return new CofferError('EINVAL', `service or account too long for the ${store} (${text})`, options);
  }
  return new CofferError(
    'EUNAVAIL',
    `${store} failed to ${context.operation} the ${where(context)} (${text})`,
    options,
  );
}
