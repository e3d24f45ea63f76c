import 'reflect-metadata';
import { spawn } from 'node:child_process';
import { createPublicKey, randomBytes, verify } from 'node:crypto';
import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pkcs11js from 'pkcs11js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  certificateInfo,
  createIntermediateCertificate,
  createRootCertificate,
  Issuer,
  openPkcs11KeyProvider,
  parsePkcs11KeyUri,
  softwareKeyProvider,
  type KeyMaterial,
  type KeyType,
  type Pkcs11KeyProvider,
  type Pkcs11ProviderOptions,
  type Signer,
} from '../../ca/index.js';
import { SpiffeId, TrustDomain } from '../../workload-identity/index.js';
import { testCsr } from '../helpers/csr.js';
import { asyncCodeOf, codeOf, failureOf } from '../helpers/error-code.js';
import { createSoftHsm, softHsmMissing, type SoftHsm } from '../helpers/softhsm.js';
import { opensslVerify } from '../helpers/test-ca.js';

const missing = softHsmMissing();
if (missing) {
  if (process.env.CASTELLAN_TEST_REQUIRE_SOFTHSM === '1') throw new Error(`pkcs11 tests: ${missing}, and CI requires them`);
  console.warn(`SKIP pkcs11 key provider tests: ${missing}`);
}

const TOKEN = 'castellan ca';
const OTHER = 'other;token';
const DAY_MS = 86_400_000;
// PKCS#11 v2.40 §5.6 session states (pkcs11js does not export them)
const CKS_RW_PUBLIC_SESSION = 2;
const CKS_RW_USER_FUNCTIONS = 3;
const HELPER = path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'helpers', 'pkcs11-open-process.ts');

/** A raw pkcs11js handle on the same module (as another library in this process would hold one). */
function rawSession(hsm: SoftHsm, label: string, login = true) {
  const b = pkcs11js;
  const lib = new b.PKCS11();
  lib.load(hsm.module);
  try {
    lib.C_Initialize();
  } catch (err) {
    // a provider in this process initialized it: the spec's answer, and the case these tests want
    if (!String((err as Error).message).startsWith('CKR_CRYPTOKI_ALREADY_INITIALIZED')) throw err;
  }
  const slot = lib.C_GetSlotList(true).find((s) => lib.C_GetTokenInfo(s).label.trim() === label)!;
  const session = lib.C_OpenSession(slot, b.CKF_SERIAL_SESSION | b.CKF_RW_SESSION);
  try {
    if (login) lib.C_Login(session, b.CKU_USER, hsm.tokens[label]!.pin);
  } catch (err) {
    if (!String((err as Error).message).startsWith('CKR_USER_ALREADY_LOGGED_IN')) throw err;
  }
  const find = (template: pkcs11js.Template) => {
    lib.C_FindObjectsInit(session, template);
    const found = lib.C_FindObjects(session, 10);
    lib.C_FindObjectsFinal(session);
    return found;
  };
  return { b, lib, slot, session, find };
}

function verifies(signer: Signer, spki: Buffer = signer.spki): boolean {
  const data = randomBytes(300);
  return verify(signer.signatureAlgorithm.hash, data, createPublicKey({ key: spki, format: 'der', type: 'spki' }), signer.sign(data));
}

