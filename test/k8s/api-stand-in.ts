// A stand-in for the parts of kube-apiserver Castellan talks to, over real HTTPS on loopback. Behaviour
// and wire shapes follow kube-apiserver; the source each piece follows is named where it matters:
//   pkg/serviceaccount/claims.go, jwt.go        token claims, key IDs, validation order and messages
//   pkg/serviceaccount/openidmetadata.go         discovery document and JWKS
//   pkg/routes/openidmetadata.go                 content types and Cache-Control of those
//   pkg/registry/authentication/tokenreview      TokenReview (audiences defaulting, status fields)
//   k8s.io/apiserver .../serviceaccount/util.go  user name, groups, extra keys
//   core-objects.ts                              namespaces and ConfigMaps (CRUD, conflicts, Status bodies)
//   plugin/pkg/auth/authorizer/rbac              the Forbidden message of a denied request
// Test-only: keys and certificates are made at start and never written anywhere but the kubeconfig.
import 'reflect-metadata';
import { createHash, createPrivateKey, generateKeyPairSync, randomUUID, webcrypto, type KeyObject } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as x509 from '@peculiar/x509';
import { SignJWT, compactVerify, type JWK } from 'jose';
import { stringify as toYaml } from 'yaml';
import { CoreObjects, statusFailure, type ConfigMapObject, type NamespaceObject } from './core-objects.js';

export const DEFAULT_ISSUER = 'https://kubernetes.default.svc.cluster.local';
/** go-jose `jwt.DefaultLeeway`, used by kube-apiserver for exp/nbf/iat (claims.go). */
const LEEWAY_SECONDS = 60;
/** Algorithms kube-apiserver signs service-account tokens with (openidmetadata.go algorithmFromPublicKey). */
const SA_TOKEN_ALGORITHMS = ['RS256', 'ES256', 'ES384', 'ES512'];

export interface ApiStandInOptions {
  /** Service-account issuer (`--service-account-issuer`); a function gets the server URL. Default {@link DEFAULT_ISSUER}. */
  issuer?: string | ((serverUrl: string) => string);
  /** `--api-audiences`. Default: the issuer, as kube-apiserver does. */
  apiAudiences?: string[];
  /** Signing key type. Default ES256. */
  signingAlgorithm?: 'ES256' | 'RS256';
  /** Serve discovery/JWKS to unauthenticated callers. Default false (the RBAC default binds it to service accounts only). */
  anonymousDiscovery?: boolean;
  /** Act like an API server that ignores `spec.audiences` (no `status.audiences`). Default false. */
  ignoreTokenReviewAudiences?: boolean;
  /** Namespaces that exist at start. Default: those of a fresh cluster (default, kube-node-lease, kube-public, kube-system). */
  namespaces?: string[];
  now?: () => Date;
}

/** Kubernetes API verbs of resource requests (apiserver RequestInfo). */
export type ApiVerb = 'get' | 'list' | 'create' | 'update' | 'delete';

/** What an RBAC rule would see of a request. `namespace` undefined: cluster scope. */
export interface RequestAttributes {
  readonly verb: ApiVerb;
  readonly resource: 'namespaces' | 'configmaps' | 'pods' | 'serviceaccounts';
  readonly namespace?: string;
  readonly name?: string;
}

/** A request as the stand-in saw it (after authentication). */
export interface RecordedRequest extends RequestAttributes {
  readonly method: string;
  readonly path: string;
}

/** Denies matching requests with 403 Forbidden (as RBAC would without a matching rule). Omitted fields match anything. */
export interface DenyRule {
  readonly verbs?: readonly ApiVerb[];
  readonly resource: RequestAttributes['resource'];
  readonly namespace?: string;
}

/**
 * Runs before a resource request is handled (after authentication and authorization). Return a
 * failure to answer with that Status instead (5xx injection), or act on the stand-in first (another
 * writer racing the caller) and return nothing.
 */
export type RequestHook = (req: RecordedRequest) => void | { code: number; reason: string; message: string } | Promise<void | { code: number; reason: string; message: string }>;

