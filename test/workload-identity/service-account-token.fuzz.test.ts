import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { callerFromServiceAccountClaims, parseServiceAccountUsername, serviceAccountUsername, TrustDomain } from '../../workload-identity/index.js';
import { expectCoded, fuzzParams, outcomeOf, reachesCiCount } from '../helpers/fuzz.js';

/**
 * Fuzzing of the service-account token decoder (workload-identity/service-account-token.ts): verified
 * claims of every shape become a caller only when they name a Kubernetes service account the way
 * kube-apiserver writes them (pkg/serviceaccount/claims.go), checked against an oracle written here.
 */

const TD = TrustDomain.of('cluster.local');
// Kubernetes apimachinery validation: namespaces are DNS-1123 labels, service accounts DNS-1123 subdomains.
const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isRef = (v: unknown) => isObject(v) && typeof v['name'] === 'string' && v['name'] !== '' && typeof v['uid'] === 'string' && v['uid'] !== '';

/** What the claims must look like to name a workload, by the rules above; undefined when they do not. */
function oracle(claims: Record<string, unknown>): { namespace: string; serviceAccount: string } | undefined {
  const k8s = claims['kubernetes.io'];
  if (!isObject(k8s)) return undefined;
  const ns = k8s['namespace'];
  const sa = isObject(k8s['serviceaccount']) ? k8s['serviceaccount']['name'] : undefined;
  if (typeof ns !== 'string' || ns.length > 63 || !LABEL.test(ns)) return undefined;
  if (typeof sa !== 'string' || sa.length > 253 || !SUBDOMAIN.test(sa)) return undefined;
  if (claims['sub'] !== `system:serviceaccount:${ns}:${sa}`) return undefined;
  if (k8s['pod'] !== undefined && !isRef(k8s['pod'])) return undefined;
  return { namespace: ns, serviceAccount: sa };
}

const name = fc.oneof(
  fc.constantFrom(
    'shop',
    'cart',
    'kube-system',
    'a',
    'a.b',
    'a..b',
    '-a',
    'a-',
    'A',
    'shop:x',
    '',
    ' shop',
    'shop\n',
    'ｓhop',
    'a'.repeat(63),
    'a'.repeat(64),
    'a'.repeat(253),
    'a'.repeat(254),
  ),
  fc.stringMatching(/^[a-z0-9][-a-z0-9.]{0,20}$/),
  fc.string({ maxLength: 12 }),
);
const value = fc.oneof({ weight: 6, arbitrary: name }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) }, { weight: 1, arbitrary: fc.constant(undefined) });
const claims = fc
  .record({
    ns: value,
    sa: value,
    saObject: fc.constantFrom('object', 'object', 'object', 'object', 'string', 'array', 'null', 'absent'),
    sub: fc.constantFrom('match', 'match', 'match', 'other', 'absent', 'case', 'extra'),
    pod: fc.oneof(
      { weight: 3, arbitrary: fc.constant(undefined) },
      { weight: 2, arbitrary: fc.record({ name: value, uid: value }) },
      { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 1 }) },
    ),
    k8sShape: fc.constantFrom('object', 'object', 'object', 'array', 'string', 'null', 'absent'),
    extra: fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
  })
  .map((c) => {
    const sa = { object: { name: c.sa, uid: 'u-1' }, string: c.sa, array: [c.sa], null: null, absent: undefined }[c.saObject];
    const k8s = { namespace: c.ns, serviceaccount: sa, ...(c.pod === undefined ? {} : { pod: c.pod }) };
    // (JSON text for non-strings: fast-check's JSON objects may have no prototype, so no String()).
    const text = (v: unknown) => (typeof v === 'string' ? v : (JSON.stringify(v) ?? 'undefined'));
    const want = `system:serviceaccount:${text(c.ns)}:${text(c.sa)}`;
    const sub = { match: want, other: 'system:serviceaccount:other:x', absent: undefined, case: want.toUpperCase(), extra: `${want}:x` }[c.sub];
    const shaped = { object: k8s, array: [k8s], string: 'shop', null: null, absent: undefined }[c.k8sShape];
    // JSON, as a verifier hands claims over: undefined fields disappear, and so does anything else JSON lacks.
    return JSON.parse(JSON.stringify({ ...c.extra, ...(sub === undefined ? {} : { sub }), ...(shaped === undefined ? {} : { 'kubernetes.io': shaped }) })) as Record<
      string,
      unknown
    >;
  });

describe('service-account token decoder fuzzing (workload-identity/service-account-token.ts)', () => {
  it('ok/callerFromServiceAccountClaims: a caller exactly when the claims name a service account; refusals coded', () => {
    let accepted = 0;
    fc.assert(
      fc.property(fc.oneof({ weight: 4, arbitrary: claims }, { weight: 1, arbitrary: fc.dictionary(fc.string(), fc.jsonValue()) }), (c) => {
        const want = oracle(c);
        const out = outcomeOf(() => callerFromServiceAccountClaims(TD, c, { authenticator: 'jwks', tokenSha256: 'ab' }));
        if (!out.ok) {
          expect(want, `refused claims that name ${JSON.stringify(want)}`).toBeUndefined();
          expectCoded(out.error, ['ERR_TOKEN_NOT_SERVICE_ACCOUNT', 'ERR_TOKEN_MALFORMED']);
          expect(out.error.context['tokenSha256']).toBe('ab');
          return;
        }
        accepted++;
        expect(want, `accepted ${JSON.stringify(c)}`).toBeDefined();
        expect(out.value.namespace).toBe(want!.namespace);
        expect(out.value.serviceAccount).toBe(want!.serviceAccount);
        expect(out.value.spiffeId.toString()).toBe(`spiffe://cluster.local/ns/${want!.namespace}/sa/${want!.serviceAccount}`);
        const pod = (c['kubernetes.io'] as Record<string, unknown>)['pod'] as { name: string; uid: string } | undefined;
        expect(out.value.pod).toEqual(pod === undefined ? undefined : { name: pod.name, uid: pod.uid });
      }),
      fuzzParams(3000),
    );
    if (reachesCiCount(3000)) expect(accepted).toBeGreaterThan(0);
  });

  it('ok/parseServiceAccountUsername: undefined, or the two non-empty names that spell the user name again', () => {
    const username = fc.oneof(
      fc.tuple(name, name).map(([a, b]) => `system:serviceaccount:${a}:${b}`),
      fc.string().map((s) => `system:serviceaccount:${s}`),
      fc.string({ unit: 'binary' }),
    );
    fc.assert(
      fc.property(username, (u) => {
        const parsed = outcomeOf(() => parseServiceAccountUsername(u));
        expect(parsed.ok, 'never throws').toBe(true);
        if (!parsed.ok || parsed.value === undefined) return;
        const { namespace, serviceAccount } = parsed.value;
        expect(namespace).not.toBe('');
        expect(serviceAccount).not.toBe('');
        expect(namespace.includes(':') || serviceAccount.includes(':')).toBe(false);
        expect(serviceAccountUsername(namespace, serviceAccount)).toBe(u);
      }),
      fuzzParams(2000),
    );
  });
});
