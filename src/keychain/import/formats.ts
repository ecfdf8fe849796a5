// Readers of password-manager exports (docs/keychain.md "Importing"): Bitwarden's unencrypted JSON
// and its CSV, KeePassXC's CSV, Chrome's CSV and Apple Passwords' CSV, each as documented by its
// product. Each turns an export into candidate items plus the entries it cannot take and why; the
// candidates are checked like any other input before anything is written (import.ts).
import { CofferError } from '../../errors.js';
import type { AddItemSpec, ItemAttributes } from '../types.js';
import { csvRecords, MAX_CSV_BYTES } from './csv.js';

export const IMPORT_FORMATS = [
  'bitwarden-json',
  'bitwarden-csv',
  'keepassxc-csv',
  'chrome-csv',
  'apple-csv',
] as const;
export type ImportFormat = (typeof IMPORT_FORMATS)[number];

export interface Candidate {
  /** 1-based position of the entry in the export (row or array index). */
  entry: number;
  name?: string;
  spec?: AddItemSpec;
  /** Set when the entry is skipped. */
  reason?: string;
}

interface Login {
  entry: number;
  name: string;
  url: string;
  username: string;
  password: string;
  notes: string;
  totp?: string;
  custom?: Record<string, string>;
}

const CUSTOM_NAME_BAD = /[^A-Za-z0-9 ._-]/g;

function customName(name: string, taken: Record<string, string>): string {
  let base = name.replace(CUSTOM_NAME_BAD, '_').slice(0, 60) || 'field';
  if (base.trim() === '') base = 'field';
  let candidate = base;
  for (let n = 2; candidate in taken; n++) candidate = `${base}-${n}`;
  return candidate;
}

/** A login as a keychain item: internet-password when its URL names a host, else generic-password. */
function loginItem(login: Login): Candidate {
  const name = login.name.trim();
  if (login.password === '') return { entry: login.entry, name, reason: 'no password' };
  const custom: Record<string, string> = {};
  for (const [key, value] of Object.entries(login.custom ?? {})) custom[customName(key, custom)] = value;
  if (login.totp) custom[customName('totp', custom)] = login.totp;
  const attributes: ItemAttributes = {
    ...(name ? { label: name } : {}),
    ...(login.username ? { account: login.username } : {}),
    ...(login.notes ? { comment: login.notes } : {}),
    ...(Object.keys(custom).length > 0 ? { custom } : {}),
  };
  const url = login.url.trim();
  let parsed: URL | undefined;
  try {
    parsed = url ? new URL(url.includes('://') ? url : `https://${url}`) : undefined;
  } catch {
    parsed = undefined;
  }
  if (parsed?.hostname) {
    const spec: AddItemSpec = {
      kind: 'internet-password',
      attributes: {
        ...attributes,
        server: parsed.hostname,
        protocol: parsed.protocol.replace(/:$/, ''),
        ...(parsed.port ? { port: Number(parsed.port) } : {}),
        ...(parsed.pathname && parsed.pathname !== '/' ? { path: parsed.pathname } : {}),
      },
      secret: login.password,
    };
    return { entry: login.entry, name, spec };
  }
  const service = url || name;
  if (!service) return { entry: login.entry, name, reason: 'neither a URL nor a name to file it under' };
  return {
    entry: login.entry,
    name,
    spec: { kind: 'generic-password', attributes: { ...attributes, service }, secret: login.password },
  };
}

function noteItem(entry: number, name: string, text: string): Candidate {
  if (text === '') return { entry, name, reason: 'an empty note' };
  return { entry, name, spec: { kind: 'note', attributes: name ? { label: name } : {}, secret: text } };
}

function str(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/** Bitwarden "JSON" export (unencrypted): items of type 1 login, 2 secure note, 3 card, 4 identity, 5 SSH key. */
function bitwardenJson(text: string): Candidate[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new CofferError('EINVAL', 'not a Bitwarden JSON export: the file is not JSON');
  }
  if (typeof doc !== 'object' || doc === null || !Array.isArray((doc as { items?: unknown }).items))
    throw new CofferError('EINVAL', 'not a Bitwarden JSON export: no items array');
  if ((doc as { encrypted?: unknown }).encrypted === true)
    throw new CofferError(
      'EINVAL',
      'this Bitwarden export is encrypted: export it as unencrypted JSON to import it',
    );
  const items = (doc as { items: unknown[] }).items;
  return items.map((raw, index): Candidate => {
    const entry = index + 1;
    if (typeof raw !== 'object' || raw === null) return { entry, reason: 'not an object' };
    const item = raw as Record<string, unknown>;
    const name = str(item.name);
    const custom: Record<string, string> = {};
    if (Array.isArray(item.fields)) {
      for (const field of item.fields as Record<string, unknown>[]) {
        if (typeof field !== 'object' || field === null || field.type === 3) continue; // 3: linked, no value
        const value = field.value === null || field.value === undefined ? '' : String(field.value);
        custom[customName(str(field.name), custom)] = value;
      }
    }
    switch (item.type) {
      case 1: {
        const login = (item.login ?? {}) as Record<string, unknown>;
        const uris = Array.isArray(login.uris) ? (login.uris as Record<string, unknown>[]) : [];
        const [first, ...more] = uris.map((u) => str(u?.uri)).filter((u) => u !== '');
        more.forEach((uri, i) => {
          custom[customName(`uri ${i + 2}`, custom)] = uri;
        });
        return loginItem({
          entry,
          name,
          url: first ?? '',
          username: str(login.username),
          password: str(login.password),
          notes: str(item.notes),
          ...(str(login.totp) ? { totp: str(login.totp) } : {}),
          custom,
        });
      }
      case 2: {
        const candidate = noteItem(entry, name, str(item.notes));
        if (candidate.spec && Object.keys(custom).length > 0) candidate.spec.attributes.custom = custom;
        return candidate;
      }
      case 3:
        return { entry, name, reason: 'cards are not a keychain item kind' };
      case 4:
        return { entry, name, reason: 'identities are not a keychain item kind' };
      case 5:
        return { entry, name, reason: 'SSH keys: import them as Coffer keys (coffer import-key)' };
      default:
        return { entry, name, reason: `unknown Bitwarden item type ${String(item.type)}` };
    }
  });
}

