// A small client of a real kube-apiserver for tests: plain JSON over HTTPS with the admin token (or any
// other bearer token), and the few operations the tests need. No kubectl, no @kubernetes/client-node, so
// what the code under test sends is never mixed up with what the harness sends.
import { createPrivateKey, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { SignJWT, decodeJwt, decodeProtectedHeader, type JWTHeaderParameters } from 'jose';
import { stringify as toYaml } from 'yaml';

/** What a started API server is, as plain data (vitest hands it from globalSetup to test files). */
export interface RealApiServerInfo {
  /** `https://127.0.0.1:<port>`, the advertise address: what the discovery document's `jwks_uri` names. */
  readonly url: string;
  /** The cluster CA (PEM): it signs the serving certificate, valid for 127.0.0.1, localhost and kubernetes.default.svc*. */
  readonly caPem: string;
  /** A static token of user `castellan-test-admin` in group `system:masters`. */
  readonly adminToken: string;
  /** A kubeconfig (mode 0600) with the admin token. */
  readonly adminKubeconfigPath: string;
  /** `--service-account-issuer`: the `iss` of every service-account token. */
  readonly saIssuer: string;
  /** `--api-audiences`: a token with one of these may call the API itself. */
  readonly apiAudiences: readonly string[];
  /** Audit log, one JSON event per line, level Metadata, every request (see {@link RealApiClient.auditEvents}). */
  readonly auditLogPath: string;
  /** The service-account signing key (PKCS#8 PEM, RS256 by default): tests forge tokens a real cluster would sign. */
  readonly serviceAccountSigningKeyPath: string;
  /** The temp directory holding keys, data and logs; removed by stop(). */
  readonly workDir: string;
  /** Milliseconds from spawning etcd to a ready API server with its bootstrap objects. */
  readonly startedInMs: number;
}

/** Who a kubeconfig authenticates as. `{}` writes a user without any credential (anonymous). */
export interface KubeconfigUser {
  /** Written as `token`. */
  readonly token?: string;
  /** Written as the standard `tokenFile` field (client-go reads it; the path may be relative to the kubeconfig). */
  readonly tokenFile?: string;
  /** User entry name. Default `castellan-test`. */
  readonly name?: string;
}

/** `{name, uid}` of an object the server created. */
export interface ObjectRef {
  readonly name: string;
  readonly uid: string;
}

/** An RBAC policy rule (rbac.authorization.k8s.io/v1 PolicyRule). */
export interface PolicyRule {
  readonly apiGroups?: readonly string[];
  readonly resources?: readonly string[];
  readonly resourceNames?: readonly string[];
  readonly verbs: readonly string[];
  readonly nonResourceURLs?: readonly string[];
}

/** An RBAC subject: a service account, a user or a group. */
export type RbacSubject = { readonly kind: 'ServiceAccount'; readonly namespace: string; readonly name: string } | { readonly kind: 'User' | 'Group'; readonly name: string };

/** One line of the audit log (audit.k8s.io/v1 Event), the fields tests look at. */
export interface AuditEvent {
  readonly stage: string;
  readonly verb: string;
  readonly requestURI: string;
  readonly user: { readonly username: string; readonly groups?: readonly string[] };
  readonly objectRef?: { readonly resource?: string; readonly namespace?: string; readonly name?: string; readonly apiGroup?: string };
  readonly responseStatus?: { readonly code?: number };
}

/** A failed API call: the HTTP status and the Status object's reason and message. */
export class ApiCallError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiCallError';
  }
}

/** Resource paths of the kinds {@link RealApiClient.apply} knows. */
const KINDS: Readonly<Record<string, { base: string; plural: string; namespaced: boolean }>> = {
  Namespace: { base: '/api/v1', plural: 'namespaces', namespaced: false },
  ServiceAccount: { base: '/api/v1', plural: 'serviceaccounts', namespaced: true },
  Pod: { base: '/api/v1', plural: 'pods', namespaced: true },
  ConfigMap: { base: '/api/v1', plural: 'configmaps', namespaced: true },
  Secret: { base: '/api/v1', plural: 'secrets', namespaced: true },
  Service: { base: '/api/v1', plural: 'services', namespaced: true },
  Role: { base: '/apis/rbac.authorization.k8s.io/v1', plural: 'roles', namespaced: true },
  RoleBinding: { base: '/apis/rbac.authorization.k8s.io/v1', plural: 'rolebindings', namespaced: true },
  ClusterRole: { base: '/apis/rbac.authorization.k8s.io/v1', plural: 'clusterroles', namespaced: false },
  ClusterRoleBinding: { base: '/apis/rbac.authorization.k8s.io/v1', plural: 'clusterrolebindings', namespaced: false },
  Lease: { base: '/apis/coordination.k8s.io/v1', plural: 'leases', namespaced: true },
  Deployment: { base: '/apis/apps/v1', plural: 'deployments', namespaced: true },
  DaemonSet: { base: '/apis/apps/v1', plural: 'daemonsets', namespaced: true },
};

