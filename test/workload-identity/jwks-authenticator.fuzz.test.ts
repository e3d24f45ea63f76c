import { createHmac, createPublicKey, generateKeyPairSync, sign as cryptoSign, type KeyObject } from 'node:crypto';
import fc from 'fast-check';
import { exportJWK, type JWK } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { JwksAuthenticator, mintServiceAccountToken, serviceAccountUsername, TrustDomain, type AuthenticatedCaller } from '../../workload-identity/index.js';
import { asyncOutcomeOf, expectCoded, fuzzParams, reachesCiCount } from '../helpers/fuzz.js';

/**
 * Fuzzing of the JWKS authenticator (workload-identity/jwks-authenticator.ts) with a local key set
 * (docs/fuzzing.md): random strings, byte-level damage of a valid token, and tokens rebuilt from a
 * mutated header and payload and signed by the issuer, another key, an HMAC over the public key (alg
 * confusion), `none`, or not at all. Property: a token that the issuer did not sign as it stands is
 * never accepted; a token the issuer signed is accepted only when its claims are valid by RFC 7519 and
 * the Kubernetes shape; every refusal carries an ERR_TOKEN_* code.
 */

const TD = TrustDomain.of('cluster.local');
const ISSUER = 'https://kubernetes.default.svc.cluster.local';
const NOW = new Date('2031-03-04T05:06:07Z');
const NOW_S = NOW.getTime() / 1000;
const TOLERANCE_S = 60;
const POD = { name: 'cart-0', uid: '5e1c1d6c-0000-4000-8000-000000000001' };

/** Every refusal of the caller's token (a static key set and a reachable API: no ERR_AUTH_BACKEND_*). */
const REFUSALS = /^ERR_TOKEN_[A-Z_]+$/;

const b64url = (bytes: Uint8Array | string) => Buffer.from(bytes).toString('base64url');
interface Keys {
  issuerEc: KeyObject;
  issuerRsa: KeyObject;
  attacker: KeyObject;
  jwks: { keys: JWK[] };
  valid: string;
}

type Signer = 'issuer-ec' | 'issuer-rsa' | 'attacker-ec' | 'hs256-public-pem' | 'hs256-public-jwk' | 'hs256-x' | 'none' | 'copied' | 'garbage';

/** Claims the issuer may sign: which of them an accepted token can have (RFC 7519 §4.1, Kubernetes). */
function checkAcceptedClaims(header: Record<string, unknown>, claims: Record<string, unknown>, caller: AuthenticatedCaller, signer: Signer): void {
  // RFC 8725 §3.1: the algorithm is the key's, never chosen by the token.
  expect(signer === 'issuer-ec' || signer === 'issuer-rsa', `accepted a token signed by ${signer}`).toBe(true);
  expect(header['alg']).toBe(signer === 'issuer-ec' ? 'ES256' : 'RS256');
  // RFC 7515 §4.1.11: no extension this verifier does not understand (so "b64", RFC 7797 §6, is ignored).
  expect(header['crit']).toBeUndefined();
  expect(claims['iss']).toBe(ISSUER);
  const aud = claims['aud'];
  expect(aud === 'castellan' || (Array.isArray(aud) && aud.includes('castellan')), `aud ${JSON.stringify(aud)}`).toBe(true);
  expect(typeof claims['exp']).toBe('number');
  expect((claims['exp'] as number) > NOW_S - TOLERANCE_S, 'not expired').toBe(true);
  if (claims['nbf'] !== undefined) {
    expect(typeof claims['nbf']).toBe('number');
    expect((claims['nbf'] as number) <= NOW_S + TOLERANCE_S, 'already valid').toBe(true);
  }
  if (claims['iat'] !== undefined) {
    expect(typeof claims['iat']).toBe('number');
    // Issued in the future is refused, as kube-apiserver does (pkg/serviceaccount/claims.go, go-jose leeway).
    expect((claims['iat'] as number) <= NOW_S + TOLERANCE_S, 'iat not in the future').toBe(true);
  }
  const k8s = claims['kubernetes.io'] as { namespace: string; serviceaccount: { name: string }; pod?: { name: string; uid: string } };
  expect(claims['sub']).toBe(serviceAccountUsername(k8s.namespace, k8s.serviceaccount.name));
  expect(caller.namespace).toBe(k8s.namespace);
  expect(caller.serviceAccount).toBe(k8s.serviceaccount.name);
  expect(caller.spiffeId.toString()).toBe(`spiffe://${TD.name}/ns/${k8s.namespace}/sa/${k8s.serviceaccount.name}`);
  if (k8s.pod === undefined) expect(caller.pod).toBeUndefined();
  else expect(caller.pod).toEqual({ name: k8s.pod.name, uid: k8s.pod.uid });
  expect(caller.authenticator).toBe('jwks');
}

