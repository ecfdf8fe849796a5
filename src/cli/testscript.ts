// A small testscript engine in the style of age's (Go's rogpeppe/go-internal testscript): a script
// is lines of commands and assertions followed by `-- name --` file sections, run in a fresh temp
// directory ($WORK) with a clean environment. `coffer` runs the built CLI with this Node.
//
//   exec PROG ARGS… [&]   run (must exit 0; `! exec` must fail); a trailing & runs it in the background
//   exit N                the last exec exited with code N
//   stdout RE / stderr RE the last exec's output matches (`! stdout RE`: does not match)
//   stdin FILE            the next exec reads FILE on stdin
//   env NAME=VALUE        set (empty VALUE: unset) a variable for later lines
//   capture NAME RE       set NAME to the first group of RE matched in the last stdout
//   cmp A B               files equal (A may be `stdout` or `stderr`); exists / ! exists FILE
//   cp SRC DST            copy a file (SRC may be `stdout` or `stderr` of the last exec)
//   waitfor FILE          wait (≤ 20 s) until FILE exists (a daemon's socket), or tcp:HOST:PORT accepts
//                         ($PORT is a loopback port that was free when the script started)
//   kill                  SIGTERM every background process, wait, check each exited 0
//   mkdir DIR             create a directory (0700)
// Words: 'single quotes' are literal ('' is a quote), "double quotes" and bare words expand $NAME
// and ${NAME}. Lines starting with # are comments.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

export interface ScriptOptions {
  /** Absolute path of the built CLI entry (dist/cli/main.js). */
  cli: string;
  /** Node binary that runs the CLI. */
  node?: string;
  /** Extra variables (e.g. the PKCS#11 module path) visible to the script. */
  env?: Record<string, string>;
  /** Per-command timeout (default 60 s). */
  timeoutMs?: number;
}

interface Result {
  code: number;
  /** The exact bytes, for cmp (binary output must not go through a text decoder). */
  stdoutBytes: Buffer;
  stdout: string;
  stderr: string;
}

interface Line {
  number: number;
  negate: boolean;
  words: string[];
  background: boolean;
  text: string;
}

export class ScriptError extends Error {}

/** Splits a script into its command lines and its `-- name --` file sections. */
export function parseScript(text: string): {
  lines: { number: number; text: string }[];
  files: Map<string, string>;
} {
  const all = text.split('\n');
  const lines: { number: number; text: string }[] = [];
  const files = new Map<string, string>();
  let current: string | undefined;
  let body: string[] = [];
  const flush = () => {
    if (current !== undefined) files.set(current, body.join('\n') + (body.length > 0 ? '\n' : ''));
  };
  for (let i = 0; i < all.length; i++) {
    const raw = all[i]!;
    const marker = /^-- (\S+) --$/.exec(raw);
    if (marker) {
      flush();
      current = marker[1]!;
      body = [];
      continue;
    }
    if (current !== undefined) body.push(raw);
    else lines.push({ number: i + 1, text: raw });
  }
  if (current !== undefined) {
    // The file body ends at the end of the script; drop the newline the editor added last.
    while (body.length > 0 && body[body.length - 1] === '') body.pop();
    flush();
  }
  return { lines, files };
}

