// Namespaces and ConfigMaps of the Kubernetes API stand-in (no HTTP here: api-stand-in.ts routes to it).
// Wire shapes and errors follow kube-apiserver:
//   staging/src/k8s.io/apimachinery/pkg/api/errors/errors.go   NewNotFound/NewAlreadyExists/NewConflict/NewInvalid/NewBadRequest
//   pkg/registry/core/configmap/strategy.go                    AllowCreateOnUpdate false, AllowUnconditionalUpdate true
//   plugin/pkg/admission/namespace/lifecycle                   404 for a missing namespace, 403 NamespaceTerminating
//   apiserver .../handlers/rest.go                              list items without kind/apiVersion, list metadata.resourceVersion
import { randomUUID } from 'node:crypto';

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid: string;
  resourceVersion: string;
  creationTimestamp: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [k: string]: unknown;
}

export interface NamespaceObject {
  metadata: ObjectMeta;
  spec: { finalizers: string[] };
  status: { phase: 'Active' | 'Terminating' };
}

export interface ConfigMapObject {
  metadata: ObjectMeta;
  data?: Record<string, string>;
  binaryData?: Record<string, string>;
  immutable?: boolean;
}

export interface CoreReply {
  status: number;
  body: unknown;
}

/** A metav1.Status failure, as every kube-apiserver error body. */
export function statusFailure(code: number, reason: string, message: string, details: Record<string, unknown> = {}): CoreReply {
  return { status: code, body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, details, code } };
}

const notFound = (kind: string, name: string): CoreReply => statusFailure(404, 'NotFound', `${kind} "${name}" not found`, { name, kind });
const badRequest = (message: string): CoreReply => statusFailure(400, 'BadRequest', message);
const clone = <T>(v: T): T => structuredClone(v);

/** One equality/inequality/existence term of a label or field selector. */
type Term = { key: string; op: '=' | '!=' | 'exists' | '!exists'; value: string };

function parseSelector(s: string | null, fields: boolean): Term[] | string {
  if (s === null || s.trim() === '') return [];
  const terms: Term[] = [];
  for (const raw of s.split(',')) {
    const part = raw.trim();
    const m = /^([^=!\s]+)\s*(==|=|!=)\s*(.*)$/.exec(part);
    if (m) terms.push({ key: m[1]!, op: m[2] === '!=' ? '!=' : '=', value: m[3]!.trim() });
    else if (!fields && /^!\S+$/.test(part)) terms.push({ key: part.slice(1), op: '!exists', value: '' });
    else if (!fields && /^\S+$/.test(part)) terms.push({ key: part, op: 'exists', value: '' });
    else return `unable to parse requirement: ${part}`;
  }
  return terms;
}

function matches(terms: Term[], values: Record<string, string>): boolean {
  return terms.every((t) => {
    const v = values[t.key];
    if (t.op === 'exists') return v !== undefined;
    if (t.op === '!exists') return v === undefined;
    if (t.op === '=') return v === t.value;
    return v !== t.value;
  });
}

/** Label and field selectors of a list request; a string is the 400 message. */
function selectors(q: URLSearchParams, fieldKeys: readonly string[]): { labels: Term[]; fields: Term[] } | string {
  const labels = parseSelector(q.get('labelSelector'), false);
  if (typeof labels === 'string') return labels;
  const fields = parseSelector(q.get('fieldSelector'), true);
  if (typeof fields === 'string') return fields;
  const bad = fields.find((f) => !fieldKeys.includes(f.key));
  if (bad) return `"${bad.key}" is not a known field selector: only "${fieldKeys.join('", "')}"`;
  return { labels, fields };
}

export class CoreObjects {
  readonly namespaces = new Map<string, NamespaceObject>();
  /** Keyed `<namespace>/<name>`. */
  readonly configMaps = new Map<string, ConfigMapObject>();

  constructor(
    private readonly nextVersion: () => string,
    private readonly currentVersion: () => string,
    private readonly now: () => Date,
  ) {}

  addNamespace(name: string, labels: Record<string, string> = {}): NamespaceObject {
    const ns: NamespaceObject = {
      metadata: {
        name,
        uid: randomUUID(),
        resourceVersion: this.nextVersion(),
        creationTimestamp: rfc3339(this.now()),
        // Set by the NamespaceDefaultLabelName feature (GA in 1.22) on every namespace.
        labels: { ...labels, 'kubernetes.io/metadata.name': name },
      },
      spec: { finalizers: ['kubernetes'] },
      status: { phase: 'Active' },
    };
    this.namespaces.set(name, ns);
    return clone(ns);
  }

