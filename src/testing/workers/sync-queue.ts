// Child process of the sync queue kill -9 test (src/sync/engine/queue-crash.test.ts): opens the
// keystore at argv[2], whose keychain already syncs, and adds syncable items until killed, printing
// `ack <id> <secret hex>` after each add resolved. Nothing here pushes: the parent checks that every
// acknowledged add is queued after the kill and reaches another device.
import { Keystore } from '../../core/keystore.js';
import { childAck, childExitWithParent, childReady } from '../crash.js';
import { passphrase } from '../keystore.js';

const [url] = process.argv.slice(2);
childExitWithParent();
const ks = await Keystore.open({
  store: url as string,
  protector: passphrase(),
  actor: `child:${process.pid}`,
});
childReady();
for (let n = 0; ; n++) {
  const secret = `queued-${process.pid}-${n}`;
  const info = await ks.keychain.add({
    kind: 'generic-password',
    attributes: { service: `crash-${n}` },
    secret,
  });
  childAck(`${info.id} ${Buffer.from(secret).toString('hex')}`);
}