/** Values a claim or header field is set to: near the real ones, of every JSON type, and huge. */
const weirdValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  {
    weight: 4,
    arbitrary: fc.constantFrom<unknown>(
      NOW_S,
      NOW_S + 3600,
      NOW_S - 3600,
      NOW_S - TOLERANCE_S,
      NOW_S - TOLERANCE_S - 1,
      NOW_S + TOLERANCE_S,
      NOW_S + TOLERANCE_S + 1,
      NOW_S + 86_400,
      1e308,
      -1e308,
      0,
      -1,
      0.5,
      Number.MAX_SAFE_INTEGER,
      String(NOW_S + 3600),
      [NOW_S + 3600],
      {},
      [],
      null,
      true,
      '',
      'castellan',
      ['castellan'],
      ['other', 'castellan'],
      ['other'],
      'Castellan',
      [['castellan']],
      [null, 'castellan'],
      ISSUER,
      `${ISSUER}/`,
      ISSUER.toUpperCase(),
      'system:serviceaccount:shop:cart',
      'system:serviceaccount:shop:cart:x',
      'system:serviceaccount::cart',
      'shop',
      'Shop',
      'kube-system',
      '../x',
      'a/b',
      { name: 'cart', uid: 'u' },
      { name: 'cart' },
      { name: '' },
      { name: 7 },
    ),
  },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 200_000 }).map((n) => 'x'.repeat(n)) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 2_000 }).map((n) => Array.from({ length: n }, (_, i) => `aud-${i}`)) },
);

const claimPath = fc.constantFrom(
  ['iss'],
  ['sub'],
  ['aud'],
  ['exp'],
  ['nbf'],
  ['iat'],
  ['jti'],
  ['kubernetes.io'],
  ['kubernetes.io', 'namespace'],
  ['kubernetes.io', 'serviceaccount'],
  ['kubernetes.io', 'serviceaccount', 'name'],
  ['kubernetes.io', 'serviceaccount', 'uid'],
  ['kubernetes.io', 'pod'],
  ['kubernetes.io', 'pod', 'name'],
  ['kubernetes.io', 'pod', 'uid'],
  ['kubernetes.io', 'node'],
  ['__proto__'],
  ['constructor'],
  ['extra'],
);
const edit = <P>(path: fc.Arbitrary<P>) =>
  fc.record({ path, value: fc.oneof({ weight: 1, arbitrary: fc.constant({ delete: true } as const) }, { weight: 4, arbitrary: weirdValue.map((v) => ({ set: v })) }) });
/** A time claim moved around now (days either way, and across the clock tolerance), RFC 7519 §4.1.4–4.1.6. */
const timeEdit = fc.record({
  path: fc.constantFrom(['exp'], ['nbf'], ['iat']),
  value: fc
    .oneof(
      fc.integer({ min: -3 * 86_400, max: 3 * 86_400 }),
      fc.constantFrom(-TOLERANCE_S - 1, -TOLERANCE_S, -TOLERANCE_S + 1, 0, TOLERANCE_S - 1, TOLERANCE_S, TOLERANCE_S + 1),
      fc.double({ min: -100, max: 100, noNaN: true }),
    )
    .map((d) => ({ set: NOW_S + d })),
});
const headerKey = fc.constantFrom('alg', 'kid', 'typ', 'crit', 'b64', 'jku', 'jwk', 'x5u', 'x5c', 'zip', 'cty', 'enc', '__proto__');
const headerValue = fc.oneof(
  fc.constantFrom<unknown>(
    'ES256',
    'RS256',
    'HS256',
    'none',
    'None',
    'NONE',
    'ES384',
    'ES512',
    'PS256',
    'EdDSA',
    'ES256K',
    '',
    'ec',
    'rsa',
    'rogue',
    ['exp'],
    ['b64'],
    false,
    'DEF',
  ),
  weirdValue,
);
const headerEdit = fc.record({
  path: headerKey,
  value: fc.oneof(
    fc.constant({ delete: true } as const),
    headerValue.map((v) => ({ set: v })),
  ),
});

