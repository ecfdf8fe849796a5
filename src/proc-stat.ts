// /proc/<pid>/stat on Linux, read in one place: the fields after the command name. The name is
// parenthesised and may itself hold spaces and parentheses, so the fields start after its last ')'.
import { readFileSync } from 'node:fs';

/**
 * Fields 3… of /proc/<pid>/stat — index 0 the state ('Z' a zombie), 11 and 12 user and system CPU
 * time in clock ticks (USER_HZ, 100 per second), 19 the start time — or undefined where there is no
 * such process or no /proc (macOS).
 */
export function procStat(pid: number): string[] | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}
