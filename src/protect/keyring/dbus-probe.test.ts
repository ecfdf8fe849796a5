// The Secret Service probe (D-Bus Specification: addresses, EXTERNAL auth, message format) against
// real dbus-daemon instances: owned, activatable and absent names, abstract sockets, the
// $XDG_RUNTIME_DIR fallback, and servers that never answer or refuse authentication.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { startSessionBus } from '../../testing/secret-service.js';
import { decodeMessage, encodeCall, parseBusAddress, probeBusName, sessionBusAddress } from './dbus-probe.js';

function code(error: unknown): string | undefined {
  return (error as { code?: string }).code;
}

test('probe: parseBusAddress reads unix path/abstract entries, %-escapes and lists, counts the rest', () => {
  assert.deepEqual(parseBusAddress('unix:path=/run/user/1000/bus'), {
    transports: [{ socketPath: '/run/user/1000/bus', display: '/run/user/1000/bus' }],
    unsupported: 0,
  });
  assert.deepEqual(parseBusAddress('unix:abstract=/tmp/dbus-XYZ,guid=0123'), {
    transports: [{ socketPath: '\0/tmp/dbus-XYZ', display: '@/tmp/dbus-XYZ' }],
    unsupported: 0,
  });
  assert.deepEqual(parseBusAddress('tcp:host=localhost,port=1;unix:path=/a%2cb%3bc%e2%82%ac'), {
    transports: [{ socketPath: '/a,b;c€', display: '/a,b;c€' }],
    unsupported: 1,
  });
  assert.deepEqual(parseBusAddress('launchd:env=X;autolaunch:'), { transports: [], unsupported: 2 });
  for (const bad of ['nocolon', 'unix:path', 'unix:path=/a%zz', 'unix:path=/a%2']) {
    assert.throws(
      () => parseBusAddress(bad),
      (e) => code(e) === 'EINVAL',
      bad,
    );
  }
});

test('probe: sessionBusAddress prefers DBUS_SESSION_BUS_ADDRESS, else an existing $XDG_RUNTIME_DIR/bus socket', async () => {
  assert.equal(sessionBusAddress({ DBUS_SESSION_BUS_ADDRESS: 'unix:path=/x' }), 'unix:path=/x');
  assert.equal(sessionBusAddress({}), undefined);
  assert.equal(sessionBusAddress({ XDG_RUNTIME_DIR: '/nonexistent-coffer' }), undefined);
  const bus = await startSessionBus();
  try {
    assert.equal(
      sessionBusAddress({ DBUS_SESSION_BUS_ADDRESS: '', XDG_RUNTIME_DIR: bus.dir }),
      `unix:path=${bus.dir}/bus`,
    );
  } finally {
    await bus.stop();
  }
});

test('probe: encodeCall produces messages decodeMessage reads back, for any string argument', () => {
  fc.assert(
    fc.property(
      fc.string({ unit: 'grapheme', maxLength: 200 }),
      fc.integer({ min: 1, max: 0xffffffff }),
      (arg, serial) => {
        const bytes = encodeCall(serial, { path: '/org/freedesktop/DBus', iface: 'a.b', member: 'M', arg });
        const decoded = decodeMessage(bytes);
        assert.ok(decoded);
        assert.equal(decoded.length, bytes.length);
        assert.equal(decoded.message.type, 1);
        assert.equal(decoded.message.signature, 's');
        const body = decoded.message.body;
        const length = body.readUInt32LE(0);
        assert.equal(body.toString('utf8', 4, 4 + length), arg);
        assert.equal(body[4 + length], 0);
        // Any strict prefix is "incomplete", never a wrong message.
        assert.equal(decodeMessage(bytes.subarray(0, bytes.length - 1)), undefined);
      },
    ),
    { numRuns: 200 },
  );
  assert.throws(
    () => decodeMessage(Buffer.alloc(16, 0x41)),
    (e) => code(e) === 'EUNAVAIL',
  );
});

test('probe: a real bus reports its own name owned and an unknown name absent', async () => {
  const bus = await startSessionBus();
  try {
    const env = { DBUS_SESSION_BUS_ADDRESS: bus.address };
    assert.deepEqual(await probeBusName('org.freedesktop.DBus', { env }), {
      status: 'owned',
      address: `${bus.dir}/bus`,
    });
    assert.deepEqual(await probeBusName('org.freedesktop.secrets', { env }), {
      status: 'absent',
      address: `${bus.dir}/bus`,
    });
  } finally {
    await bus.stop();
  }
});

