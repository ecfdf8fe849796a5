// The web console in a real browser (docs/console.md): Debian's chromium driven by playwright-core
// against a throwaway daemon on a loopback port. One browser and one page for the whole file; each
// test does what a person does on one page — finding every control by its role and accessible name,
// as a screen reader would — and checks what they see. The page runs under the daemon's strict
// Content-Security-Policy, and any violation fails the run.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import type { KeyInfo } from '../core/types.js';
import type { CofferError } from '../errors.js';
import { type DaemonFixture, PASSPHRASE, startDaemon } from '../testing/daemon.js';
import { CONSOLE_CSP } from './console.js';

const CHROMIUM = process.env.COFFER_CHROMIUM ?? '/usr/bin/chromium';
const WAIT = { timeout: 15_000 };

describe('web console', () => {
  let d: DaemonFixture;
  let browser: Browser;
  let page: Page;
  let base: string;
  const violations: string[] = [];
  let key: KeyInfo;

  before(async () => {
    assert.ok(
      existsSync(CHROMIUM),
      `no chromium at ${CHROMIUM}: install it (bash scripts/test-deps.sh as root) or set COFFER_CHROMIUM`,
    );
    d = await startDaemon({ server: { listen: '127.0.0.1:0', workers: 0 } });
    base = d.server.url as string;
    const created = await d.admin.createKeys(
      Array.from({ length: 24 }, (_, i) => ({
        app: i % 2 === 0 ? 'billing' : 'web',
        purpose: i % 2 === 0 ? `invoices${i}` : `jwt${i}`,
        algorithm: 'ed25519' as const,
      })),
    );
    key = created[0] as KeyInfo;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 360, height: 740 } });
    page.on('console', (message) => {
      if (/Content.Security.Policy|Refused to/i.test(message.text())) violations.push(message.text());
    });
  });
  after(async () => {
    await browser?.close();
    await d?.cleanup();
    assert.deepEqual(violations, [], 'Content-Security-Policy violations');
  });

  test('the daemon serves the console with a strict CSP, from memory only', async () => {
    const index = await fetch(`${base}/ui/`);
    assert.equal(index.status, 200);
    assert.equal(index.headers.get('content-security-policy'), CONSOLE_CSP);
    assert.doesNotMatch(CONSOLE_CSP, /unsafe-inline|unsafe-eval|\*/);
    assert.equal(index.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(index.headers.get('set-cookie'), null);
    const html = await index.text();
    // Nothing inline and nothing from another origin: every script and stylesheet is a /ui/ file.
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc="\/ui\/)[^>]*>/);
    assert.doesNotMatch(html, /https?:\/\//);
    assert.equal((await fetch(`${base}/ui`, { redirect: 'manual' })).status, 308);
    assert.equal((await fetch(`${base}/ui/..%2Fpackage.json`)).status, 404);
    assert.equal((await fetch(`${base}/ui/../../package.json`)).status, 404);
    assert.equal((await fetch(`${base}/ui/`, { method: 'POST' })).status, 405);
  });

  test('sign-in: a wrong token is refused with a message; the right one opens the console', async () => {
    await page.goto(`${base}/ui/`);
    await page.getByRole('heading', { name: 'Sign in to Coffer' }).waitFor(WAIT);
    // Keyboard only: the token field is reachable with Tab, and Enter submits.
    await page.keyboard.press('Tab');
    const token = page.getByLabel('Token');
    assert.equal(
      await token.evaluate((el) => el === (el.ownerDocument as { activeElement: unknown }).activeElement),
      true,
    );
    await page.keyboard.type(`coffer_${'A'.repeat(43)}`);
    await page.keyboard.press('Enter');
    await page.getByRole('alert').getByText('EPERM').waitFor(WAIT);
    await token.fill(d.adminToken);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('navigation', { name: 'Console' }).waitFor(WAIT);
    await page.getByRole('heading', { name: 'Keys' }).waitFor(WAIT);
    // The token is in no cookie and no storage.
    assert.deepEqual(await page.context().cookies(), []);
    assert.equal(await page.evaluate('localStorage.length + sessionStorage.length'), 0);
  });

  test('keys: pages fetched from the server as asked for, search over them, readable at 360 px', async () => {
    // The first page was asked for at sign-in; record what the console asks for from here on.
    const asked: string[] = [];
    const onRequest = (request: { url(): string }) => {
      const url = new URL(request.url());
      if (url.pathname === '/v1/keys') asked.push(url.search);
    };
    page.on('request', onRequest);
    await page.getByText('20 of 20 keys loaded, more on the server').waitFor(WAIT);
    assert.equal(await page.getByRole('row').count(), 21); // header + 20
    await page.getByRole('button', { name: 'Load more keys' }).click();
    await page.getByText('24 of 24 keys loaded, all of them').waitFor(WAIT);
    assert.equal(await page.getByRole('row').count(), 25);
    assert.equal(await page.getByRole('button', { name: 'Load more keys' }).count(), 0);
    page.off('request', onRequest);
    // One request, for the page after the first one's cursor: never the whole list.
    assert.equal(asked.length, 1);
    assert.match(asked[0] ?? '', /^\?limit=20&cursor=[A-Za-z0-9_-]+$/);
    await page.getByRole('searchbox', { name: 'Search loaded keys' }).fill('billing invoices1');
    // invoices10, invoices12, … invoices18 and invoices1? none (odd), so 5 keys: 10 12 14 16 18.
    await page.getByText('5 of 24 keys loaded, all of them').waitFor(WAIT);
    // No horizontal scrolling of the page itself at 360 px (tables scroll in their own box).
    const overflow = (await page.evaluate(
      'document.documentElement.scrollWidth - window.innerWidth',
    )) as number;
    assert.ok(overflow <= 0, `the page is ${overflow}px wider than the 360px viewport`);
  });

  test('key page: versions, public key, rotate/suspend/resume/revoke/destroy behind confirmations, timeline', async () => {
    await page.getByRole('searchbox', { name: 'Search loaded keys' }).fill(key.id);
    await page.getByRole('link', { name: key.id }).click();
    await page.getByRole('heading', { name: `Key ${key.id}` }).waitFor(WAIT);

    await page.getByLabel('Format').selectOption('pem');
    await page.getByRole('button', { name: 'Export public key' }).click();
    const pem = await page.getByRole('textbox', { name: 'Public key' }).inputValue(WAIT);
    assert.match(pem, /^-----BEGIN PUBLIC KEY-----/);

    // Cancel changes nothing.
    await page.getByRole('button', { name: 'Rotate' }).click();
    await page
      .getByRole('dialog', { name: 'Rotate: confirm' })
      .getByRole('button', { name: 'Cancel' })
      .click();
    assert.equal((await d.admin.getKey(key.id)).primaryVersion, 1);
    await page.getByRole('button', { name: 'Rotate' }).click();
    await page
      .getByRole('dialog', { name: 'Rotate: confirm' })
      .getByRole('button', { name: 'Confirm' })
      .click();
    await page.getByRole('cell', { name: '2 (primary)' }).waitFor(WAIT);
    assert.equal((await d.admin.getKey(key.id)).primaryVersion, 2);

    await page.getByRole('button', { name: 'Suspend' }).click();
    await page
      .getByRole('dialog', { name: 'Suspend: confirm' })
      .getByRole('button', { name: 'Confirm' })
      .click();
    await page.getByRole('status').getByText('Key suspended: now suspended').waitFor(WAIT);
    await page.getByRole('button', { name: 'Resume' }).click();
    await page
      .getByRole('dialog', { name: 'Resume: confirm' })
      .getByRole('button', { name: 'Confirm' })
      .click();
    await page.getByRole('status').getByText('Key resumed: now active').waitFor(WAIT);

    await page.getByRole('button', { name: 'Revoke' }).click();
    const revoke = page.getByRole('dialog', { name: 'Revoke: confirm' });
    await revoke.getByRole('button', { name: 'Confirm' }).click();
    await revoke.getByText('Give a reason').waitFor(WAIT);
    await revoke.getByLabel('Reason').fill('laptop stolen');
    await revoke.getByRole('button', { name: 'Confirm' }).click();
    await page.getByRole('status').getByText('Key revoked: now compromised').waitFor(WAIT);
    await assert.rejects(
      d.admin.sign(key.id, new Uint8Array(1)),
      (e: CofferError) => e.code === 'EKEYREVOKED',
    );

    await page.getByRole('button', { name: 'Destroy' }).click();
    await page
      .getByRole('dialog', { name: 'Destroy: confirm' })
      .getByRole('button', { name: 'Confirm' })
      .click();
    await page.getByRole('status').getByText('Key destroyed: now destroyed').waitFor(WAIT);

    const timeline = page.getByRole('list').filter({ hasText: 'key.rotate' });
    await timeline.waitFor(WAIT);
    for (const event of [
      'key.create',
      'key.rotate',
      'key.suspend',
      'key.resume',
      'key.revoke',
      'key.destroy',
    ])
      assert.ok((await timeline.textContent())?.includes(event), `${event} missing from the timeline`);
  });

  test('rotation events arrive live', async () => {
    await page.getByRole('link', { name: 'Rotation events' }).click();
    await page.getByText('Listening for rotation events').waitFor(WAIT);
    const target = (await d.admin.listKeys({ app: 'web' }))[0] as KeyInfo;
    await d.admin.rotation.emergency(target.id, { description: 'console test' });
    await page
      .getByRole('list', { name: 'Rotation events, newest first' })
      .getByText(target.id)
      .waitFor(WAIT);
  });

  test('audit log: entries newest first, older pages on demand, and a verified chain', async () => {
    // Enough entries for a second page of 50.
    await d.admin.createKeys(
      Array.from({ length: 45 }, () => ({ app: 'bulk', purpose: 'audit', algorithm: 'ed25519' as const })),
    );
    const total = (await d.admin.verifyAudit()).entries;
    assert.ok(total > 50);
    await page.getByRole('link', { name: 'Audit log' }).click();
    await page.getByRole('cell', { name: 'key.destroy' }).first().waitFor(WAIT);
    const table = page.getByRole('table').last();
    assert.equal(await table.getByRole('row').count(), 51); // header + 50
    assert.equal(await table.getByRole('row').nth(1).getByRole('cell').first().textContent(), String(total));
    await page.getByRole('button', { name: 'Load older entries' }).click();
    await page.getByRole('cell', { name: 'keystore.create' }).waitFor(WAIT);
    assert.equal(await table.getByRole('row').count(), Math.min(total, 100) + 1);
    await page.getByRole('button', { name: 'Verify chain' }).click();
    await page.getByText(/The chain of \d+ entries is intact\./).waitFor(WAIT);
  });

  test('tokens: create one (shown once), then revoke it', async () => {
    await page.getByRole('link', { name: 'Tokens' }).click();
    await page.getByRole('heading', { name: 'New token' }).waitFor(WAIT);
    await page.getByLabel('Name').fill('ci');
    await page.getByLabel('Apps').fill('billing');
    await page.getByLabel('Operations').fill('read, sign');
    await page.getByRole('button', { name: 'Create token' }).click();
    const shown = await page.getByRole('status', { name: 'New token' }).textContent(WAIT);
    assert.match(shown ?? '', /^coffer_[A-Za-z0-9_-]{43}$/);
    const client = d.client(shown as string);
    assert.equal(
      (await client.listKeys()).every((k) => k.app === 'billing'),
      true,
    );
    await page.getByRole('button', { name: 'Revoke ci' }).click();
    await page
      .getByRole('dialog', { name: 'Revoke ci: confirm' })
      .getByRole('button', { name: 'Confirm' })
      .click();
    await page.getByRole('button', { name: 'Revoke ci' }).waitFor({ state: 'detached', ...WAIT });
    await assert.rejects(client.listKeys(), (e: CofferError) => e.code === 'EPERM');
  });

  test('protectors: the keyslots and their health', async () => {
    await page.getByRole('link', { name: 'Protectors' }).click();
    await page.getByRole('cell', { name: 'passphrase' }).waitFor(WAIT);
    await page.getByRole('cell', { name: 'intact' }).waitFor(WAIT);
    await page.getByText('Only one keyslot').waitFor(WAIT);
  });

  test('status: lock, then the lockout state and unlocking from the sign-in page', async () => {
    await page.getByRole('link', { name: 'Status' }).click();
    await page.getByText('0 of 5').waitFor(WAIT);
    await page.getByRole('button', { name: 'Lock' }).click();
    await page
      .getByRole('dialog', { name: 'Lock: confirm' })
      .getByRole('button', { name: 'Confirm' })
      .click();
    await page.getByRole('definition').getByText('locked', { exact: true }).waitFor(WAIT);
    assert.equal((await d.admin.status()).locked, true);

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'The keystore is locked' }).waitFor(WAIT);
    await page.getByLabel('Passphrase').fill('not the passphrase');
    await page.getByRole('button', { name: 'Unlock' }).click();
    await page.getByRole('alert').getByText('ELOCKED').waitFor(WAIT);
    assert.equal((await d.admin.unlockAttempts()).failures, 1);
    await page.getByLabel('Passphrase').fill(PASSPHRASE);
    await page.getByRole('button', { name: 'Unlock' }).click();
    await page
      .getByRole('heading', { name: 'The keystore is locked' })
      .waitFor({ state: 'detached', ...WAIT });
    assert.equal((await d.admin.status()).locked, false);
  });
});
