// The ssh-agent (SPEC §14.7) with the real OpenSSH tools: `ssh-add -L` lists the provider's keys,
// `ssh-keygen -Y sign` signs through the agent (verified by `ssh-keygen -Y verify` and by Coffer),
// a refusing confirmation hook makes the signature fail, key-management requests are refused, and
// git signs a commit with gpg.format=ssh through the agent that `git verify-commit` accepts.
// The pure codec is fuzzed; the socket is checked to be 0600 and refused in an open directory.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, test } from 'node:test';
import fc from 'fast-check';
import * as sig from '../crypto/sig.js';
import { CofferError } from '../errors.js';
import { run, runAsync, scratch } from '../testing/tools.js';
import { publicKeyToOpenSsh, publicKeyToSshBlob } from './public-key.js';
import {
  AGENT_MAX_MESSAGE,
  AgentFrameReader,
  encodeRequest,
  parseAgentAnswer,
  parseAgentRequest,
} from './ssh-agent-protocol.js';
import { type AgentKey, startSshAgent } from './ssh-agent-server.js';
import { decodeSshSignature, verifySshsig } from './sshsig.js';

const tmp = scratch('agent');
after(() => tmp.remove());

function provider() {
  const ed = sig.keygen('ed25519');
  const p256 = sig.keygen('ecdsa-p256');
  const keys: AgentKey[] = [
    { alg: 'ed25519', publicKey: ed.publicKey, comment: 'coffer ed25519' },
    { alg: 'ecdsa-p256', publicKey: p256.publicKey, comment: 'coffer p256' },
  ];
  const secrets = [ed.secretKey, p256.secretKey];
  const signed: string[] = [];
  return {
    keys,
    signed,
    provider: {
      list: () => keys,
      sign: (key: AgentKey, data: Uint8Array) => {
        signed.push(key.comment);
        return sig.sign(key.alg, secrets[keys.indexOf(key)]!, data);
      },
    },
  };
}

const envWith = (socket: string) => ({ ...process.env, SSH_AUTH_SOCK: socket });

test('ssh-add -L lists the keys; ssh-keygen -Y sign signs through the agent; the socket is 0600', async () => {
  const p = provider();
  const agent = await startSshAgent({ provider: p.provider });
  try {
    assert.equal(statSync(agent.path).mode & 0o777, 0o600);
    const listed = await runAsync('ssh-add', ['-L'], { env: envWith(agent.path) });
    assert.equal(listed.status, 0, listed.output);
    assert.deepEqual(
      listed.stdout.trim().split('\n'),
      p.keys.map((k) => publicKeyToOpenSsh(k.alg, k.publicKey, k.comment)),
    );
    for (const key of p.keys) {
      const pub = tmp.write(`${key.alg}.pub`, `${publicKeyToOpenSsh(key.alg, key.publicKey)}\n`);
      const msg = tmp.write(`${key.alg}.msg`, 'signed through the agent\n');
      const signed = await runAsync('ssh-keygen', ['-Y', 'sign', '-f', pub, '-n', 'file', msg], {
        env: envWith(agent.path),
      });
      assert.equal(signed.status, 0, signed.output);
      const armored = readFileSync(`${msg}.sig`, 'utf8');
      const allowed = tmp.write(
        `${key.alg}.allowed`,
        `me@example.org ${publicKeyToOpenSsh(key.alg, key.publicKey)}\n`,
      );
      const verified = run(
        'ssh-keygen',
        ['-Y', 'verify', '-f', allowed, '-I', 'me@example.org', '-n', 'file', '-s', `${msg}.sig`],
        {
          input: readFileSync(msg),
        },
      );
      assert.equal(verified.status, 0, verified.output);
      verifySshsig(armored, readFileSync(msg), { namespace: 'file', allowedKeys: [key] });
    }
    assert.deepEqual(p.signed, ['coffer ed25519', 'coffer p256']);
    // Key management through the agent is refused: Coffer's keys are the keystore's business.
    assert.notEqual((await runAsync('ssh-add', ['-D'], { env: envWith(agent.path) })).status, 0);
    const keyFile = tmp.path('to-add');
    run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', keyFile]);
    assert.notEqual((await runAsync('ssh-add', [keyFile], { env: envWith(agent.path) })).status, 0);
    assert.equal(
      (await runAsync('ssh-add', ['-L'], { env: envWith(agent.path) })).stdout.trim().split('\n').length,
      2,
    );
  } finally {
    await agent.close();
  }
});