export interface MintTokenOptions {
  namespace: string;
  serviceAccount: string;
  /** `aud`. Default: the API audiences. */
  audiences?: string[];
  /** Bind to a pod; `uid` defaults to the pod's current uid (it must exist then, as for TokenRequest). */
  pod?: { name: string; uid?: string };
  node?: { name: string; uid: string };
  /** Default 3600 (kube-apiserver's default expirationSeconds). */
  ttlSeconds?: number;
  /** Issue time. Default: the stand-in's clock. */
  now?: Date;
  /** Merged over the payload after it is built; `undefined` removes a claim. */
  claims?: Record<string, unknown>;
  /** Sign with a key the stand-in does not publish. */
  signWith?: { privateKey: KeyObject; kid: string };
  /** Merged over the protected header `{alg, kid}` (e.g. a `crit` kube-apiserver never writes). */
  header?: Record<string, unknown>;
}

export interface PodRecord {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly serviceAccount: string;
  readonly nodeName?: string;
  readonly creationTimestamp: string;
  readonly resourceVersion: string;
}

interface SigningKey {
  readonly kid: string;
  readonly alg: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly jwk: JWK;
}

interface UserInfo {
  username: string;
  uid: string;
  groups: string[];
  extra: Record<string, string[]>;
}

type AuthResult = { ok: true; user: UserInfo; audiences: string[] } | { ok: false; error?: string };

interface Reply {
  status: number;
  body: unknown;
  contentType?: string;
  headers?: Record<string, string>;
}

interface RouteRequest {
  readonly params: readonly string[];
  readonly url: URL;
  readonly body: string;
  readonly user: UserInfo | undefined;
}

interface Route {
  readonly method: string;
  readonly pattern: RegExp;
  /** `authenticated`: a valid bearer token; `discovery`: the same unless anonymousDiscovery. */
  readonly access: 'authenticated' | 'discovery';
  /** Resource requests: what authorization and hooks see. */
  readonly attributes?: (params: readonly string[]) => RequestAttributes;
  readonly handle: (req: RouteRequest) => Reply | Promise<Reply>;
}

/** Namespaced objects of one resource, keyed `<namespace>/<name>`; Secrets, ConfigMaps and Leases go the same way. */
class NamespacedStore<T> {
  private readonly items = new Map<string, T>();
  get(namespace: string, name: string): T | undefined {
    return this.items.get(`${namespace}/${name}`);
  }
  set(namespace: string, name: string, value: T): void {
    this.items.set(`${namespace}/${name}`, value);
  }
  delete(namespace: string, name: string): boolean {
    return this.items.delete(`${namespace}/${name}`);
  }
}

export class KubernetesApiStandIn {
  /** Number of TokenReviews served (whatever their outcome). */
  tokenReviewCount = 0;
  readonly url: string;
  readonly issuer: string;
  readonly apiAudiences: readonly string[];
  /** PEM of the CA that signs the serving certificate (`certificate-authority-data`). */
  readonly caPem: string;
  /** Bearer token of the CA's own service account (castellan-system/castellan-ca), as in the kubeconfig. */
  caToken = '';

  private keys: SigningKey[];
  private signing: SigningKey;
  private readonly serviceAccounts = new NamespacedStore<{ uid: string }>();
  private readonly pods = new NamespacedStore<PodRecord>();
  private readonly routes: Route[];
  private resourceVersion = 1000;
  private readonly now: () => Date;
  private readonly objects: CoreObjects;
  private denyRules: DenyRule[] = [];
  private hooks: RequestHook[] = [];
  /** Every authenticated resource request, in arrival order (tests count writes with it). */
  readonly requests: RecordedRequest[] = [];

