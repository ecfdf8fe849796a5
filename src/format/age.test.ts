// age's post-quantum hybrid recipients (SPEC §14.12) against the `age-encryption` package (typage,
// by age's author): files Coffer encrypts to an age1pq recipient decrypt in typage with the
// matching AGE-SECRET-KEY-PQ identity and the other way round, binary and armoured, including
// empty and multi-chunk payloads; the C2SP spec's identity → recipient example; and the file
// integrity rules (header MAC, STREAM truncation, partitioning-oracle length check).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { armor, Decrypter, Encrypter, generateHybridIdentity, identityToRecipient } from 'age-encryption';
import fc from 'fast-check';
import * as kem from '../crypto/kem.js';
import { CofferError } from '../errors.js';
import {
  ageDecrypt,
  ageEncrypt,
  encodeAgeIdentity,
  encodeAgeRecipient,
  parseAgeIdentity,
  parseAgeRecipient,
  xwingIdentity,
  xwingIdentityFromSeed,
  xwingRecipient,
} from './age.js';

const code = (c: string) => (e: unknown) => e instanceof CofferError && e.code === c;
const SIZES = [0, 1, 65_535, 65_536, 65_537, 3 * 65_536 + 5];

function payload(size: number): Uint8Array {
  return Uint8Array.from({ length: size }, (_, i) => (i * 31 + 7) & 0xff);
}

test('C2SP age example: the AGE-SECRET-KEY-PQ identity gives the age1pq recipient of the spec', async () => {
  const identity = 'AGE-SECRET-KEY-PQ-1XX76JRALNLXDMEW0CRK45QMCCH4X06SE84UN3VPM33W6HWDX0H3SK3ZQFR';
  const seed = parseAgeIdentity(identity);
  const ours = encodeAgeRecipient(kem.keygen('x-wing', seed).publicKey);
  assert.equal(ours, await identityToRecipient(identity));
  assert.match(
    ours,
    /^age1pq1x34nzsvr0rxjsgdn8zgyhfe8j7ceq5r9rdelkjuh3y235jzxshfg87pzf5zrqtzdxz95paef6caq5aapdmwjjqpjfdyxnzr2zampc3uxy0dg4z2n2gm9su72p0pc3u0jvev55l694v78snxg3yzvcl7yda0eyytqj6a0ec477lnhcy5hzpz4zq3pxanve4cn62gqj3pjy5lqj9c6kyj4v2z8alktn8zh99970x79gjkv7522hv9kfz35zsnxhsx8wwtmu9cy3ftzjgwcp4sshn3llnylnpdsyz5jm72vefv4x5vfwytrefxg4wq3mv42wcrvkj742479zrxzpvp2p3e9fed9f0739vcu80r7ma28qfhnvlv4gfzel9q654dj3zmuvvz893azhxdvs9fxd0r7jzchzcfcs5mkyyjxhw0n2z6dvp9yn9qfdp29h0azxqyjw6v7fhyuzj7zel0uq6j9rd7wgrpz7mf5dnj43jwsgvrc8qcnhy7tu6dkdujuxzkp9xj43xe8h92ktre2a3u3s8mm5mrp9nr9pwkgtz4mdlq9hgn4fps4k57ff6wddn2fy23t47sm20r8km8sd2pcyyafnet8f0dajsrlyjeah4n3mssr6aseevuuskdvq5lzguyvpgwpta742c6698vgutzqgny8usfg0w2he7kq5vyxjd0f9hqg8xk26y9e4th0gezq92q4cpp5p2y9hf5f2cje5l0c3sa3a2qxmm38pxxvhxh99yzmfz0zk7r2s64nnwjhkfgfr3gf8xnmppcgmaykvh5sh6g7vk9790rf8ws0axmr2t7z8aae5fq2029uvcn2ghgt4fu4wgwdc0k0cz52qkvwmuzj8p8k5jgf3xzk5zmrkavjekjrpeq408xz3zxazwkc6tyfmhayrkfpjhwtz5mp8j8guqe43k2q6m2kte03vrw27y3wmqyu5etmt9dnkwcnnpmu9gz9dekfhdevf42ucshphnrk38ra6hx8w5f8q5ru0xdhrjxmwqf6cused7zc5xvq43r0zscjglpwlptpwydhqw64xz7ptjdyeyzpq2zkxtmzg29gzjpvzva4d3l0cenn9xs297wf4y4ukwrunf57xj6pm7nvrkwvtrt8hwcmgv8x7ajw7258ugf9wvkmk4052ekg87tw5vnx8nq2swyzv77v8yqlwsenvamr0zssknwts8rrhfuwj7ykysnq9jxy0uv3kuyt22djszjdtvpz6d0s0kwh8ryynddzud92emeyvvyqktd0jtj7rvvg5gch25v8smlvny3kvn5gagyz475ze2y6q466xqmz2n3hs77lddeqyta2nch5k2u5yacuk9ywnwfdzvyejnucz724hj77hrrmakm7pr3kxsrxq22ejexlud9fy2kdqmkg5yncz7jm5wv2qjk5w5kvcpqsry2yqffh2la52dxfjkjq5rzhjzeyn6dupn0qwtyv7s4lwg3xdarsdlwe2y3tujy480y7z39q259fzx6jhd2j0f5hagqpcpees7hzc2yrk5cy788uk3s7qvp5cpepx24gvws3m2g433exgwppnkjscec8qu4y9z9r7vccexjcjaen42245lmgmxmuavg9alej92322gvvyy2t6267v09ch64y0m53jff0vjj96s0ypk60hr3jw4myd6m5hpn3xjstx7tl2szhpr5qe8jj08ydjc4wy2rch2fhuy3pdfjax5awe9j99ly5hkntzz9fe5zatgjvzdd0kgtxs25njnajyf6ssekp7gelxquusn4pt25czh3scj68kq79wdn5tgm6yvm9nzavrg043x3msnygf8dweknw5jmqd0uvny6ttsn09508k0c55zfnegrm9efhxpfqdkmhh6gjtqmwze9pyyzk3tlhl53k2ykx3qheyty7saeq0d3fzv49zc0k$/,
  );
  assert.equal(encodeAgeIdentity(seed), identity);
});