/** Bitwarden CSV: folder,favorite,type,name,notes,fields,reprompt,login_uri,login_username,login_password,login_totp. */
function bitwardenCsv(text: string): Candidate[] {
  const rows = csvRecords(text, [
    'type',
    'name',
    'notes',
    'fields',
    'login_uri',
    'login_username',
    'login_password',
  ]);
  return rows.map((row, index) => {
    const entry = index + 1;
    const custom: Record<string, string> = {};
    for (const line of (row.fields ?? '').split(/\r?\n/)) {
      if (line.trim() === '') continue;
      const colon = line.indexOf(': ');
      if (colon < 0) custom[customName('field', custom)] = line;
      else custom[customName(line.slice(0, colon), custom)] = line.slice(colon + 2);
    }
    const name = row.name ?? '';
    if (row.type === 'note') {
      const candidate = noteItem(entry, name, row.notes ?? '');
      if (candidate.spec && Object.keys(custom).length > 0) candidate.spec.attributes.custom = custom;
      return candidate;
    }
    if (row.type !== 'login')
      return { entry, name, reason: `Bitwarden CSV type '${row.type}' is not a login or note` };
    const [first, ...more] = (row.login_uri ?? '').split(',').filter((u) => u.trim() !== '');
    more.forEach((uri, i) => {
      custom[customName(`uri ${i + 2}`, custom)] = uri.trim();
    });
    if (row.folder) custom[customName('folder', custom)] = row.folder;
    return loginItem({
      entry,
      name,
      url: first ?? '',
      username: row.login_username ?? '',
      password: row.login_password ?? '',
      notes: row.notes ?? '',
      ...(row.login_totp ? { totp: row.login_totp } : {}),
      custom,
    });
  });
}

/** KeePassXC CSV: "Group","Title","Username","Password","URL","Notes"[,"TOTP","Icon","Last Modified","Created"]. */
function keepassCsv(text: string): Candidate[] {
  return csvRecords(text, ['group', 'title', 'username', 'password', 'url', 'notes']).map((row, index) =>
    loginItem({
      entry: index + 1,
      name: row.title ?? '',
      url: row.url ?? '',
      username: row.username ?? '',
      password: row.password ?? '',
      notes: row.notes ?? '',
      ...(row.totp ? { totp: row.totp } : {}),
      ...(row.group ? { custom: { group: row.group } } : {}),
    }),
  );
}

/** Chrome (Google Password Manager) CSV: name,url,username,password[,note]. */
function chromeCsv(text: string): Candidate[] {
  return csvRecords(text, ['name', 'url', 'username', 'password']).map((row, index) =>
    loginItem({
      entry: index + 1,
      name: row.name ?? '',
      url: row.url ?? '',
      username: row.username ?? '',
      password: row.password ?? '',
      notes: row.note ?? '',
    }),
  );
}

/** Apple Passwords CSV: Title,URL,Username,Password,Notes,OTPAuth. */
function appleCsv(text: string): Candidate[] {
  return csvRecords(text, ['title', 'url', 'username', 'password']).map((row, index) =>
    loginItem({
      entry: index + 1,
      name: row.title ?? '',
      url: row.url ?? '',
      username: row.username ?? '',
      password: row.password ?? '',
      notes: row.notes ?? '',
      ...(row.otpauth ? { totp: row.otpauth } : {}),
    }),
  );
}

export function readExport(format: ImportFormat, text: string): Candidate[] {
  if (typeof text !== 'string') throw new CofferError('EINVAL', 'the export must be text');
  if (text.length > MAX_CSV_BYTES)
    throw new CofferError('E2BIG', `the export is larger than ${MAX_CSV_BYTES} bytes`);
  switch (format) {
    case 'bitwarden-json':
      return bitwardenJson(text);
    case 'bitwarden-csv':
      return bitwardenCsv(text);
    case 'keepassxc-csv':
      return keepassCsv(text);
    case 'chrome-csv':
      return chromeCsv(text);
    case 'apple-csv':
      return appleCsv(text);
    default:
      throw new CofferError('EINVAL', `unknown import format; one of ${IMPORT_FORMATS.join(', ')}`);
  }
}
