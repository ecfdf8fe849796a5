// Progress on long work (docs/cli.md): a bar for counted work (bulk key creation) and a spinner for
// waits of unknown length (a slow passphrase KDF). Both draw on stderr, and only when it is a
// terminal, so pipes, logs and test transcripts never see control characters.
import type { Streams } from './io.js';

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const WIDTH = 30;

export class ProgressBar {
  readonly #stream: Streams['stderr'];
  readonly #total: number;
  readonly #label: string;
  readonly #enabled: boolean;
  #done = 0;
  #lastDraw = 0;

  constructor(streams: Streams, total: number, label: string) {
    this.#stream = streams.stderr;
    this.#total = Math.max(1, total);
    this.#label = label;
    this.#enabled = streams.stderr.isTTY === true;
  }

  /** Adds `n` finished units; redraws at most every 50 ms and always on the last unit. */
  tick(n = 1): void {
    this.#done = Math.min(this.#total, this.#done + n);
    if (!this.#enabled) return;
    const now = Date.now();
    if (now - this.#lastDraw < 50 && this.#done < this.#total) return;
    this.#lastDraw = now;
    const filled = Math.round((this.#done / this.#total) * WIDTH);
    const bar = `${'█'.repeat(filled)}${'░'.repeat(WIDTH - filled)}`;
    this.#stream.write(`\r${this.#label} ${bar} ${this.#done}/${this.#total}`);
  }

  finish(): void {
    if (this.#enabled) this.#stream.write('\r\u001b[2K');
  }
}

/** Shows a spinner with `label` while `work` runs (terminal only), then clears the line. */
export async function withSpinner<T>(streams: Streams, label: string, work: Promise<T>): Promise<T> {
  if (streams.stderr.isTTY !== true) return work;
  let frame = 0;
  const draw = () => {
    streams.stderr.write(`\r${FRAMES[frame++ % FRAMES.length]} ${label}`);
  };
  // A short grace period: fast unlocks should not flash a spinner.
  let timer: NodeJS.Timeout | undefined = setTimeout(() => {
    draw();
    timer = setInterval(draw, 80);
  }, 250);
  try {
    return await work;
  } finally {
    clearTimeout(timer);
    clearInterval(timer);
    if (frame > 0) streams.stderr.write('\r\u001b[2K');
  }
}