  private constructor(
    private readonly server: Server,
    private readonly options: ApiStandInOptions,
    caPem: string,
    url: string,
    key: SigningKey,
  ) {
    this.caPem = caPem;
    this.url = url;
    this.issuer = typeof options.issuer === 'function' ? options.issuer(url) : (options.issuer ?? DEFAULT_ISSUER);
    this.apiAudiences = options.apiAudiences ?? [this.issuer];
    this.keys = [key];
    this.signing = key;
    this.now = options.now ?? (() => new Date());
    this.objects = new CoreObjects(
      () => String(++this.resourceVersion),
      () => String(this.resourceVersion),
      this.now,
    );
    for (const ns of options.namespaces ?? ['default', 'kube-node-lease', 'kube-public', 'kube-system']) this.objects.addNamespace(ns);
    const cm =
      (verb: ApiVerb) =>
      (p: readonly string[]): RequestAttributes => ({ verb, resource: 'configmaps', namespace: p[0]!, ...(p[1] !== undefined ? { name: p[1] } : {}) });
    const o = this.objects;
    this.routes = [
      { method: 'GET', pattern: /^\/\.well-known\/openid-configuration$/, access: 'discovery', handle: () => this.discoveryDocument() },
      { method: 'GET', pattern: /^\/openid\/v1\/jwks$/, access: 'discovery', handle: () => this.keySet() },
      { method: 'POST', pattern: /^\/apis\/authentication\.k8s\.io\/v1\/tokenreviews$/, access: 'authenticated', handle: (r) => this.tokenReview(r) },
      {
        method: 'GET',
        pattern: /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)$/,
        access: 'authenticated',
        attributes: (p) => ({ verb: 'get', resource: 'pods', namespace: p[0]!, name: p[1]! }),
        handle: (r) => this.getPod(r.params[0]!, r.params[1]!),
      },
      {
        method: 'GET',
        pattern: /^\/api\/v1\/namespaces\/([^/]+)\/serviceaccounts\/([^/]+)$/,
        access: 'authenticated',
        attributes: (p) => ({ verb: 'get', resource: 'serviceaccounts', namespace: p[0]!, name: p[1]! }),
        handle: (r) => this.getServiceAccount(r.params[0]!, r.params[1]!),
      },
      {
        method: 'GET',
        pattern: /^\/api\/v1\/namespaces$/,
        access: 'authenticated',
        attributes: () => ({ verb: 'list', resource: 'namespaces' }),
        handle: (r) => o.listNamespaces(r.url.searchParams),
      },
      {
        method: 'GET',
        pattern: /^\/api\/v1\/namespaces\/([^/]+)$/,
        access: 'authenticated',
        attributes: (p) => ({ verb: 'get', resource: 'namespaces', name: p[0]! }),
        handle: (r) => o.getNamespace(r.params[0]!),
      },
      {
        method: 'GET',
        pattern: /^\/api\/v1\/configmaps$/,
        access: 'authenticated',
        attributes: () => ({ verb: 'list', resource: 'configmaps' }),
        handle: (r) => o.listConfigMaps(undefined, r.url.searchParams),
      },
      {
        method: 'GET',
        pattern: /^\/api\/v1\/namespaces\/([^/]+)\/configmaps$/,
        access: 'authenticated',
        attributes: cm('list'),
        handle: (r) => o.listConfigMaps(r.params[0]!, r.url.searchParams),
      },
      {
        method: 'POST',
        pattern: /^\/api\/v1\/namespaces\/([^/]+)\/configmaps$/,
        access: 'authenticated',
        attributes: cm('create'),
        handle: (r) => o.createConfigMap(r.params[0]!, r.body),
      },
      {
        method: 'GET',
        pattern: /^\/api\/v1\/namespaces\/([^/]+)\/configmaps\/([^/]+)$/,
        access: 'authenticated',
        attributes: cm('get'),
        handle: (r) => o.getConfigMap(r.params[0]!, r.params[1]!),
      },
      {
        method: 'PUT',
        pattern: /^\/api\/v1\/namespaces\/([^/]+)\/configmaps\/([^/]+)$/,
        access: 'authenticated',
        attributes: cm('update'),
        handle: (r) => o.replaceConfigMap(r.params[0]!, r.params[1]!, r.body),
      },
      {
        method: 'DELETE',
        pattern: /^\/api\/v1\/namespaces\/([^/]+)\/configmaps\/([^/]+)$/,
        access: 'authenticated',
        attributes: cm('delete'),
        handle: (r) => o.deleteConfigMap(r.params[0]!, r.params[1]!),
      },
    ];
  }

  /** Starts the stand-in on 127.0.0.1 with a fresh serving CA and signing key. */
  static async start(options: ApiStandInOptions = {}): Promise<KubernetesApiStandIn> {
    const tls = await servingMaterial();
    let self: KubernetesApiStandIn | undefined;
    const server = createServer({ key: tls.keyPem, cert: tls.certPem }, (req, res) => {
      void self!.dispatch(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    self = new KubernetesApiStandIn(server, options, tls.caPem, url, newSigningKey(options.signingAlgorithm ?? 'ES256'));
    self.caToken = await self.mintToken({ namespace: 'castellan-system', serviceAccount: 'castellan-ca', ttlSeconds: 24 * 3600 });
    return self;
  }

  /** Kid of the key new tokens are signed with. */
  get currentKid(): string {
    return this.signing.kid;
  }

  /** A service-account token exactly as kube-apiserver's TokenRequest would issue it. */
  async mintToken(o: MintTokenOptions): Promise<string> {
    const iat = Math.floor((o.now ?? this.now()).getTime() / 1000);
    const sa = this.ensureServiceAccount(o.namespace, o.serviceAccount);
    let pod: { name: string; uid: string } | undefined;
    if (o.pod !== undefined) {
      const uid = o.pod.uid ?? this.pods.get(o.namespace, o.pod.name)?.uid;
      if (uid === undefined) throw new Error(`stand-in: pods "${o.pod.name}" not found in ${o.namespace}; addPod first or give a uid`);
      pod = { name: o.pod.name, uid };
    }
    const payload: Record<string, unknown> = {
      aud: o.audiences ?? [...this.apiAudiences],
      exp: iat + (o.ttlSeconds ?? 3600),
      iat,
      iss: this.issuer,
      jti: randomUUID(),
      'kubernetes.io': {
        namespace: o.namespace,
        ...(o.node ? { node: o.node } : {}),
        ...(pod ? { pod } : {}),
        serviceaccount: { name: o.serviceAccount, uid: sa.uid },
      },
      nbf: iat,
      sub: `system:serviceaccount:${o.namespace}:${o.serviceAccount}`,
    };
    for (const [k, v] of Object.entries(o.claims ?? {})) {
      if (v === undefined) delete payload[k];
      else payload[k] = v;
    }
    const key = o.signWith ? { privateKey: o.signWith.privateKey, kid: o.signWith.kid, alg: algorithmOf(o.signWith.privateKey) } : this.signing;
    const header: Record<string, unknown> & { alg: string } = { alg: key.alg, kid: key.kid, ...o.header };
    // jose signs a `crit` only when told its parameters are understood.
    const crit = Array.isArray(header['crit']) ? { crit: Object.fromEntries((header['crit'] as string[]).map((c) => [c, true])) } : {};
    return new SignJWT(payload).setProtectedHeader(header).sign(key.privateKey, crit);
  }

  /** Signs new tokens with a fresh key; the old keys stay in the JWKS until {@link removeKey}. Returns the new kid. */
  rotateSigningKey(): string {
    const key = newSigningKey(this.options.signingAlgorithm ?? 'ES256');
    this.keys = [...this.keys, key];
    this.signing = key;
    return key.kid;
  }

  /** Stops publishing (and accepting) a key. */
  removeKey(kid: string): void {
    if (kid === this.signing.kid) throw new Error('stand-in: cannot remove the current signing key; rotate first');
    this.keys = this.keys.filter((k) => k.kid !== kid);
  }

  /** SPKI PEM of a published key (default: the signing key), for tests that craft tokens by hand. */
  publicKeyPem(kid: string = this.signing.kid): string {
    const key = this.keys.find((k) => k.kid === kid);
    if (key === undefined) throw new Error(`stand-in: no published key ${kid}`);
    return key.publicKey.export({ format: 'pem', type: 'spki' }) as string;
  }

  /** The published key set, as `GET /openid/v1/jwks` returns it. */
  jwks(): { keys: JWK[] } {
    return { keys: this.keys.map((k) => k.jwk) };
  }

  addPod(p: { namespace: string; name: string; uid?: string; serviceAccount?: string; nodeName?: string }): PodRecord {
    const pod: PodRecord = {
      namespace: p.namespace,
      name: p.name,
      uid: p.uid ?? randomUUID(),
      serviceAccount: p.serviceAccount ?? 'default',
      ...(p.nodeName ? { nodeName: p.nodeName } : {}),
      creationTimestamp: rfc3339(this.now()),
      resourceVersion: String(++this.resourceVersion),
    };
    this.pods.set(p.namespace, p.name, pod);
    return pod;
  }

  deletePod(namespace: string, name: string): boolean {
    return this.pods.delete(namespace, name);
  }

  /** Deletes a service account; its tokens stop authenticating (claims.go checks it exists with the same uid). */
  deleteServiceAccount(namespace: string, name: string): boolean {
    return this.serviceAccounts.delete(namespace, name);
  }

  // ---- namespaces and ConfigMaps ----

  /** Creates a namespace (as `kubectl create namespace`). */
  addNamespace(name: string, labels: Record<string, string> = {}): NamespaceObject {
    return this.objects.addNamespace(name, labels);
  }

  /** Starts deleting a namespace: it stays listed with phase Terminating and refuses new objects. */
  terminateNamespace(name: string): void {
    this.objects.terminateNamespace(name);
  }

  /** Removes a namespace and its ConfigMaps at once. */
  deleteNamespace(name: string): boolean {
    return this.objects.deleteNamespace(name);
  }

  namespaceNames(): string[] {
    return [...this.objects.namespaces.keys()].sort();
  }

  /** A copy of a stored ConfigMap, or undefined. */
  configMap(namespace: string, name: string): ConfigMapObject | undefined {
    const cm = this.objects.configMaps.get(`${namespace}/${name}`);
    return cm === undefined ? undefined : structuredClone(cm);
  }

  /**
   * Writes a ConfigMap as another client would (create, or unconditional replace), bumping its
   * resourceVersion. Returns the stored copy.
   */
  putConfigMap(
    namespace: string,
    cm: { metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> }; data?: Record<string, string> },
  ): ConfigMapObject {
    const exists = this.objects.configMaps.has(`${namespace}/${cm.metadata.name}`);
    const body = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', ...cm, metadata: { ...cm.metadata, namespace } });
    const r = exists ? this.objects.replaceConfigMap(namespace, cm.metadata.name, body) : this.objects.createConfigMap(namespace, body);
    if (r.status >= 300) throw new Error(`stand-in: putConfigMap ${namespace}/${cm.metadata.name}: ${JSON.stringify(r.body)}`);
    return this.configMap(namespace, cm.metadata.name)!;
  }

  /** Denies matching requests with 403 Forbidden until the returned function is called. */
  deny(rule: DenyRule): () => void {
    this.denyRules = [...this.denyRules, rule];
    return () => {
      this.denyRules = this.denyRules.filter((r) => r !== rule);
    };
  }

  /** Adds a {@link RequestHook} until the returned function is called. */
  onRequest(hook: RequestHook): () => void {
    this.hooks = [...this.hooks, hook];
    return () => {
      this.hooks = this.hooks.filter((h) => h !== hook);
    };
  }

  /** Writes a kubeconfig that `KubeConfig.loadFromFile` reads unchanged (mode 0600). */
  writeKubeconfig(path: string, token: string = this.caToken): void {
    const config = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'stand-in', cluster: { server: this.url, 'certificate-authority-data': Buffer.from(this.caPem).toString('base64') } }],
      users: [{ name: 'castellan-ca', user: { token } }],
      contexts: [{ name: 'stand-in', context: { cluster: 'stand-in', user: 'castellan-ca' } }],
      'current-context': 'stand-in',
      preferences: {},
    };
    writeFileSync(path, toYaml(config), { mode: 0o600 });
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  // ---- HTTP plumbing ----

  private async dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let reply: Reply;
    try {
      const url = new URL(req.url ?? '/', this.url);
      const body = await readBody(req);
      const matching = this.routes.filter((r) => r.pattern.test(url.pathname));
      const route = matching.find((r) => r.method === req.method);
      if (route === undefined) {
        reply =
          matching.length > 0
            ? status(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`)
            : status(404, 'NotFound', 'the server could not find the requested resource');
      } else {
        const user = await this.caller(req);
        if (user === undefined && (route.access === 'authenticated' || !this.options.anonymousDiscovery)) {
          // As with --anonymous-auth=false: no or bad credentials are 401, not 403 for system:anonymous.
          reply = status(401, 'Unauthorized', 'Unauthorized');
        } else {
          const params = url.pathname.match(route.pattern)!.slice(1).map(decodeURIComponent);
          reply = (await this.admit(route, params, req.method ?? 'GET', url, user)) ?? (await route.handle({ params, url, body, user }));
        }
      }
    } catch (err) {
      reply = status(500, 'InternalError', `Internal error occurred: ${err instanceof Error ? err.message : String(err)}`);
    }
    const text = JSON.stringify(reply.body);
    res.writeHead(reply.status, { 'content-type': reply.contentType ?? 'application/json', ...(reply.headers ?? {}) });
    res.end(text);
  }

  /** Authorization and hooks of a resource request; a reply ends the request there. */
  private async admit(route: Route, params: readonly string[], method: string, url: URL, user: UserInfo | undefined): Promise<Reply | undefined> {
    if (route.attributes === undefined) return undefined;
    const attrs = route.attributes(params);
    // apiserver RequestInfo: a list with fieldSelector metadata.name=X is authorized as a request for X.
    const selected = /^metadata\.name==?([^,]+)$/.exec(url.searchParams.get('fieldSelector') ?? '');
    const a: RequestAttributes = attrs.verb === 'list' && selected ? { ...attrs, name: selected[1]! } : attrs;
    const recorded: RecordedRequest = { ...a, method, path: url.pathname };
    this.requests.push(recorded);
    const denied = this.denyRules.some(
      (r) => r.resource === a.resource && (r.namespace === undefined || r.namespace === a.namespace) && (r.verbs === undefined || r.verbs.includes(a.verb)),
    );
    if (denied) {
      const who = `User "${user?.username ?? 'system:anonymous'}" cannot ${a.verb} resource "${a.resource}" in API group ""`;
      const where = a.namespace === undefined ? 'at the cluster scope' : `in the namespace "${a.namespace}"`;
      // responsewriters.Forbidden names the object when the request has one.
      const subject = a.name === undefined ? a.resource : `${a.resource} "${a.name}"`;
      return statusFailure(403, 'Forbidden', `${subject} is forbidden: ${who} ${where}`, { ...(a.name !== undefined ? { name: a.name } : {}), kind: a.resource });
    }
    for (const hook of this.hooks) {
      const failure = await hook(recorded);
      if (failure) return statusFailure(failure.code, failure.reason, failure.message);
    }
    return undefined;
  }

  private async caller(req: IncomingMessage): Promise<UserInfo | undefined> {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    if (!m) return undefined;
    const r = await this.authenticateToken(m[1]!, this.apiAudiences);
    return r.ok ? r.user : undefined;
  }

  // ---- handlers ----

  private discoveryDocument(): Reply {
    return {
      status: 200,
      headers: { 'cache-control': 'public, max-age=3600' },
      body: {
        issuer: this.issuer,
        jwks_uri: `${this.url}/openid/v1/jwks`,
        response_types_supported: ['id_token'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: [...new Set(this.keys.map((k) => k.alg))].sort(),
      },
    };
  }

  private keySet(): Reply {
    return { status: 200, contentType: 'application/jwk-set+json', headers: { 'cache-control': 'public, max-age=3600' }, body: this.jwks() };
  }

  private async tokenReview(r: RouteRequest): Promise<Reply> {
    let review: { apiVersion?: unknown; kind?: unknown; spec?: { token?: unknown; audiences?: unknown } };
    try {
      review = JSON.parse(r.body) as typeof review;
    } catch {
      return status(400, 'BadRequest', 'the body of the request was in an unknown format');
    }
    if (review.kind !== 'TokenReview' || review.apiVersion !== 'authentication.k8s.io/v1') {
      return status(400, 'BadRequest', `not a TokenReview: ${JSON.stringify(review.kind ?? null)}`);
    }
    const token = typeof review.spec?.token === 'string' ? review.spec.token : '';
    if (token === '') return status(400, 'BadRequest', 'token is required for TokenReview in authentication');
    this.tokenReviewCount++;
    const requested = Array.isArray(review.spec?.audiences) ? (review.spec.audiences as string[]) : [];
    const auds = requested.length > 0 ? requested : [...this.apiAudiences];
    const result = await this.authenticateToken(token, auds);
    const reviewStatus: Record<string, unknown> = result.ok
      ? { authenticated: true, user: result.user, ...(this.options.ignoreTokenReviewAudiences ? {} : { audiences: result.audiences }) }
      : // `user` is a struct in Go, so it is serialized even when empty; `authenticated: false` is omitted.
        { user: {}, error: result.error === undefined ? 'invalid bearer token' : `[invalid bearer token, ${result.error}]` };
    return {
      status: 201,
      body: {
        kind: 'TokenReview',
        apiVersion: 'authentication.k8s.io/v1',
        metadata: { creationTimestamp: null },
        spec: review.spec,
        status: reviewStatus,
      },
    };
  }

  private getPod(namespace: string, name: string): Reply {
    const pod = this.pods.get(namespace, name);
    if (pod === undefined) return status(404, 'NotFound', `pods "${name}" not found`, { name, kind: 'pods' });
    return {
      status: 200,
      body: {
        kind: 'Pod',
        apiVersion: 'v1',
        metadata: { name, namespace, uid: pod.uid, resourceVersion: pod.resourceVersion, creationTimestamp: pod.creationTimestamp },
        spec: { serviceAccountName: pod.serviceAccount, ...(pod.nodeName ? { nodeName: pod.nodeName } : {}), containers: [] },
        status: { phase: 'Running' },
      },
    };
  }

  private getServiceAccount(namespace: string, name: string): Reply {
    const sa = this.serviceAccounts.get(namespace, name);
    if (sa === undefined) return status(404, 'NotFound', `serviceaccounts "${name}" not found`, { name, kind: 'serviceaccounts' });
    return { status: 200, body: { kind: 'ServiceAccount', apiVersion: 'v1', metadata: { name, namespace, uid: sa.uid } } };
  }

  // ---- the service-account token authenticator (jwt.go + claims.go) ----

  private async authenticateToken(token: string, requested: readonly string[]): Promise<AuthResult> {
    // jwt.go hasCorrectIssuer: anything that is not a compact JWT of our issuer is not ours (no error).
    const parts = token.split('.');
    if (parts.length !== 3) return { ok: false };
    const header = decodeSegment(parts[0]!);
    const unverified = decodeSegment(parts[1]!);
    if (unverified?.['iss'] !== this.issuer) return { ok: false };
    // go-jose ParseSigned with the allowed algorithms; failure means "not ours" again.
    const alg = header?.['alg'];
    if (typeof alg !== 'string' || !SA_TOKEN_ALGORITHMS.includes(alg)) return { ok: false };

    const kid = typeof header?.['kid'] === 'string' ? header['kid'] : '';
    const candidates = kid === '' ? this.keys : this.keys.filter((k) => k.kid === kid);
    if (candidates.length === 0) return { ok: false, error: 'invalid signature, no keys found' };
    let verified = false;
    for (const key of candidates) {
      try {
        await compactVerify(token, key.publicKey, { algorithms: [alg] });
        verified = true;
        break;
      } catch {
        // try the next key (jwt.go tries each key with a matching id)
      }
    }
    if (!verified) return { ok: false, error: 'go-jose/go-jose: error in cryptographic primitive' };
    const claims = unverified;

    const raw = claims['aud'];
    const tokenAuds = typeof raw === 'string' ? [raw] : Array.isArray(raw) ? (raw as string[]) : [];
    const effective = tokenAuds.length > 0 ? tokenAuds : [...this.apiAudiences];
    const auds = effective.filter((a) => requested.includes(a));
    if (auds.length === 0) return { ok: false, error: `token audiences ${goQuote(effective)} is invalid for the target audiences ${goQuote(requested)}` };

    const now = Math.floor(this.now().getTime() / 1000);
    const num = (k: string): number | undefined => (typeof claims[k] === 'number' ? (claims[k] as number) : undefined);
    const nbf = num('nbf');
    const exp = num('exp');
    const iat = num('iat');
    if (nbf !== undefined && now + LEEWAY_SECONDS < nbf) return { ok: false, error: 'service account token is not valid yet' };
    if (exp !== undefined && now - LEEWAY_SECONDS > exp) return { ok: false, error: 'service account token has expired' };
    if (iat !== undefined && now + LEEWAY_SECONDS < iat) return { ok: false, error: 'service account token is issued in the future' };

    const k8s = (claims['kubernetes.io'] ?? {}) as {
      namespace?: string;
      serviceaccount?: { name?: string; uid?: string };
      pod?: { name?: string; uid?: string };
      node?: { name?: string; uid?: string };
    };
    const namespace = k8s.namespace ?? '';
    const saName = k8s.serviceaccount?.name ?? '';
    const sa = this.serviceAccounts.get(namespace, saName);
    if (sa === undefined) return { ok: false, error: `serviceaccounts "${saName}" not found` };
    if (sa.uid !== k8s.serviceaccount?.uid) return { ok: false, error: `service account UID (${sa.uid}) does not match claim (${k8s.serviceaccount?.uid ?? ''})` };
    const extra: Record<string, string[]> = {};
    if (k8s.pod !== undefined) {
      const pod = this.pods.get(namespace, k8s.pod.name ?? '');
      if (pod === undefined) return { ok: false, error: 'service account token has been invalidated' };
      if (pod.uid !== k8s.pod.uid) return { ok: false, error: `pod UID (${pod.uid}) does not match service account pod ref claim (${k8s.pod.uid ?? ''})` };
      extra['authentication.kubernetes.io/pod-name'] = [pod.name];
      extra['authentication.kubernetes.io/pod-uid'] = [pod.uid];
      if (k8s.node?.name) {
        extra['authentication.kubernetes.io/node-name'] = [k8s.node.name];
        if (k8s.node.uid) extra['authentication.kubernetes.io/node-uid'] = [k8s.node.uid];
      }
    }
    if (typeof claims['jti'] === 'string' && claims['jti'] !== '') extra['authentication.kubernetes.io/credential-id'] = [`JTI=${claims['jti']}`];
    return {
      ok: true,
      audiences: auds,
      user: {
        username: `system:serviceaccount:${namespace}:${saName}`,
        uid: sa.uid,
        groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`, 'system:authenticated'],
        extra,
      },
    };
  }

  private ensureServiceAccount(namespace: string, name: string): { uid: string } {
    let sa = this.serviceAccounts.get(namespace, name);
    if (sa === undefined) {
      sa = { uid: randomUUID() };
      this.serviceAccounts.set(namespace, name, sa);
    }
    return sa;
  }
}

