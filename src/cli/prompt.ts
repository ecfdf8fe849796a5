// The hidden passphrase prompt (docs/cli.md): only on a terminal, with echo off, drawn on stderr so
// stdout stays clean for data. Without a terminal the caller gets an error saying what to set.
import { CofferError } from '../errors.js';
import type { Streams } from './streams.js';

type TtyIn = NodeJS.ReadableStream & {
  isTTY?: boolean;
  setRawMode?: (mode: boolean) => unknown;
  pause(): unknown;
  resume(): unknown;
};

export function canPrompt(streams: Streams): boolean {
  const stdin = streams.stdin as TtyIn;
  return stdin.isTTY === true && typeof stdin.setRawMode === 'function' && streams.stderr.isTTY === true;
}

/** Reads one line from the terminal without echoing it. Ctrl-C aborts with EINVAL. */
export function promptHidden(streams: Streams, question: string): Promise<string> {
  const stdin = streams.stdin as TtyIn;
  if (!canPrompt(streams)) throw new CofferError('EINVAL', 'no terminal to prompt on');
  streams.stderr.write(question);
  return new Promise((resolve, reject) => {
    let value = '';
    const finish = (error?: CofferError) => {
      stdin.removeListener('data', onData);
      stdin.setRawMode?.(false);
      stdin.pause();
      streams.stderr.write('\n');
      if (error) reject(error);
      else resolve(value);
    };
    const onData = (chunk: Buffer | string) => {
      for (const char of chunk.toString('utf8')) {
        if (char === '\r' || char === '\n' || char === '\u0004') return finish();
        if (char === '\u0003') return finish(new CofferError('EINVAL', 'cancelled at the prompt'));
        if (char === '\u007f' || char === '\b') value = [...value].slice(0, -1).join('');
        else if (char >= ' ') value += char;
      }
    };
    stdin.setRawMode?.(true);
    stdin.resume();
    stdin.on('data', onData);
  });
}

/** Prompts twice for a new secret and insists the two match. */
export async function promptNewSecret(streams: Streams, what: string): Promise<string> {
  const first = await promptHidden(streams, `New ${what}: `);
  if (first.length === 0) throw new CofferError('EINVAL', `the ${what} must not be empty`);
  const second = await promptHidden(streams, `Repeat the ${what}: `);
  if (first !== second) throw new CofferError('EINVAL', `the two ${what}s differ; nothing was changed`);
  return first;
}
