// Property tests of the circle's parsers (SPEC §17.9): any string is a valid invite code or an
// EINVAL/ENOENT, never another error; any bytes are a circle document, join request or reply, or an
// EBADMSG; a valid code survives case and separator changes, and any single changed character is caught.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { CofferError } from '../../errors.js';
import { parseDocument } from './document.js';
import { encodeInvite, parseInvite } from './invite.js';
import { openJoinReply, openJoinRequest } from './join.js';

const NOW = 1_700_000_000_000;

function onlyCodes(run: () => unknown, codes: string[]): void {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof CofferError, `not a CofferError: ${String(error)}`);
    assert.ok(codes.includes(error.code), `${error.code}: ${error.message}`);
  }
}

const invites = fc.record({
  secret: fc.uint8Array({ minLength: 16, maxLength: 16 }),
  sponsor: fc.uint8Array({ minLength: 16, maxLength: 16 }),
  expiresAt: fc.integer({ min: NOW / 1000 + 1, max: 0xffffffff }),
});

test('an invite code round-trips through case, spaces and dashes', () => {
  fc.assert(
    fc.property(invites, fc.boolean(), (invite, upper) => {
      const code = encodeInvite(invite);
      const typed = upper ? code.toUpperCase().replace(/-/g, ' ') : code.replace(/-/g, '');
      assert.deepEqual(parseInvite(typed, NOW), { ...invite });
    }),
  );
});

test('one changed character of an invite code is refused as mistyped', () => {
  fc.assert(
    fc.property(
      invites,
      fc.nat(),
      fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz234567'),
      (invite, at, char) => {
        const code = encodeInvite(invite).replace(/-/g, '');
        const i = at % code.length;
        fc.pre(code[i] !== char);
        const changed = code.slice(0, i) + char + code.slice(i + 1);
        // A 16-bit check misses one change in 65 536 at worst; a miss must still not crash.
        onlyCodes(() => parseInvite(changed, NOW), ['EINVAL']);
      },
    ),
  );
});

test('any string given as an invite code is accepted or refused with EINVAL/ENOENT', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 100 }), (text) =>
      onlyCodes(() => parseInvite(text, NOW), ['EINVAL', 'ENOENT']),
    ),
  );
});

test('any bytes as a circle document, join request or join reply are parsed or refused with EBADMSG', () => {
  const json = fc.jsonValue().map((v) => new TextEncoder().encode(JSON.stringify(v)));
  const inputs = fc.oneof(fc.uint8Array({ maxLength: 200 }), json);
  fc.assert(
    fc.property(inputs, (bytes) => {
      onlyCodes(() => parseDocument(bytes), ['EBADMSG']);
      onlyCodes(() => openJoinRequest(bytes, new Uint8Array(16), 'x'), ['EBADMSG']);
      onlyCodes(() => openJoinReply(bytes), ['EBADMSG']);
    }),
  );
});

test('a circle document with any one field removed or retyped is refused with EBADMSG', () => {
  const link = {
    body: {
      accountId: 'ac_aaaaaaaaaaaaaaaa',
      at: 1,
      change: { op: 'add' },
      envelopes: [],
      epoch: 1,
      signer: '0123456789abcdef',
      version: 1,
    },
    sig: { ed25519: '', mldsa65: '' },
  };
  const doc = { format: 'coffer-sync-circle', links: [link], v: 1 };
  fc.assert(
    fc.property(fc.constantFrom('format', 'links', 'v'), fc.jsonValue(), (field, value) => {
      const broken = { ...doc, [field]: value } as Record<string, unknown>;
      onlyCodes(() => parseDocument(new TextEncoder().encode(JSON.stringify(broken))), ['EBADMSG']);
    }),
  );
});
