// What the CA's service account must and must not be allowed to do, one line per request the CA makes
// (or must never make), shaped like a SubjectAccessReview's resourceAttributes. The chart test checks the
// rendered Role/ClusterRole against it with the evaluator below (RBAC's matching rules); a test against a
// real kube-apiserver sends the same lines as SubjectAccessReviews after `helm install`.

/** One request, as RBAC sees it (authorization.k8s.io/v1 ResourceAttributes). */
export interface Access {
  readonly verb: string;
  readonly group: string;
  readonly resource: string;
  /** Absent: cluster-scoped, or every namespace (a cluster-wide list). */
  readonly namespace?: string;
  /** Absent: no name (create, or a list/watch without a name field selector). */
  readonly name?: string;
}

export interface Expectation extends Access {
  readonly allowed: boolean;
  /** The feature that needs it, or why it must stay forbidden. */
  readonly why: string;
}

export interface Rule {
  readonly apiGroups: readonly string[];
  readonly resources: readonly string[];
  readonly verbs: readonly string[];
  readonly resourceNames?: readonly string[];
}

export interface MatrixOptions {
  /** The CA's namespace. */
  readonly namespace: string;
  /** Another namespace, for the bundle ConfigMaps and for what must stay out of reach. */
  readonly otherNamespace: string;
  readonly mode: 'tokenReview' | 'jwks';
  readonly podBinding: boolean;
  readonly distribution: boolean;
  readonly istio: boolean;
  /** distribution.clusterTrustBundle: the trust domain whose ClusterTrustBundle the CA writes. */
  readonly clusterTrustBundle?: string;
  readonly secretName?: string;
  readonly cacertsSecretName?: string;
  readonly leaseName?: string;
}

