import { describe, expect, it } from 'vitest';
import {
  CastellanError,
  TrustDomain,
  authorizeCaller,
  identityPolicyProblems,
  kubernetesWorkloadId,
  type AuthenticatedCaller,
  type IdentityPolicy,
} from '../../workload-identity/index.js';

const td = TrustDomain.of('cluster.local');
const caller = (namespace: string, serviceAccount: string): AuthenticatedCaller => ({
  spiffeId: kubernetesWorkloadId(td, namespace, serviceAccount),
  namespace,
  serviceAccount,
  authenticator: 'tokenreview',
});

function refusal(policy: IdentityPolicy, c: AuthenticatedCaller): CastellanError | undefined {
  try {
    authorizeCaller(policy, c);
  } catch (err) {
    if (err instanceof CastellanError) return err;
    throw err;
  }
  return undefined;
}

describe('authorizeCaller', () => {
  const ok: Array<[string, IdentityPolicy, AuthenticatedCaller]> = [
    ['ok/empty policy allows any service account its own identity', {}, caller('shop', 'cart')],
    ['ok/namespace in the allow list', { allowNamespaces: ['shop', 'web'] }, caller('web', 'front')],
    ['ok/deny rules for others do not apply', { denyNamespaces: ['kube-system'], denyServiceAccounts: ['shop/admin'] }, caller('shop', 'cart')],
  ];
  for (const [name, policy, c] of ok) it(name, () => expect(refusal(policy, c)).toBeUndefined());

  const fail: Array<[string, IdentityPolicy, AuthenticatedCaller, rule: string]> = [
    ['fail/namespace not in the allow list', { allowNamespaces: ['web'] }, caller('shop', 'cart'), 'allowNamespaces'],
    ['fail/denied namespace', { denyNamespaces: ['kube-system'] }, caller('kube-system', 'coredns'), 'denyNamespaces'],
    ['fail/deny wins over allow', { allowNamespaces: ['kube-system'], denyNamespaces: ['kube-system'] }, caller('kube-system', 'coredns'), 'denyNamespaces'],
    ['fail/denied service account', { denyServiceAccounts: ['shop/admin'] }, caller('shop', 'admin'), 'denyServiceAccounts'],
    ['fail/denied service account inside an allowed namespace', { allowNamespaces: ['shop'], denyServiceAccounts: ['shop/admin'] }, caller('shop', 'admin'), 'denyServiceAccounts'],
  ];
  for (const [name, policy, c, rule] of fail) {
    it(name, () => {
      const err = refusal(policy, c);
      expect(err?.code).toBe('ERR_POLICY_DENIED');
      expect(err?.context['rule']).toBe(rule);
      expect(err?.message).toContain(rule);
    });
  }

  it('fail/a malformed policy is a TypeError, and its problems are all listed', () => {
    const bad = { denyServiceAccounts: ['kube-system', 'a/b/c'], allowNamespaces: ['ok', 'a/b'] };
    expect(identityPolicyProblems(bad)).toHaveLength(3);
    expect(identityPolicyProblems({ allowNamespaces: ['shop'], denyServiceAccounts: ['shop/admin'] })).toEqual([]);
    expect(() => authorizeCaller(bad, caller('shop', 'cart'))).toThrow(TypeError);
  });
});
