// Unlocking writes only when something changed (SPEC §5): a slot's first use and then at most one
// recorded use per hour; every other unlock — a read-only command, an agent starting — leaves the
// store exactly as it was (same generation), and its keyslot listing still tells when it was used.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openStorage } from '../storage/open.js';
import { passphrase, tempKeystore } from '../testing/keystore.js';
import { LAST_USED_RESOLUTION_MS, type ProtectorUnlockContext, protectorUnlockChannel } from './keyslots.js';
import { Keystore } from './keystore.js';

test('an unlock within the hour of the recorded use writes nothing; the first use and a later one are recorded', async () => {
  let now = Date.UTC(2026, 0, 1);
  const clock = () => now;
  const { ks, url, cleanup } = await tempKeystore({ clock });
  try {
    await ks.close();
    const generation = async () => {
      const storage = await openStorage(url);
      try {
        return await storage.generation();
      } finally {
        await storage.close();
      }
    };
    const openAt = async (at: number) => {
      now = at;
      const opened = await Keystore.open({ store: url, protector: passphrase(), clock });
      const [slot] = await opened.listProtectors();
      const tail = await opened.auditTail(50);
      await opened.close();
      return {
        lastUsedAt: slot!.lastUsedAt,
        unlocks: tail.filter((e) => e.event === 'keystore.unlock').length,
      };
    };
    const created = await generation();
    // First use since the slot was made: recorded.
    const first = await openAt(now + 1000);
    assert.equal(first.lastUsedAt, now);
    assert.equal(first.unlocks, 1);
    const afterFirst = await generation();
    assert.ok(afterFirst > created, 'the first use is written');
    // Within the hour: nothing written, the recorded use stays.
    const again = await openAt(now + LAST_USED_RESOLUTION_MS - 1);
    assert.equal(again.lastUsedAt, first.lastUsedAt);
    assert.equal(again.unlocks, 1);
    assert.equal(await generation(), afterFirst, 'a read-only unlock leaves the store untouched');
    // An hour after the recorded use: recorded again.
    const later = await openAt(first.lastUsedAt + LAST_USED_RESOLUTION_MS);
    assert.equal(later.lastUsedAt, first.lastUsedAt + LAST_USED_RESOLUTION_MS);
    assert.equal(later.unlocks, 2);
  } finally {
    await cleanup();
  }
});

test('coffer:protector.unlock traces each keyslot tried at unlock: its type and slot, and a wrong passphrase as an error', async () => {
  const { ks, url, cleanup } = await tempKeystore();
  const seen: { phase: string; type: string; slotId: string }[] = [];
  const note = (phase: string) => (context: ProtectorUnlockContext) =>
    seen.push({ phase, type: context.type, slotId: context.slotId });
  const subscribers = {
    start: note('start'),
    end: () => {},
    asyncStart: () => {},
    asyncEnd: note('asyncEnd'),
    error: note('error'),
  };
  protectorUnlockChannel.subscribe(subscribers);
  try {
    const [slot] = await ks.listProtectors();
    await ks.close();
    await (await Keystore.open({ store: url, protector: passphrase() })).close();
    assert.deepEqual(seen, [
      { phase: 'start', type: 'passphrase', slotId: slot!.id },
      { phase: 'asyncEnd', type: 'passphrase', slotId: slot!.id },
    ]);
    seen.length = 0;
    await assert.rejects(Keystore.open({ store: url, protector: passphrase('not the passphrase') }), {
      code: 'ELOCKED',
    });
    assert.deepEqual(
      seen.map((s) => s.phase),
      ['start', 'error', 'asyncEnd'],
    );
  } finally {
    protectorUnlockChannel.unsubscribe(subscribers);
    cleanup();
  }
});
