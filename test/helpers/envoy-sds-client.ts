import {
  credentials,
  makeGenericClientConstructor,
  Metadata,
  status,
  type Client,
  type ClientDuplexStream,
  type ClientReadableStream,
  type ServiceDefinition,
} from '@grpc/grpc-js';
import { agentProtos, SDS_SERVICE, SECRET_TYPE_URL, WORKLOAD_API_SERVICE } from '../../sds/index.js';

/** A Secret as Envoy would read it (proto-loader object; the Any is unpacked). */
export interface DecodedSecret {
  name: string;
  type: 'tlsCertificate' | 'validationContext';
  tlsCertificate?: { certificateChain: { inlineBytes: Buffer }; privateKey: { inlineBytes: Buffer } };
  validationContext?: {
    trustedCa: { inlineBytes: Buffer } | null;
    customValidatorConfig: { name: string; typedConfig: { '@type': string; trustDomains: { name: string; trustBundle: { inlineBytes: Buffer } }[] } } | null;
  };
  '@type': string;
}
export interface SotwResponse {
  versionInfo: string;
  nonce: string;
  typeUrl: string;
  resources: DecodedSecret[];
}
export interface DeltaResponse {
  systemVersionInfo: string;
  nonce: string;
  typeUrl: string;
  resources: { name: string; version: string; resource: DecodedSecret }[];
  removedResources: string[];
}
export interface CallStatus {
  code: status;
  details: string;
}

/** Messages of a stream in arrival order, and how it ended. */
class Inbox<T> {
  #queue: T[] = [];
  #waiters: { resolve: (v: T) => void; reject: (e: Error) => void }[] = [];
  #status: CallStatus | undefined;
  readonly ended: Promise<CallStatus>;
  #resolveEnd!: (s: CallStatus) => void;

