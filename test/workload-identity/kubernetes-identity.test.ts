import { describe, expect, it } from 'vitest';
import { SpiffeId, TrustDomain, kubernetesWorkloadId, parseKubernetesWorkloadId, type KubernetesIdentityErrorCode } from '../../workload-identity/index.js';
import { codeOf } from '../helpers/error-code.js';

const td = TrustDomain.of('cluster.local');

describe('kubernetesWorkloadId', () => {
  const ok: Array<[name: string, ns: string, sa: string]> = [
    ['ok/default', 'default', 'default'],
    ['ok/dashes', 'kube-system', 'coredns-sa'],
    ['ok/digits', '0', '9'],
    ['ok/sa-dotted-subdomain', 'shop', 'cart.v1.api'],
    ['ok/ns-63-chars', 'a'.repeat(63), 'sa'],
    ['ok/sa-253-chars', 'ns', `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`],
  ];
  for (const [name, ns, sa] of ok) {
    it(name, () => {
      const id = kubernetesWorkloadId(td, ns, sa);
      expect(id.toString()).toBe(`spiffe://cluster.local/ns/${ns}/sa/${sa}`);
      expect(parseKubernetesWorkloadId(id)).toEqual({ namespace: ns, serviceAccount: sa });
    });
  }

  const fail: Array<[name: string, ns: string, sa: string, code: KubernetesIdentityErrorCode]> = [
    ['fail/ns-empty', '', 'sa', 'ERR_K8S_NAMESPACE_EMPTY'],
    ['fail/ns-64-chars', 'a'.repeat(64), 'sa', 'ERR_K8S_NAMESPACE_TOO_LONG'],
    ['fail/ns-upper-case', 'Default', 'sa', 'ERR_K8S_NAMESPACE_INVALID'],
    ['fail/ns-leading-dash', '-ns', 'sa', 'ERR_K8S_NAMESPACE_INVALID'],
    ['fail/ns-trailing-dash', 'ns-', 'sa', 'ERR_K8S_NAMESPACE_INVALID'],
    ['fail/ns-dot', 'a.b', 'sa', 'ERR_K8S_NAMESPACE_INVALID'],
    ['fail/ns-underscore', 'a_b', 'sa', 'ERR_K8S_NAMESPACE_INVALID'],
    ['fail/ns-slash', 'a/sa/b', 'sa', 'ERR_K8S_NAMESPACE_INVALID'],
    ['fail/sa-empty', 'ns', '', 'ERR_K8S_SERVICE_ACCOUNT_EMPTY'],
    ['fail/sa-254-chars', 'ns', 'a'.repeat(254), 'ERR_K8S_SERVICE_ACCOUNT_TOO_LONG'],
    ['fail/sa-upper-case', 'ns', 'Web', 'ERR_K8S_SERVICE_ACCOUNT_INVALID'],
    ['fail/sa-empty-label', 'ns', 'a..b', 'ERR_K8S_SERVICE_ACCOUNT_INVALID'],
    ['fail/sa-leading-dot', 'ns', '.a', 'ERR_K8S_SERVICE_ACCOUNT_INVALID'],
    ['fail/sa-label-trailing-dash', 'ns', 'a-.b', 'ERR_K8S_SERVICE_ACCOUNT_INVALID'],
    ['fail/sa-underscore', 'ns', 'a_b', 'ERR_K8S_SERVICE_ACCOUNT_INVALID'],
    ['fail/sa-slash', 'ns', 'a/b', 'ERR_K8S_SERVICE_ACCOUNT_INVALID'],
  ];
  for (const [name, ns, sa, code] of fail) {
    it(name, () => {
      expect(codeOf(() => kubernetesWorkloadId(td, ns, sa))).toBe(code);
    });
  }

  it('fail/not-a-trust-domain throws TypeError', () => {
    expect(() => kubernetesWorkloadId('cluster.local' as unknown as TrustDomain, 'ns', 'sa')).toThrow(TypeError);
  });

  it('errors are prefixed k8sid:', () => {
    expect(() => kubernetesWorkloadId(td, 'Default', 'sa')).toThrow(/^k8sid: /);
  });
});

describe('parseKubernetesWorkloadId', () => {
  const none: Array<[name: string, id: string]> = [
    ['none/trust-domain-id', 'spiffe://td'],
    ['none/other-path', 'spiffe://td/payments/mysql'],
    ['none/ns-only', 'spiffe://td/ns/default'],
    ['none/missing-sa-name', 'spiffe://td/ns/default/sa'],
    ['none/extra-segment', 'spiffe://td/ns/default/sa/web/extra'],
    ['none/prefixed', 'spiffe://td/x/ns/default/sa/web'],
    ['none/swapped', 'spiffe://td/sa/web/ns/default'],
    ['none/upper-case-keyword', 'spiffe://td/NS/default/SA/web'],
    ['none/invalid-namespace', 'spiffe://td/ns/Default/sa/web'],
    ['none/invalid-service-account', 'spiffe://td/ns/default/sa/we_b'],
  ];
  for (const [name, id] of none) {
    it(name, () => {
      expect(parseKubernetesWorkloadId(SpiffeId.parse(id))).toBeUndefined();
    });
  }

  it('ok/other-trust-domain', () => {
    expect(parseKubernetesWorkloadId(SpiffeId.parse('spiffe://other.td/ns/a/sa/b'))).toEqual({ namespace: 'a', serviceAccount: 'b' });
  });

  it('fail/not-a-spiffe-id throws TypeError', () => {
    expect(() => parseKubernetesWorkloadId('spiffe://td/ns/a/sa/b' as unknown as SpiffeId)).toThrow(TypeError);
  });
});
