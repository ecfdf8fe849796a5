// Daemon tokens on an open Keystore, without a daemon (as `coffer init` uses them): format, hashed
// storage (no token byte in the store file), scope validation, revocation, and authenticate's EPERM.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { Keystore } from '../core/keystore.js';
import { passphrase, tempKeystore } from '../testing/keystore.js';
import {
  allowsApp,
  allowsOp,
  authenticate,
  createToken,
  listTokens,
  revokeToken,
  tokenId,
} from './tokens.js';

describe('daemon tokens', () => {
  let ks: Keystore;
  let url: string;
  let removeDir: () => void;
  before(async () => {
    const t = await tempKeystore();
    ks = t.ks;
    url = t.url;
    removeDir = () => t.dir.remove();
  });
  after(async () => {
    await ks?.close();
    removeDir?.();
  });

  test('a token is coffer_ + 43 base64url chars; only its hash is stored, sealed', async () => {
    const { id, token } = await createToken(ks, { name: 'admin', apps: ['*'], ops: ['*'], admin: true });
    assert.match(token, /^coffer_[A-Za-z0-9_-]{43}$/);
    assert.equal(Buffer.from(token.slice(7), 'base64url').length, 32);
    assert.equal(id, tokenId(token));
    await ks.close();
    // The store's file bytes (WAL included) hold no form of the token.
    const path = url.slice('sqlite:'.length);
    const files = [path, `${path}-wal`].map((f) => {
      try {
        return readFileSync(f);
      } catch {
        return Buffer.alloc(0);
      }
    });
    const bytes = Buffer.concat(files);
    for (const needle of [token, token.slice(7), Buffer.from(token.slice(7), 'base64url').toString('hex')]) {
      assert.equal(bytes.includes(needle), false);
    }
    ks = await Keystore.open({ store: url, protector: passphrase() });
    assert.equal((await authenticate(ks, token)).id, id);
  });

  test('authenticate: the live token → its scope; unknown, malformed or revoked → EPERM', async () => {
    const { id, token } = await createToken(ks, { apps: ['billing', 'web'], ops: ['verify', 'sign'] });
    const info = await authenticate(ks, token);
    assert.deepEqual(
      { id: info.id, apps: info.apps, ops: info.ops, admin: info.admin },
      {
        id,
        apps: ['billing', 'web'],
        ops: ['sign', 'verify'],
        admin: false,
      },
    );
    assert.ok(allowsApp(info, 'web') && !allowsApp(info, 'other'));
    assert.ok(allowsOp(info, 'sign') && !allowsOp(info, 'seal'));
    const flipped = token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A');
    for (const bad of [flipped, 'coffer_short', '', `Bearer ${token}`, token.toUpperCase()]) {
      await assert.rejects(authenticate(ks, bad), (e: Error & { code: string }) => {
        assert.equal(e.code, 'EPERM');
        assert.ok(!e.message.includes(token.slice(7, 20)));
        return true;
      });
    }
    assert.ok((await listTokens(ks)).some((t) => t.id === id));
    await revokeToken(ks, id);
    await assert.rejects(authenticate(ks, token), { code: 'EPERM' });
    assert.ok(!(await listTokens(ks)).some((t) => t.id === id));
    await assert.rejects(revokeToken(ks, id), { code: 'ENOENT' });
    await assert.rejects(revokeToken(ks, 'nope'), { code: 'EINVAL' });
    const events = (await ks.auditTail(10)).map((e) => e.event);
    assert.ok(events.includes('token.create') && events.includes('token.revoke'));
  });

  test('scope validation: apps and ops non-empty, known, * alone', async () => {
    const bad: [unknown, string][] = [
      [{ apps: [], ops: ['sign'] }, 'EINVAL'],
      [{ apps: ['a'], ops: [] }, 'EINVAL'],
      [{ apps: ['*', 'a'], ops: ['sign'] }, 'EINVAL'],
      [{ apps: ['a'], ops: ['sign', '*'] }, 'EINVAL'],
      [{ apps: ['Bad App'], ops: ['sign'] }, 'EINVAL'],
      [{ apps: ['a'], ops: ['fly'] }, 'EINVAL'],
      [{ apps: ['a'], ops: ['sign'], admin: 'yes' }, 'EINVAL'],
      [{ apps: ['a'], ops: ['sign'], name: 'x'.repeat(300) }, 'E2BIG'],
      [{ apps: Array.from({ length: 65 }, (_, i) => `a${i}`), ops: ['sign'] }, 'E2BIG'],
      [null, 'EINVAL'],
    ];
    const before = (await listTokens(ks)).length;
    for (const [options, code] of bad) {
      await assert.rejects(createToken(ks, options as never), { code }, JSON.stringify(options));
    }
    assert.equal((await listTokens(ks)).length, before, 'nothing written for bad input');
  });
});
