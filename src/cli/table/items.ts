// `coffer item …`: the keychain (SPEC §16, docs/keychain.md) — passwords, notes and syncable keys as
// items. A secret is read from a hidden prompt, a file or stdin (never an argument) and printed only
// with --reveal or into a file.
import type { CommandSpec, OptionSpec, RunName } from '../spec.js';

const run = (name: RunName<typeof import('../commands/items.js')>) => async () =>
  (await import('../commands/items.js'))[name];

const ID = [{ name: 'ID' }] as const;
const text = (help: string): OptionSpec => ({ type: 'string', value: 'TEXT', help });
const attributeOptions = {
  label: text('label'),
  comment: text('comment'),
  service: text('service (generic-password)'),
  account: text('account / user name'),
  server: text('host name (internet-password)'),
  protocol: text('protocol, e.g. https (internet-password)'),
  port: { type: 'string', value: 'N', help: 'port (internet-password)' },
  path: text('path (internet-password)'),
  field: {
    type: 'string',
    value: 'NAME=VALUE',
    help: 'a custom field (repeatable; NAME= with no value removes it on update)',
    multiple: true,
  },
} as const satisfies Record<string, OptionSpec>;
const secretInput = {
  'secret-file': {
    type: 'string',
    value: 'FILE',
    help: 'read the secret from FILE (else stdin when piped, else a hidden prompt)',
    complete: 'file',
  },
  generate: { type: 'boolean', help: 'generate a password (24 characters, every class) as the secret' },
} as const satisfies Record<string, OptionSpec>;
const reveal = {
  reveal: { type: 'boolean', help: 'print the secret' },
  out: { type: 'string', value: 'FILE', help: 'write the secret to FILE (mode 0600)', complete: 'file' },
} as const satisfies Record<string, OptionSpec>;

