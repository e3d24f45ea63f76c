import { EventEmitter } from 'node:events';
import { credentials, Metadata, type ClientDuplexStream } from '@grpc/grpc-js';
import { isAnyExtension } from '@grpc/proto-loader';
import type { Logger } from 'pino';
import type { EnvoyDiscoveryV3, EnvoySecretV3, EnvoyTlsV3 } from '../proto-types/index.js';
import { grpcDetails } from '../workload-identity/index.js';
import { systemClock, type AgentClock } from './agent-clock.js';
import { DEFAULT_SECRET, ROOTCA_SECRET } from './envoy-secrets.js';
import { sdsClient, SECRET_TYPE_URL } from './protos.js';

/** What a TLS endpoint needs, as delivered over SDS. */
export interface SdsIdentity {
  /** Leaf first, PEM. */
  readonly certificateChainPem: string;
  /** PKCS#8 PEM. */
  readonly privateKeyPem: string;
  /** The trust domain's roots, PEM. */
  readonly trustedCaPem: string;
  /** The SDS `version_info` of the response that completed this identity. */
  readonly version: string;
}

export interface SdsClientOptions {
  /** The agent's Unix socket. */
  socketPath: string;
  /** Node mode: the pod's service-account token, sent as `authorization: Bearer`. */
  token?: string;
  /** Sent as `node.id` (the agent logs it). Default `castellan-sds-client`. */
  nodeId?: string;
  log?: Logger;
  /** First reconnect delay in ms, doubled up to 5 s after each failure. Default 100. */
  reconnectDelayMs?: number;
  /** Timers for reconnects (tests inject a manual clock). Default: the system clock. */
  clock?: AgentClock;
}

type Response = EnvoyDiscoveryV3.DiscoveryResponse__Output;
type Stream = ClientDuplexStream<EnvoyDiscoveryV3.DiscoveryRequest, Response>;

/** The Secrets of a response (the loader's `json` option unpacks each Any into `{'@type', ...fields}`). */
function secretsOf(res: Response): EnvoyTlsV3.Secret__Output[] {
  return res.resources.filter((r) => isAnyExtension(r) && r['@type'] === SECRET_TYPE_URL) as unknown as EnvoyTlsV3.Secret__Output[];
}

/**
 * A small SDS client for Node workloads: subscribes to `default` and `ROOTCA` over state-of-the-world
 * SDS, ACKs what it can use (NACKs what it cannot), reconnects with backoff, and emits each new identity.
 *
 * @example
 *   const sds = new SdsClient({ socketPath: '/var/run/castellan/sds.sock' });
 *   sds.on('identity', (id) => server.setSecureContext({ cert: id.certificateChainPem, key: id.privateKeyPem, ca: id.trustedCaPem }));
 *   const first = await sds.ready();
 */
export class SdsClient extends EventEmitter<{ identity: [SdsIdentity]; error: [Error] }> {
  #stream: Stream | undefined;
  #client: EnvoySecretV3.SecretDiscoveryServiceClient | undefined;
  #current: SdsIdentity | undefined;
  #cert: { chain: string; key: string } | undefined;
  #ca: string | undefined;
  #closed = false;
  #delay: number;
  #timer: unknown;
  readonly #clock: AgentClock;
  #connects = 0;

  constructor(private readonly options: SdsClientOptions) {
    super();
    this.#delay = options.reconnectDelayMs ?? 100;
    this.#clock = options.clock ?? systemClock;
    // The dev demo listens for 'identity' only; an unhandled 'error' must not crash it.
    this.on('error', () => {});
    this.#connect();
  }

  /** The latest complete identity, if any yet. */
  current(): SdsIdentity | undefined {
    return this.#current;
  }

  /** The first complete identity. */
  ready(): Promise<SdsIdentity> {
    if (this.#current) return Promise.resolve(this.#current);
    return new Promise((resolve) => this.once('identity', resolve));
  }

  /** Stops the stream and any reconnect. Idempotent. */
  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    const stream = this.#stream;
    this.#stream = undefined;
    stream?.cancel();
    this.#client?.close();
  }

