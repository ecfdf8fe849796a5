// binding.ts types pkcs11js by hand (the addon is an optional peer, absent from a plain install):
// this checks against the real addon that every method and constant it names exists, so the types
// cannot drift from what is actually called.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PKCS11_LIB_METHODS } from './binding.js';
import { loadBinding } from './module.js';

test('every pkcs11js method and constant binding.ts declares exists on the installed addon', () => {
  const binding = loadBinding();
  const lib = new binding.PKCS11() as unknown as Record<string, unknown>;
  const missing = PKCS11_LIB_METHODS.filter((name) => typeof lib[name] !== 'function');
  assert.deepEqual(missing, []);
  assert.equal(typeof binding.CK_PARAMS_AES_GCM_v240, 'number');
  assert.ok(PKCS11_LIB_METHODS.length >= 29);
});