export const itemTable: CommandSpec[] = [
  {
    path: ['item', 'add'],
    summary: 'add a keychain item: generic-password, internet-password, note, or key',
    usage:
      'KIND [--service S] [--server H] [--account A] [--label L] [--group APP] [--secret-file FILE | --generate]',
    args: [{ name: 'KIND' }],
    options: {
      ...attributeOptions,
      ...secretInput,
      key: { type: 'string', value: 'KEY', help: 'kind key: the Coffer key (created with --syncable)' },
      group: {
        type: 'string',
        value: 'APP',
        help: 'access group: the app whose tokens may use it (default "default")',
      },
      'this-device-only': { type: 'boolean', help: 'never sync this item (sync: false)' },
    },
    notes: ['The secret is asked for (twice) on a terminal, or read from --secret-file or piped stdin.'],
    examples: [
      'coffer item add generic-password --service db --account app --secret-file pw.txt',
      'coffer item add internet-password --server github.com --account octocat --generate',
      'printf %s "$NOTE" | coffer item add note --label "wifi"',
    ],
    load: run('add'),
  },
  {
    path: ['item', 'get'],
    summary: 'show an item; its secret only with --reveal or --out FILE',
    usage: 'ID [--reveal | --out FILE]',
    args: ID,
    options: reveal,
    examples: [
      'coffer item get "$ID"',
      'coffer item get "$ID" --reveal',
      'coffer item get "$ID" --out pw.txt',
    ],
    load: run('get'),
  },
  {
    path: ['item', 'find'],
    summary: 'find items by kind, service, account, server or label (no secrets), streamed page by page',
    usage:
      '[--kind K] [--service S] [--account A] [--server H] [--label L] [--group APP] [--page-size N | --limit N [--cursor C]]',
    options: {
      kind: {
        type: 'string',
        value: 'KIND',
        help: 'item kind',
        choices: ['generic-password', 'internet-password', 'note', 'key'],
      },
      service: text('service'),
      account: text('account'),
      server: text('host name'),
      label: text('label'),
      group: { type: 'string', value: 'APP', help: 'access group' },
      'page-size': {
        type: 'string',
        value: 'N',
        help: 'items fetched per page, 1-1000 (default 500); pages are printed as they arrive',
      },
      limit: {
        type: 'string',
        value: 'N',
        help: 'print one page of at most N items (1..1000) and the cursor to continue, instead of all',
      },
      cursor: {
        type: 'string',
        value: 'C',
        help: 'print the page after a previous page (its printed cursor)',
      },
    },
    examples: [
      'coffer item find --service db',
      'coffer item find --server github.com --json',
      'coffer item find --kind note --limit 50',
    ],
    load: run('find'),
  },
  {
    path: ['item', 'update'],
    summary: 'change attributes and/or the secret; --expect-version refuses a stale change (ECONFLICT)',
    usage: 'ID [attribute options] [--secret | --secret-file FILE | --generate] [--expect-version N]',
    args: ID,
    options: {
      ...attributeOptions,
      ...secretInput,
      secret: { type: 'boolean', help: 'ask for a new secret (or read piped stdin)' },
      'expect-version': { type: 'string', value: 'N', help: 'fail unless the item is at version N' },
    },
    examples: [
      'coffer item update "$ID" --secret',
      'coffer item update "$ID" --comment rotated --expect-version 3',
    ],
    load: run('update'),
  },
  {
    path: ['item', 'rm'],
    summary: 'delete an item (a tombstone: `item undelete` brings it back, history keeps it)',
    usage: 'ID [--expect-version N]',
    args: ID,
    options: {
      'expect-version': { type: 'string', value: 'N', help: 'fail unless the item is at version N' },
    },
    examples: ['coffer item rm "$ID"'],
    load: run('remove'),
  },
  {
    path: ['item', 'undelete'],
    summary: 'bring a deleted item back (its last version)',
    usage: 'ID',
    args: ID,
    examples: ['coffer item undelete "$ID"'],
    load: run('undelete'),
  },
  {
    path: ['item', 'history'],
    summary: "list an item's earlier versions, newest first; secrets only with --reveal",
    usage: 'ID [--reveal]',
    args: ID,
    options: { reveal: { type: 'boolean', help: 'print each version’s secret' } },
    examples: ['coffer item history "$ID"', 'coffer item history "$ID" --reveal --json'],
    load: run('history'),
  },
  {
    path: ['item', 'history-bound'],
    summary: 'show or set how many versions (and bytes) of history every item keeps',
    usage: '[--count N] [--bytes N]',
    options: {
      count: { type: 'string', value: 'N', help: 'versions kept per item (≥ 1: history is never off)' },
      bytes: { type: 'string', value: 'N', help: 'bytes of stored records kept per item (≥ 1)' },
    },
    notes: [
      'A keystore-wide setting (admin token through a daemon); it applies at each item’s next write.',
      'The newest earlier version is always kept, whatever the byte bound.',
    ],
    examples: ['coffer item history-bound', 'coffer item history-bound --count 100'],
    load: run('historyBound'),
  },
  {
    path: ['item', 'import'],
    summary:
      'import a password-manager export: bitwarden-json, bitwarden-csv, keepassxc-csv, chrome-csv, apple-csv',
    usage: 'FORMAT FILE [--group APP] [--this-device-only]',
    args: [{ name: 'FORMAT' }, { name: 'FILE' }],
    options: {
      group: { type: 'string', value: 'APP', help: 'access group of the imported items' },
      'this-device-only': { type: 'boolean', help: 'never sync the imported items' },
    },
    notes: ['Delete the plaintext export once imported: Coffer exports only to encrypted backups.'],
    examples: [
      'coffer item import bitwarden-json bitwarden_export.json',
      'coffer item import chrome-csv passwords.csv',
    ],
    load: run('importFile'),
  },
  {
    path: ['item', 'generate'],
    summary: 'print a random password (length, character classes) or a BIP-39 word passphrase',
    usage: '[--length N] [--classes lower,upper,digits,symbols] | --words N',
    options: {
      length: { type: 'string', value: 'N', help: 'password length (8..1024, default 24)' },
      classes: {
        type: 'string',
        value: 'LIST',
        help: 'character classes (default lower,upper,digits,symbols)',
      },
      words: {
        type: 'string',
        value: 'N',
        help: 'a passphrase of N words from the BIP-39 English list instead',
      },
    },
    examples: [
      'coffer item generate',
      'coffer item generate --length 32 --classes lower,digits',
      'coffer item generate --words 6',
    ],
    load: run('generate'),
  },
];
