import { fileURLToPath } from 'node:url';
import {
  loadPackageDefinition,
  Server,
  ServerCredentials,
  status,
  type GrpcObject,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceDefinition,
  type sendUnaryData,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { generateKey } from '../../ca/index.js';
import { createSvidRequest, SpiffeId } from '../../workload-identity/index.js';
import { testCa } from './test-ca.js';

type TestCa = Awaited<ReturnType<typeof testCa>>;

/** A JWT-shaped token (unsigned: this CA stand-in trusts its `sub`) for `system:serviceaccount:ns:sa`. */
export function fakeToken(ns: string, sa: string, ttlSeconds = 3600): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part({ sub: `system:serviceaccount:${ns}:${sa}`, exp: Math.floor(Date.now() / 1000) + ttlSeconds })}.${part({ fake: true })}`;
}

const rootPem = (ca: TestCa) => ca.ca.bundle.map((c) => c.pem).join('');
const tsOf = (d: Date) => ({ seconds: Math.floor(d.getTime() / 1000), nanos: 0 });

export interface BundleMessage {
  sequence: number;
  roots: ('old' | 'new')[];
  activeIssuerKeyId?: string;
  reissueSpreadSeconds?: number;
}

/**
 * A small real `castellan.ca.v1.CertificateAuthority` over gRPC/TLS on loopback, for the agent's side
 * of root rotation: two real test CAs ("old" and "new" root, each with its intermediate), Sign with the
 * one the test makes active, WatchTrustBundle messages the test pushes, and every ReportTrustBundle
 * call recorded (or refused: `reportFailures` UNAVAILABLE answers first, or UNIMPLEMENTED like an old CA).
 * `Authenticate` answers the fake token's identity (UNIMPLEMENTED with `implementAuthenticate: false`,
 * like a CA older than it). `events` is shared with the test's SDS observer, so arrival order across
 * both is asserted.
 */
export async function caStandIn(o: { implementReport?: boolean; implementAuthenticate?: boolean } = {}) {
  const cas = { old: await testCa(), new: await testCa() };
  const skiOf = (which: 'old' | 'new') => cas[which].ca.active.issuer.ski.toString('hex');
  const state = {
    signer: 'old' as 'old' | 'new',
    bundle: { sequence: 1, roots: ['old'] } as BundleMessage,
    reportFailures: 0,
    /** Reports get no answer (the test sees whether the agent cancels them). */
    holdReports: false,
    implementReport: o.implementReport ?? true,
  };
  const events: string[] = [];
  const signs: { spiffeId: string; issuer: 'old' | 'new'; bundleSequence: number; agentId: string }[] = [];
  const reports: { agentId: string; sequence: number; ok: boolean; token: string }[] = [];
  const watchers = new Set<ServerWritableStream<unknown, unknown>>();

  const message = (b: BundleMessage) => ({
    sequence: b.sequence,
    trustDomain: 'cluster.local',
    roots: b.roots.map((r) => rootPem(cas[r])),
    activeIssuerKeyId: b.activeIssuerKeyId ?? '',
    reissueSpreadSeconds: b.reissueSpreadSeconds ?? 0,
  });
  const bearer = (md: { get(k: string): unknown[] }) => String(md.get('authorization')[0] ?? '').replace(/^Bearer /, '');
  const identityOf = (md: { get(k: string): unknown[] }) => {
    const claims = JSON.parse(Buffer.from(bearer(md).split('.')[1] ?? '', 'base64url').toString()) as { sub: string };
    const [, , ns, sa] = claims.sub.split(':');
    return SpiffeId.parse(`spiffe://cluster.local/ns/${ns}/sa/${sa}`);
  };
  const authentications: string[] = [];

  const handlers = {
    Sign(call: ServerUnaryCall<{ csr: Buffer; ttlSeconds: number; bundleSequence: number; agentId: string }, unknown>, cb: sendUnaryData<unknown>) {
      try {
        const id = identityOf(call.metadata);
        const which = state.signer;
        const c = cas[which].issuer.issue(id, call.request.csr, { ttlMs: (call.request.ttlSeconds || 3600) * 1000 });
        signs.push({ spiffeId: id.toString(), issuer: which, bundleSequence: call.request.bundleSequence, agentId: call.request.agentId });
        events.push(`ca:sign:${which}`);
        cb(null, {
          spiffeId: id.toString(),
          leaf: c.leafPem,
          intermediates: c.chainPem.slice(0, -1),
          trustBundle: message(state.bundle).roots,
          bundleSequence: state.bundle.sequence,
          serial: c.serialHex,
          notBefore: tsOf(c.notBefore),
          notAfter: tsOf(c.notAfter),
        });
      } catch (err) {
        cb({ code: status.INVALID_ARGUMENT, details: (err as Error).message });
      }
    },
    WatchTrustBundle(call: ServerWritableStream<unknown, unknown>) {
      watchers.add(call);
      events.push('ca:watch');
      call.on('cancelled', () => watchers.delete(call));
      call.on('close', () => watchers.delete(call));
      call.write(message(state.bundle));
    },
    Authenticate(call: ServerUnaryCall<unknown, unknown>, cb: sendUnaryData<unknown>) {
      if (o.implementAuthenticate === false) {
        cb({ code: status.UNIMPLEMENTED, details: 'The server does not implement the method Authenticate' });
        return;
      }
      try {
        const id = identityOf(call.metadata).toString();
        authentications.push(id);
        cb(null, { spiffeId: id });
      } catch (err) {
        cb({ code: status.UNAUTHENTICATED, details: (err as Error).message });
      }
    },
    GetAuthorityStatus(_call: ServerUnaryCall<unknown, unknown>, cb: sendUnaryData<unknown>) {
      cb({ code: status.UNIMPLEMENTED, details: 'not in this stand-in' });
    },
    ReportTrustBundle(call: ServerUnaryCall<{ agentId: string; sequence: number }, unknown>, cb: sendUnaryData<unknown>) {
      if (!state.implementReport) {
        reports.push({ agentId: call.request.agentId, sequence: call.request.sequence, ok: false, token: bearer(call.metadata) });
        cb({ code: status.UNIMPLEMENTED, details: 'The server does not implement the method ReportTrustBundle' });
        return;
      }
      if (state.holdReports) {
        events.push(`ca:report:${call.request.sequence}:held`);
        call.on('cancelled', () => events.push(`ca:report:${call.request.sequence}:cancelled`));
        return;
      }
      const ok = state.reportFailures <= 0;
      if (!ok) state.reportFailures--;
      reports.push({ agentId: call.request.agentId, sequence: call.request.sequence, ok, token: bearer(call.metadata) });
      events.push(`ca:report:${call.request.sequence}${ok ? '' : ':failed'}`);
      if (ok) cb(null, {});
      else cb({ code: status.UNAVAILABLE, details: 'stand-in: try again' });
    },
  };

  const def = loadSync('castellan/ca/v1/ca.proto', {
    keepCase: false,
    longs: Number,
    enums: String,
    defaults: true,
    oneofs: true,
    includeDirs: [fileURLToPath(new URL('../../proto', import.meta.url))],
  });
  const svc = ['castellan', 'ca', 'v1', 'CertificateAuthority'].reduce<unknown>((x, k) => (x as GrpcObject)[k], loadPackageDefinition(def)) as { service: ServiceDefinition };
  const server = new Server();
  server.addService(svc.service, handlers as never);

  // The serving certificate: URI SAN spiffe://cluster.local/castellan/ca under the old root.
  const key = generateKey('ec-p256').privateKey;
  const servingId = SpiffeId.parse('spiffe://cluster.local/castellan/ca');
  const serving = cas.old.issuer.issue(servingId, await createSvidRequest(key, servingId), { ttlMs: 3_600_000 });
  const creds = ServerCredentials.createSsl(
    null,
    [{ private_key: Buffer.from(key.export({ format: 'pem', type: 'pkcs8' }) as string), cert_chain: Buffer.from(serving.leafPem + serving.chainPem.slice(0, -1).join('')) }],
    false,
  );
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', creds, (err, p) => (err ? reject(err) : resolve(p))));

  return {
    address: `127.0.0.1:${port}`,
    /** What the agent is configured with to verify the CA (the old root). */
    caBundlePem: rootPem(cas.old),
    cas,
    skiOf,
    state,
    events,
    signs,
    reports,
    /** Identities answered to Authenticate, in order. */
    authentications,
    get watchers() {
      return watchers.size;
    },
    /** Makes `b` the bundle and sends it on every open WatchTrustBundle stream. */
    push(b: BundleMessage) {
      state.bundle = b;
      for (const w of watchers) w.write(message(b));
    },
    /** Ends every WatchTrustBundle stream (the agent reconnects). */
    dropStreams() {
      for (const w of [...watchers]) {
        watchers.delete(w);
        w.emit('error', { code: status.UNAVAILABLE, details: 'stand-in: stream dropped' });
      }
    },
    close() {
      server.forceShutdown();
      cas.old.cleanup();
      cas.new.cleanup();
    },
  };
}
