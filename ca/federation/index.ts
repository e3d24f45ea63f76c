// SPIFFE federation (docs/federation.md): the bundle endpoint, fetching federated bundles, keeping them in the CA state.
export { startBundleEndpoint, type BundleEndpoint, type BundleEndpointOptions } from './bundle-endpoint.js';
export { fetchFailureOf, fetchFederatedBundle, type FederationTarget, type FetchFailure, type FetchOptions } from './bundle-fetcher.js';
export { commitFederationChange, federationProblems, storedFederatedBundles, type FederatedBundle, type FederationChange } from './federation-state.js';
export { DEFAULT_REFRESH_MS, FederationManager, MAX_REFRESH_MS, MIN_REFRESH_MS, type FederationManagerOptions, type FederationTrustDomainConfig } from './federation-manager.js';