/** Tokenises one line with testscript quoting and $VAR expansion. */
export function tokenize(text: string, vars: Record<string, string | undefined>): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let i = 0;
  const expand = (): string => {
    // At a '$': ${NAME} or $NAME.
    const braced = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}/.exec(text.slice(i));
    const bare = /^\$([A-Za-z_][A-Za-z0-9_]*)/.exec(text.slice(i));
    const match = braced ?? bare;
    if (!match) {
      i++;
      return '$';
    }
    i += match[0].length;
    return vars[match[1]!] ?? '';
  };
  while (i < text.length) {
    const c = text[i]!;
    if (c === ' ' || c === '\t') {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      i++;
    } else if (c === "'") {
      inWord = true;
      i++;
      for (;;) {
        if (i >= text.length) throw new ScriptError('unterminated single quote');
        if (text[i] === "'") {
          if (text[i + 1] === "'") {
            word += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        word += text[i++];
      }
    } else if (c === '"') {
      inWord = true;
      i++;
      for (;;) {
        if (i >= text.length) throw new ScriptError('unterminated double quote');
        if (text[i] === '"') {
          i++;
          break;
        }
        if (text[i] === '$') word += expand();
        else word += text[i++];
      }
    } else if (c === '$') {
      inWord = true;
      word += expand();
    } else {
      inWord = true;
      word += c;
      i++;
    }
  }
  if (inWord) words.push(word);
  return words;
}

interface Background {
  line: Line;
  child: ChildProcess;
  done: Promise<Result>;
}

function collect(child: ChildProcess, timeoutMs: number | undefined): Promise<Result> {
  return new Promise((resolveResult, reject) => {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (c: Buffer) => out.push(c));
    child.stderr?.on('data', (c: Buffer) => err.push(c));
    let timer: NodeJS.Timeout | undefined;
    if (timeoutMs !== undefined) {
      timer = setTimeout(() => {
        killGroup(child, 'SIGKILL');
        reject(new ScriptError(`timed out after ${timeoutMs} ms`));
      }, timeoutMs);
    }
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(new ScriptError(`cannot start: ${error.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolveResult({
        code: code ?? (signal ? 128 + (signal === 'SIGTERM' ? 15 : 9) : 1),
        stdoutBytes: Buffer.concat(out),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
  });
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolveConnect) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolveConnect(true);
    });
    socket.once('error', () => resolveConnect(false));
  });
}

/** A loopback TCP port that was free a moment ago (for `serve --listen` in scripts: $PORT). */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolvePort(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {}
  }
}

/** Runs one script; throws ScriptError with the transcript when an assertion fails. */
export async function runScript(name: string, text: string, options: ScriptOptions): Promise<string> {
  const work = mkdtempSync(join(tmpdir(), 'coffer-cli-'));
  const log: string[] = [];
  const background: Background[] = [];
  const vars: Record<string, string | undefined> = {
    WORK: work,
    HOME: join(work, 'home'),
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    LANG: 'C',
    NODE_NO_WARNINGS: '1',
    PORT: String(await freePort()),
    // The per-user agent of each script lives in its own runtime directory, which goes away with
    // $WORK (an agent exits when its socket is removed); scripts turn the agent on where they test it.
    XDG_RUNTIME_DIR: join(work, 'run'),
    COFFER_AGENT: '0',
    ...options.env,
  };
  mkdirSync(vars.HOME!, { mode: 0o700 });
  mkdirSync(vars.XDG_RUNTIME_DIR!, { mode: 0o700 });
  let last: Result | undefined;
  let stdinFile: string | undefined;
  const timeoutMs = options.timeoutMs ?? 60_000;
  const path = (p: string) => resolve(work, p);

  const fail = (line: Line, message: string): never => {
    throw new ScriptError(
      `${name}:${line.number}: ${line.text.trim()}\n  ${message}\n\n--- transcript ---\n${log.join('\n')}`,
    );
  };
  const needLast = (line: Line): Result => last ?? fail(line, 'no command has run yet');

  const start = (line: Line): ChildProcess => {
    const [program, ...args] = line.words.slice(1);
    if (program === undefined) fail(line, 'exec needs a program');
    const [file, argv] =
      program === 'coffer' ? [options.node ?? process.execPath, [options.cli, ...args]] : [program!, args];
    const env = Object.fromEntries(
      Object.entries(vars).filter((e): e is [string, string] => e[1] !== undefined),
    );
    const child = spawn(file, argv, { cwd: work, env, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdin?.on('error', () => {});
    if (stdinFile !== undefined) child.stdin?.end(readFileSync(path(stdinFile)));
    else child.stdin?.end();
    stdinFile = undefined;
    return child;
  };

  const checkExit = (line: Line, result: Result) => {
    if (line.negate && result.code === 0) fail(line, 'unexpected success (exit 0)');
    if (!line.negate && result.code !== 0) fail(line, `unexpected failure: exit ${result.code}`);
  };

  try {
    const { lines, files } = parseScript(text);
    for (const [file, content] of files) {
      mkdirSync(dirname(path(file)), { recursive: true });
      writeFileSync(path(file), content);
    }
    for (const raw of lines) {
      const trimmed = raw.text.trim();
      if (trimmed === '' || trimmed.startsWith('#')) continue;
      let words = tokenize(trimmed, vars);
      const negate = words[0] === '!';
      if (negate) words = words.slice(1);
      const backgroundRun = words[words.length - 1] === '&';
      if (backgroundRun) words = words.slice(0, -1);
      const line: Line = { number: raw.number, negate, words, background: backgroundRun, text: trimmed };
      log.push(`> ${trimmed}`);
      const [verb, ...rest] = words;
      switch (verb) {
        case 'exec': {
          const child = start(line);
          if (backgroundRun) {
            background.push({ line, child, done: collect(child, undefined) });
            break;
          }
          const result = await collect(child, timeoutMs);
          last = result;
          if (result.stdout) log.push(`[stdout]\n${result.stdout.trimEnd()}`);
          if (result.stderr) log.push(`[stderr]\n${result.stderr.trimEnd()}`);
          log.push(`[exit ${result.code}]`);
          checkExit(line, result);
          break;
        }
        case 'exit': {
          const want = Number(rest[0]);
          if (!Number.isInteger(want)) fail(line, 'exit needs a number');
          if (needLast(line).code !== want) fail(line, `exit code ${needLast(line).code}, want ${want}`);
          break;
        }
        case 'stdout':
        case 'stderr': {
          if (rest.length !== 1) fail(line, `${verb} needs one pattern`);
          const output = verb === 'stdout' ? needLast(line).stdout : needLast(line).stderr;
          const matches = new RegExp(rest[0]!, 'm').test(output);
          if (matches === negate)
            fail(
              line,
              negate ? `${verb} unexpectedly matches ${rest[0]}` : `no match for ${rest[0]} in ${verb}`,
            );
          break;
        }
        case 'stdin':
          stdinFile = rest[0] ?? fail(line, 'stdin needs a file');
          break;
        case 'env': {
          for (const pair of rest) {
            const eq = pair.indexOf('=');
            if (eq <= 0) fail(line, 'env takes NAME=VALUE');
            const value = pair.slice(eq + 1);
            vars[pair.slice(0, eq)] = value === '' ? undefined : value;
          }
          break;
        }
        case 'capture': {
          if (rest.length !== 2) fail(line, 'capture needs NAME and a pattern with one group');
          const match = new RegExp(rest[1]!, 'm').exec(needLast(line).stdout);
          if (!match || match[1] === undefined) fail(line, `no match for ${rest[1]} in stdout`);
          vars[rest[0]!] = match![1]!;
          break;
        }
        case 'cmp': {
          if (rest.length !== 2) fail(line, 'cmp needs two files');
          const read = (f: string) =>
            f === 'stdout'
              ? needLast(line).stdoutBytes
              : f === 'stderr'
                ? Buffer.from(needLast(line).stderr)
                : readFileSync(path(f));
          const equal = read(rest[0]!).equals(read(rest[1]!));
          if (equal === negate) fail(line, negate ? 'files are equal' : `${rest[0]} and ${rest[1]} differ`);
          break;
        }
        case 'cp': {
          if (rest.length !== 2) fail(line, 'cp needs a source and a destination');
          const [from, to] = rest as [string, string];
          const bytes =
            from === 'stdout'
              ? needLast(line).stdoutBytes
              : from === 'stderr'
                ? Buffer.from(needLast(line).stderr)
                : readFileSync(path(from));
          mkdirSync(dirname(path(to)), { recursive: true });
          writeFileSync(path(to), bytes);
          break;
        }
        case 'exists': {
          for (const f of rest)
            if (existsSync(path(f)) === negate) fail(line, `${f} ${negate ? 'exists' : 'does not exist'}`);
          break;
        }
        case 'mkdir':
          for (const d of rest) mkdirSync(path(d), { recursive: true, mode: 0o700 });
          break;
        case 'waitfor': {
          const what = rest[0] ?? fail(line, 'waitfor needs a file or tcp:HOST:PORT');
          const tcp = /^tcp:(.+):(\d+)$/.exec(what);
          const ready = tcp ? () => canConnect(tcp[1]!, Number(tcp[2])) : async () => existsSync(path(what));
          const deadline = Date.now() + 20_000;
          while (!(await ready())) {
            const exited = background.find((b) => b.child.exitCode !== null);
            if (exited) {
              const r = await exited.done;
              fail(line, `background process exited (${r.code}) first:\n${r.stderr}`);
            }
            if (Date.now() > deadline) fail(line, `${rest[0]} did not appear within 20 s`);
            await new Promise((r) => setTimeout(r, 50));
          }
          break;
        }
        case 'kill': {
          const running = background.splice(0);
          for (const b of running) killGroup(b.child, 'SIGTERM');
          for (const b of running) {
            const result = await b.done;
            last = result;
            log.push(`[background ${b.line.text}]`);
            if (result.stdout) log.push(`[stdout]\n${result.stdout.trimEnd()}`);
            if (result.stderr) log.push(`[stderr]\n${result.stderr.trimEnd()}`);
            log.push(`[exit ${result.code}]`);
            checkExit(line, result);
          }
          break;
        }
        default:
          fail(line, `unknown command ${verb}`);
      }
    }
    if (background.length > 0)
      throw new ScriptError(`${name}: background processes still running at the end: add a kill line`);
    return log.join('\n');
  } finally {
    for (const b of background) killGroup(b.child, 'SIGKILL');
    await Promise.allSettled(background.map((b) => b.done));
    rmSync(work, { recursive: true, force: true });
  }
}
