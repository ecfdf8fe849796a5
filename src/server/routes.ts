// Every route of the daemon in one list (SPEC §10.2), for the router and for the tests that check the
// OpenAPI document and the token scopes against all of them.
import type { Route } from './router.js';
import { adminRoutes } from './routes-admin.js';
import { backupRoutes } from './routes-backup.js';
import { formatRoutes } from './routes-formats.js';
import { hdRoutes } from './routes-hd.js';
import { itemRoutes } from './routes-items.js';
import { keyRoutes } from './routes-keys.js';
import { keyExtraRoutes } from './routes-keys-extra.js';
import { maintenanceRoutes } from './routes-maintenance.js';
import { metricsRoutes } from './routes-metrics.js';
import { opRoutes } from './routes-ops.js';
import { streamRoutes } from './routes-stream.js';
import { syncRoutes } from './routes-sync.js';
import { syncEngineRoutes } from './routes-sync-engine.js';

export function allRoutes(openapi: () => unknown): Route[] {
  return [
    ...adminRoutes(openapi),
    ...keyRoutes,
    ...keyExtraRoutes,
    ...opRoutes,
    ...streamRoutes,
    ...hdRoutes,
    ...backupRoutes,
    ...maintenanceRoutes,
    ...metricsRoutes,
    ...formatRoutes,
    ...itemRoutes,
    ...syncRoutes,
    ...syncEngineRoutes,
  ];
}