test('Coffer encrypts to a typage identity; typage decrypts (binary and armoured, 0 B to 3 chunks)', async () => {
  const identity = await generateHybridIdentity();
  const recipient = await identityToRecipient(identity);
  const decrypter = new Decrypter();
  decrypter.addIdentity(identity);
  for (const size of SIZES) {
    const plaintext = payload(size);
    const file = await ageEncrypt(plaintext, [xwingRecipient(recipient)]);
    assert.deepEqual(await decrypter.decrypt(file), plaintext, `binary ${size}`);
    const text = await ageEncrypt(plaintext, [xwingRecipient(recipient)], { armor: true });
    assert.match(text, /^-----BEGIN AGE ENCRYPTED FILE-----\n/);
    assert.deepEqual(await decrypter.decrypt(armor.decode(text)), plaintext, `armoured ${size}`);
  }
});

test('typage encrypts to a Coffer X-Wing key; Coffer decrypts through a decapsulation callback', async () => {
  const { secretKey, publicKey } = kem.keygen('x-wing');
  let calls = 0;
  const identity = xwingIdentity((enc) => {
    calls++;
    return kem.decapsulate('x-wing', secretKey, enc);
  });
  for (const size of SIZES) {
    const encrypter = new Encrypter();
    encrypter.addRecipient(encodeAgeRecipient(publicKey));
    const plaintext = payload(size);
    const file = await encrypter.encrypt(plaintext);
    assert.deepEqual(await ageDecrypt(file, [identity]), plaintext, `binary ${size}`);
    assert.deepEqual(await ageDecrypt(armor.encode(file), [identity]), plaintext, `armoured ${size}`);
  }
  assert.equal(calls, 2 * SIZES.length);
});

test('several recipients; a file for someone else is EBADMSG; other stanza types are skipped', async () => {
  const a = kem.keygen('x-wing');
  const b = kem.keygen('x-wing');
  const file = await ageEncrypt(new TextEncoder().encode('for a and b'), [
    xwingRecipient(a.publicKey),
    xwingRecipient(b.publicKey),
  ]);
  assert.equal(
    new TextDecoder().decode(await ageDecrypt(file, [xwingIdentityFromSeed(b.secretKey)])),
    'for a and b',
  );
  await assert.rejects(
    ageDecrypt(file, [xwingIdentityFromSeed(kem.keygen('x-wing').secretKey)]),
    code('EBADMSG'),
  );
  // A stanza of a type we do not know comes first: it is skipped, ours is used (C2SP age).
  const other = { wrapFileKey: () => [{ args: ['example.org/other', 'arg'], body: new Uint8Array(32) }] };
  const mixed = await ageEncrypt(new TextEncoder().encode('mixed'), [other, xwingRecipient(a.publicKey)]);
  assert.equal(
    new TextDecoder().decode(await ageDecrypt(mixed, [xwingIdentityFromSeed(a.secretKey)])),
    'mixed',
  );
  // …and typage skips it too.
  const typageIdentity = await generateHybridIdentity();
  const forTypage = await ageEncrypt(new TextEncoder().encode('mixed'), [
    other,
    xwingRecipient(await identityToRecipient(typageIdentity)),
  ]);
  const d = new Decrypter();
  d.addIdentity(typageIdentity);
  assert.equal(await d.decrypt(forTypage, 'text'), 'mixed');
});

