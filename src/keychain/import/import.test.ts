// Imports (docs/keychain.md "Importing"), from export files written after each product's documented
// format, and fast-check fuzzing of the readers: any input gives candidates or a CofferError, never a
// crash, and a CSV that round-trips through a writer comes back field for field.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import type { Keystore } from '../../core/keystore.js';
import { CofferError } from '../../errors.js';
import { tempKeystore } from '../../testing/keystore.js';
import { parseCsv } from './csv.js';
import { IMPORT_FORMATS, readExport } from './formats.js';

let ks: Keystore;
let cleanup: () => Promise<void>;
before(async () => {
  ({ ks, cleanup } = await tempKeystore());
});
after(() => cleanup());

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString();

// Bitwarden's documented unencrypted JSON export (bitwarden.com/help/export-your-data, condensed).
const BITWARDEN_JSON = JSON.stringify({
  encrypted: false,
  folders: [{ id: 'f1', name: 'Work' }],
  items: [
    {
      id: 'a',
      folderId: 'f1',
      type: 1,
      name: 'GitHub',
      notes: 'work account',
      favorite: false,
      fields: [
        { name: 'Recovery code', value: 'abcd-efgh', type: 1 },
        { name: 'linked', value: null, type: 3, linkedId: 100 },
      ],
      login: {
        uris: [
          { match: null, uri: 'https://github.com/login' },
          { match: null, uri: 'https://gist.github.com' },
        ],
        username: 'octocat',
        password: 'gh-Secret-1',
        totp: 'otpauth://totp/GitHub?secret=JBSWY3DPEHPK3PXP',
      },
    },
    { id: 'b', type: 2, name: 'Wifi', notes: 'WPA key: x-y-z', secureNote: { type: 0 } },
    { id: 'c', type: 3, name: 'Visa', card: { number: '4111111111111111' } },
    { id: 'd', type: 4, name: 'Me', identity: {} },
    { id: 'e', type: 1, name: 'Router', login: { uris: [], username: 'admin', password: 'router-pw' } },
    { id: 'f', type: 1, name: 'Empty', login: { uris: [], username: 'x', password: '' } },
  ],
});

test('Bitwarden JSON: logins, notes, custom fields; cards and identities skipped with reasons', async () => {
  const report = await ks.keychain.import({
    format: 'bitwarden-json',
    data: BITWARDEN_JSON,
    group: 'imported',
  });
  assert.deepEqual(
    report.imported.map((i) => i.entry),
    [1, 2, 5],
  );
  assert.deepEqual(
    report.skipped.map((s) => [s.entry, s.reason]),
    [
      [3, 'cards are not a keychain item kind'],
      [4, 'identities are not a keychain item kind'],
      [6, 'no password'],
    ],
  );
  const gh = await ks.keychain.get(report.imported[0]!.id);
  assert.equal(gh.kind, 'internet-password');
  assert.equal(gh.group, 'imported');
  assert.equal(gh.attributes.server, 'github.com');
  assert.equal(gh.attributes.path, '/login');
  assert.equal(gh.attributes.account, 'octocat');
  assert.equal(gh.attributes.custom?.['Recovery code'], 'abcd-efgh');
  assert.equal(gh.attributes.custom?.totp, 'otpauth://totp/GitHub?secret=JBSWY3DPEHPK3PXP');
  assert.equal(gh.attributes.custom?.['uri 2'], 'https://gist.github.com');
  assert.equal(text(gh.secret), 'gh-Secret-1');
  const note = await ks.keychain.get(report.imported[1]!.id);
  assert.equal(note.kind, 'note');
  assert.equal(text(note.secret), 'WPA key: x-y-z');
  const router = await ks.keychain.get(report.imported[2]!.id);
  assert.equal(router.kind, 'generic-password');
  assert.equal(router.attributes.service, 'Router');
  await assert.rejects(
    ks.keychain.import({ format: 'bitwarden-json', data: JSON.stringify({ encrypted: true, items: [] }) }),
    /unencrypted/,
  );
});

