// Following opaque cursors (SPEC §4.6, §8.1, §16.6): an async generator that asks for the first page,
// then for the page after each cursor, until a page comes without one. Only the page being read is
// held, so walking a listing of any size takes the memory of one page. Works on any paged call of the
// surface: the client's methods use it, and so can code written against a local keystore.

import { CofferError } from '../errors.js';

/** What every paged call answers: some items and, while more may follow, a cursor. */
export interface CursorPage {
  cursor?: string;
}

/** Yields every page of a paged call in turn; `fetch` gets `{}` first, then `{ cursor }`. */
export async function* followPages<P extends CursorPage>(
  fetch: (cursor: { cursor?: string }) => Promise<P>,
): AsyncGenerator<P, void, undefined> {
  let cursor: string | undefined;
  do {
    const page = await fetch(cursor === undefined ? {} : { cursor });
    yield page;
    if (page.cursor !== undefined && page.cursor === cursor)
      // A server that hands the same cursor back would loop for ever: stop with a clear error instead.
      throw new CofferError('EINTERNAL', 'the server returned the same cursor twice');
    cursor = page.cursor;
  } while (cursor !== undefined);
}
