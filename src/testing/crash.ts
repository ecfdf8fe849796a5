// Reusable kill -9 harness (SPEC §9: a kill at a random moment never loses an acknowledged write
// nor leaves an unreadable store). A child process (compiled JS run with this Node) does durable
// work and prints one line per acknowledged step; the harness SIGKILLs its whole process group at a
// random moment and hands the complete lines it printed to a verifier, which reopens the store and
// checks that every acknowledged step is there. Only complete lines count: an acknowledgement cut
// off by the kill was never made. Children are always killed, even when a verifier throws.
//
// Child protocol (see the child* helpers): print `ready` once set up, then `ack <payload>` after
// each step has been durably acknowledged; run until killed.
import { type ChildProcess, spawn } from 'node:child_process';
import { writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface ChildRun {
  /** Complete lines printed before the child died. */
  lines: string[];
  /** Payloads of the complete `ack …` lines, in order. */
  acks: string[];
  /** Whether the harness killed it (false: it exited on its own — usually a failure to report). */
  killed: boolean;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** The last 4 KiB of stderr, for failure messages. */
  stderr: string;
  /** Milliseconds from spawn to the `ready` line (undefined if it never came). */
  readyAfterMs: number | undefined;
}

export interface ChildOptions {
  /** Compiled JS file to run with this Node binary. */
  script: string;
  args?: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface KillOptions extends ChildOptions {
  /** Kill this many ms after the child prints `ready` (or its first `ack`, see `timeFrom`) … */
  afterReadyMs?: number;
  /** What `afterReadyMs` counts from: 'ready' (default) or the first 'ack' (kills land mid-work). */
  timeFrom?: 'ready' | 'ack';
  /** … or this many ms after spawn, whichever is given (to kill during start-up and recovery). */
  afterSpawnMs?: number;
  /** Fail if the child neither prints `ready` nor is killed within this time. */
  timeoutMs?: number;
}

/** A file next to the caller's compiled module: `siblingScript(import.meta.url, 'x.child.js')`. */
export function siblingScript(importMetaUrl: string, name: string): string {
  return join(dirname(fileURLToPath(importMetaUrl)), name);
}

const live = new Set<ChildProcess>();
let exitHook = false;

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    // Negative pid: the whole process group (the child was spawned detached, as a group leader).
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}

function start(options: ChildOptions): ChildProcess {
  if (!exitHook) {
    exitHook = true;
    process.on('exit', () => {
      for (const child of live) killGroup(child);
    });
  }
  const child = spawn(process.execPath, [options.script, ...(options.args ?? [])], {
    cwd: options.cwd ?? process.cwd(),
    env: { ...process.env, ...options.env },
    // stdin stays an open pipe: children exit when it closes (childExitWithParent), so a test
    // runner that dies cannot leave them running.
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  });
  live.add(child);
  child.on('close', () => live.delete(child));
  return child;
}

/** Runs a child, kills it as configured, and resolves once it is gone. */
export function runAndKill(options: KillOptions): Promise<ChildRun> {
  const { afterReadyMs, afterSpawnMs, timeoutMs = 30_000, timeFrom = 'ready' } = options;
  return new Promise((resolve, reject) => {
    const child = start(options);
    const spawnedAt = performance.now();
    let buffer = '';
    let stderr = '';
    const lines: string[] = [];
    let killed = false;
    let readyAfterMs: number | undefined;
    let armed = false;
    const timers: NodeJS.Timeout[] = [];
    const kill = () => {
      if (child.exitCode === null && child.signalCode === null) {
        killed = true;
        killGroup(child);
      }
    };
    if (afterSpawnMs !== undefined) timers.push(setTimeout(kill, afterSpawnMs));
    timers.push(
      setTimeout(() => {
        kill();
        if (readyAfterMs === undefined) stderr += '\n[harness] no ready line before the timeout';
      }, timeoutMs),
    );
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      buffer += chunk;
      let newline = buffer.indexOf('\n');
      while (newline >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        lines.push(line);
        if (line === 'ready' && readyAfterMs === undefined) readyAfterMs = performance.now() - spawnedAt;
        const trigger = timeFrom === 'ready' ? line === 'ready' : line.startsWith('ack ');
        if (trigger && !armed && afterReadyMs !== undefined && afterSpawnMs === undefined) {
          armed = true;
          timers.push(setTimeout(kill, afterReadyMs));
        }
        newline = buffer.indexOf('\n');
      }
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-4096);
    });
    child.stdin!.on('error', () => undefined);
    child.on('error', (error) => {
      for (const timer of timers) clearTimeout(timer);
      reject(error);
    });
    child.on('close', (exitCode, signal) => {
      for (const timer of timers) clearTimeout(timer);
      // A partial last line (no newline) was cut by the kill: it is not an acknowledgement.
      resolve({
        lines,
        acks: lines.filter((l) => l.startsWith('ack ')).map((l) => l.slice(4)),
        killed: killed && signal === 'SIGKILL',
        exitCode,
        signal,
        stderr,
        readyAfterMs,
      });
    });
  });
}

