// Proves the error contract (docs/errors.md): every code maps to its HTTP status and CLI exit code.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { asCofferError, CofferError, ERROR_CODES, ensure, isErrorCode } from './errors.js';

const expected: Record<string, [number, number]> = {
  EINVAL: [400, 2],
  E2BIG: [413, 2],
  EPERM: [403, 3],
  ENOENT: [404, 4],
  EALREADY: [409, 5],
  ECONFLICT: [409, 5],
  EKEYREVOKED: [410, 6],
  EKEYEXPIRED: [410, 6],
  ESTATE: [409, 6],
  EBADMSG: [400, 7],
  ELOCKED: [423, 8],
  ERATE: [429, 9],
  EUNAVAIL: [503, 10],
  EINTERNAL: [500, 1],
};

test('the code table has exactly the contract codes with their HTTP and exit codes', () => {
  assert.deepEqual(Object.keys(ERROR_CODES).sort(), Object.keys(expected).sort());
  for (const [code, [http, exit]] of Object.entries(expected)) {
    assert.ok(isErrorCode(code));
    const error = new CofferError(code, 'x');
    assert.equal(error.httpStatus, http, code);
    assert.equal(error.exitCode, exit, code);
    assert.deepEqual(error.toJSON(), { code, message: 'x' });
    assert.ok(error instanceof Error);
    assert.equal(error.name, 'CofferError');
  }
  assert.equal(isErrorCode('ENOPE'), false);
  assert.equal(isErrorCode('toString'), false);
});

test('ensure throws the given code and asCofferError keeps or wraps', () => {
  assert.throws(() => ensure(false, 'EPERM', 'no'), { code: 'EPERM', message: 'no' });
  ensure(true, 'EPERM', 'never');
  const kept = new CofferError('ENOENT', 'gone');
  assert.equal(asCofferError(kept), kept);
  const wrapped = asCofferError(new TypeError('boom'));
  assert.equal(wrapped.code, 'EINTERNAL');
  assert.match(wrapped.message, /boom/);
});

test('docs/errors.md lists exactly the code table, with its statuses, exit codes and meanings', () => {
  const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
  const rows = [...doc.matchAll(/^\| `(E[A-Z0-9]+)` \| (\d+) \| (\d+) \| (.+) \|$/gm)].map((m) => [
    m[1],
    Number(m[2]),
    Number(m[3]),
    m[4],
  ]);
  assert.deepEqual(
    rows,
    Object.entries(ERROR_CODES).map(([code, { http, exit, meaning }]) => [code, http, exit, meaning]),
  );
});