describe.skipIf(missing !== undefined)('pkcs11 key provider (SoftHSM2)', () => {
  let hsm: SoftHsm;
  let provider: Pkcs11KeyProvider;
  // undefined removes a default (e.g. `pinFile: undefined` to give another PIN source)
  const open = (o: { [K in keyof Pkcs11ProviderOptions]?: Pkcs11ProviderOptions[K] | undefined } = {}) =>
    openPkcs11KeyProvider({ module: hsm.module, token: TOKEN, pinFile: hsm.tokens[TOKEN]!.pinFile, ...o } as Pkcs11ProviderOptions);

  beforeAll(async () => {
    hsm = createSoftHsm([TOKEN, OTHER]);
    provider = await open();
  });
  afterAll(async () => {
    await provider?.close();
    hsm?.cleanup();
  });

  for (const keyType of ['ec-p256', 'ec-p384', 'rsa-2048', 'rsa-3072'] as const satisfies readonly KeyType[]) {
    it(`ok/${keyType} generated in the token signs what Node crypto verifies`, async () => {
      const { signer, material } = await provider.generate(keyType, `castellan-${keyType}`);
      expect(signer.keyType).toBe(keyType);
      expect(material.kind).toBe('pkcs11');
      const uri = parsePkcs11KeyUri((material as Extract<KeyMaterial, { kind: 'pkcs11' }>).uri);
      expect(uri).toMatchObject({ token: TOKEN, object: `castellan-${keyType}`, type: 'private' });
      expect(uri.id).toHaveLength(16);
      expect(material).not.toHaveProperty('pem');
      // ECDSA r and s vary in length (leading zero bytes, high bits): many signatures cover the DER cases
      for (let i = 0; i < (keyType.startsWith('ec') ? 200 : 5); i++) expect(verifies(signer)).toBe(true);
    });
  }

  it('ok/the private key is sensitive and never extractable, read back from the token', async () => {
    const { material } = await provider.generate('ec-p256', 'castellan-policy');
    const id = parsePkcs11KeyUri((material as { uri: string }).uri).id!;
    const raw = rawSession(hsm, TOKEN);
    const [key] = raw.find([
      { type: raw.b.CKA_CLASS, value: raw.b.CKO_PRIVATE_KEY },
      { type: raw.b.CKA_ID, value: id },
    ]);
    expect(key).toBeDefined();
    const attrs = raw.lib.C_GetAttributeValue(raw.session, key!, [
      { type: raw.b.CKA_TOKEN },
      { type: raw.b.CKA_PRIVATE },
      { type: raw.b.CKA_SENSITIVE },
      { type: raw.b.CKA_ALWAYS_SENSITIVE },
      { type: raw.b.CKA_EXTRACTABLE },
      { type: raw.b.CKA_NEVER_EXTRACTABLE },
      { type: raw.b.CKA_LOCAL },
    ]);
    expect(attrs.map((a) => a.value[0])).toEqual([1, 1, 1, 1, 0, 1, 1]);
    expect(() => raw.lib.C_GetAttributeValue(raw.session, key!, [{ type: raw.b.CKA_VALUE }])).toThrow(/CKR_ATTRIBUTE_SENSITIVE/);
    // Nor can it be wrapped out under a key we hold (PKCS#11 v2.40 §5.13 C_WrapKey, CKA_EXTRACTABLE false).
    const wrappingKey = raw.lib.C_GenerateKey(raw.session, { mechanism: raw.b.CKM_AES_KEY_GEN }, [
      { type: raw.b.CKA_TOKEN, value: false },
      { type: raw.b.CKA_VALUE_LEN, value: 32 },
      { type: raw.b.CKA_WRAP, value: true },
    ]);
    expect(() => raw.lib.C_WrapKey(raw.session, { mechanism: raw.b.CKM_AES_KEY_WRAP_PAD }, wrappingKey, key!, Buffer.alloc(4096))).toThrow(/CKR_KEY_UNEXTRACTABLE/);
    raw.lib.C_CloseSession(raw.session);
  });

  it('ok/a fresh provider (after close) and another process open the key by its URI: same public key', async () => {
    const first = await open();
    const made = await first.generate('ec-p256', 'castellan-restart');
    await first.close();

    const again = await open();
    const reopened = await again.open(made.material);
    expect(reopened.spki.equals(made.signer.spki)).toBe(true);
    expect(verifies(reopened, made.signer.spki)).toBe(true);
    await again.close();

    const challenge = randomBytes(64);
    const args = { module: hsm.module, token: TOKEN, pinFile: hsm.tokens[TOKEN]!.pinFile, uri: (made.material as { uri: string }).uri, challenge: challenge.toString('hex') };
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', HELPER, JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => void (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => void (stderr += d.toString()));
      child.on('exit', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`helper exited ${code}: ${stderr}`))));
    });
    const { spki, signature } = JSON.parse(out) as { spki: string; signature: string };
    expect(spki).toBe(made.signer.spki.toString('hex'));
    expect(verify('sha256', challenge, made.signer.publicKey, Buffer.from(signature, 'hex'))).toBe(true);
  }, 60_000);

  it('ok/a root and an intermediate in the token sign a chain that openssl verifies -x509_strict, also after a restart', async () => {
    const trustDomain = TrustDomain.of('hsm.example');
    const now = new Date();
    const root = await provider.generate('ec-p384', 'castellan-root-1');
    const mid = await provider.generate('ec-p256', 'castellan-intermediate-1');
    const rootInfo = certificateInfo(createRootCertificate({ trustDomain, generation: 1, signer: root.signer, now, ttlMs: 365 * DAY_MS }));
    const midInfo = certificateInfo(
      createIntermediateCertificate({
        trustDomain,
        generation: 1,
        spki: mid.signer.spki,
        issuer: { subject: rootInfo.subject, ski: rootInfo.ski, notAfter: rootInfo.notAfter, signer: root.signer },
        now,
        ttlMs: 30 * DAY_MS,
      }),
    );
    expect(rootInfo.spki.equals(root.signer.spki)).toBe(true);
    expect(midInfo.spki.equals(mid.signer.spki)).toBe(true);

    const id = SpiffeId.parse('spiffe://hsm.example/ns/payments/sa/api');
    const issueAndVerify = async (signer: Signer) => {
      const issuer = new Issuer({ authority: { trustDomain, issuer: midInfo, signer, parents: [rootInfo] } });
      for (const key of ['ec-p256', 'rsa-2048'] as const) {
        const cert = issuer.issue(id, (await testCsr({ key, uris: [id.toString()] })).pem, { ttlMs: 3_600_000 });
        const v = opensslVerify(hsm.dir, cert.leafPem, cert.chainPem);
        expect(v.stderr).toBe('');
        expect(v.stdout.trim()).toMatch(/: OK$/);
        expect(v.status).toBe(0);
      }
    };
    await issueAndVerify(mid.signer);

    const restarted = await open();
    try {
      await issueAndVerify(await restarted.open(mid.material));
    } finally {
      await restarted.close();
    }
  });

  it('ok/signing survives the token dropping the session and the login (re-opened once)', async () => {
    const own = await open({ token: OTHER, pinFile: hsm.tokens[OTHER]!.pinFile });
    try {
      const { signer } = await own.generate('ec-p256', 'castellan-recover');
      const raw = rawSession(hsm, OTHER);
      raw.lib.C_CloseAllSessions(raw.slot); // also logs the application out of the token (PKCS#11 v2.40 §5.6)
      expect(verifies(signer)).toBe(true);
    } finally {
      await own.close();
    }
  });

  it('ok/two providers on one token share the login: closing one leaves the other logged in; the last logs out', async () => {
    const other = { token: OTHER, pinFile: hsm.tokens[OTHER]!.pinFile };
    const a = await open(other);
    const b = await open({ ...other, pinFile: undefined, pin: hsm.tokens[OTHER]!.pin });
    const { signer } = await a.generate('ec-p256', 'castellan-shared');
    // Login state belongs to the process (PKCS#11 v2.40 §5.6): any session shows it.
    const raw = rawSession(hsm, OTHER, false);
    const state = () => raw.lib.C_GetSessionInfo(raw.session).state;
    expect(state()).toBe(CKS_RW_USER_FUNCTIONS);
    await b.close();
    expect(state()).toBe(CKS_RW_USER_FUNCTIONS);
    expect(verifies(signer)).toBe(true);
    await a.close();
    expect(state()).toBe(CKS_RW_PUBLIC_SESSION);
    expect(codeOf(() => signer.sign(Buffer.from('after close')))).toBe('ERR_SIGNER');
    await a.close(); // idempotent
    raw.lib.C_CloseSession(raw.session);
  });

  it('fail/wrong PIN: ERR_PKCS11_PIN, and the message never holds the PIN', async () => {
    const wrong = 'not-the-pin-123';
    // the OTHER token: no provider holds a login on it, so the token itself checks the PIN
    const f = await failureOf(open({ token: OTHER, pinFile: undefined, pin: wrong }));
    expect(f?.code).toBe('ERR_PKCS11_PIN');
    expect(f?.message).not.toContain(wrong);
    // the token is logged in by `provider` already: a different PIN is still refused
    expect(await asyncCodeOf(open({ pinFile: undefined, pin: wrong }))).toBe('ERR_PKCS11_PIN');
  });

  it('fail/PIN sources: none, two, an empty variable, a file others can read', async () => {
    expect(await asyncCodeOf(open({ pinFile: undefined }))).toBe('ERR_PKCS11_PIN');
    expect(await asyncCodeOf(open({ pin: 'x' }))).toBe('ERR_PKCS11_PIN');
    expect(await asyncCodeOf(open({ pinFile: undefined, pinEnv: 'CASTELLAN_TEST_NO_SUCH_PIN_VARIABLE' }))).toBe('ERR_PKCS11_PIN');
    const loose = path.join(hsm.dir, 'pin-loose');
    writeFileSync(loose, `${hsm.tokens[TOKEN]!.pin}\n`);
    chmodSync(loose, 0o644);
    expect(await asyncCodeOf(open({ pinFile: loose }))).toBe('ERR_PKCS11_PIN');
    process.env.CASTELLAN_TEST_PIN = hsm.tokens[TOKEN]!.pin;
    const viaEnv = await open({ pinFile: undefined, pinEnv: 'CASTELLAN_TEST_PIN' });
    await viaEnv.close();
  });

  it('fail/missing token, unloadable module: ERR_PKCS11_TOKEN, ERR_PKCS11_MODULE', async () => {
    expect(await asyncCodeOf(open({ token: 'no such token' }))).toBe('ERR_PKCS11_TOKEN');
    expect(await asyncCodeOf(open({ token: TOKEN, slot: 424242 }))).toBe('ERR_PKCS11_TOKEN');
    expect(await asyncCodeOf(open({ module: path.join(hsm.dir, 'missing.so') }))).toBe('ERR_PKCS11_MODULE');
    expect(await asyncCodeOf(open({ module: hsm.conf }))).toBe('ERR_PKCS11_MODULE'); // exists, not a shared library
  });

  it('fail/missing key, key in another token, material of another kind, URIs that name no private key', async () => {
    const uri = (o: string) => ({ kind: 'pkcs11', uri: o }) as const;
    const absent = `pkcs11:token=${encodeURIComponent(TOKEN)};id=%${randomBytes(16).toString('hex').match(/../g)!.join('%')};type=private`;
    expect(await asyncCodeOf(provider.open(uri(absent)))).toBe('ERR_PKCS11_KEY_NOT_FOUND');
    expect(await asyncCodeOf(provider.open(uri('pkcs11:token=castellan%20ca;object=no-such-label')))).toBe('ERR_PKCS11_KEY_NOT_FOUND');
    expect(await asyncCodeOf(provider.open(uri('pkcs11:token=elsewhere;id=%01')))).toBe('ERR_PKCS11_TOKEN');
    expect(await asyncCodeOf(provider.open(uri('pkcs11:token=castellan%20ca;id=%01;type=public')))).toBe('ERR_KEY_MATERIAL');
    expect(await asyncCodeOf(provider.open(uri('pkcs11:token=castellan%20ca')))).toBe('ERR_KEY_MATERIAL');
    expect(await asyncCodeOf(provider.open(uri('file:///etc/key.pem')))).toBe('ERR_KEY_MATERIAL');
    const software = await softwareKeyProvider.generate('ec-p256', 'soft');
    expect(await asyncCodeOf(provider.open(software.material))).toBe('ERR_KEY_MATERIAL');
    const hsmKey = await provider.generate('ec-p256', 'castellan-kind');
    expect(await asyncCodeOf(softwareKeyProvider.open(hsmKey.material))).toBe('ERR_KEY_MATERIAL');
  });

  it('fail/keys made by other tools: extractable is refused (ERR_PKCS11_KEY_POLICY), P-521 is ERR_KEY_TYPE', async () => {
    const raw = rawSession(hsm, TOKEN);
    const { b } = raw;
    const make = (label: string, curveOid: string, extractable: boolean) => {
      const id = randomBytes(8);
      const common = [
        { type: b.CKA_TOKEN, value: true },
        { type: b.CKA_ID, value: id },
        { type: b.CKA_LABEL, value: label },
      ];
      raw.lib.C_GenerateKeyPair(
        raw.session,
        { mechanism: b.CKM_EC_KEY_PAIR_GEN },
        [...common, { type: b.CKA_VERIFY, value: true }, { type: b.CKA_EC_PARAMS, value: Buffer.from(curveOid, 'hex') }],
        [
          ...common,
          { type: b.CKA_SIGN, value: true },
          { type: b.CKA_PRIVATE, value: true },
          { type: b.CKA_SENSITIVE, value: !extractable },
          { type: b.CKA_EXTRACTABLE, value: extractable },
        ],
      );
      return { kind: 'pkcs11', uri: `pkcs11:token=castellan%20ca;object=${label};id=%${id.toString('hex').match(/../g)!.join('%')}` } as const;
    };
    const extractable = make('exportable', '06082a8648ce3d030107', true);
    const p521 = make('p521', '06052b81040023', false);
    raw.lib.C_CloseSession(raw.session);
    const f = await failureOf(provider.open(extractable));
    expect(f?.code).toBe('ERR_PKCS11_KEY_POLICY');
    expect(f?.message).toContain('CKA_EXTRACTABLE is true');
    expect(await asyncCodeOf(provider.open(p521))).toBe('ERR_KEY_TYPE');
  });
});
