// Child process for the daemon's shutdown test: runs `startServer` with signal handling on, as
// `coffer serve` would, from options given as JSON in argv[2]; logs go to stdout as JSON lines.
import { startServer } from '../../server/index.js';

const options = JSON.parse(process.argv[2] ?? '{}') as { store: string; socket: string };
await startServer({ store: options.store, socket: options.socket });