test('probe: a provider installed as a D-Bus activatable service counts (activatable), without being started', async () => {
  const services = mkdtempSync(join(tmpdir(), 'coffer-services-'));
  const marker = join(services, 'started');
  // If the probe activated the service, this Exec would create the marker file.
  writeFileSync(
    join(services, 'org.freedesktop.secrets.service'),
    `[D-BUS Service]\nName=org.freedesktop.secrets\nExec=/usr/bin/touch ${marker}\n`,
  );
  const bus = await startSessionBus({ serviceDirs: [services] });
  try {
    const result = await probeBusName('org.freedesktop.secrets', {
      env: { DBUS_SESSION_BUS_ADDRESS: bus.address },
    });
    assert.equal(result.status, 'activatable');
    assert.equal(existsSync(marker), false, 'the probe must not start the service');
  } finally {
    await bus.stop();
    rmSync(services, { recursive: true, force: true });
  }
});

test('probe: abstract-socket buses are read where Node can reach them, else left to the pinned library', async () => {
  const bus = await startSessionBus({ abstract: true });
  try {
    assert.ok(bus.address.startsWith('unix:abstract='), bus.address);
    const result = await probeBusName('org.freedesktop.DBus', {
      env: { DBUS_SESSION_BUS_ADDRESS: bus.address },
    });
    // Measured: Node 20 pads abstract names (connect refused → "unsupported"), Node 24 connects.
    const major = Number(process.versions.node.split('.')[0]);
    if (major <= 20) assert.equal(result.status, 'unsupported');
    else if (major >= 24) assert.equal(result.status, 'owned');
    else assert.ok(result.status === 'owned' || result.status === 'unsupported', result.status);
  } finally {
    await bus.stop();
  }
});

async function withServer(
  onConnection: Parameters<typeof createServer>[1],
  run: (path: string) => Promise<void>,
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'coffer-fakebus-'));
  const path = join(dir, 'sock');
  const server: Server = createServer(onConnection);
  await new Promise<void>((resolve) => server.listen(path, resolve));
  try {
    await run(path);
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('probe: no bus, a silent socket, or refused authentication → no-bus with the reason', async () => {
  assert.deepEqual(await probeBusName('org.freedesktop.secrets', { env: {} }), {
    status: 'no-bus',
    reason: 'DBUS_SESSION_BUS_ADDRESS is not set and $XDG_RUNTIME_DIR/bus does not exist',
  });
  const missing = await probeBusName('org.freedesktop.secrets', {
    env: { DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/coffer-bus' },
  });
  assert.equal(missing.status, 'no-bus');
  assert.match((missing as { reason: string }).reason, /ENOENT/);

  const sockets = new Set<import('node:net').Socket>();
  await withServer(
    (socket) => {
      sockets.add(socket); // accepts and never answers
    },
    async (path) => {
      const started = Date.now();
      const result = await probeBusName('org.freedesktop.secrets', {
        env: { DBUS_SESSION_BUS_ADDRESS: `unix:path=${path}` },
        timeoutMs: 200,
      });
      assert.equal(result.status, 'no-bus');
      assert.match((result as { reason: string }).reason, /did not answer in 200 ms/);
      assert.ok(Date.now() - started < 5_000);
      for (const s of sockets) s.destroy();
    },
  );
  await withServer(
    (socket) => socket.once('data', () => socket.write('REJECTED EXTERNAL\r\n')),
    async (path) => {
      const result = await probeBusName('org.freedesktop.secrets', {
        env: { DBUS_SESSION_BUS_ADDRESS: `unix:path=${path}` },
      });
      assert.equal(result.status, 'no-bus');
      assert.match((result as { reason: string }).reason, /refused authentication/);
    },
  );
});

test('probe: transports it cannot speak are reported as unsupported, not as "no bus"', async () => {
  const result = await probeBusName('org.freedesktop.secrets', {
    env: { DBUS_SESSION_BUS_ADDRESS: 'tcp:host=127.0.0.1,port=9' },
  });
  assert.deepEqual(result, { status: 'unsupported', address: 'tcp:host=127.0.0.1,port=9' });
});

test('probe: bad arguments → EINVAL', async () => {
  for (const name of ['', 'nodots', 'a..b', 42]) {
    await assert.rejects(probeBusName(name as string, { env: {} }), (e) => code(e) === 'EINVAL');
  }
  for (const timeoutMs of [0, -1, 1.5, 700_000]) {
    await assert.rejects(
      probeBusName('org.freedesktop.secrets', { env: {}, timeoutMs }),
      (e) => code(e) === 'EINVAL',
    );
  }
  await assert.rejects(
    probeBusName('org.freedesktop.secrets', { env: { DBUS_SESSION_BUS_ADDRESS: 'garbage' } }),
    (e) => code(e) === 'EINVAL',
  );
});
