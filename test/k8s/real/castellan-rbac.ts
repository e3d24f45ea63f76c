// RBAC rules of the CA that the tests against a real API server grant (docs/kubernetes.md lists each rule).
import type { PolicyRule } from './api-client.js';

/** The namespace-scoped rules a CA with the Kubernetes store needs (charts/castellan templates the same). */
export const STORE_RULES: readonly PolicyRule[] = [
  { apiGroups: [''], resources: ['secrets'], resourceNames: ['castellan-ca'], verbs: ['get', 'update', 'list', 'watch'] },
  { apiGroups: [''], resources: ['secrets'], resourceNames: ['cacerts'], verbs: ['get'] },
  { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
  { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch', 'create', 'update', 'delete'] },
  { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['castellan-leader'], verbs: ['get', 'update'] },
  { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
];