test('integrity: header MAC, truncation at a chunk boundary, appended data, altered stanza body length', async () => {
  const key = kem.keygen('x-wing');
  const identity = xwingIdentityFromSeed(key.secretKey);
  const plaintext = payload(2 * 65_536);
  const file = await ageEncrypt(plaintext, [xwingRecipient(key.publicKey)]);
  const headerEnd = Buffer.from(file).indexOf('\n---') + 1;
  const macLineEnd = Buffer.from(file).indexOf(0x0a, headerEnd) + 1;
  // Header MAC: change one character of the stanza arguments' base64 → EINVAL/EBADMSG, never plaintext.
  const flippedMac = file.slice();
  flippedMac[macLineEnd - 3]! ^= 1;
  await assert.rejects(ageDecrypt(flippedMac, [identity]), (e: unknown) => e instanceof CofferError);
  // Truncation after the first (full) chunk: the new last chunk was not sealed as final.
  const firstChunkEnd = macLineEnd + 16 + 65_536 + 16;
  await assert.rejects(ageDecrypt(file.subarray(0, firstChunkEnd), [identity]), code('EBADMSG'));
  await assert.rejects(ageDecrypt(new Uint8Array([...file, 0]), [identity]), code('EBADMSG'));
  // A stanza body that is not exactly 32 bytes is refused before decryption.
  const text = Buffer.from(file.subarray(0, macLineEnd)).toString('latin1');
  const lines = text.split('\n');
  const bodyLine = lines[lines.findIndex((l) => l.startsWith('-> mlkem768x25519')) + 1]!;
  assert.equal(bodyLine.length, 43); // 32 bytes, unpadded base64
  // 30 bytes (40 characters) is canonical base64 of another length: refused by the length rule.
  const shorter = Buffer.concat([
    Buffer.from(text.replace(bodyLine, bodyLine.slice(0, 40)), 'latin1'),
    file.subarray(macLineEnd),
  ]);
  await assert.rejects(ageDecrypt(shorter, [identity]), /must be 32 bytes/);
  assert.deepEqual(await ageDecrypt(file, [identity]), plaintext);
});

test('recipient and identity strings are strict; fuzzed files only fail with CofferError', async () => {
  const key = kem.keygen('x-wing');
  const recipient = encodeAgeRecipient(key.publicKey);
  assert.deepEqual(parseAgeRecipient(recipient), key.publicKey);
  assert.throws(
    () => parseAgeRecipient(recipient.toUpperCase().replace('AGE1PQ1', 'age1pq1')),
    code('EINVAL'),
  );
  // Another last character (the key is random: replacing it by a fixed 'q' would be a no-op 1 time in 32).
  const otherLast = recipient.endsWith('q') ? 'p' : 'q';
  assert.throws(() => parseAgeRecipient(`${recipient.slice(0, -1)}${otherLast}`), code('EINVAL'));
  assert.throws(() => parseAgeIdentity(recipient), code('EINVAL'));
  const identity = xwingIdentityFromSeed(key.secretKey);
  const file = await ageEncrypt(new TextEncoder().encode('fuzz me'), [xwingRecipient(key.publicKey)]);
  await fc.assert(
    fc.asyncProperty(fc.nat(), fc.integer({ min: 1, max: 255 }), async (at, xor) => {
      const mutated = file.slice();
      mutated[at % mutated.length]! ^= xor;
      try {
        await ageDecrypt(mutated, [identity]);
        assert.fail('a mutated file decrypted');
      } catch (error) {
        assert.ok(error instanceof CofferError, String(error));
      }
    }),
    { numRuns: 150 },
  );
});
