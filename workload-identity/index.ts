export { CastellanError, isCastellanError } from './errors.js';
export { SpiffeId, TrustDomain, type SpiffeIdErrorCode } from './spiffe-id.js';
export { spiffeIdOf, uriSansOf } from './spiffe-id-of.js';
export { pemDecode, pemEncode } from './pem.js';
export { isIpLiteral, parseHostPort, type HostPort } from './host-port.js';
export { bearerToken } from './bearer-token.js';
export {
  kubernetesWorkloadId,
  parseKubernetesWorkloadId,
  type KubernetesIdentityErrorCode,
  type KubernetesWorkload,
} from './kubernetes-identity.js';
export { validateX509SvidLeaf, validateX509SvidSigningCert, type X509SvidErrorCode } from './x509-svid.js';
export { X509Svid, type X509SvidValueErrorCode } from './x509-svid-value.js';
export { authorityKeyIdOf } from './certificate-extensions.js';
export { TrustBundle, type TrustBundleOptions } from './trust-bundle.js';
export { createSvidRequest } from './svid-request.js';
export type { AuthenticatedCaller, Authenticator, AuthenticatorKind, AuthErrorCode, CallerCredentials } from './authenticator.js';
export {
  KUBERNETES_CLOCK_TOLERANCE_SECONDS,
  callerFromServiceAccountClaims,
  jwkKeyId,
  mintServiceAccountToken,
  parseServiceAccountUsername,
  serviceAccountUsername,
  signingAlgorithmFor,
  tokenSha256,
  type KubernetesObjectRef,
  type KubernetesPrivateClaim,
  type MintServiceAccountTokenOptions,
  type ServiceAccountSigningAlgorithm,
  type ServiceAccountTokenClaims,
} from './service-account-token.js';
export {
  JWKS_DEFAULT_ALGORITHMS,
  JwksAuthenticator,
  type JwksAuthenticatorOptions,
  type JwksDiscoveryOptions,
} from './jwks-authenticator.js';
export { kubernetesPodLookup, type LiveObject, type PodLookup } from './pod-lookup.js';
export { kubeConfigCredential, loadKubeConfig, type KubeConfigErrorCode, type KubeConfigLog, type KubeCredential, type LoadKubeConfigOptions } from './kube-config.js';
export { TokenReviewAuthenticator, type TokenReviewAuthenticatorOptions } from './token-review.js';
export { ClientCertificateAuthenticator, type ClientCertificateAuthenticatorOptions } from './client-certificate-authenticator.js';
export { authorizeCaller, identityPolicyProblems, type IdentityPolicy } from './identity-policy.js';
export { DURATION_UNIT_MS, parseDuration, type DurationErrorCode } from './duration.js';
export { buildInfo, registerBuildInfo, type BuildInfo } from './build-info.js';
export { startHealthEndpoints, type HealthEndpoints, type MetricsSource } from './health-endpoints.js';
export {
  checkChoice,
  checkDuration,
  checkFields,
  checkHostPort,
  checkNumber,
  checkPositiveDuration,
  checkText,
  textThen,
  type Checked,
  type FieldProblem,
} from './config-values.js';
export { durationField, hostPortField, positiveDurationField, spiffeIdWithPathField, trustDomainField } from './config-fields.js';
export { parseConfigText, readConfigFile, type ConfigFileErrorCode, type ConfigFileStage } from './config-file.js';
export { grpcDetails } from './grpc-details.js';
export {
  bundleDigest,
  certificateTrustDomain,
  formatSpiffeBundle,
  jwkThumbprint,
  jwtBundleJwks,
  MAX_BUNDLE_BYTES,
  MAX_BUNDLE_KEYS,
  parseSpiffeBundle,
  type JwtAuthority,
  type SpiffeBundle,
  type SpiffeBundleErrorCode,
} from './spiffe-bundle.js';
export {
  decodeJwtSvid,
  jwsAlgorithmFor,
  jwsSigningInput,
  JWT_SVID_ALGORITHMS,
  MAX_JWT_SVID_BYTES,
  validateJwtSvid,
  type JwtSvidAlgorithm,
  type JwtSvidErrorCode,
  type ValidatedJwtSvid,
} from './jwt-svid.js';