// ---- helpers ----

function newSigningKey(alg: 'ES256' | 'RS256'): SigningKey {
  const { privateKey, publicKey } = alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('rsa', { modulusLength: 2048 });
  // jwt.go keyIDFromPublicKey: base64url(SHA-256(DER SubjectPublicKeyInfo)).
  const kid = createHash('sha256')
    .update(publicKey.export({ format: 'der', type: 'spki' }))
    .digest('base64url');
  const j = publicKeyJwk(publicKey);
  // openidmetadata.go: JWKs carry use "sig", the kid and the alg (go-jose field order).
  const jwk: JWK = { use: 'sig', kty: j.kty!, kid, ...(j.crv ? { crv: j.crv } : {}), alg, ...(j.x ? { x: j.x, y: j.y! } : { n: j.n!, e: j.e! }) };
  return { kid, alg, privateKey, publicKey, jwk };
}

function publicKeyJwk(publicKey: KeyObject): JWK {
  return publicKey.export({ format: 'jwk' }) as JWK;
}

function algorithmOf(key: KeyObject): string {
  if (key.asymmetricKeyType === 'rsa') return 'RS256';
  const curve = key.asymmetricKeyDetails?.namedCurve;
  return curve === 'secp384r1' ? 'ES384' : curve === 'secp521r1' ? 'ES512' : 'ES256';
}

