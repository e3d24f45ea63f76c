import { CastellanError } from './errors.js';
import { SpiffeId, TrustDomain } from './spiffe-id.js';

/** Why a namespace or service-account name cannot be part of a Kubernetes workload ID. */
export type KubernetesIdentityErrorCode =
  | 'ERR_K8S_NAMESPACE_EMPTY'
  | 'ERR_K8S_NAMESPACE_TOO_LONG'
  | 'ERR_K8S_NAMESPACE_INVALID'
  | 'ERR_K8S_SERVICE_ACCOUNT_EMPTY'
  | 'ERR_K8S_SERVICE_ACCOUNT_TOO_LONG'
  | 'ERR_K8S_SERVICE_ACCOUNT_INVALID';

/** Kubernetes names as found in a workload ID. */
export interface KubernetesWorkload {
  readonly namespace: string;
  readonly serviceAccount: string;
}

// Kubernetes apimachinery validation: IsDNS1123Label (namespaces) and IsDNS1123Subdomain (service
// accounts). Both are subsets of the SPIFFE path characters (SPIFFE-ID §2.2), so every valid pair
// yields a valid ID.
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const MAX_LABEL = 63;
const MAX_SUBDOMAIN = 253;

/**
 * The SPIFFE ID of a Kubernetes service account, `spiffe://<td>/ns/<namespace>/sa/<serviceAccount>`.
 *
 * @example
 *   kubernetesWorkloadId(TrustDomain.of('cluster.local'), 'shop', 'cart').toString();
 *   // 'spiffe://cluster.local/ns/shop/sa/cart'
 */
export function kubernetesWorkloadId(td: TrustDomain, namespace: string, serviceAccount: string): SpiffeId {
  if (!(td instanceof TrustDomain)) throw new TypeError('k8sid: kubernetesWorkloadId expects a TrustDomain (use TrustDomain.of)');
  if (typeof namespace !== 'string' || typeof serviceAccount !== 'string') {
    throw new TypeError('k8sid: kubernetesWorkloadId expects namespace and service account as strings');
  }
  checkNamespace(namespace);
  checkServiceAccount(serviceAccount);
  return SpiffeId.fromSegments(td, 'ns', namespace, 'sa', serviceAccount);
}

/**
 * Reads namespace and service account from an ID of the form `/ns/<namespace>/sa/<serviceAccount>`.
 * Returns undefined for any other path, including one whose names Kubernetes would not accept.
 * The trust domain is not checked; use `id.isMemberOf(td)` for that.
 *
 * @example
 *   parseKubernetesWorkloadId(SpiffeId.parse('spiffe://td/ns/shop/sa/cart'));
 *   // { namespace: 'shop', serviceAccount: 'cart' }
 */
export function parseKubernetesWorkloadId(id: SpiffeId): KubernetesWorkload | undefined {
  if (!(id instanceof SpiffeId)) throw new TypeError('k8sid: parseKubernetesWorkloadId expects a SpiffeId (use SpiffeId.parse)');
  const parts = id.path.split('/');
  if (parts.length !== 5 || parts[1] !== 'ns' || parts[3] !== 'sa') return undefined;
  const namespace = parts[2] ?? '';
  const serviceAccount = parts[4] ?? '';
  if (!isNamespace(namespace) || !isServiceAccount(serviceAccount)) return undefined;
  return { namespace, serviceAccount };
}

function isNamespace(s: string): boolean {
  return s.length <= MAX_LABEL && DNS1123_LABEL.test(s);
}

function isServiceAccount(s: string): boolean {
  return s.length <= MAX_SUBDOMAIN && DNS1123_SUBDOMAIN.test(s);
}

function checkNamespace(ns: string): void {
  if (ns === '') throw fail('ERR_K8S_NAMESPACE_EMPTY', 'namespace is empty', ns);
  if (ns.length > MAX_LABEL) {
    throw fail('ERR_K8S_NAMESPACE_TOO_LONG', `namespace is ${ns.length} characters long, at most ${MAX_LABEL} are allowed (DNS-1123 label)`, ns);
  }
  if (!DNS1123_LABEL.test(ns)) {
    throw fail(
      'ERR_K8S_NAMESPACE_INVALID',
      `namespace ${show(ns)} is not a DNS-1123 label: use lower-case letters, digits and "-", starting and ending with a letter or digit`,
      ns,
    );
  }
}

function checkServiceAccount(sa: string): void {
  if (sa === '') throw fail('ERR_K8S_SERVICE_ACCOUNT_EMPTY', 'service account is empty', sa);
  if (sa.length > MAX_SUBDOMAIN) {
    throw fail('ERR_K8S_SERVICE_ACCOUNT_TOO_LONG', `service account is ${sa.length} characters long, at most ${MAX_SUBDOMAIN} are allowed (DNS-1123 subdomain)`, sa);
  }
  if (!DNS1123_SUBDOMAIN.test(sa)) {
    throw fail('ERR_K8S_SERVICE_ACCOUNT_INVALID', `service account ${show(sa)} is not a DNS-1123 subdomain: use lower-case labels of letters, digits and "-" joined by "."`, sa);
  }
}

function show(s: string): string {
  return JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}…` : s);
}

function fail(code: KubernetesIdentityErrorCode, what: string, value: string): CastellanError<KubernetesIdentityErrorCode> {
  return new CastellanError(code, `k8sid: ${what}`, { context: { value: value.length > 256 ? `${value.slice(0, 256)}…` : value } });
}
