import { X509Certificate } from 'node:crypto';
import { buildInfo, type TrustBundle, type X509Svid } from '../workload-identity/index.js';

/** One certificate as `agent status` shows it: public facts only. */
export interface CertificateSummary {
  readonly subject: string;
  readonly issuer: string;
  /** Lowercase hex. */
  readonly serial: string;
  readonly notBefore: string;
  readonly notAfter: string;
  /** SHA-256 of the DER, colon-separated hex (what `openssl x509 -fingerprint -sha256` prints). */
  readonly sha256: string;
}

/** What `castellan agent status` reports (the JSON of GetStatus): never a key. */
export interface AgentStatusReport {
  readonly agent: {
    readonly version: string;
    readonly commit: string;
    readonly mode: 'sidecar' | 'node';
    readonly agentId: string;
    /** The CA's gRPC address the agent uses. */
    readonly ca: string;
    readonly ready: boolean;
    readonly notReady?: string;
    readonly notes: readonly string[];
  };
  /** The trust bundle served to workloads (ROOTCA), or null before the first one. */
  readonly bundle: { readonly trustDomain: string; readonly sequence: number; readonly roots: readonly CertificateSummary[] } | null;
  /**
   * Which identities this answer shows: `all` (sidecar: the pod's one), `token` (node mode: the one
   * the caller's token stands for, if the agent holds it), `none` (node mode without a token).
   */
  readonly shown: 'all' | 'token' | 'none';
  /** Node mode: how many identities the agent holds in all (their names are not shown). */
  readonly held?: number;
  readonly identities: readonly {
    readonly spiffeId: string;
    readonly serial: string;
    readonly notBefore: string;
    readonly notAfter: string;
    /** Leaf first, then the intermediates the agent serves with it. */
    readonly chain: readonly CertificateSummary[];
  }[];
}

/** The public facts of a DER certificate. */
export function certificateSummary(der: Uint8Array): CertificateSummary {
  const x = new X509Certificate(der);
  // An X509-SVID leaf may have an empty subject (X509-SVID §3): Node reports it as undefined.
  const line = (dn: string | undefined) => (dn ?? '').split('\n').join(', ');
  return {
    subject: line(x.subject),
    issuer: line(x.issuer),
    serial: x.serialNumber.toLowerCase(),
    notBefore: new Date(x.validFrom).toISOString(),
    notAfter: new Date(x.validTo).toISOString(),
    sha256: x.fingerprint256,
  };
}

/**
 * Assembles the report from what the agent holds.
 *
 * @example agentStatusReport({ mode: 'sidecar', agentId, ca, notReady: undefined, notes: [], bundle, shown: 'all', svids: [svid] })
 */
export function agentStatusReport(o: {
  mode: 'sidecar' | 'node';
  agentId: string;
  ca: string;
  notReady: string | undefined;
  notes: readonly string[];
  bundle: TrustBundle | undefined;
  shown: AgentStatusReport['shown'];
  held?: number;
  svids: readonly X509Svid[];
}): AgentStatusReport {
  const b = buildInfo();
  return {
    agent: {
      version: b.version,
      commit: b.commit,
      mode: o.mode,
      agentId: o.agentId,
      ca: o.ca,
      ready: o.notReady === undefined,
      ...(o.notReady !== undefined ? { notReady: o.notReady } : {}),
      notes: [...o.notes],
    },
    bundle: o.bundle ? { trustDomain: o.bundle.trustDomain.name, sequence: o.bundle.sequence, roots: o.bundle.roots.map(certificateSummary) } : null,
    shown: o.shown,
    ...(o.held !== undefined ? { held: o.held } : {}),
    identities: o.svids.map((s) => ({
      spiffeId: s.id.toString(),
      serial: s.serialHex,
      notBefore: s.notBefore.toISOString(),
      notAfter: s.notAfter.toISOString(),
      chain: s.chain.map(certificateSummary),
    })),
  };
}