  /** Marks a namespace as being deleted (deletionTimestamp set, phase Terminating), as while its finalizers run. */
  terminateNamespace(name: string): void {
    const ns = this.namespaces.get(name);
    if (ns === undefined) throw new Error(`stand-in: namespaces "${name}" not found`);
    ns.metadata.deletionTimestamp = rfc3339(this.now());
    ns.metadata.resourceVersion = this.nextVersion();
    ns.status.phase = 'Terminating';
  }

  /** Removes a namespace and everything in it (the end of namespace deletion). */
  deleteNamespace(name: string): boolean {
    for (const key of [...this.configMaps.keys()]) if (key.startsWith(`${name}/`)) this.configMaps.delete(key);
    return this.namespaces.delete(name);
  }

  // ---- namespaces over HTTP ----

  listNamespaces(q: URLSearchParams): CoreReply {
    const sel = selectors(q, ['metadata.name', 'status.phase']);
    if (typeof sel === 'string') return badRequest(sel);
    const items = [...this.namespaces.values()]
      .filter((n) => matches(sel.labels, n.metadata.labels ?? {}) && matches(sel.fields, { 'metadata.name': n.metadata.name, 'status.phase': n.status.phase }))
      .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
    return { status: 200, body: { kind: 'NamespaceList', apiVersion: 'v1', metadata: { resourceVersion: this.currentVersion() }, items: clone(items) } };
  }

  getNamespace(name: string): CoreReply {
    const ns = this.namespaces.get(name);
    if (ns === undefined) return notFound('namespaces', name);
    return { status: 200, body: { kind: 'Namespace', apiVersion: 'v1', ...clone(ns) } };
  }

  // ---- configmaps over HTTP ----

