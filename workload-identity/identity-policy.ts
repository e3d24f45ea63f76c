import type { AuthenticatedCaller, AuthErrorCode } from './authenticator.js';
import { CastellanError } from './errors.js';

/**
 * Who may obtain their own identity (docs/architecture.md §2). Deny rules win over the allow list; without an allow
 * list every namespace is allowed. Default (`{}`): any service account may obtain its own identity.
 */
export interface IdentityPolicy {
  /** Only these namespaces may obtain identities. Default: all namespaces. */
  readonly allowNamespaces?: readonly string[];
  /** These namespaces may never obtain identities (e.g. `kube-system`). Default: none. */
  readonly denyNamespaces?: readonly string[];
  /** These service accounts, as `"<namespace>/<name>"`, may never obtain identities. Default: none. */
  readonly denyServiceAccounts?: readonly string[];
}

/**
 * Every problem with a policy, for configuration validation; empty when it is usable.
 *
 * @example identityPolicyProblems({ denyServiceAccounts: ['kube-system'] }); // ['denyServiceAccounts[0] "kube-system" is not "<namespace>/<name>"']
 */
export function identityPolicyProblems(policy: IdentityPolicy): string[] {
  const problems: string[] = [];
  for (const key of ['allowNamespaces', 'denyNamespaces', 'denyServiceAccounts'] as const) {
    const list = policy[key];
    if (list === undefined) continue;
    if (!Array.isArray(list)) {
      problems.push(`${key} must be a list`);
      continue;
    }
    list.forEach((entry: unknown, i) => {
      const ok = typeof entry === 'string' && (key === 'denyServiceAccounts' ? /^[^/\s]+\/[^/\s]+$/.test(entry) : /^[^/\s]+$/.test(entry));
      if (!ok) problems.push(`${key}[${i}] ${JSON.stringify(entry)} is not ${key === 'denyServiceAccounts' ? '"<namespace>/<name>"' : 'a namespace name'}`);
    });
  }
  return problems;
}

/**
 * Allows the caller or throws ERR_POLICY_DENIED naming the rule that refused it. A malformed policy is
 * a programming error (TypeError); check it at start with {@link identityPolicyProblems}.
 *
 * @example authorizeCaller({ denyNamespaces: ['kube-system'] }, caller); // throws for kube-system callers
 */
export function authorizeCaller(policy: IdentityPolicy, caller: AuthenticatedCaller): void {
  const problems = identityPolicyProblems(policy);
  if (problems.length > 0) throw new TypeError(`policy: ${problems.join('; ')}`);
  const { namespace: ns, serviceAccount: sa } = caller;
  const context = { spiffeId: caller.spiffeId.toString(), namespace: ns, serviceAccount: sa };
  const deny = (rule: string, what: string): CastellanError<AuthErrorCode> => new CastellanError('ERR_POLICY_DENIED', `policy: ${what}`, { context: { ...context, rule } });

  if (policy.denyNamespaces?.includes(ns)) throw deny('denyNamespaces', `namespace "${ns}" is in denyNamespaces; its workloads may not obtain identities`);
  if (policy.denyServiceAccounts?.includes(`${ns}/${sa}`)) {
    throw deny('denyServiceAccounts', `service account "${ns}/${sa}" is in denyServiceAccounts; it may not obtain an identity`);
  }
  if (policy.allowNamespaces !== undefined && !policy.allowNamespaces.includes(ns)) {
    throw deny('allowNamespaces', `namespace "${ns}" is not in allowNamespaces; add it there to let its workloads obtain identities`);
  }
}
