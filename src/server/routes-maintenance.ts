// Maintenance routes (SPEC §10.2): one rotation tick on demand (`coffer rotate due` through a daemon)
// and the unlock attempt count (`coffer status`), readable without a token like /v1/status.
import { CofferError } from '../errors.js';
import { rotateDue, type TickReport } from '../rotation/scheduler.js';
import { readUnlockAttempts } from './lockout.js';
import { type Route, route } from './router.js';

export const maintenanceRoutes: Route[] = [
  route({
    method: 'POST',
    path: '/v1/rotation/due',
    summary:
      'Run one rotation tick now: every warning, rotation and expiry that is due (admin); the running scheduler when there is one',
    auth: 'admin',
    maxBody: 1024,
    response: {
      type: 'object',
      description: 'TickReport: at, events, rotated, archived, failures, busy',
      properties: {
        at: { type: 'integer' },
        events: { type: 'array', items: { type: 'object' } },
        rotated: { type: 'array', items: { type: 'object' } },
        archived: { type: 'array', items: { type: 'object' } },
        failures: { type: 'array', items: { type: 'object' } },
        busy: { type: 'array', items: { type: 'string' } },
      },
    },
    handler: async ({ daemon }) => {
      let report: TickReport;
      try {
        // Through the running scheduler, so SSE subscribers and webhooks see the events.
        report = await daemon.scheduler().tick();
      } catch (error) {
        if (!(error instanceof CofferError && error.code === 'EUNAVAIL')) throw error;
        report = await rotateDue(daemon.keystore()); // started with rotation disabled: a one-shot tick
      }
      return { json: report };
    },
  }),
  route({
    method: 'GET',
    path: '/v1/unlock/attempts',
    summary: 'Failed unlock attempts in the current window and the lockout end (no token, like status)',
    auth: 'none',
    maxBody: 0,
    response: {
      type: 'object',
      properties: {
        failures: { type: 'integer' },
        maxFailures: { type: 'integer' },
        lockedOutUntil: { type: 'integer', description: 'ms since the epoch; present while locked out' },
      },
      required: ['failures', 'maxFailures'],
    },
    handler: async ({ daemon }) => ({ json: await readUnlockAttempts(daemon.storage, daemon.clock()) }),
  }),
];
