// `coffer sync …`: the device circle of keychain sync (SPEC §17.9, docs/sync.md) — create an account,
// invite and approve devices, join, list and remove devices, recover from the phrase. (`sync now` and
// `sync status`, the sync engine's, join these when it lands.)
import type { CommandSpec, OptionSpec, RunName } from '../spec.js';

const run = (name: RunName<typeof import('../commands/sync.js')>) => async () =>
  (await import('../commands/sync.js'))[name];

const SERVER = { name: 'SERVER' } as const;
const deviceName: OptionSpec = {
  type: 'string',
  value: 'NAME',
  help: 'this device’s name in the circle (1–64 bytes)',
};

export const syncTable: CommandSpec[] = [
  {
    path: ['sync', 'create'],
    summary: 'create a sync account with this keystore as its first device; shows the recovery phrase once',
    usage: 'SERVER --name NAME',
    args: [SERVER],
    options: { name: deviceName },
    notes: [
      'The 24-word recovery phrase is printed once: write it down and keep it offline. With it alone,',
      'a new device can rejoin the circle (coffer sync recover) when every other device is lost.',
    ],
    examples: ['coffer sync create https://sync.example --name laptop'],
    load: run('create'),
  },
  {
    path: ['sync', 'invite'],
    summary: 'open a one-time invite for a new device and print its code',
    usage: '[--ttl MINUTES]',
    options: {
      ttl: { type: 'string', value: 'MINUTES', help: 'how long the code works (1–1440, default 10)' },
    },
    examples: ['coffer sync invite', 'coffer sync invite --ttl 30 --json'],
    load: run('invite'),
  },
  {
    path: ['sync', 'join'],
    summary: 'join a circle with an invite code; shows the short code to compare, then waits for approval',
    usage: 'SERVER CODE --name NAME [--wait SECONDS] | --finish [--wait SECONDS]',
    args: [
      { name: 'SERVER', optional: true },
      { name: 'CODE', optional: true },
    ],
    options: {
      name: deviceName,
      wait: {
        type: 'string',
        value: 'SECONDS',
        help: 'how long to wait for the approval (default 600; 0: do not wait)',
      },
      finish: { type: 'boolean', help: 'finish a join started earlier (after its approval)' },
    },
    notes: ['Compare the short code with the one `coffer sync approve` shows on the inviting device.'],
    examples: [
      'coffer sync join https://sync.example aeaac-aqdaq-… --name phone',
      'coffer sync join --finish',
    ],
    load: run('join'),
  },
  {
    path: ['sync', 'approve'],
    summary: 'list join requests, or approve one after comparing its short code',
    usage: '[DEVICE] [--code CODE | --yes]',
    args: [{ name: 'DEVICE', optional: true }],
    options: {
      code: { type: 'string', value: 'CODE', help: 'the short code the joining device shows (must match)' },
      yes: { type: 'boolean', help: 'approve without comparing the short code (not recommended)' },
    },
    notes: [
      'Without DEVICE, lists the waiting requests with their short codes. With DEVICE on a terminal, asks',
      'whether the joining device shows the same code; elsewhere give --code.',
    ],
    examples: ['coffer sync approve', 'coffer sync approve 0123456789abcdef --code 131-045'],
    load: run('approve'),
  },
  {
    path: ['sync', 'devices'],
    summary: 'list the circle’s devices (removed ones with their removal time)',
    usage: '',
    examples: ['coffer sync devices', 'coffer sync devices --json'],
    load: run('devices'),
  },
  {
    path: ['sync', 'remove'],
    summary: 'remove a device: a new epoch and class key it never receives',
    usage: 'DEVICE',
    args: [{ name: 'DEVICE' }],
    notes: ['Items written afterwards cannot be read by the removed device, whatever it kept.'],
    examples: ['coffer sync remove 0123456789abcdef'],
    load: run('remove'),
  },
  {
    path: ['sync', 'recover'],
    summary: 'rejoin the circle with the recovery phrase when no other device is left',
    usage: 'SERVER --name NAME [--phrase-file FILE]',
    args: [SERVER],
    options: {
      name: deviceName,
      'phrase-file': {
        type: 'string',
        value: 'FILE',
        help: 'read the 24 words from FILE (else stdin when piped, else a hidden prompt)',
        complete: 'file',
      },
    },
    examples: ['coffer sync recover https://sync.example --name new-laptop'],
    load: run('recover'),
  },
];
