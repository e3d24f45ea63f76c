export { CastellanError, isCastellanError } from './errors.js';
export { SpiffeId, TrustDomain, type SpiffeIdErrorCode } from './spiffe-id.js';
export {
  kubernetesWorkloadId,
  parseKubernetesWorkloadId,
  type KubernetesIdentityErrorCode,
  type KubernetesWorkload,
} from './kubernetes-identity.js';
export { validateX509SvidLeaf, validateX509SvidSigningCert, type X509SvidErrorCode } from './x509-svid.js';
export { createSvidRequest } from './svid-request.js';
export type { AuthenticatedCaller, Authenticator, AuthenticatorKind, AuthErrorCode, CallerCredentials } from './authenticator.js';