type Json = Record<string, unknown>;

/**
 * Operations on a real API server, as its admin unless a call says otherwise. Built from the plain
 * {@link RealApiServerInfo} so test files can use the server globalSetup started.
 *
 * @example
 *   const ns = await api.createNamespace('tokenreview');
 *   const sa = await api.createServiceAccount(ns, 'cart');
 *   const pod = await api.createPod(ns, 'cart-0', 'cart');
 *   const token = await api.requestToken(ns, 'cart', { audiences: ['castellan'], pod });
 */
export class RealApiClient implements RealApiServerInfo {
  readonly url: string;
  readonly caPem: string;
  readonly adminToken: string;
  readonly adminKubeconfigPath: string;
  readonly saIssuer: string;
  readonly apiAudiences: readonly string[];
  readonly auditLogPath: string;
  readonly serviceAccountSigningKeyPath: string;
  readonly workDir: string;
  readonly startedInMs: number;

  constructor(info: RealApiServerInfo) {
    this.url = info.url;
    this.caPem = info.caPem;
    this.adminToken = info.adminToken;
    this.adminKubeconfigPath = info.adminKubeconfigPath;
    this.saIssuer = info.saIssuer;
    this.apiAudiences = info.apiAudiences;
    this.auditLogPath = info.auditLogPath;
    this.serviceAccountSigningKeyPath = info.serviceAccountSigningKeyPath;
    this.workDir = info.workDir;
    this.startedInMs = info.startedInMs;
  }

  /** The plain data of this server (what globalSetup provides). */
  get info(): RealApiServerInfo {
    const { url, caPem, adminToken, adminKubeconfigPath, saIssuer, apiAudiences, auditLogPath, serviceAccountSigningKeyPath, workDir, startedInMs } = this;
    return { url, caPem, adminToken, adminKubeconfigPath, saIssuer, apiAudiences, auditLogPath, serviceAccountSigningKeyPath, workDir, startedInMs };
  }

  /** `https://localhost:<port>`: the same server at another origin than {@link url} (what a pod's `kubernetes.default.svc` is to the advertise address). */
  get localhostUrl(): string {
    return this.url.replace('//127.0.0.1:', '//localhost:');
  }

