// The daemon part of `coffer doctor` (docs/metrics.md "coffer doctor"): when a daemon is configured,
// its health as its own metrics tell it — storage failures by backend, audit append failures, unlock
// failures and lockout, rotations due and overdue, the worker-pool queue and the event-loop lag.
// Read through GET /v1/metrics with the configured token (admin or metrics-only) and the strict
// exposition reader, so doctor sees exactly what Prometheus would.
import type { MetricFamily } from '../../server/metrics-text.js';
import type { Config } from '../config.js';

export interface DaemonFinding {
  ok: boolean;
  what: string;
  detail: string;
}

export interface DaemonReport {
  reachable: boolean;
  detail: string;
  findings: DaemonFinding[];
}

function samples(families: MetricFamily[], name: string) {
  return families.flatMap((f) => f.samples.filter((s) => s.name === name));
}

/** What the metrics say, as findings (pure: the tests feed it scrapes). */
export function findingsFromMetrics(families: MetricFamily[]): DaemonFinding[] {
  const findings: DaemonFinding[] = [];
  const value = (name: string) => samples(families, name).reduce((sum, s) => sum + s.value, 0);
  const has = (name: string) => samples(families, name).length > 0;

  // Storage: failures by backend (a lost compare-and-swap is concurrency, not a failure).
  const storage = samples(families, 'coffer_persistence_operations_total');
  const backends = [...new Set(storage.map((s) => s.labels.backend ?? '?'))];
  for (const backend of backends) {
    const mine = storage.filter((s) => s.labels.backend === backend);
    const failed = mine.filter((s) => s.labels.outcome !== 'ok' && s.labels.outcome !== 'ECONFLICT');
    const failures = failed.reduce((sum, s) => sum + s.value, 0);
    const total = mine.reduce((sum, s) => sum + s.value, 0);
    const codes = [...new Set(failed.filter((s) => s.value > 0).map((s) => s.labels.outcome))].join(', ');
    findings.push({
      ok: failures === 0,
      what: `storage ${backend}`,
      detail:
        failures === 0
          ? `${total} calls, none failed`
          : `${failures} of ${total} calls failed (${codes}): check the backend's disk, permissions or connection`,
    });
  }
  const audit = value('coffer_audit_append_failures_total');
  findings.push({
    ok: audit === 0,
    what: 'audit log',
    detail:
      audit === 0
        ? 'no append failures'
        : `${audit} audit appends failed (the changes they carried failed too): run coffer audit verify`,
  });
  if (has('coffer_unlock_locked_out')) {
    const lockedOut = value('coffer_unlock_locked_out') > 0;
    const failures = value('coffer_unlock_failures');
    findings.push({
      ok: !lockedOut,
      what: 'unlock',
      detail: lockedOut
        ? 'unlocking is locked out after 5 failed passphrases (coffer status shows until when)'
        : `${failures} failed attempts in the current window, ${value('coffer_unlock_lockouts_total')} lockouts since start`,
    });
  }
  if (has('coffer_rotations_due')) {
    const overdue = value('coffer_rotations_overdue');
    findings.push({
      ok: overdue === 0,
      what: 'rotation',
      detail:
        overdue === 0
          ? `${value('coffer_rotations_due')} keys due, none overdue`
          : `${overdue} keys overdue by more than an hour: is the scheduler running? (coffer rotate due; confirm keys created with --confirm)`,
    });
  }
  if (has('coffer_worker_pool_queue_depth'))
    findings.push({
      ok: true,
      what: 'worker pool',
      detail: `${value('coffer_worker_pool_queue_depth')} jobs waiting`,
    });
  const p99 = samples(families, 'coffer_event_loop_lag_seconds').find((s) => s.labels.stat === 'p99');
  if (p99)
    findings.push({
      // A p99 over 100 ms means requests wait behind work on the event loop.
      ok: p99.value < 0.1,
      what: 'event loop',
      detail: `p99 lag ${(p99.value * 1000).toFixed(1)} ms since the previous scrape`,
    });
  const ops = samples(families, 'coffer_operations_total');
  const opsTotal = ops.reduce((sum, s) => sum + s.value, 0);
  const opsFailed = ops.filter((s) => s.labels.outcome !== 'ok').reduce((sum, s) => sum + s.value, 0);
  findings.push({
    ok: true,
    what: 'operations',
    detail: `${opsTotal} since start, ${opsFailed} refused or failed`,
  });
  return findings;
}

/** The configured daemon's health, or why it could not be read; undefined when no daemon is configured. */
export async function daemonReport(config: Config): Promise<DaemonReport | undefined> {
  if (config.daemon === undefined) return undefined;
  const where = 'socket' in config.daemon ? config.daemon.socket : config.daemon.url;
  const { connectDaemon } = await import('../connect.js');
  const { parseMetricsText } = await import('../../server/metrics-text.js');
  let client: Awaited<ReturnType<typeof connectDaemon>> | undefined;
  try {
    client = await connectDaemon(config);
    const families = parseMetricsText(await client.metrics());
    return {
      reachable: true,
      detail: `metrics of the daemon at ${where}`,
      findings: findingsFromMetrics(families),
    };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return {
      reachable: false,
      detail: `cannot read the metrics of the daemon at ${where}: ${message} (an admin or a metrics token is needed; a locked daemon answers only on --metrics-listen)`,
      findings: [],
    };
  } finally {
    client?.close();
  }
}