test('a confirmation hook that says no makes ssh-keygen fail; one that says yes lets it sign', async () => {
  const p = provider();
  let allow = false;
  const asked: string[] = [];
  const agent = await startSshAgent({
    provider: p.provider,
    confirm: ({ key }) => {
      asked.push(key.comment);
      return allow;
    },
  });
  try {
    const key = p.keys[0]!;
    const pub = tmp.write('confirm.pub', `${publicKeyToOpenSsh(key.alg, key.publicKey)}\n`);
    const msg = tmp.write('confirm.msg', 'needs a yes\n');
    const denied = await runAsync('ssh-keygen', ['-Y', 'sign', '-f', pub, '-n', 'file', msg], {
      env: envWith(agent.path),
    });
    assert.notEqual(denied.status, 0);
    assert.deepEqual(p.signed, []);
    allow = true;
    const granted = await runAsync('ssh-keygen', ['-Y', 'sign', '-f', pub, '-n', 'file', msg], {
      env: envWith(agent.path),
    });
    assert.equal(granted.status, 0, granted.output);
    assert.deepEqual(asked, ['coffer ed25519', 'coffer ed25519']);
  } finally {
    await agent.close();
  }
});

test('git commits signed with gpg.format=ssh through the agent pass git verify-commit', async () => {
  const p = provider();
  const agent = await startSshAgent({ provider: p.provider });
  try {
    const repo = join(tmp.dir, 'repo');
    mkdirSync(repo);
    const key = p.keys[1]!; // the P-256 key: git's default SSH signing path for ecdsa
    const line = publicKeyToOpenSsh(key.alg, key.publicKey);
    const allowed = tmp.write('git.allowed', `dev@example.org namespaces="git" ${line}\n`);
    const env = {
      ...envWith(agent.path),
      GIT_CONFIG_GLOBAL: '/dev/null',
      GIT_CONFIG_NOSYSTEM: '1',
      HOME: tmp.dir,
    };
    const git = (...args: string[]) => runAsync('git', ['-C', repo, ...args], { env });
    for (const args of [
      ['init', '-q'],
      ['config', 'user.name', 'Dev'],
      ['config', 'user.email', 'dev@example.org'],
      ['config', 'gpg.format', 'ssh'],
      ['config', 'user.signingkey', `key::${line}`],
      ['config', 'gpg.ssh.allowedSignersFile', allowed],
    ]) {
      assert.equal((await git(...args)).status, 0, args.join(' '));
    }
    const commit = await git('commit', '-q', '-S', '--allow-empty', '-m', 'signed by a Coffer key');
    assert.equal(commit.status, 0, commit.output);
    const verified = await git('verify-commit', '-v', 'HEAD');
    assert.equal(verified.status, 0, verified.output);
    assert.match(verified.output, /Good "git" signature for dev@example\.org with ECDSA key/);
    assert.deepEqual(p.signed, ['coffer p256']);
    // Negative control: with another key in the allowed signers file, git refuses the same commit.
    const stranger = publicKeyToOpenSsh('ed25519', sig.keygen('ed25519').publicKey);
    tmp.write('git.allowed', `dev@example.org namespaces="git" ${stranger}\n`);
    assert.notEqual((await git('verify-commit', 'HEAD')).status, 0);
  } finally {
    await agent.close();
  }
});

/** Sends raw frames to the agent and collects its answers. */
function talk(path: string, frames: Uint8Array[], expected: number): Promise<Uint8Array[]> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    const reader = new AgentFrameReader();
    const answers: Uint8Array[] = [];
    socket.on('data', (chunk) => {
      answers.push(...reader.push(chunk));
      if (answers.length >= expected) {
        socket.end();
        resolve(answers);
      }
    });
    socket.on('close', () => resolve(answers));
    socket.on('error', reject);
    for (const f of frames) socket.write(f);
  });
}