  /**
   * Writes a kubeconfig for `user` (mode 0600) and returns its path. `server` defaults to {@link url}.
   *
   * @example api.writeKubeconfig(path.join(dir, 'kc'), { tokenFile: 'token' });
   */
  writeKubeconfig(file: string, user: KubeconfigUser = { token: this.adminToken }, o: { server?: string; namespace?: string } = {}): string {
    const name = user.name ?? 'castellan-test';
    const fields: Json = {};
    if (user.token !== undefined) fields['token'] = user.token;
    if (user.tokenFile !== undefined) fields['tokenFile'] = user.tokenFile;
    const config = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'real', cluster: { server: o.server ?? this.url, 'certificate-authority-data': Buffer.from(this.caPem).toString('base64') } }],
      users: [{ name, user: fields }],
      contexts: [{ name: 'real', context: { cluster: 'real', user: name, ...(o.namespace ? { namespace: o.namespace } : {}) } }],
      'current-context': 'real',
    };
    writeFileSync(file, toYaml(config), { mode: 0o600 });
    return file;
  }

  /**
   * One API call; resolves with the decoded JSON body of a 2xx answer, throws {@link ApiCallError} otherwise.
   * `token: null` sends no credential (anonymous).
   */
  async call<T = Json>(method: string, path: string, body?: unknown, o: { token?: string | null; contentType?: string; timeoutMs?: number } = {}): Promise<T> {
    const r = await this.raw(method, path, body, o);
    if (r.status < 200 || r.status > 299) {
      const s = (r.body ?? {}) as { reason?: string; message?: string };
      throw new ApiCallError(r.status, s.reason ?? '', `${method} ${path}: HTTP ${r.status} ${s.reason ?? ''}: ${s.message ?? ''}`);
    }
    return r.body as T;
  }

  /** Like {@link call} but resolves with any status. */
  raw(method: string, path: string, body?: unknown, o: { token?: string | null; contentType?: string; timeoutMs?: number } = {}): Promise<{ status: number; body: unknown }> {
    const token = o.token === undefined ? this.adminToken : o.token;
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = request(
        new URL(path, this.url),
        {
          method,
          ca: this.caPem,
          agent: false,
          timeout: o.timeoutMs ?? 30_000,
          headers: {
            accept: 'application/json',
            ...(token === null ? {} : { authorization: `Bearer ${token}` }),
            ...(payload === undefined ? {} : { 'content-type': o.contentType ?? 'application/json', 'content-length': payload.length }),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown = text;
            try {
              parsed = text === '' ? undefined : JSON.parse(text);
            } catch {
              // not JSON (e.g. /readyz): keep the text
            }
            resolve({ status: res.statusCode ?? 0, body: parsed });
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** Creates a namespace `<prefix>-<random>` (each test file uses its own) and returns its name. */
  async createNamespace(prefix = 'test'): Promise<string> {
    const name = `${prefix}-${randomBytes(3).toString('hex')}`;
    await this.call('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    return name;
  }

  /** Deletes a namespace (it then terminates: no controller-manager here finishes that; it stays Terminating). */
  async deleteNamespace(name: string): Promise<void> {
    await this.call('DELETE', `/api/v1/namespaces/${name}`).catch((err: unknown) => ignore404(err));
  }

  async createServiceAccount(namespace: string, name: string): Promise<ObjectRef> {
    const sa = await this.call<Json>('POST', `/api/v1/namespaces/${namespace}/serviceaccounts`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name } });
    return refOf(sa);
  }

  async deleteServiceAccount(namespace: string, name: string): Promise<void> {
    await this.call('DELETE', `/api/v1/namespaces/${namespace}/serviceaccounts/${name}`);
  }

  /**
   * Creates a pod running as `serviceAccount`. No scheduler runs, so it stays Pending; with `nodeName` it
   * is bound to that (absent) node instead, and a delete then leaves it terminating with a
   * `deletionTimestamp` (no kubelet confirms it), as a pod being shut down looks.
   */
  async createPod(namespace: string, name: string, serviceAccount: string, o: { nodeName?: string } = {}): Promise<ObjectRef> {
    const pod = await this.call<Json>('POST', `/api/v1/namespaces/${namespace}/pods`, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name },
      spec: {
        serviceAccountName: serviceAccount,
        automountServiceAccountToken: false,
        ...(o.nodeName ? { nodeName: o.nodeName } : {}),
        containers: [{ name: 'app', image: 'registry.invalid/castellan-test:none' }],
      },
    });
    return refOf(pod);
  }

  /** Deletes a pod; an unscheduled pod is gone when this returns, a bound one is left terminating. */
  async deletePod(namespace: string, name: string): Promise<void> {
    await this.call('DELETE', `/api/v1/namespaces/${namespace}/pods/${name}`);
  }

  /**
   * Mints a service-account token through the TokenRequest API (`POST .../serviceaccounts/<sa>/token`),
   * bound to `pod` when given (as a projected volume token is). Audiences default to the API audiences
   * (a token that can call the API itself); expiration defaults to 3600 s (the API's minimum is 600).
   */
  async requestToken(namespace: string, serviceAccount: string, o: { audiences?: readonly string[]; expirationSeconds?: number; pod?: ObjectRef } = {}): Promise<string> {
    const r = await this.call<{ status?: { token?: string } }>('POST', `/api/v1/namespaces/${namespace}/serviceaccounts/${serviceAccount}/token`, {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: {
        audiences: [...(o.audiences ?? this.apiAudiences)],
        expirationSeconds: o.expirationSeconds ?? 3600,
        ...(o.pod ? { boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: o.pod.name, uid: o.pod.uid } } : {}),
      },
    });
    const token = r.status?.token;
    if (!token) throw new Error(`TokenRequest for ${namespace}/${serviceAccount} returned no token`);
    return token;
  }

  /**
   * Creates or updates any object of a kind in the table above by server-side apply (field manager
   * `castellan-test`, forced), and returns it as the server stored it.
   *
   * @example await api.apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', namespace: ns }, data: {} });
   */
  async apply<T = Json>(object: { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } } & Json): Promise<T> {
    const kind = KINDS[object.kind];
    if (kind === undefined) throw new TypeError(`apply: unknown kind ${object.kind}; add it to KINDS in test/k8s/real/api-client.ts`);
    const ns = object.metadata.namespace;
    if (kind.namespaced && !ns) throw new TypeError(`apply: ${object.kind} ${object.metadata.name} needs metadata.namespace`);
    const path = `${kind.base}${kind.namespaced ? `/namespaces/${ns}` : ''}/${kind.plural}/${object.metadata.name}?fieldManager=castellan-test&force=true`;
    return this.call<T>('PATCH', path, object, { contentType: 'application/apply-patch+yaml' });
  }

  /** Deletes an object of a kind in the table above; a missing object is not an error. */
  async deleteObject(kind: string, name: string, namespace?: string): Promise<void> {
    const k = KINDS[kind];
    if (k === undefined) throw new TypeError(`deleteObject: unknown kind ${kind}; add it to KINDS in test/k8s/real/api-client.ts`);
    await this.call('DELETE', `${k.base}${k.namespaced ? `/namespaces/${namespace}` : ''}/${k.plural}/${name}`).catch((err: unknown) => ignore404(err));
  }

  /** GETs an object by API path; `undefined` on 404. */
  async get<T = Json>(path: string): Promise<T | undefined> {
    return this.call<T>('GET', path).catch((err: unknown) => ignore404(err));
  }

  /**
   * Grants `rules` to `subject` through a Role + RoleBinding in `namespace`, or a ClusterRole +
   * ClusterRoleBinding when `namespace` is omitted; both are named `name`. Returns once RBAC answers yes
   * for the first rule (the authorizer's cache follows the objects within moments).
   */
  async grant(name: string, subject: RbacSubject, rules: readonly PolicyRule[], namespace?: string): Promise<void> {
    const meta = namespace ? { name, namespace } : { name };
    const group = 'rbac.authorization.k8s.io';
    await this.apply({ apiVersion: `${group}/v1`, kind: namespace ? 'Role' : 'ClusterRole', metadata: meta, rules: rules.map((r) => ({ ...r })) });
    await this.apply({
      apiVersion: `${group}/v1`,
      kind: namespace ? 'RoleBinding' : 'ClusterRoleBinding',
      metadata: meta,
      roleRef: { apiGroup: group, kind: namespace ? 'Role' : 'ClusterRole', name },
      subjects: [subject.kind === 'ServiceAccount' ? { ...subject } : { ...subject, apiGroup: group }],
    });
    const first = rules[0];
    if (first === undefined) return;
    const attrs: AccessAttributes = first.nonResourceURLs?.length
      ? { verb: first.verbs[0]!, nonResourcePath: first.nonResourceURLs[0]! }
      : {
          verb: first.verbs[0]!,
          resource: first.resources?.[0] ?? '',
          group: first.apiGroups?.[0] ?? '',
          ...(namespace ? { namespace } : {}),
          ...(first.resourceNames?.[0] ? { name: first.resourceNames[0] } : {}),
        };
    const deadline = Date.now() + 30_000;
    while (!(await this.canI(subject, attrs))) {
      if (Date.now() > deadline) throw new Error(`grant ${name}: RBAC still denies ${JSON.stringify(attrs)} to ${JSON.stringify(subject)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Binds an existing ClusterRole (e.g. `system:auth-delegator`) to `subject` cluster-wide. */
  async bindClusterRole(bindingName: string, clusterRole: string, subject: RbacSubject): Promise<void> {
    const group = 'rbac.authorization.k8s.io';
    await this.apply({
      apiVersion: `${group}/v1`,
      kind: 'ClusterRoleBinding',
      metadata: { name: bindingName },
      roleRef: { apiGroup: group, kind: 'ClusterRole', name: clusterRole },
      subjects: [subject.kind === 'ServiceAccount' ? { ...subject } : { ...subject, apiGroup: group }],
    });
  }

  /**
   * Asks RBAC (SubjectAccessReview) whether `subject` may do something.
   *
   * @example await api.canI({ kind: 'ServiceAccount', namespace: ns, name: 'ca' }, { verb: 'create', group: 'authentication.k8s.io', resource: 'tokenreviews' });
   */
  async canI(subject: RbacSubject, attrs: AccessAttributes): Promise<boolean> {
    const who =
      subject.kind === 'ServiceAccount'
        ? {
            user: `system:serviceaccount:${subject.namespace}:${subject.name}`,
            groups: ['system:serviceaccounts', `system:serviceaccounts:${subject.namespace}`, 'system:authenticated'],
          }
        : subject.kind === 'User'
          ? { user: subject.name, groups: ['system:authenticated'] }
          : { user: 'castellan-test-probe', groups: [subject.name] };
    const spec =
      'nonResourcePath' in attrs
        ? { ...who, nonResourceAttributes: { path: attrs.nonResourcePath, verb: attrs.verb } }
        : {
            ...who,
            resourceAttributes: {
              verb: attrs.verb,
              group: attrs.group ?? '',
              resource: attrs.resource,
              ...(attrs.namespace ? { namespace: attrs.namespace } : {}),
              ...(attrs.name ? { name: attrs.name } : {}),
            },
          };
    const r = await this.call<{ status?: { allowed?: boolean } }>('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec,
    });
    return r.status?.allowed === true;
  }

  /**
   * Re-signs a token this server issued with its own service-account key after changing claims or header
   * fields (`undefined` removes a claim): tokens a real cluster would sign but never mints, to test the
   * checks that do not depend on the signature.
   *
   * @example await api.resign(token, { claims: { iat: Math.floor(Date.now() / 1000) + 86_400 } });
   */
  async resign(token: string, o: { claims?: Record<string, unknown>; header?: Record<string, unknown> } = {}): Promise<string> {
    const payload: Record<string, unknown> = { ...decodeJwt(token) };
    for (const [k, v] of Object.entries(o.claims ?? {})) {
      if (v === undefined) delete payload[k];
      else payload[k] = v;
    }
    const header = { ...decodeProtectedHeader(token), ...o.header } as JWTHeaderParameters;
    const key = createPrivateKey(readFileSync(this.serviceAccountSigningKeyPath));
    // jose refuses to sign a `crit` it does not know unless told the parameters are understood.
    const crit = Array.isArray(header.crit) ? { crit: Object.fromEntries(header.crit.map((c) => [c, true])) } : {};
    return new SignJWT(payload).setProtectedHeader(header).sign(key, crit);
  }

  /** The audit log's events so far, optionally filtered (the log is written as requests finish: poll). */
  auditEvents(filter: (e: AuditEvent) => boolean = () => true): AuditEvent[] {
    const text = readFileSync(this.auditLogPath, 'utf8');
    return text
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as AuditEvent)
      .filter((e) => e.stage === 'ResponseComplete' && filter(e));
  }

  /** Completed TokenReview creations, optionally only those made by `username` (e.g. `system:serviceaccount:ns:ca`). */
  tokenReviews(username?: string): AuditEvent[] {
    return this.auditEvents((e) => e.verb === 'create' && e.objectRef?.resource === 'tokenreviews' && (username === undefined || e.user.username === username));
  }
}

/** What {@link RealApiClient.canI} asks about: a resource request or a non-resource path. */
export type AccessAttributes =
  | { readonly verb: string; readonly resource: string; readonly group?: string; readonly namespace?: string; readonly name?: string }
  | { readonly verb: string; readonly nonResourcePath: string };

/** `system:serviceaccount:<ns>:<name>`, the user name RBAC and the audit log see. */
export function serviceAccountUser(namespace: string, name: string): string {
  return `system:serviceaccount:${namespace}:${name}`;
}

function refOf(o: Json): ObjectRef {
  const meta = (o['metadata'] ?? {}) as { name?: string; uid?: string };
  if (!meta.name || !meta.uid) throw new Error('the API returned an object without metadata.name/uid');
  return { name: meta.name, uid: meta.uid };
}

function ignore404(err: unknown): undefined {
  if (err instanceof ApiCallError && err.status === 404) return undefined;
  throw err;
}