  /** Streams opened so far (the first and every reconnect); for tests and diagnostics. */
  get connects(): number {
    return this.#connects;
  }

  #connect(): void {
    if (this.#closed) return;
    this.#connects++;
    this.#client?.close();
    this.#client = new (sdsClient())(`unix:${this.options.socketPath}`, credentials.createInsecure());
    const md = new Metadata();
    if (this.options.token) md.set('authorization', `Bearer ${this.options.token}`);
    const stream = this.#client.StreamSecrets(md);
    this.#stream = stream;
    const node = { id: this.options.nodeId ?? 'castellan-sds-client' };
    const names = [DEFAULT_SECRET, ROOTCA_SECRET];
    let acked = '';
    stream.write({ node, typeUrl: SECRET_TYPE_URL, resourceNames: names });
    stream.on('data', (res: Response) => {
      const problem = this.#apply(res);
      if (problem) {
        this.options.log?.warn({ nonce: res.nonce, problem }, 'sds-client: rejecting secrets (NACK)');
        stream.write({ node, typeUrl: SECRET_TYPE_URL, resourceNames: names, versionInfo: acked, responseNonce: res.nonce, errorDetail: { code: 3, message: problem } });
        return;
      }
      acked = res.versionInfo;
      this.#delay = this.options.reconnectDelayMs ?? 100;
      stream.write({ node, typeUrl: SECRET_TYPE_URL, resourceNames: names, versionInfo: acked, responseNonce: res.nonce });
    });
    // grpc-js may report one failure as both 'error' and 'end' (and a status after 'end'): only the first
    // event of the current stream schedules a reconnect; events of an older stream are ignored.
    stream.on('error', (err) => {
      if (this.#closed || stream !== this.#stream) return;
      this.emit('error', err);
      this.options.log?.warn({ err: grpcDetails(err.message), retryInMs: this.#delay }, 'sds-client: stream failed; reconnecting');
      this.#scheduleReconnect(stream);
    });
    stream.on('end', () => {
      if (this.#closed || stream !== this.#stream) return;
      this.options.log?.info({ retryInMs: this.#delay }, 'sds-client: the agent ended the stream; reconnecting');
      this.#scheduleReconnect(stream);
    });
  }

  /** One reconnect per failed stream, with backoff; the old call is cancelled. Nothing after close(). */
  #scheduleReconnect(failed: Stream): void {
    if (this.#closed || failed !== this.#stream) return;
    this.#stream = undefined;
    failed.cancel();
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    // systemClock's timers are unref'd: a reconnect alone does not keep the process alive.
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.#connect();
    }, this.#delay);
    this.#delay = Math.min(this.#delay * 2, 5000);
  }

  /** Takes what a response carries; returns a problem description for a NACK, or undefined. */
  #apply(res: Response): string | undefined {
    let cert = this.#cert;
    let ca = this.#ca;
    for (const r of secretsOf(res)) {
      if (r.name === DEFAULT_SECRET) {
        const chain = r.tlsCertificate?.certificateChain?.inlineBytes;
        const key = r.tlsCertificate?.privateKey?.inlineBytes;
        if (!chain || !key) return 'secret "default" has no inline certificate_chain and private_key';
        cert = { chain: chain.toString('utf8'), key: key.toString('utf8') };
      } else if (r.name === ROOTCA_SECRET) {
        const roots = r.validationContext?.trustedCa?.inlineBytes;
        if (!roots) return 'secret "ROOTCA" has no inline trusted_ca';
        ca = roots.toString('utf8');
      }
    }
    const changed = cert !== this.#cert || ca !== this.#ca;
    this.#cert = cert;
    this.#ca = ca;
    if (changed && cert && ca) {
      const same = this.#current && this.#current.certificateChainPem === cert.chain && this.#current.privateKeyPem === cert.key && this.#current.trustedCaPem === ca;
      if (!same) {
        this.#current = { certificateChainPem: cert.chain, privateKeyPem: cert.key, trustedCaPem: ca, version: res.versionInfo };
        this.emit('identity', this.#current);
      }
    }
    return undefined;
  }
}