  /** `namespace` undefined: the cluster-wide list (`GET /api/v1/configmaps`). */
  listConfigMaps(namespace: string | undefined, q: URLSearchParams): CoreReply {
    const sel = selectors(q, ['metadata.name', 'metadata.namespace']);
    if (typeof sel === 'string') return badRequest(sel);
    const items = [...this.configMaps.values()]
      .filter((c) => namespace === undefined || c.metadata.namespace === namespace)
      .filter((c) => matches(sel.labels, c.metadata.labels ?? {}) && matches(sel.fields, { 'metadata.name': c.metadata.name, 'metadata.namespace': c.metadata.namespace! }))
      .sort((a, b) => `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`));
    return { status: 200, body: { kind: 'ConfigMapList', apiVersion: 'v1', metadata: { resourceVersion: this.currentVersion() }, items: clone(items) } };
  }

  getConfigMap(namespace: string, name: string): CoreReply {
    const cm = this.configMaps.get(`${namespace}/${name}`);
    return cm === undefined ? notFound('configmaps', name) : { status: 200, body: full(cm) };
  }

  createConfigMap(namespace: string, body: string): CoreReply {
    const obj = parseConfigMap(body, namespace);
    if (typeof obj === 'string') return badRequest(obj);
    const name = obj.metadata?.name ?? '';
    const ns = this.namespaces.get(namespace);
    if (ns === undefined) return notFound('namespaces', namespace);
    if (ns.status.phase === 'Terminating') {
      return statusFailure(403, 'Forbidden', `configmaps "${name}" is forbidden: unable to create new content in namespace ${namespace} because it is being terminated`, {
        name,
        kind: 'configmaps',
        causes: [{ reason: 'NamespaceTerminating', message: `namespace ${namespace} is being terminated`, field: 'metadata.namespace' }],
      });
    }
    if (name === '') return invalid('', [{ field: 'metadata.name', message: 'Required value: name or generateName is required', reason: 'FieldValueRequired' }]);
    if (!isDnsSubdomain(name))
      return invalid(name, [
        {
          field: 'metadata.name',
          message: `Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'`,
          reason: 'FieldValueInvalid',
        },
      ]);
    if (this.configMaps.has(`${namespace}/${name}`)) return statusFailure(409, 'AlreadyExists', `configmaps "${name}" already exists`, { name, kind: 'configmaps' });
    const stored = this.store(namespace, name, obj, { uid: randomUUID(), creationTimestamp: rfc3339(this.now()) });
    return { status: 201, body: full(stored) };
  }

  replaceConfigMap(namespace: string, name: string, body: string): CoreReply {
    const obj = parseConfigMap(body, namespace);
    if (typeof obj === 'string') return badRequest(obj);
    if ((obj.metadata?.name ?? '') !== name) return badRequest(`the name of the object (${obj.metadata?.name ?? ''}) does not match the name on the URL (${name})`);
    const current = this.configMaps.get(`${namespace}/${name}`);
    // configmap strategy: AllowCreateOnUpdate is false.
    if (current === undefined) return notFound('configmaps', name);
    const rv = obj.metadata?.resourceVersion;
    // AllowUnconditionalUpdate: an empty resourceVersion overwrites; a stale one is a Conflict.
    if (rv !== undefined && rv !== '' && rv !== current.metadata.resourceVersion) {
      return statusFailure(
        409,
        'Conflict',
        `Operation cannot be fulfilled on configmaps "${name}": the object has been modified; please apply your changes to the latest version and try again`,
        { name, kind: 'configmaps' },
      );
    }
    if (current.immutable === true && (JSON.stringify(obj.data ?? {}) !== JSON.stringify(current.data ?? {}) || obj.immutable !== true)) {
      return invalid(name, [{ field: 'data', message: 'Forbidden: field is immutable when `immutable` is set', reason: 'FieldValueForbidden' }]);
    }
    const stored = this.store(namespace, name, obj, { uid: current.metadata.uid, creationTimestamp: current.metadata.creationTimestamp });
    return { status: 200, body: full(stored) };
  }

  deleteConfigMap(namespace: string, name: string): CoreReply {
    const cm = this.configMaps.get(`${namespace}/${name}`);
    if (cm === undefined) return notFound('configmaps', name);
    this.configMaps.delete(`${namespace}/${name}`);
    // ConfigMaps are not returned on delete (ReturnDeletedObject false): a Success Status.
    return { status: 200, body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name, kind: 'configmaps', uid: cm.metadata.uid } } };
  }

  private store(namespace: string, name: string, obj: Partial<ConfigMapObject>, keep: { uid: string; creationTimestamp: string }): ConfigMapObject {
    const { deletionTimestamp: _d, ...meta } = obj.metadata ?? {};
    const stored: ConfigMapObject = {
      metadata: { ...meta, name, namespace, uid: keep.uid, resourceVersion: this.nextVersion(), creationTimestamp: keep.creationTimestamp },
      ...(obj.data !== undefined ? { data: obj.data } : {}),
      ...(obj.binaryData !== undefined ? { binaryData: obj.binaryData } : {}),
      ...(obj.immutable !== undefined ? { immutable: obj.immutable } : {}),
    };
    this.configMaps.set(`${namespace}/${name}`, stored);
    return clone(stored);
  }
}

function full(cm: ConfigMapObject): unknown {
  return { kind: 'ConfigMap', apiVersion: 'v1', ...clone(cm) };
}

function invalid(name: string, causes: { field: string; message: string; reason: string }[]): CoreReply {
  const message = `ConfigMap "${name}" is invalid: ${causes.map((c) => `${c.field}: ${c.message}`).join(', ')}`;
  return statusFailure(422, 'Invalid', message, { name, kind: 'ConfigMap', causes });
}

function parseConfigMap(body: string, namespace: string): Partial<ConfigMapObject> | string {
  let obj: unknown;
  try {
    obj = JSON.parse(body);
  } catch {
    return 'the body of the request was in an unknown format';
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return 'the body of the request was in an unknown format';
  const o = obj as { kind?: unknown; apiVersion?: unknown; metadata?: { namespace?: unknown } };
  if ((o.kind !== undefined && o.kind !== 'ConfigMap') || (o.apiVersion !== undefined && o.apiVersion !== 'v1')) {
    return `the API version in the data (${String(o.apiVersion)}) does not match the expected API version (v1)`;
  }
  if (o.metadata?.namespace !== undefined && o.metadata.namespace !== '' && o.metadata.namespace !== namespace) {
    return 'the namespace of the provided object does not match the namespace sent on the request';
  }
  return obj as Partial<ConfigMapObject>;
}

function isDnsSubdomain(s: string): boolean {
  return s.length <= 253 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(s);
}

export function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
