// Commands of the standard formats (docs/formats.md, SPEC §14): key import and trust anchors, signed
// bundles, JWS/JWT/JWKS, SSH signatures and the ssh-agent, X.509, wallet addresses and signatures,
// and age. Names are those of issue 15 (outside checks rely on them).
import type { CommandSpec, OptionSpec, RunName } from '../spec.js';

const trust = (name: RunName<typeof import('../commands/formats-trust.js')>) => async () =>
  (await import('../commands/formats-trust.js'))[name];
const fmt = (name: RunName<typeof import('../commands/formats-sign.js')>) => async () =>
  (await import('../commands/formats-sign.js'))[name];

const KEY = [{ name: 'KEY' }] as const;
const file = (help: string): OptionSpec => ({ type: 'string', value: 'FILE', help, complete: 'file' });
const app = (help: string): OptionSpec => ({ type: 'string', value: 'APP', help });
const SIG_ALGS = ['ed25519', 'ecdsa-p256', 'secp256k1', 'ml-dsa-65'] as const;

export const formatsTable: CommandSpec[] = [
  {
    path: ['key', 'import'],
    summary: 'import a private key (PKCS#8, encrypted PKCS#8, SEC 1, OpenSSH, JWK) as a non-exportable key',
    usage:
      '--app APP --purpose PURPOSE --in FILE [--ask-passphrase] [--alg ALG] [--uses U,U] [--label K=V]… [--replaces ID]',
    options: {
      app: app('the application the key will belong to'),
      purpose: { type: 'string', value: 'PURPOSE', help: 'what the key is for within the app' },
      in: file('the key file (PEM, DER, OpenSSH, JWK JSON; at most 64 KiB); `-` for stdin'),
      'ask-passphrase': {
        type: 'boolean',
        help: "ask for the key file's passphrase (or COFFER_IMPORT_PASSPHRASE); it is used here and never sent",
      },
      alg: {
        type: 'string',
        value: 'ALG',
        help: 'refuse the file unless it holds this algorithm',
        choices: [...SIG_ALGS, 'x-wing'],
      },
      uses: {
        type: 'string',
        value: 'U,U',
        help: 'allowed uses (default: every use the algorithm supports)',
      },
      label: { type: 'string', multiple: true, value: 'K=V', help: 'a label (repeatable)' },
      'no-backup': { type: 'boolean', help: 'keep this key out of encrypted backups' },
      replaces: { type: 'string', value: 'ID', help: 'import as the next version of this imported key' },
    },
    notes: [
      'Algorithms: ed25519, ecdsa-p256, secp256k1, ml-dsa-65 (PKCS#8 with the seed) and x-wing. Encrypted PKCS#8: PBES2 with PBKDF2 or scrypt and AES-CBC; OpenSSH: bcrypt-pbkdf with AES-CTR/CBC/GCM (not chacha20-poly1305).',
      'The key is marked origin: imported and can never be exported again (only encrypted backups carry it).',
      "Through a daemon the key is wrapped to the daemon's import key (SPEC §14.15.3): neither it nor its passphrase travels in clear.",
      'Imported keys are not rotated by Coffer: import the next key with --replaces.',
    ],
    examples: [
      'coffer key import --app billing --purpose invoices --in signer.pem',
      'COFFER_IMPORT_PASSPHRASE=… coffer key import --app ci --purpose deploy --in id_ed25519',
    ],
    load: trust('keyImport'),
  },
  {
    path: ['anchor', 'add'],
    summary: 'hold a public key as a verify-only trust anchor of a named set',
    usage: '--app APP --set SET --name NAME --in FILE [--alg ALG] [--replaces ID]',
    options: {
      app: app('the application the anchor set belongs to'),
      set: { type: 'string', value: 'SET', help: 'the anchor set (e.g. release-signers)' },
      name: { type: 'string', value: 'NAME', help: "the anchor's name in the set (a JWS kid names it)" },
      in: file('the public key: PEM/SPKI, OpenSSH line, JWK JSON, or raw bytes with --alg'),
      alg: {
        type: 'string',
        value: 'ALG',
        help: 'the algorithm (required for raw key bytes)',
        choices: SIG_ALGS,
      },
      replaces: {
        type: 'string',
        value: 'ID',
        help: "add the anchor's next public key as a new version of this key",
      },
    },
    examples: ['coffer anchor add --app deploy --set release-signers --name alice --in alice.pub'],
    load: trust('anchorAdd'),
  },
  {
    path: ['anchor', 'list'],
    summary: 'list the trust anchors of an app (or one set), every state',
    usage: '--app APP [--set SET]',
    options: { app: app('the application'), set: { type: 'string', value: 'SET', help: 'only this set' } },
    examples: ['coffer anchor list --app deploy --set release-signers'],
    load: trust('anchorList'),
  },
  {
    path: ['anchor', 'rm'],
    summary: 'remove a trust anchor: its key is destroyed (it verifies nothing more; audit kept)',
    usage: 'ID [--reason TEXT]',
    args: [{ name: 'ID' }],
    options: { reason: { type: 'string', value: 'TEXT', help: 'why (recorded in the audit log)' } },
    examples: ['coffer anchor rm k_… --reason "left the team"'],
    load: trust('anchorRemove'),
  },
  {
    path: ['verify-bundle'],
    summary:
      'verify a file against detached signatures (raw or JWS) by a trust anchor set: exit 0 accepted, 7 not',
    usage: '--app APP --set SET --in FILE (--sig [ANCHOR=]FILE | --jws FILE)… [--threshold K]',
    options: {
      app: app('the application holding the set'),
      set: { type: 'string', value: 'SET', help: 'the anchor set' },
      in: file('the signed file'),
      sig: {
        type: 'string',
        multiple: true,
        value: '[ANCHOR=]FILE',
        help: 'a raw detached signature (bytes or base64), optionally naming its anchor',
      },
      jws: {
        type: 'string',
        multiple: true,
        value: 'FILE',
        help: 'a detached compact JWS (empty payload part), kid = anchor name',
      },
      threshold: { type: 'string', value: 'K', help: 'distinct anchors that must have signed (default 1)' },
    },
    examples: [
      'coffer verify-bundle --app deploy --set release-signers --in app.tar --sig alice=app.tar.sig --jws app.tar.jws --threshold 2',
    ],
    load: trust('verifyBundle'),
  },
  {
    path: ['jws', 'sign'],
    summary: 'compact JWS over a file (EdDSA, ES256, ES256K, ML-DSA-65 experimental), kid <keyId>.<version>',
    usage: 'KEY [--in FILE] [--typ TYP] [--kid KID] [--detached]',
    args: KEY,
    options: {
      in: file('the payload (default stdin), at most 1 MiB'),
      typ: { type: 'string', value: 'TYP', help: 'the typ header' },
      kid: {
        type: 'string',
        value: 'KID',
        help: 'the kid header (default <keyId>.<version>; a bundle names the anchor)',
      },
      detached: {
        type: 'boolean',
        help: 'leave the payload part empty (RFC 7515 App. F), as verify-bundle takes it',
      },
    },
    examples: ['coffer jws sign "$KEY" --in payload.json'],
    load: fmt('jwsSign'),
  },
  {
    path: ['jws', 'verify'],
    summary: 'verify a compact JWS (kid names the key version, or give KEY): payload on stdout',
    usage: '[KEY] --in FILE',
    args: [{ name: 'KEY', optional: true }],
    options: { in: file('the compact JWS or JWT (default stdin), at most 1 MiB') },
    notes: [
      'The key decides the algorithm (RFC 8725): alg must match it, "none" and unknown crit headers are refused. Exit 0 valid, 7 invalid.',
    ],
    examples: ['coffer jws verify --in token.jws'],
    load: fmt('jwsVerify'),
  },
  {
    path: ['jwt', 'sign'],
    summary: 'a signed JWT with the given claims (iat now; exp with --expires-in)',
    usage: 'KEY --claims JSON [--expires-in SECONDS]',
    args: KEY,
    options: {
      claims: { type: 'string', value: 'JSON', help: 'the claims object, e.g. {"sub":"svc"}' },
      'expires-in': { type: 'string', value: 'SECONDS', help: 'sets exp = iat + SECONDS (1 s to 10 years)' },
    },
    notes: [
      'alg from the key: EdDSA (ed25519), ES256 (ecdsa-p256), ES256K (secp256k1), ML-DSA-65 (experimental JOSE draft); kid <keyId>.<version>.',
    ],
    examples: ['coffer jwt sign "$KEY" --claims \'{"sub":"ci","aud":"deploy"}\' --expires-in 300'],
    load: fmt('jwtSign'),
  },
  {
    path: ['jwks'],
    summary: "an app's JWK Set: the primary version of each active signing key",
    usage: '--app APP',
    options: { app: app('the application') },
    notes: [
      'JSON {"keys": […]} with kid <keyId>.<version>, alg and use "sig"; public keys only. Trust anchors and KEM keys are left out.',
    ],
    examples: ['coffer jwks --app auth > jwks.json'],
    load: fmt('jwks'),
  },
  {
    path: ['ssh', 'sign'],
    summary: 'an SSHSIG signature (as ssh-keygen -Y sign) with an Ed25519 or P-256 key',
    usage: 'KEY --namespace NS [--in FILE] [--hash sha512|sha256]',
    args: KEY,
    options: {
      namespace: { type: 'string', value: 'NS', help: 'the signature namespace, e.g. file or git' },
      in: file('the data (default stdin); any size: only its hash is signed'),
      hash: {
        type: 'string',
        value: 'HASH',
        help: 'sha512 (default) or sha256',
        choices: ['sha512', 'sha256'],
      },
    },
    examples: ['coffer ssh sign "$KEY" --namespace file --in release.tar > release.tar.sig'],
    load: fmt('sshSign'),
  },
  {
    path: ['ssh-agent'],
    summary: 'an ssh-agent on a 0600 Unix socket serving the Ed25519/P-256 keys of chosen apps',
    usage: '--app APP… [--socket PATH] [--confirm CMD]',
    options: {
      app: { type: 'string', multiple: true, value: 'APP', help: 'serve the keys of this app (repeatable)' },
      socket: {
        type: 'string',
        value: 'PATH',
        help: "the agent's own socket path (its directory must be yours and 0700); default a fresh private directory",
        complete: 'file',
      },
      confirm: {
        type: 'string',
        value: 'CMD',
        help: 'run CMD (via /bin/sh) before each signature, key comment in COFFER_AGENT_KEY: exit 0 allows, anything else refuses',
      },
    },
    notes: [
      'Prints SSH_AUTH_SOCK=…; export SSH_AUTH_SOCK; and runs until SIGTERM/SIGINT/SIGHUP, then removes its socket.',
      'Serves active Ed25519 and P-256 keys with the sign use (comment app/purpose/keyId), listed anew on every request; other algorithms, trust anchors and suspended keys are not offered.',
      'Only list and sign requests are served: ssh-add of a key, removal and locking are refused.',
      "Here --socket is the agent's own socket; the keystore comes from the other settings, and a daemon is named by COFFER_SOCKET (or --url / COFFER_URL).",
    ],
    examples: [
      'coffer ssh-agent --app ci --socket ~/.coffer-ssh/agent.sock',
      'git config gpg.format ssh && git config user.signingkey "key::$(coffer key public "$KEY" --format ssh)"',
    ],
    load: fmt('sshAgent'),
  },
  {
    path: ['x509', 'csr'],
    summary: 'a PKCS#10 certificate request (PEM) for a key',
    usage: 'KEY --subject DN [--san dns:NAME]…',
    args: KEY,
    options: {
      subject: { type: 'string', value: 'DN', help: 'RFC 4514 subject, e.g. "CN=api,O=Example,C=DE"' },
      san: {
        type: 'string',
        multiple: true,
        value: 'TYPE:VALUE',
        help: 'subjectAltName: dns:, email:, ip:, uri: (repeatable)',
      },
    },
    examples: ['coffer x509 csr "$KEY" --subject "CN=api.example.com" --san dns:api.example.com'],
    load: fmt('x509Csr'),
  },
  {
    path: ['x509', 'self-signed'],
    summary: 'a self-signed certificate (PEM) for a key',
    usage: 'KEY --subject DN --days N [--is-ca] [--san TYPE:VALUE]…',
    args: KEY,
    options: {
      subject: { type: 'string', value: 'DN', help: 'RFC 4514 subject' },
      days: { type: 'string', value: 'N', help: 'validity in days (1–36500)' },
      'is-ca': { type: 'boolean', help: 'a CA certificate (cA, keyCertSign, cRLSign)' },
      san: { type: 'string', multiple: true, value: 'TYPE:VALUE', help: 'subjectAltName (repeatable)' },
    },
    examples: ['coffer x509 self-signed "$KEY" --subject "CN=Internal CA" --days 3650 --is-ca'],
    load: fmt('x509SelfSigned'),
  },
  {
    path: ['eth', 'address'],
    summary: 'the Ethereum address (EIP-55) of a secp256k1 key',
    usage: 'KEY',
    args: KEY,
    examples: ['coffer eth address "$KEY"'],
    load: fmt('ethAddress'),
  },
  {
    path: ['eth', 'sign-message'],
    summary: 'EIP-191 personal_sign of a message: 0x-hex signature',
    usage: 'KEY [--in FILE]',
    args: KEY,
    options: { in: file('the message bytes (default stdin), at most 1 MiB') },
    notes: [
      'secp256k1 keys. Output: 0x + r ‖ s ‖ v (65 bytes, v 27 or 28, low-S), as ethers.verifyMessage takes it.',
    ],
    examples: ['echo -n hello | coffer eth sign-message "$KEY"'],
    load: fmt('ethSignMessage'),
  },
  {
    path: ['eth', 'sign-typed-data'],
    summary: 'EIP-712 signature of typed data (JSON {types, primaryType, domain, message}): 0x-hex',
    usage: 'KEY [--in FILE]',
    args: KEY,
    options: { in: file('the typed data JSON (default stdin), at most 1 MiB') },
    notes: [
      'secp256k1 keys. Output: 0x + r ‖ s ‖ v (65 bytes, v 27 or 28), as ethers.verifyTypedData takes it.',
    ],
    examples: ['coffer eth sign-typed-data "$KEY" --in permit.json'],
    load: fmt('ethSignTypedData'),
  },
  {
    path: ['eth', 'sign-transaction'],
    summary: 'sign a legacy (EIP-155) or EIP-1559 transaction (JSON): raw 0x-hex on stdout',
    usage: 'KEY [--in FILE]',
    args: KEY,
    options: {
      in: file(
        'the transaction JSON (default stdin), at most 1 MiB; integers as numbers, decimal or 0x-hex strings',
      ),
    },
    notes: [
      'Fields: type (2 default, or 0), chainId, nonce, gasLimit, to (omit to create a contract), value, data (0x-hex); type 2: maxPriorityFeePerGas, maxFeePerGas, accessList; type 0: gasPrice (EIP-155 v).',
      '--json prints the raw transaction with its hash and sender.',
    ],
    examples: ['coffer eth sign-transaction "$KEY" --in tx.json'],
    load: fmt('ethSignTransaction'),
  },
  {
    path: ['btc', 'address'],
    summary: 'a Bitcoin address of a secp256k1 key (P2WPKH default, P2SH-P2WPKH, P2PKH)',
    usage: 'KEY [--type p2wpkh|p2sh-p2wpkh|p2pkh] [--testnet]',
    args: KEY,
    options: {
      type: {
        type: 'string',
        value: 'TYPE',
        help: 'address type',
        choices: ['p2wpkh', 'p2sh-p2wpkh', 'p2pkh'],
      },
      testnet: { type: 'boolean', help: 'testnet addresses' },
    },
    examples: ['coffer btc address "$KEY" --type p2pkh'],
    load: fmt('btcAddress'),
  },
  {
    path: ['btc', 'sign-message'],
    summary: 'a Bitcoin signed message (signmessage; BIP-137 headers with --bip137): base64',
    usage: 'KEY [--in FILE] [--bip137 --type TYPE]',
    args: KEY,
    options: {
      in: file('the message (default stdin), at most 1 MiB'),
      bip137: { type: 'boolean', help: 'BIP-137 header for the --type address' },
      type: {
        type: 'string',
        value: 'TYPE',
        help: 'address type',
        choices: ['p2wpkh', 'p2sh-p2wpkh', 'p2pkh'],
      },
    },
    notes: [
      'secp256k1 keys. Output: base64 of header ‖ r ‖ s (65 bytes); the header is 31–34 (compressed P2PKH, as Bitcoin Core writes it), or with --bip137 35–38 (P2SH-P2WPKH) / 39–42 (P2WPKH).',
    ],
    examples: ['echo -n hello | coffer btc sign-message "$KEY"'],
    load: fmt('btcSignMessage'),
  },
  {
    path: ['sol', 'address'],
    summary: "the Solana address of an Ed25519 key (HD path m/44'/501'/x'/0')",
    usage: 'KEY',
    args: KEY,
    notes: [
      "The address is the base58 public key; derive the key with `coffer hd derive SEED \"m/44'/501'/0'/0'\" --alg ed25519`.",
    ],
    examples: ['coffer sol address "$KEY"'],
    load: fmt('solAddress'),
  },
  {
    path: ['age', 'recipient'],
    summary: 'the age recipient (age1pq1…, ML-KEM-768 + X25519) of an x-wing key',
    usage: 'KEY',
    args: KEY,
    examples: ['age -r "$(coffer age recipient "$KEY")" -o secret.age secret.txt'],
    load: fmt('ageRecipient'),
  },
  {
    path: ['age', 'encrypt'],
    summary: 'encrypt a file to age1pq1… recipients (age post-quantum format; no keystore needed)',
    usage: '--to RECIPIENT… [--in FILE] [--out FILE] [--armor]',
    options: {
      to: {
        type: 'string',
        multiple: true,
        value: 'RECIPIENT',
        help: 'an age1pq1… recipient (repeatable); X25519 age1… and SSH recipients are not supported',
      },
      in: file('the plaintext (default stdin), at most 256 MiB'),
      out: file('write the age file to FILE'),
      armor: { type: 'boolean', help: 'ASCII armour (-----BEGIN AGE ENCRYPTED FILE-----)' },
    },
    notes: ['The file opens with `age -d -i` on the matching identity, or `coffer age decrypt KEY`.'],
    examples: ['coffer age encrypt --to "$(coffer age recipient "$KEY")" --in secret.txt --out secret.age'],
    load: fmt('ageEncryptTo'),
  },
  {
    path: ['age', 'decrypt'],
    summary: 'decrypt an age file (binary or armoured) with an x-wing key',
    usage: 'KEY [--in FILE] [--out FILE]',
    args: KEY,
    options: {
      in: file('the age file (default stdin), at most 256 MiB'),
      out: file('write the plaintext to FILE (mode 0600)'),
    },
    examples: ['coffer age decrypt "$KEY" --in secret.age > secret.txt'],
    load: fmt('ageDecrypt'),
  },
];
