// CA state stores (docs/architecture.md §6): where keys, authority slots and agent reports live.
export type { FederationReport, ReplicaReport, AgentReportStore, CaStore, StoreCommit, StoredAuthority, StoreSnapshot } from './ca-store.js';
export type { LedgerWitness } from '../ledger/index.js';
export { AGENTS_DIR, AUTHORITY_FILES, authorityDir, directoryStore, parseReplicaReport, withDirectoryLock, type DirectoryStoreOptions } from './directory-store.js';
export { checkCaDirectory } from './directory-checks.js';
export { AGENT_REPORT_LABEL, agentReportName, kubernetesStore, STORE_LABELS, type KubernetesStoreOptions } from './kubernetes-store.js';
export { LeaderElection, alwaysLeader, type Leadership, type LeaderElectionOptions } from './leader-election.js';
export { apiErrorFacts, apiStatus, callOptions, describeApiError, kubeModule, podNamespace, rbacHint, type KubeModule } from './kube-api.js';