/** How the payload segment is written: JSON of the object, or text no JWT library should take. */
const payloadShape = fc.constantFrom('json', 'json', 'json', 'json', 'array', 'number', 'invalid', 'duplicate-iss', 'deep', 'proto', 'padded', 'utf16');

const rebuilt = fc.record({
  kind: fc.constant('rebuilt' as const),
  claimEdits: fc.array(fc.oneof(edit(claimPath), timeEdit), { maxLength: 3 }),
  headerEdits: fc.array(headerEdit, { maxLength: 2 }),
  payloadShape,
  // Mostly the issuer's own keys: those are the tokens whose claims decide, and the likeliest to slip through.
  signer: fc.constantFrom<Signer>(
    ...Array<Signer>(8).fill('issuer-ec'),
    'issuer-rsa',
    'issuer-rsa',
    'attacker-ec',
    'hs256-public-pem',
    'hs256-public-jwk',
    'hs256-x',
    'none',
    'copied',
    'garbage',
  ),
  kidFor: fc.constantFrom('signer', 'signer', 'signer', 'signer', 'other', 'none'),
});
const byteDamage = fc.record({
  kind: fc.constant('damaged' as const),
  edits: fc.array(
    fc.oneof(
      fc.record({ op: fc.constant('set' as const), at: fc.nat(), char: fc.constantFrom(...'AQgw09-_.=+/ \n%é') }),
      fc.record({ op: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 8 }) }),
      fc.record({ op: fc.constant('insert' as const), at: fc.nat(), text: fc.string({ maxLength: 6 }) }),
      fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
      fc.record({
        op: fc.constant('segments' as const),
        shape: fc.constantFrom('swap', 'drop-signature', 'extra', 'double-dot', 'no-dots', 'bearer', 'spaces', 'header-twice', 'trailing-newline', 'padded-signature', 'last-char'),
      }),
    ),
    { minLength: 1, maxLength: 3 },
  ),
});
const randomToken = fc.record({
  kind: fc.constant('random' as const),
  token: fc.oneof(
    fc.string({ maxLength: 200 }),
    fc.tuple(fc.uint8Array({ maxLength: 60 }), fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ maxLength: 80 })).map((p) => p.map(b64url).join('.')),
    fc.tuple(fc.jsonValue(), fc.jsonValue()).map(([h, p]) => `${b64url(JSON.stringify(h) ?? '')}.${b64url(JSON.stringify(p) ?? '')}.${b64url('sig')}`),
  ),
});
const tokenCase = fc.oneof({ weight: 5, arbitrary: rebuilt }, { weight: 3, arbitrary: byteDamage }, { weight: 1, arbitrary: randomToken });

function setPath(target: Record<string, unknown>, path: readonly string[], value: { delete: true } | { set: unknown }): void {
  let at: Record<string, unknown> = target;
  for (const key of path.slice(0, -1)) {
    const next = Object.getOwnPropertyDescriptor(at, key)?.value;
    if (typeof next !== 'object' || next === null || Array.isArray(next)) return;
    at = next as Record<string, unknown>;
  }
  const last = path[path.length - 1]!;
  if ('delete' in value) delete at[last];
  else Object.defineProperty(at, last, { value: structuredClone(value.set), enumerable: true, writable: true, configurable: true });
}

function payloadText(claims: Record<string, unknown>, shape: string): string {
  const json = JSON.stringify(claims);
  switch (shape) {
    case 'array':
      return JSON.stringify([claims]);
    case 'number':
      return '1';
    case 'invalid':
      return json.slice(0, -1);
    case 'duplicate-iss':
      // RFC 7519 §4: duplicate names MUST be rejected or the last taken; the first one here is the good one.
      return `{"iss":${JSON.stringify(ISSUER)},${json.slice(1).replace(/"iss":"[^"]*"/, '"iss":"https://evil.example"')}`;
    case 'deep':
      return `{"deep":${'['.repeat(3000)}${']'.repeat(3000)},${json.slice(1)}`;
    case 'proto':
      return `{"__proto__":{"iss":${JSON.stringify(ISSUER)}},${json.slice(1)}`;
    case 'padded':
      return ` \n${json}\n `;
    case 'utf16':
      return `\ufeff${json}`;
    default:
      return json;
  }
}

