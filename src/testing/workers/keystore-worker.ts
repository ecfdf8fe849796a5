// A child process for keystore reliability tests: opens a keystore and rotates or creates keys,
// printing one `ACK …` line after each operation has been durably written, so a parent that kills it
// with SIGKILL knows exactly what was acknowledged.
//
// Usage: node keystore-worker.js <store-url> <mode> [args…]
//   rotate <keyId> <count>   rotate one key <count> times
//   churn <count>            create a key and rotate it, <count> times
import { Keystore } from '../../core/keystore.js';
import { passphrase } from '../keystore.js';

const [url, mode, ...args] = process.argv.slice(2);
if (!url || !mode) {
  process.stderr.write('usage: keystore-worker <store-url> rotate <keyId> <count> | churn <count>\n');
  process.exit(2);
}

const ks = await Keystore.open({ store: url, protector: passphrase(), actor: `worker-${process.pid}` });
process.stdout.write('READY\n');
if (mode === 'rotate') {
  const [keyId, count] = args;
  for (let i = 0; i < Number(count); i++) {
    const info = await ks.rotate(keyId!);
    process.stdout.write(`ACK rotate ${keyId} ${info.primaryVersion}\n`);
  }
} else if (mode === 'churn') {
  for (let i = 0; i < Number(args[0]); i++) {
    const key = await ks.createKey({
      app: 'crash',
      purpose: 'churn',
      algorithm: i % 2 === 0 ? 'ed25519' : 'aes-256-gcm',
    });
    process.stdout.write(`ACK create ${key.id} 1\n`);
    const rotated = await ks.rotate(key.id);
    process.stdout.write(`ACK rotate ${key.id} ${rotated.primaryVersion}\n`);
  }
} else {
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exit(2);
}
await ks.close();
process.stdout.write('DONE\n');
