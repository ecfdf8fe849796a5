// Child process of the keychain reliability suite (reliability.ts): opens the keystore at argv[2] and
// either adds and updates items until killed (`churn`), acknowledging each write after it resolved,
// or (`race <id> <worker> <count>`) updates one item `count` times without expectedVersion, racing
// other processes doing the same, and exits.
import { Keystore } from '../../core/keystore.js';
import { childAck, childExitWithParent, childReady } from '../crash.js';
import { passphrase } from '../keystore.js';

const [url, mode, ...rest] = process.argv.slice(2);
childExitWithParent();
const ks = await Keystore.open({
  store: url as string,
  protector: passphrase(),
  actor: `child:${process.pid}`,
});
childReady();
const hex = (text: string) => Buffer.from(text).toString('hex');

if (mode === 'churn') {
  const mine: { id: string; version: number }[] = [];
  for (let n = 0; ; n++) {
    if (mine.length === 0 || n % 3 === 0) {
      const secret = `s-${process.pid}-${n}`;
      const info = await ks.keychain.add({
        kind: 'generic-password',
        attributes: { service: `svc-${n % 7}`, account: `acct-${n}` },
        secret,
      });
      mine.push({ id: info.id, version: 1 });
      childAck(`add ${info.id} 1 ${hex(secret)}`);
    } else {
      const target = mine[n % mine.length]!;
      const secret = `u-${process.pid}-${n}`;
      const info = await ks.keychain.update(target.id, { secret }, { expectedVersion: target.version });
      target.version = info.version;
      childAck(`update ${info.id} ${info.version} ${hex(secret)}`);
    }
  }
} else if (mode === 'race') {
  const [id, worker, count] = rest as [string, string, string];
  for (let n = 1; n <= Number(count); n++) {
    const info = await ks.keychain.update(id, {
      secret: `w${worker}-${n}`,
      attributes: { custom: { [`worker${worker}`]: String(n) } },
    });
    childAck(`${info.version}`);
  }
  await ks.close();
  process.exit(0);
}