function decodeSegment(s: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Go's `%q` of a []string: `["a" "b"]`. */
function goQuote(list: readonly string[]): string {
  return `[${list.map((s) => JSON.stringify(s)).join(' ')}]`;
}

const status = statusFailure;

function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** A CA and a serving certificate for IP 127.0.0.1 and `localhost`, made now with @peculiar/x509. */
async function servingMaterial(): Promise<{ caPem: string; certPem: string; keyPem: string }> {
  const crypto = webcrypto as unknown as Parameters<typeof x509.X509CertificateGenerator.create>[1];
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const gen = async () => (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const caKeys = await gen();
  const serverKeys = await gen();
  const notBefore = new Date(Date.now() - 3_600_000);
  const notAfter = new Date(Date.now() + 7 * 86_400_000);
  type Keys = x509.X509CertificateCreateSelfSignedParams['keys'];
  type PublicKeyParam = x509.X509CertificateCreateWithKeyParams['publicKey'];
  const ca = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: '01',
      name: 'CN=kubernetes-stand-in-ca',
      notBefore,
      notAfter,
      keys: caKeys as unknown as Keys,
      signingAlgorithm: alg,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey as unknown as PublicKeyParam, false, crypto),
      ],
    },
    crypto,
  );
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: '02',
      subject: 'CN=kube-apiserver',
      issuer: ca.subject,
      notBefore,
      notAfter,
      publicKey: serverKeys.publicKey as unknown as PublicKeyParam,
      signingKey: caKeys.privateKey as unknown as x509.X509CertificateCreateWithKeyParams['signingKey'],
      signingAlgorithm: alg,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension([
          { type: 'ip', value: '127.0.0.1' },
          { type: 'dns', value: 'localhost' },
        ]),
        await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey as unknown as PublicKeyParam, false, crypto),
      ],
    },
    crypto,
  );
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', serverKeys.privateKey));
  const keyPem = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }).export({ format: 'pem', type: 'pkcs8' }) as string;
  return { caPem: ca.toString('pem'), certPem: cert.toString('pem'), keyPem };
}
