// Streaming a paged listing to stdout (docs/cli.md "Listings stream"): `key list`, `audit list` and
// `item find` print each page as it arrives, so memory stays bounded by one page however long the
// listing is. Text output is one line per row; under --json the output is still one JSON array, byte
// for byte what printing the whole list at once would give, written element by element.
import { type CursorPage, followPages } from '../client/pages.js';
import { type Context, jsonSafe } from './context.js';
import { writeStdout } from './io.js';

function indent(text: string): string {
  return text.replace(/^/gm, '  ');
}

/** Prints every row of every page in turn; returns how many rows were printed. */
export async function streamPages<T>(
  ctx: Context,
  pages: AsyncIterable<T[]>,
  row: (item: T) => string,
): Promise<number> {
  const json = ctx.config.json;
  let count = 0;
  for await (const items of pages) {
    if (items.length === 0) continue;
    const text = json
      ? items
          .map(
            (item, i) =>
              `${count + i === 0 ? '[\n' : ',\n'}${indent(JSON.stringify(jsonSafe(item), null, 2))}`,
          )
          .join('')
      : `${items.map(row).join('\n')}\n`;
    await writeStdout(ctx.streams, text);
    count += items.length;
  }
  if (json) await writeStdout(ctx.streams, count === 0 ? '[]\n' : '\n]\n');
  return count;
}

/** The rows of each page of a cursor-paged call, following the cursors (SPEC §4.6, §8.1, §16.6). */
export async function* pagedRows<P extends CursorPage, T>(
  fetch: (cursor: { cursor?: string }) => Promise<P>,
  rows: (page: P) => T[],
): AsyncGenerator<T[], void, undefined> {
  for await (const page of followPages(fetch)) yield rows(page);
}