test('Bitwarden CSV, KeePassXC CSV, Chrome CSV and Apple Passwords CSV', async () => {
  const bitwardenCsv =
    'folder,favorite,type,name,notes,fields,reprompt,login_uri,login_username,login_password,login_totp\n' +
    'Social,1,login,Twitter,,"pin: 1234",0,twitter.com,me@example.com,"tw,pw""1",\n' +
    ',,note,My note,"line 1\nline 2",,0,,,,\n';
  const keepass =
    '"Group","Title","Username","Password","URL","Notes","TOTP","Icon","Last Modified","Created"\n' +
    '"Root/Email","Mail","alice","kp-pw","https://mail.example.org:8443/","","","0","2024-01-01T00:00:00Z","2024-01-01T00:00:00Z"\n';
  const chrome = 'name,url,username,password,note\nexample.com,https://example.com/,bob,chrome-pw,hello\n';
  const apple =
    'Title,URL,Username,Password,Notes,OTPAuth\nshop (carol),https://shop.example/,carol,apple-pw,,\n';
  const results = [
    await ks.keychain.import({ format: 'bitwarden-csv', data: bitwardenCsv }),
    await ks.keychain.import({ format: 'keepassxc-csv', data: keepass }),
    await ks.keychain.import({ format: 'chrome-csv', data: chrome }),
    await ks.keychain.import({ format: 'apple-csv', data: apple }),
  ];
  for (const r of results) assert.deepEqual(r.skipped, []);
  const tw = await ks.keychain.get(results[0]!.imported[0]!.id);
  assert.equal(text(tw.secret), 'tw,pw"1');
  assert.equal(tw.attributes.server, 'twitter.com');
  assert.equal(tw.attributes.custom?.pin, '1234');
  assert.equal(text((await ks.keychain.get(results[0]!.imported[1]!.id)).secret), 'line 1\nline 2');
  const mail = await ks.keychain.get(results[1]!.imported[0]!.id);
  assert.equal(mail.attributes.port, 8443);
  assert.equal(mail.attributes.custom?.group, 'Root/Email');
  assert.equal((await ks.keychain.find({ server: 'example.com' })).items.length, 1);
  assert.equal((await ks.keychain.find({ account: 'carol' })).items.length, 1);
});

test('a malformed export is EINVAL and writes nothing', async () => {
  const before = (await ks.keychain.find({ limit: 1000 })).items.length;
  const bad: [(typeof IMPORT_FORMATS)[number], string][] = [
    ['bitwarden-json', '{not json'],
    ['bitwarden-json', '{"items": 3}'],
    ['chrome-csv', 'name,url,username\nx,y,z\n'],
    ['chrome-csv', 'name,url,username,password\n"a,b,c,d\n'],
    ['keepassxc-csv', '"Group","Title","Username","Password","URL","Notes"\n"a","b"x,"c","d","e","f"\n'],
    ['apple-csv', 'Title,URL,Username,Password\na,b,c\n'],
  ];
  for (const [format, data] of bad) {
    await assert.rejects(ks.keychain.import({ format, data }), { code: 'EINVAL' }, `${format}: ${data}`);
  }
  assert.equal((await ks.keychain.find({ limit: 1000 })).items.length, before);
});

function writeCsv(rows: string[][]): string {
  return rows.map((row) => row.map((f) => `"${f.replaceAll('"', '""')}"`).join(',')).join('\r\n');
}

test('fuzz: CSV rows written by a writer read back field for field', () => {
  fc.assert(
    fc.property(
      fc.array(fc.array(fc.string({ unit: 'grapheme', maxLength: 12 }), { minLength: 1, maxLength: 6 }), {
        minLength: 1,
        maxLength: 8,
      }),
      (rows) => {
        const kept = rows.filter((r) => !(r.length === 1 && r[0] === ''));
        assert.deepEqual(parseCsv(writeCsv(rows)), kept);
      },
    ),
    { numRuns: 300 },
  );
});

test('fuzz: every reader answers any input with candidates or a CofferError', () => {
  const anyText = fc.oneof(
    fc.string({ maxLength: 200 }),
    fc.string({
      unit: fc.constantFrom('"', ',', '\n', '\r', 'a', ' ', '{', '}', '[', ']', ':'),
      maxLength: 200,
    }),
    fc.json().map((j) => j),
    fc
      .array(fc.record({ type: fc.integer({ min: 0, max: 6 }), name: fc.string(), notes: fc.string() }))
      .map((items) => JSON.stringify({ items })),
  );
  fc.assert(
    fc.property(fc.constantFrom(...IMPORT_FORMATS), anyText, (format, data) => {
      try {
        for (const c of readExport(format, data))
          assert.ok(c.spec !== undefined || typeof c.reason === 'string');
      } catch (error) {
        assert.ok(error instanceof CofferError, String(error));
        assert.ok(['EINVAL', 'E2BIG'].includes(error.code));
      }
    }),
    { numRuns: 1000 },
  );
});