  constructor(stream: ClientDuplexStream<unknown, T> | ClientReadableStream<T>) {
    this.ended = new Promise((r) => (this.#resolveEnd = r));
    stream.on('data', (m: T) => {
      const w = this.#waiters.shift();
      if (w) w.resolve(m);
      else this.#queue.push(m);
    });
    const finish = (s: CallStatus) => {
      if (this.#status) return;
      this.#status = s;
      this.#resolveEnd(s);
      for (const w of this.#waiters.splice(0)) w.reject(new Error(`stream ended: ${status[s.code]} ${s.details}`));
    };
    stream.on('status', (s: CallStatus) => finish(s));
    stream.on('error', (e: Error & Partial<CallStatus>) => finish({ code: e.code ?? status.UNKNOWN, details: e.details ?? e.message }));
  }

  /** The next message (waits up to `timeoutMs`, a safety net only: tests never rely on it elapsing). */
  next(timeoutMs = 10_000): Promise<T> {
    const m = this.#queue.shift();
    if (m !== undefined) return Promise.resolve(m);
    if (this.#status) return Promise.reject(new Error(`stream ended: ${status[this.#status.code]} ${this.#status.details}`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no message within the safety timeout')), timeoutMs);
      this.#waiters.push({
        resolve: (v) => (clearTimeout(timer), resolve(v)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
    });
  }

  /** Messages received and not yet taken. */
  get pending(): number {
    return this.#queue.length;
  }
}

export interface SotwRequest {
  names: string[];
  versionInfo?: string;
  nonce?: string;
  error?: string;
  typeUrl?: string;
  nodeId?: string;
}

/** One `StreamSecrets` stream driven like Envoy does. */
export class SotwStream {
  readonly inbox: Inbox<SotwResponse>;
  #names: string[] = [];
  constructor(readonly stream: ClientDuplexStream<unknown, SotwResponse>) {
    this.inbox = new Inbox(stream);
  }
  request(r: SotwRequest): void {
    this.#names = r.names;
    this.stream.write({
      node: { id: r.nodeId ?? 'envoy-test-node', cluster: 'test' },
      typeUrl: r.typeUrl ?? SECRET_TYPE_URL,
      resourceNames: r.names,
      versionInfo: r.versionInfo ?? '',
      responseNonce: r.nonce ?? '',
      ...(r.error ? { errorDetail: { code: status.INVALID_ARGUMENT, message: r.error } } : {}),
    });
  }
  /** ACK: the response's version and nonce, same names. */
  ack(res: SotwResponse, names = this.#names): void {
    this.request({ names, versionInfo: res.versionInfo, nonce: res.nonce });
  }
  /** NACK: the previously applied version, the response's nonce, an error_detail. */
  nack(res: SotwResponse, appliedVersion: string, message = 'rejected by test'): void {
    this.request({ names: this.#names, versionInfo: appliedVersion, nonce: res.nonce, error: message });
  }
  next(): Promise<SotwResponse> {
    return this.inbox.next();
  }
  close(): void {
    this.stream.cancel();
  }
}

export interface DeltaRequest {
  subscribe?: string[];
  unsubscribe?: string[];
  initialVersions?: Record<string, string>;
  nonce?: string;
  error?: string;
  typeUrl?: string;
}

/** One `DeltaSecrets` stream. */
export class DeltaStream {
  readonly inbox: Inbox<DeltaResponse>;
  constructor(readonly stream: ClientDuplexStream<unknown, DeltaResponse>) {
    this.inbox = new Inbox(stream);
  }
  request(r: DeltaRequest): void {
    this.stream.write({
      node: { id: 'envoy-test-node', cluster: 'test' },
      typeUrl: r.typeUrl ?? SECRET_TYPE_URL,
      resourceNamesSubscribe: r.subscribe ?? [],
      resourceNamesUnsubscribe: r.unsubscribe ?? [],
      initialResourceVersions: r.initialVersions ?? {},
      responseNonce: r.nonce ?? '',
      ...(r.error ? { errorDetail: { code: status.INVALID_ARGUMENT, message: r.error } } : {}),
    });
  }
  ack(res: DeltaResponse): void {
    this.request({ nonce: res.nonce });
  }
  next(): Promise<DeltaResponse> {
    return this.inbox.next();
  }
  close(): void {
    this.stream.cancel();
  }
}

type Methods = {
  StreamSecrets(md: Metadata): ClientDuplexStream<unknown, SotwResponse>;
  DeltaSecrets(md: Metadata): ClientDuplexStream<unknown, DeltaResponse>;
  FetchSecrets(req: unknown, md: Metadata, cb: (err: (Error & { code: status; details: string }) | null, res?: SotwResponse) => void): void;
};
type WorkloadMethods = {
  FetchX509SVID(req: unknown, md: Metadata): ClientReadableStream<X509SvidResponse>;
  FetchX509Bundles(req: unknown, md: Metadata): ClientReadableStream<X509BundlesResponse>;
  FetchJWTBundles(req: unknown, md: Metadata): ClientReadableStream<JwtBundlesResponse>;
  FetchJWTSVID(req: unknown, md: Metadata, cb: (err: (Error & { code: status; details: string }) | null, res?: JwtSvidResponse) => void): void;
  ValidateJWTSVID(req: unknown, md: Metadata, cb: (err: (Error & { code: status; details: string }) | null, res?: ValidateJwtSvidResponse) => void): void;
};
export interface JwtSvidResponse {
  svids: { spiffeId: string; svid: string; hint: string }[];
}
export interface JwtBundlesResponse {
  bundles: Record<string, Buffer>;
}
export interface ValidateJwtSvidResponse {
  spiffeId: string;
  claims: { fields: Record<string, Record<string, unknown>> };
}
export interface X509SvidResponse {
  svids: { spiffeId: string; x509Svid: Buffer; x509SvidKey: Buffer; bundle: Buffer; hint: string }[];
  federatedBundles: Record<string, Buffer>;
}
export interface X509BundlesResponse {
  bundles: Record<string, Buffer>;
}

/**
 * An Envoy-like client of the agent's socket: SotW (request, ACK, NACK, reconnect), Delta (subscribe,
 * unsubscribe, initial_resource_versions), Fetch, and the SPIFFE Workload API.
 */
export class EnvoySdsClient {
  readonly sds: Client & Methods;
  readonly workload: Client & WorkloadMethods;
  constructor(
    readonly socketPath: string,
    readonly token?: string,
  ) {
    const { sds, workload } = agentProtos();
    const Sds = makeGenericClientConstructor(sds[SDS_SERVICE] as ServiceDefinition, 'SDS');
    const Wl = makeGenericClientConstructor(workload[WORKLOAD_API_SERVICE] as ServiceDefinition, 'Workload');
    this.sds = new Sds(`unix:${socketPath}`, credentials.createInsecure()) as unknown as Client & Methods;
    this.workload = new Wl(`unix:${socketPath}`, credentials.createInsecure()) as unknown as Client & WorkloadMethods;
  }
  metadata(extra: Record<string, string> = {}): Metadata {
    const md = new Metadata();
    if (this.token) md.set('authorization', `Bearer ${this.token}`);
    for (const [k, v] of Object.entries(extra)) md.set(k, v);
    return md;
  }
  sotw(): SotwStream {
    return new SotwStream(this.sds.StreamSecrets(this.metadata()));
  }
  delta(): DeltaStream {
    return new DeltaStream(this.sds.DeltaSecrets(this.metadata()));
  }
  fetch(names: string[], typeUrl = SECRET_TYPE_URL): Promise<{ res?: SotwResponse; status: CallStatus }> {
    return new Promise((resolve) => {
      this.sds.FetchSecrets({ node: { id: 'envoy-test-node' }, typeUrl, resourceNames: names }, this.metadata(), (err, res) => {
        resolve(err ? { status: { code: err.code, details: err.details } } : { res: res!, status: { code: status.OK, details: '' } });
      });
    });
  }
  x509Svid(header = true): Inbox<X509SvidResponse> & { stream: ClientReadableStream<X509SvidResponse> } {
    const stream = this.workload.FetchX509SVID({}, this.metadata(header ? { 'workload.spiffe.io': 'true' } : {}));
    return Object.assign(new Inbox(stream), { stream });
  }
  x509Bundles(header = true): Inbox<X509BundlesResponse> & { stream: ClientReadableStream<X509BundlesResponse> } {
    const stream = this.workload.FetchX509Bundles({}, this.metadata(header ? { 'workload.spiffe.io': 'true' } : {}));
    return Object.assign(new Inbox(stream), { stream });
  }
  jwtBundles(header = true): Inbox<JwtBundlesResponse> & { stream: ClientReadableStream<JwtBundlesResponse> } {
    const stream = this.workload.FetchJWTBundles({}, this.metadata(header ? { 'workload.spiffe.io': 'true' } : {}));
    return Object.assign(new Inbox(stream), { stream });
  }
  jwtSvid(audience: string[], spiffeId = '', header = true): Promise<{ res?: JwtSvidResponse; status: CallStatus }> {
    return new Promise((resolve) => {
      this.workload.FetchJWTSVID({ audience, spiffeId }, this.metadata(header ? { 'workload.spiffe.io': 'true' } : {}), (err, res) => {
        resolve(err ? { status: { code: err.code, details: err.details } } : { res: res!, status: { code: status.OK, details: '' } });
      });
    });
  }
  validateJwtSvid(audience: string, svid: string, header = true): Promise<{ res?: ValidateJwtSvidResponse; status: CallStatus }> {
    return new Promise((resolve) => {
      this.workload.ValidateJWTSVID({ audience, svid }, this.metadata(header ? { 'workload.spiffe.io': 'true' } : {}), (err, res) => {
        resolve(err ? { status: { code: err.code, details: err.details } } : { res: res!, status: { code: status.OK, details: '' } });
      });
    });
  }
  close(): void {
    this.sds.close();
    this.workload.close();
  }
}

/** Names of a SotW response's resources, in order. */
export const namesOf = (res: SotwResponse) => res.resources.map((r) => r.name);
