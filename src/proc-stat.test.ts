// procStat (proc-stat.ts) on this very process and on a pid that names none.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { procStat } from './proc-stat.js';

test('procStat: this process runs, has spent CPU time and has a start time; a missing pid is undefined', () => {
  const fields = procStat(process.pid);
  if (process.platform !== 'linux') return assert.equal(fields, undefined);
  assert.ok(fields);
  assert.match(fields[0]!, /^[RSD]$/);
  assert.ok(Number(fields[11]) + Number(fields[12]) > 0, 'utime + stime');
  assert.match(fields[19]!, /^\d+$/);
  // Past the kernel's pid_max (at most 2^22): no process can have it.
  assert.equal(procStat(2 ** 23), undefined);
});