/** The access matrix of the CA's service account for one configuration of the chart. */
export function caAccessMatrix(o: MatrixOptions): Expectation[] {
  const ns = o.namespace;
  const other = o.otherNamespace;
  const state = o.secretName ?? 'castellan-ca';
  const lease = o.leaseName ?? 'castellan-leader';
  const bundles = ['castellan-root-cert', ...(o.istio ? ['istio-ca-root-cert'] : [])];
  const core = (verb: string, resource: string, namespace: string | undefined, name: string | undefined, allowed: boolean, why: string): Expectation => ({
    verb,
    group: '',
    resource,
    ...(namespace !== undefined ? { namespace } : {}),
    ...(name !== undefined ? { name } : {}),
    allowed,
    why,
  });
  const m: Expectation[] = [];
  // The state store (docs/kubernetes.md): one Secret, optimistic concurrency.
  for (const verb of ['get', 'list', 'watch', 'update']) m.push(core(verb, 'secrets', ns, state, true, 'CA state store'));
  m.push(core('create', 'secrets', ns, undefined, true, 'CA state store: first start creates the state Secret'));
  if (o.cacertsSecretName) m.push(core('get', 'secrets', ns, o.cacertsSecretName, true, 'Istio plug-in CA input (cacerts)'));
  m.push(core('get', 'secrets', ns, 'some-other-secret', false, 'no other Secret of its namespace'));
  m.push(core('list', 'secrets', ns, undefined, false, 'no listing of every Secret'));
  m.push(core('delete', 'secrets', ns, state, false, 'the CA never deletes its state'));
  m.push(core('get', 'secrets', other, state, false, 'no Secret outside its namespace'));
  m.push(core('list', 'secrets', undefined, undefined, false, 'no Secret cluster-wide'));
  // Leader election.
  for (const verb of ['get', 'update']) m.push({ verb, group: 'coordination.k8s.io', resource: 'leases', namespace: ns, name: lease, allowed: true, why: 'leader election' });
  m.push({ verb: 'create', group: 'coordination.k8s.io', resource: 'leases', namespace: ns, allowed: true, why: 'leader election: first start creates the Lease' });
  m.push({ verb: 'update', group: 'coordination.k8s.io', resource: 'leases', namespace: ns, name: 'kube-scheduler', allowed: false, why: 'no other Lease' });
  m.push({ verb: 'update', group: 'coordination.k8s.io', resource: 'leases', namespace: 'kube-system', name: lease, allowed: false, why: 'no Lease outside its namespace' });
  // Agent reports.
  for (const verb of ['get', 'list', 'watch', 'create', 'update', 'delete'])
    m.push(core(verb, 'configmaps', ns, verb === 'create' || verb === 'list' || verb === 'watch' ? undefined : 'castellan-agents-ca-0', true, 'agent reports'));
  // Token authentication.
  m.push({ verb: 'create', group: 'authentication.k8s.io', resource: 'tokenreviews', allowed: o.mode === 'tokenReview', why: 'authentication.tokenReview' });
  m.push(core('get', 'pods', other, 'web-0', o.mode === 'jwks' && o.podBinding, 'authentication.jwks.requirePodBinding'));
  m.push(core('get', 'serviceaccounts', other, 'web', o.mode === 'jwks' && o.podBinding, 'authentication.jwks.requirePodBinding (service account UID)'));
  m.push(core('list', 'pods', other, undefined, false, 'pod binding reads one pod by name'));
  m.push({ verb: 'create', group: '', resource: 'serviceaccounts/token', namespace: other, name: 'web', allowed: false, why: 'the CA never mints tokens' });
  // Bundle distribution.
  for (const verb of ['get', 'list', 'watch']) m.push(core(verb, 'namespaces', undefined, undefined, o.distribution, 'distribution: which namespaces'));
  for (const name of bundles) {
    for (const verb of ['get', 'update']) m.push(core(verb, 'configmaps', other, name, o.distribution, `distribution: ${name}`));
    m.push(core('list', 'configmaps', undefined, name, o.distribution, `distribution: cluster-wide list of ${name} by field selector`));
  }
  if (!o.istio) m.push(core('update', 'configmaps', other, 'istio-ca-root-cert', false, 'istio-ca-root-cert only in Istio mode'));
  m.push(core('create', 'configmaps', other, undefined, o.distribution, 'distribution: a namespace without the bundle ConfigMap'));
  m.push(core('update', 'configmaps', other, 'app-config', false, 'no other ConfigMap outside its namespace'));
  m.push(core('delete', 'configmaps', other, 'castellan-root-cert', false, 'the CA never deletes a bundle ConfigMap'));
  m.push(core('list', 'configmaps', undefined, undefined, false, 'no cluster-wide list of every ConfigMap'));
  // ClusterTrustBundle (docs/kubernetes.md): its own object, and "attest" on its own signer only.
  const ctb = o.clusterTrustBundle;
  const certs = (verb: string, resource: string, name: string | undefined, allowed: boolean, why: string): Expectation => ({
    verb,
    group: 'certificates.k8s.io',
    resource,
    ...(name !== undefined ? { name } : {}),
    allowed,
    why,
  });
  const ownCtb = `castellan.io:${ctb ?? 'cluster.local'}:bundle`;
  for (const verb of ['get', 'update']) m.push(certs(verb, 'clustertrustbundles', ownCtb, ctb !== undefined, 'distribution.clusterTrustBundle'));
  for (const verb of ['list', 'create']) m.push(certs(verb, 'clustertrustbundles', undefined, ctb !== undefined, 'distribution.clusterTrustBundle: find or create it'));
  m.push(certs('attest', 'signers', `castellan.io/${ctb ?? 'cluster.local'}`, ctb !== undefined, 'distribution.clusterTrustBundle: a bundle with a signer name'));
  m.push(certs('attest', 'signers', 'kubernetes.io/kube-apiserver-client', false, "no other signer's bundles"));
  m.push(certs('update', 'clustertrustbundles', 'example.com:other:bundle', false, "no other publisher's ClusterTrustBundle"));
  m.push(certs('delete', 'clustertrustbundles', ownCtb, false, 'the CA never deletes its ClusterTrustBundle'));
  // Never.
  m.push({ verb: 'create', group: 'rbac.authorization.k8s.io', resource: 'rolebindings', namespace: ns, allowed: false, why: 'no privilege escalation' });
  m.push({ verb: 'impersonate', group: '', resource: 'serviceaccounts', namespace: other, name: 'web', allowed: false, why: 'no impersonation' });
  m.push({ verb: 'create', group: '', resource: 'pods', namespace: ns, allowed: false, why: 'the CA runs nothing' });
  m.push(core('delete', 'pods', other, 'web-0', false, 'the CA never deletes pods'));
  m.push(core('delete', 'pods', ns, 'castellan-0', false, 'not even its own'));
  m.push(core('get', 'secrets', 'kube-system', state, false, 'no Secret of the system namespaces'));
  m.push(core('update', 'configmaps', 'kube-system', 'kube-root-ca.crt', false, 'no ConfigMap of other publishers'));
  for (const verb of ['create', 'update', 'bind', 'escalate'])
    m.push({ verb, group: 'rbac.authorization.k8s.io', resource: 'clusterroles', allowed: false, why: 'no RBAC changes' });
  m.push({ verb: 'create', group: 'rbac.authorization.k8s.io', resource: 'clusterrolebindings', allowed: false, why: 'no RBAC changes' });
  m.push({ verb: 'patch', group: 'apps', resource: 'deployments', namespace: ns, name: 'castellan', allowed: false, why: 'the CA never changes its own Deployment' });
  m.push({ verb: 'create', group: 'certificates.k8s.io', resource: 'certificatesigningrequests', allowed: false, why: 'Kubernetes CSRs are not its business' });
  return m;
}

/**
 * Whether RBAC allows `a`, given the rules of a Role bound in `roleNamespace` and of a ClusterRole bound
 * cluster-wide (RBAC: a rule matches when its apiGroups, resources and verbs contain the request's or
 * `*`, and its resourceNames are empty or contain the request's name; a request without a name never
 * matches a rule with resourceNames).
 *
 * @example rbacAllows({ roleNamespace: 'castellan-system', role: [], cluster: rules }, { verb: 'create', group: 'authentication.k8s.io', resource: 'tokenreviews' })
 */
export function rbacAllows(o: { roleNamespace: string; role: readonly Rule[]; cluster: readonly Rule[] }, a: Access): boolean {
  const matches = (r: Rule) =>
    (r.apiGroups.includes(a.group) || r.apiGroups.includes('*')) &&
    (r.resources.includes(a.resource) || r.resources.includes('*')) &&
    (r.verbs.includes(a.verb) || r.verbs.includes('*')) &&
    (r.resourceNames === undefined || r.resourceNames.length === 0 || (a.name !== undefined && r.resourceNames.includes(a.name)));
  if (o.cluster.some(matches)) return true;
  return a.namespace === o.roleNamespace && o.role.some(matches);
}
