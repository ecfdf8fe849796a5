// Rotation commands (DESIGN §3 rotation policies): `rotate due` runs one scheduler tick for cron on a
// store without a daemon; `rotate emergency` rotates now and marks the old version compromised.
import { CofferError } from '../errors.js';
import { type Command, emit, requireStr, str } from './command.js';

const due: Command = {
  path: ['rotate', 'due'],
  summary: 'do every rotation, warning and expiry that is due now (for cron, without a daemon)',
  usage: '[--json]',
  examples: [
    'coffer rotate due',
    '0 * * * * COFFER_PASSPHRASE_FILE=/etc/coffer/pass coffer rotate due --json',
  ],
  notes: [
    'Policies come from each key (--rotate-every, --grace, --max-uses, --confirm) or the NIST SP 800-57 defaults (SPEC §13).',
    'A daemon runs the same scheduler by itself while unlocked.',
  ],
  async run(ctx) {
    if (ctx.config.daemon !== undefined) {
      throw new CofferError(
        'EINVAL',
        'rotate due works on the store directly (--store); a daemon schedules by itself',
      );
    }
    const backend = await ctx.backend();
    const { DirectBackend } = await import('./direct.js');
    const { rotateDue } = await import('../rotation/scheduler.js');
    const report = await rotateDue((backend as InstanceType<typeof DirectBackend>).ks);
    const lines = [
      ...report.events.map(
        (e) => `${e.type} ${e.keyId}${'version' in e && e.version !== undefined ? ` v${e.version}` : ''}`,
      ),
      `${report.events.length} events, ${report.rotated.length} rotated${report.failures.length ? `, ${report.failures.length} failed` : ''}`,
    ];
    await emit(ctx, report, lines);
    if (report.failures.length > 0)
      throw new CofferError('EINTERNAL', `${report.failures.length} keys could not be processed`);
  },
};

const emergency: Command = {
  path: ['rotate', 'emergency'],
  summary: 'rotate now and mark the old version compromised, recording an incident',
  usage: 'ID --description TEXT [--incident-id ID]',
  options: { description: { type: 'string' }, 'incident-id': { type: 'string' } },
  optionHelp: [
    ['--description TEXT', 'what happened (required; goes to the audit log and the alert event)'],
    ['--incident-id ID', "your incident tracker's id"],
  ],
  examples: ['coffer rotate emergency "$KEY" --description "laptop stolen" --incident-id INC-7'],
  positionals: 1,
  async run(ctx) {
    const description = requireStr(ctx.values, 'description', 'say what happened');
    const incidentId = str(ctx.values, 'incident-id');
    const backend = await ctx.backend();
    const key = await backend.emergencyRotate(ctx.args[0]!, {
      description,
      ...(incidentId ? { id: incidentId } : {}),
    });
    return emit(ctx, key, `${key.id}: version ${key.primaryVersion} is primary; older versions compromised`);
  },
};

export const rotationCommands: Command[] = [due, emergency];