describe('JWKS authenticator fuzzing (workload-identity/jwks-authenticator.ts, local key set)', () => {
  let keys: Keys;
  let validParts: string[];
  let validHeader: Record<string, unknown>;
  let validClaims: Record<string, unknown>;
  let auth: JwksAuthenticator;

  beforeAll(async () => {
    const issuerEc = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const issuerRsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const attacker = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const ecJwk = { ...(await exportJWK(createPublicKey(issuerEc))), kid: 'ec', use: 'sig', alg: 'ES256' };
    const rsaJwk = { ...(await exportJWK(createPublicKey(issuerRsa))), kid: 'rsa', use: 'sig' };
    const valid = await mintServiceAccountToken(issuerEc, 'ec', {
      issuer: ISSUER,
      audiences: ['castellan'],
      namespace: 'shop',
      serviceAccount: 'cart',
      pod: POD,
      ttlSeconds: 3600,
      now: new Date(NOW.getTime() - 600_000),
    });
    keys = { issuerEc, issuerRsa, attacker, jwks: { keys: [ecJwk, rsaJwk] }, valid };
    validParts = valid.split('.');
    validHeader = JSON.parse(Buffer.from(validParts[0]!, 'base64url').toString()) as Record<string, unknown>;
    validClaims = JSON.parse(Buffer.from(validParts[1]!, 'base64url').toString()) as Record<string, unknown>;
    auth = new JwksAuthenticator({ trustDomain: TD, issuer: ISSUER, jwks: keys.jwks, now: () => NOW });
  });

  it('ok/the untouched token is accepted (the baseline every mutation departs from)', async () => {
    const caller = await auth.authenticate({ token: keys.valid });
    checkAcceptedClaims(validHeader, validClaims, caller, 'issuer-ec');
  });

  /** The token of one case, and what an acceptance would have to satisfy. */
  function build(c: unknown): { token: string; header?: Record<string, unknown>; claims?: Record<string, unknown>; signer?: Signer } {
    const tc = c as { kind: 'rebuilt' | 'damaged' | 'random' } & Record<string, unknown>;
    if (tc.kind === 'random') return { token: tc['token'] as string };
    if (tc.kind === 'damaged') {
      let t = keys.valid;
      for (const e of tc['edits'] as Array<Record<string, unknown> & { op: string }>) {
        // Up to and including the end: appending is damage too.
        const at = ((e['at'] as number) ?? 0) % (t.length + 1);
        if (e.op === 'set') t = t.slice(0, at) + (e['char'] as string) + t.slice(at + 1);
        else if (e.op === 'delete') t = t.slice(0, at) + t.slice(at + (e['count'] as number));
        else if (e.op === 'insert') t = t.slice(0, at) + (e['text'] as string) + t.slice(at);
        else if (e.op === 'truncate') t = t.slice(0, at);
        else {
          const [h, p, s] = t.split('.');
          t = {
            swap: `${p}.${h}.${s}`,
            'drop-signature': `${h}.${p}.`,
            extra: `${t}.${s}`,
            'double-dot': `${h}..${p}.${s}`,
            'no-dots': t.replaceAll('.', ''),
            bearer: `Bearer ${t}`,
            spaces: ` ${t} `,
            'header-twice': `${h}.${h}.${s}`,
            'trailing-newline': `${t}\n`,
            'padded-signature': `${t}==`,
            'last-char': `${t.slice(0, -1)}${t.endsWith('A') ? 'B' : 'A'}`,
          }[e['shape'] as string]!;
        }
      }
      return { token: t };
    }
    const header = structuredClone(validHeader);
    const claims = structuredClone(validClaims);
    for (const e of tc['claimEdits'] as Array<{ path: string[]; value: { delete: true } | { set: unknown } }>) setPath(claims, e.path, e.value);
    const signer = tc['signer'] as Signer;
    header['alg'] = {
      'issuer-ec': 'ES256',
      'issuer-rsa': 'RS256',
      'attacker-ec': 'ES256',
      'hs256-public-pem': 'HS256',
      'hs256-public-jwk': 'HS256',
      'hs256-x': 'HS256',
      none: 'none',
      copied: 'ES256',
      garbage: 'ES256',
    }[signer];
    const kidFor = tc['kidFor'] as string;
    if (kidFor === 'none') delete header['kid'];
    else header['kid'] = kidFor === 'other' ? (signer === 'issuer-rsa' ? 'ec' : 'rsa') : signer === 'issuer-rsa' || signer.startsWith('hs256') ? 'rsa' : 'ec';
    for (const e of tc['headerEdits'] as Array<{ path: string; value: { delete: true } | { set: unknown } }>) setPath(header, [e.path], e.value);
    const input = `${b64url(JSON.stringify(header))}.${b64url(payloadText(claims, tc['payloadShape'] as string))}`;
    const data = Buffer.from(input);
    const rsaPublicPem = createPublicKey(keys.issuerRsa).export({ format: 'pem', type: 'spki' });
    const signature = {
      'issuer-ec': () => cryptoSign('sha256', data, { key: keys.issuerEc, dsaEncoding: 'ieee-p1363' }),
      'issuer-rsa': () => cryptoSign('sha256', data, keys.issuerRsa),
      'attacker-ec': () => cryptoSign('sha256', data, { key: keys.attacker, dsaEncoding: 'ieee-p1363' }),
      // Alg confusion (RFC 8725 §2.1): an HMAC keyed with what the verifier holds as the public key.
      'hs256-public-pem': () => createHmac('sha256', rsaPublicPem).update(data).digest(),
      'hs256-public-jwk': () => createHmac('sha256', JSON.stringify(keys.jwks.keys[1])).update(data).digest(),
      'hs256-x': () => createHmac('sha256', String(keys.jwks.keys[0]!.x)).update(data).digest(),
      none: () => Buffer.alloc(0),
      copied: () => Buffer.from(validParts[2]!, 'base64url'),
      garbage: () => Buffer.alloc(64, 7),
    }[signer]();
    // Claims as a verifier would read them (JSON.parse of the payload), for the acceptance check.
    const payload = payloadText(claims, tc['payloadShape'] as string);
    let parsed: Record<string, unknown> = {};
    try {
      // RFC 8259 §8.1: a parser MAY ignore a leading byte order mark (TextDecoder does).
      parsed = JSON.parse(payload.replace(/^\ufeff/, '')) as Record<string, unknown>;
    } catch {
      // Not JSON: never accepted.
    }
    return { token: `${input}.${b64url(signature)}`, header, claims: parsed, signer };
  }

  it('fail/random, damaged and re-signed tokens: accepted only if the issuer signed them as they stand and their claims are valid; refusals coded', async () => {
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(tokenCase, async (c) => {
        const { token, header, claims, signer } = build(c);
        const out = await asyncOutcomeOf(auth.authenticate({ token }));
        if (!out.ok) {
          expectCoded(out.error, REFUSALS);
          return;
        }
        accepted++;
        if (token === keys.valid) return;
        if (header && claims && signer) {
          checkAcceptedClaims(header, claims, out.value, signer);
          return;
        }
        // Random or damaged: only the untouched token may pass. Its signed part must be the same bytes;
        // its signature the same bytes, though jose's base64url reading lets other spellings of them
        // through (unused low bits of the last character, "=" padding, trailing whitespace; see
        // docs/fuzzing.md): not a forgery, as whoever spells it so holds the valid token already.
        const parts = token.trim().split('.');
        expect(parts.slice(0, 2), 'a damaged token was accepted').toEqual(validParts.slice(0, 2));
        expect(parts).toHaveLength(3);
        expect(Buffer.from(parts[2]!, 'base64url').equals(Buffer.from(validParts[2]!, 'base64url')), `accepted the signature ${JSON.stringify(parts[2])}`).toBe(true);
      }),
      fuzzParams(1500, { caseTimeoutMs: 15_000 }),
    );
    if (reachesCiCount(1500)) expect(accepted).toBeGreaterThan(0);
  });
});