test('wire level: answers in order, unknown keys and requests fail, oversized frames drop the connection', async () => {
  const p = provider();
  const agent = await startSshAgent({ provider: p.provider });
  try {
    const key = p.keys[1]!;
    const blob = publicKeyToSshBlob(key.alg, key.publicKey);
    const data = new TextEncoder().encode('challenge');
    const answers = await talk(
      agent.path,
      [
        encodeRequest({ type: 'identities' }),
        encodeRequest({ type: 'sign', keyBlob: blob, data, flags: 0 }),
        encodeRequest({
          type: 'sign',
          keyBlob: publicKeyToSshBlob('ed25519', sig.keygen('ed25519').publicKey),
          data,
          flags: 0,
        }),
        encodeRequest({ type: 'unsupported', code: 19 }),
        encodeRequest({ type: 'sign', keyBlob: blob, data, flags: 1 }),
      ],
      5,
    );
    const parsed = answers.map(parseAgentAnswer);
    assert.equal(parsed[0]!.type, 'identities');
    assert.equal(parsed[1]!.type, 'signature');
    const raw = decodeSshSignature('ecdsa-p256', (parsed[1] as { blob: Uint8Array }).blob);
    assert.equal(sig.verify('ecdsa-p256', key.publicKey, data, raw), true);
    assert.deepEqual(
      parsed.slice(2).map((a) => a.type),
      ['failure', 'failure', 'failure'],
    );
    // A frame declaring more than 256 KiB closes the connection without an answer.
    const oversized = new Uint8Array(4);
    new DataView(oversized.buffer).setUint32(0, AGENT_MAX_MESSAGE + 1);
    assert.deepEqual(await talk(agent.path, [oversized], 1), []);
  } finally {
    await agent.close();
  }
});

test('a socket path in a directory others can enter is refused', async () => {
  const open = join(tmp.dir, 'open');
  mkdirSync(open, { mode: 0o755 });
  // Written so that a regression fails the test instead of leaving a listening socket behind.
  const attempt = await startSshAgent({
    path: join(open, 'agent.sock'),
    provider: provider().provider,
  }).catch((e: unknown) => e);
  if (!(attempt instanceof CofferError)) {
    await (attempt as { close(): Promise<void> }).close();
    assert.fail('an agent socket was created in a directory others can enter');
  }
  assert.equal(attempt.code, 'EPERM');
  const closed = join(tmp.dir, 'closed');
  mkdirSync(closed, { mode: 0o700 });
  const agent = await startSshAgent({ path: join(closed, 'agent.sock'), provider: provider().provider });
  assert.equal(statSync(agent.path).mode & 0o777, 0o600);
  await agent.close();
});

test('fuzz: the codec never throws anything but CofferError, and frames split anywhere reassemble', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (body) => {
      try {
        parseAgentRequest(body);
      } catch (error) {
        assert.ok(error instanceof CofferError, String(error));
      }
    }),
    { numRuns: 500 },
  );
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ minLength: 1, maxLength: 50 }), { minLength: 1, maxLength: 5 }),
      fc.nat(),
      (bodies, cut) => {
        const frames = bodies.map((b) => {
          const f = new Uint8Array(4 + b.length);
          new DataView(f.buffer).setUint32(0, b.length);
          f.set(b, 4);
          return f;
        });
        const stream = Buffer.concat(frames);
        const at = cut % (stream.length + 1);
        const reader = new AgentFrameReader();
        const out = [...reader.push(stream.subarray(0, at)), ...reader.push(stream.subarray(at))];
        assert.deepEqual(
          out.map((b) => Buffer.from(b).toString('hex')),
          bodies.map((b) => Buffer.from(b).toString('hex')),
        );
        assert.equal(reader.pending, 0);
      },
    ),
  );
});
