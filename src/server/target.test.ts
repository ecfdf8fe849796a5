// Request-target parsing fuzzed (SPEC §10.1 "Request targets"): any string is either parsed or refused
// with a CofferError (EINVAL / E2BIG) — never another exception; valid encodings round-trip (path
// segments through encodeURIComponent, queries through URLSearchParams, any bytes through %XX in either
// case, judged by a fatal UTF-8 decoder); and against the running daemon, any byte string as path and
// query gets an answer that is never a 500, after which the daemon still serves.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { CofferError } from '../errors.js';
import { type DaemonFixture, startDaemon } from './fixture.js';
import { decodeComponent, parseTarget } from './target.js';

const URLISH = [..."%/?&=+#aAfF09zZ._-~:@!$'()*,;"];
const urlish = fc
  .array(fc.constantFrom(...URLISH, '%E0', '%A4', '%C3%A9', '%2F', '%00', '%FF', '%e2%82%ac'), {
    maxLength: 40,
  })
  .map((parts) => parts.join(''));

function refusedCleanly(run: () => unknown): void {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof CofferError, `not a CofferError: ${String(error)}`);
    assert.ok(error.code === 'EINVAL' || error.code === 'E2BIG', error.code);
  }
}

describe('request-target parsing', () => {
  test('any string is parsed or refused with EINVAL/E2BIG, never another exception', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: 'binary', maxLength: 200 }),
          urlish.map((u) => `/${u}`),
        ),
        (target) => {
          refusedCleanly(() => parseTarget(target));
        },
      ),
      { numRuns: 3000 },
    );
  });

  test('path segments written with encodeURIComponent decode to themselves', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: 'grapheme', maxLength: 20 }), { minLength: 1, maxLength: 6 }),
        (segments) => {
          assert.deepEqual(parseTarget(`/${segments.map(encodeURIComponent).join('/')}`).segments, segments);
        },
      ),
      { numRuns: 1000 },
    );
  });

  test('queries written by URLSearchParams decode to the same pairs', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.string({ unit: 'grapheme', maxLength: 12 }),
            fc.string({ unit: 'grapheme', maxLength: 12 }),
          ),
          {
            maxLength: 6,
          },
        ),
        (pairs) => {
          const query = new URLSearchParams(pairs).toString();
          // URLSearchParams drops nothing but writes a pair with an empty name and value as '=': keep those.
          assert.deepEqual(parseTarget(`/v1/keys?${query}`).query, pairs);
        },
      ),
      { numRuns: 1000 },
    );
  });

  test('%XX escapes of any bytes decode exactly when the bytes are UTF-8, in either hex case', () => {
    const fatal = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 24 }), fc.boolean(), (bytes, upper) => {
        const escaped = [...bytes]
          .map((b) => `%${b.toString(16).padStart(2, '0')}`)
          .map((e) => (upper ? e.toUpperCase() : e))
          .join('');
        let expected: string | undefined;
        try {
          expected = fatal.decode(bytes);
        } catch {
          expected = undefined;
        }
        if (expected === undefined) assert.throws(() => decodeComponent(escaped, 'path'), { code: 'EINVAL' });
        else assert.equal(decodeComponent(escaped, 'path'), expected);
      }),
      { numRuns: 2000 },
    );
  });

  test('what WHATWG URL parsing would bend is refused or kept apart', () => {
    assert.deepEqual(parseTarget('/v1/keys/a%2Fb').segments, ['v1', 'keys', 'a/b']);
    assert.deepEqual(parseTarget('/v1/keys/../tokens').segments, ['v1', 'keys', '..', 'tokens']);
    // Not an authority: an empty first segment, so no route matches.
    assert.deepEqual(parseTarget('//evil/v1/health').segments, ['', 'evil', 'v1', 'health']);
    assert.throws(() => parseTarget('http://coffer/v1/health'), { code: 'EINVAL' });
    assert.throws(() => parseTarget('/v1/health#x'), { code: 'EINVAL' });
  });
});

describe('request targets against the running daemon', () => {
  let d: DaemonFixture;
  before(async () => {
    d = await startDaemon();
  });
  after(async () => {
    await d?.cleanup();
  });

  /** Sends one request whose target is `target` byte for byte; resolves with the status (0: none). */
  function statusFor(target: Buffer, method: string): Promise<number> {
    return new Promise((done) => {
      const socket = connect(d.socket);
      let answer = '';
      const finish = () => {
        socket.destroy();
        done(Number(/^HTTP\/1\.[01] (\d{3})/.exec(answer)?.[1] ?? 0));
      };
      socket.on('data', (chunk: Buffer) => {
        answer += chunk.toString('latin1');
        if (answer.includes('\r\n')) finish();
      });
      socket.on('error', finish);
      socket.on('close', finish);
      socket.write(
        Buffer.concat([
          Buffer.from(`${method} `),
          target,
          Buffer.from(
            ` HTTP/1.1\r\nHost: coffer\r\nAuthorization: Bearer ${d.adminToken}\r\nContent-Length: 0\r\n\r\n`,
          ),
        ]),
      );
    });
  }

  test('any byte string as path and query: never a 500, and the daemon keeps serving', async () => {
    const prefixes = [
      '/v1/keys/',
      '/v1/keys?',
      '/v1/tokens/',
      '/v1/keys/k_aaaaaaaaaaaaaaaaaaaaaaaaaa/public?',
      '/',
    ];
    const seen = new Set<number>();
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...prefixes),
        fc.oneof(
          fc.uint8Array({ maxLength: 60 }),
          urlish.map((u) => new Uint8Array(Buffer.from(u, 'latin1'))),
        ),
        fc.constantFrom('GET', 'POST', 'DELETE'),
        async (prefix, bytes, method) => {
          const status = await statusFor(Buffer.concat([Buffer.from(prefix), bytes]), method);
          seen.add(status);
          assert.ok(status !== 500, `500 for ${method} ${prefix}${Buffer.from(bytes).toString('hex')}`);
          assert.ok(status >= 200, 'every request gets an HTTP answer');
        },
      ),
      { numRuns: 300 },
    );
    assert.ok(seen.has(400), 'the fuzzer reached the malformed cases');
    assert.deepEqual(await d.admin.health(), { ok: true });
  });
});