/** Runs a child to completion (no kill) and resolves with its output; rejects after `timeoutMs`. */
export async function runToEnd(options: ChildOptions & { timeoutMs?: number }): Promise<ChildRun> {
  const result = await runAndKill({ ...options, timeoutMs: options.timeoutMs ?? 120_000 });
  if (result.killed || result.exitCode !== 0) {
    throw new Error(
      `child ${options.script} ${result.killed ? 'timed out' : `exited with ${result.exitCode ?? result.signal}`}: ` +
        result.stderr,
    );
  }
  return result;
}

export interface CrashLoopOptions extends ChildOptions {
  /** How many kill rounds (at least 20 per backend, docs/architecture.md "Adding a storage backend"). */
  rounds: number;
  /** Kill moment after `ready` (or the first `ack`, see `timeFrom`), uniformly in [min, max] ms. */
  killWindowMs: [number, number];
  timeFrom?: 'ready' | 'ack';
  /** Every n-th round is killed during start-up (uniformly before the previous round's ready time). */
  startupKillEvery?: number;
  /** Checks the store after each kill; throw to fail. Gets the run and the round number. */
  verify: (run: ChildRun, round: number) => Promise<void>;
  /** Randomness for kill moments (default Math.random); pass a seeded one to reproduce a failure. */
  random?: () => number;
}

export interface CrashLoopSummary {
  rounds: number;
  /** Acknowledged steps over all rounds. */
  acks: number;
  /** Rounds whose child was killed after printing at least one acknowledgement. */
  killedMidWork: number;
  killMoments: number[];
}

/** Runs `rounds` kill rounds in sequence, verifying after each. */
export async function crashLoop(options: CrashLoopOptions): Promise<CrashLoopSummary> {
  const random = options.random ?? Math.random;
  const [min, max] = options.killWindowMs;
  let lastReady = 300;
  const summary: CrashLoopSummary = { rounds: 0, acks: 0, killedMidWork: 0, killMoments: [] };
  for (let round = 0; round < options.rounds; round++) {
    const early = options.startupKillEvery !== undefined && round % options.startupKillEvery === 1;
    const moment = early ? random() * lastReady : min + random() * (max - min);
    const run = await runAndKill({
      ...options,
      ...(early ? { afterSpawnMs: moment } : { afterReadyMs: moment }),
    });
    if (!run.killed) {
      throw new Error(
        `round ${round}: the child was not killed (exit ${run.exitCode ?? run.signal}); stderr: ${run.stderr}`,
      );
    }
    if (run.readyAfterMs !== undefined) lastReady = run.readyAfterMs;
    summary.rounds++;
    summary.acks += run.acks.length;
    if (run.acks.length > 0) summary.killedMidWork++;
    summary.killMoments.push(Math.round(moment));
    try {
      await options.verify(run, round);
    } catch (error) {
      // Say which kill broke it, so a failure can be reasoned about (and reproduced with `random`).
      if (error instanceof Error) {
        const original = error.message;
        error.message =
          `after kill round ${round} (${early ? 'during start-up, ' : ''}${Math.round(moment)} ms after ` +
          `${early ? 'spawn' : options.timeFrom === 'ack' ? 'the first ack' : 'ready'}, ${run.acks.length} acks): ` +
          original;
        // Reporters print the stack, which captured the original message.
        if (error.stack !== undefined) error.stack = error.stack.replace(original, error.message);
      }
      throw error;
    }
  }
  return summary;
}

// ---- child side -----------------------------------------------------------------------------------

/** Writes a protocol line synchronously, so it is in the pipe before the child goes on. */
function emit(line: string): void {
  writeSync(1, `${line}\n`);
}

/** Call once set up (store open): the harness times kills from here. */
export function childReady(): void {
  emit('ready');
}

/** Call after each durably acknowledged step, with a payload the verifier understands. */
export function childAck(payload: string): void {
  emit(`ack ${payload}`);
}

/** Makes the child exit when its parent goes away (stdin closes), so no child outlives a test run. */
export function childExitWithParent(): void {
  const stdin = process.stdin;
  stdin.on('end', () => process.exit(3));
  stdin.on('close', () => process.exit(3));
  stdin.resume();
  // Watching stdin must not by itself keep a finished child alive.
  (stdin as unknown as { unref?: () => void }).unref?.();
}
