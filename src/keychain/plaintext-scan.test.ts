// "No plaintext at rest" (SPEC §16.2, §16.5), checked the way an attacker who copies the store would:
// after items with known secrets and attributes are written (and updated, so history holds them too),
// the raw bytes of each backend — the SQLite file and its WAL, every file of a dir store, every row
// of a PostgreSQL store — contain none of them, as text, base64 or hex.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Keystore } from '../core/keystore.js';
import { openStorage } from '../storage/open.js';
import { passphrase, tempDir } from '../testing/keystore.js';
import { type PostgresCluster, startPostgres } from '../testing/postgres.js';

const NEEDLES = [
  'Correct-Horse-Battery-9431',
  'Second-Secret-Value-5527',
  'needle-service.example',
  'needle-account@example.org',
  'Needle Label Text',
  'needle comment body',
  'needle-custom-value',
];

function forms(needle: string): Buffer[] {
  const bytes = Buffer.from(needle);
  return [
    bytes,
    Buffer.from(bytes.toString('base64').slice(0, -4)),
    Buffer.from(bytes.toString('hex')),
    Buffer.from(needle.toLowerCase()),
  ];
}

async function fill(url: string): Promise<void> {
  const ks = await Keystore.open({ store: url, protector: passphrase(), create: true });
  try {
    const item = await ks.keychain.add({
      kind: 'internet-password',
      attributes: {
        server: NEEDLES[2],
        account: NEEDLES[3],
        label: NEEDLES[4],
        comment: NEEDLES[5],
        custom: { totp: NEEDLES[6] as string },
      },
      secret: NEEDLES[0],
    });
    await ks.keychain.update(item.id, { secret: NEEDLES[1] });
    await ks.keychain.add({
      kind: 'generic-password',
      attributes: { service: NEEDLES[2] as string },
      secret: NEEDLES[0],
    });
    await ks.keychain.add({ kind: 'note', attributes: { label: NEEDLES[4] as string }, secret: NEEDLES[1] });
    // Everything is readable through the keychain: the scan below is not passing by accident.
    assert.equal((await ks.keychain.find({ server: NEEDLES[2] as string })).items.length, 1);
  } finally {
    await ks.close();
  }
}

function assertAbsent(blob: Buffer, where: string): void {
  for (const needle of NEEDLES) {
    for (const form of forms(needle))
      assert.equal(blob.indexOf(form), -1, `${where} holds ${needle} (${form})`);
  }
}

function allFiles(path: string): Buffer {
  if (statSync(path).isFile()) return readFileSync(path);
  return Buffer.concat(readdirSync(path).map((name) => allFiles(join(path, name))));
}

test('sqlite: the database file and WAL hold no secret or attribute in the clear', async () => {
  const dir = tempDir();
  try {
    await fill(`sqlite:${join(dir.path, 'store.db')}`);
    assertAbsent(allFiles(dir.path), 'the sqlite store');
  } finally {
    dir.remove();
  }
});

test('dir: no file of the store holds a secret or attribute in the clear', async () => {
  const dir = tempDir();
  try {
    await fill(`dir:${join(dir.path, 'store')}`);
    const blob = allFiles(dir.path);
    assert.ok(blob.length > 0);
    assertAbsent(blob, 'the dir store');
  } finally {
    dir.remove();
  }
});

let cluster: PostgresCluster;
before(async () => {
  cluster = await startPostgres();
});
after(async () => {
  await cluster?.stop();
});

test('postgres: no row (key or value) holds a secret or attribute in the clear', async () => {
  const url = await cluster.createDatabase('plaintext_scan');
  await fill(url);
  const storage = await openStorage(url);
  try {
    const rows = await storage.list('');
    assert.ok(
      rows.some((r) => r.key.startsWith('kc/h/')),
      'history was written',
    );
    assertAbsent(
      Buffer.concat(rows.flatMap((r) => [Buffer.from(r.key), Buffer.from(r.value)])),
      'the postgres store',
    );
  } finally {
    await storage.close();
  }
});
