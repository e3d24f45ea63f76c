// Public API of the CA. Other folders (and cli/) import only from here.
export { caError, type CaError, type CaErrorCode } from './errors.js';
export { parseDuration, formatDuration } from './duration.js';
export { KEY_TYPES, generateKey, keyTypeOf, parseKeyType, type KeyType } from './key-type.js';
export { signatureAlgorithmFor, type SignatureAlgorithm } from './signature-algorithm.js';
export { keyId, keyObjectSigner, type Signer } from './signer.js';
export type { KeyMaterial, KeyProvider } from './key-provider.js';
export { softwareKeyProvider } from './software-key-provider.js';
export { formatPkcs11KeyUri, openPkcs11KeyProvider, parsePkcs11KeyUri, Pkcs11KeyProvider, type Pkcs11KeyUri, type Pkcs11ProviderOptions } from './pkcs11/index.js';
export { readPrivateKeyFile, writeFileAtomic, writePrivateKeyFile } from './key-files.js';
export { derToPem, pemBlocks } from './pem.js';
export { certificateInfo, certificatesFromPem, type CertificateInfo } from './certificate-info.js';
export { encodeTbs, randomSerial, signCertificate, subjectKeyIdentifier, type CertificateFields } from './certificate-builder.js';
export { authorityName, BACKDATE_MS, createIntermediateCertificate, createRootCertificate } from './authority-profile.js';
export { parseCsr, parseCsrAsync, type CertificateRequest, type RequestKeyKind } from './csr.js';
export { EMPTY_NAME, SvidTemplate, svidExtensions, type LeafSubjectKey } from './svid-profile.js';
export {
  DEFAULT_MAX_WORKLOAD_TTL_MS,
  DEFAULT_WORKLOAD_TTL_MS,
  Issuer,
  type IssuedCertificate,
  type IssuerOptions,
  type SigningAuthority,
} from './issuer.js';
export { autoSigningWorkers, SigningWorkers, type SigningWorkersOptions } from './signing-workers.js';
export { BUNDLE_FILE, STATE_FILE, type AuthorityRecord, type AuthorityState, type CaStateFile, type PendingRecord } from './ca-state.js';
export { bundleOf } from './bundle-roots.js';
export { closeKeyProviders, keyProviderFor, PKCS11_PIN_ENV, PKCS11_PIN_FILE_ENV, type StateKeys } from './state-keys.js';
export { DEFAULT_INTERMEDIATE_TTL_MS, DEFAULT_ROOT_TTL_MS, mintIntermediate, mintJwtKey, mintRootAuthority, type IssuingRoot, type MintedAuthority } from './authority-mint.js';
export {
  bundlePem,
  loadCa,
  loadCaCertificates,
  loadSnapshot,
  rootSignerOf,
  spiffeTrustDomainOf,
  storeOf,
  type CaCertificates,
  type CaDirectory,
  type CaStoreRef,
  type LoadedAuthority,
} from './load-ca.js';
export { checkCacerts, importCacerts, initCa, type CacertsMaterial, type ImportCacertsOptions, type InitOptions } from './create-ca.js';
export {
  activateRoot,
  flushPendingRecords,
  intermediateRotationDue,
  prepareRoot,
  rememberLedger,
  repairCaDir,
  retireRoot,
  retiringAuthorities,
  rotateIntermediate,
  staleAgents,
  type AgentReport,
  type AgentView,
  type LifecycleRecorder,
  type LiveLeaves,
  type RotationContext,
  type RotationResult,
} from './authority-rotation.js';
export * from './store/index.js';
export { createDevTokenIssuer, DEV_ISSUER_URL, DEV_TOKEN_ISSUER_DIR, loadDevTokenIssuer, type DevTokenIssuer } from './dev-token-issuer.js';
export * from './server/index.js';
export * from './ledger/index.js';
export * from './federation/index.js';
export { DEFAULT_JWT_KEY_PUBLISH_LEAD_MS, jwtSigningKey, publishedJwtAuthorities, type JwtSigningKey } from './jwt-authorities.js';
export {
  checkAudiences,
  DEFAULT_JWT_SVID_TTL_MS,
  DEFAULT_MAX_JWT_SVID_TTL_MS,
  JwtSvidIssuer,
  MAX_JWT_AUDIENCE_BYTES,
  MAX_JWT_AUDIENCES,
  type IssuedJwtSvid,
  type JwtSvidIssuerOptions,
} from './jwt-svid-issuer.js';
