import { caError } from '../errors.js';

/** Bounds on open long-lived streams (WatchTrustBundle); every count is of streams open now. */
export interface StreamSlotLimits {
  /** All callers together. */
  readonly total: number;
  /** One SPIFFE ID from every address (a node-agent DaemonSet: one stream per node). */
  readonly perIdentity: number;
  /** One IP address, every identity (sidecar agents behind one node address). */
  readonly perPeer: number;
  /** One SPIFFE ID from one IP address (one agent: one stream, a few while it reconnects). */
  readonly perIdentityPeer: number;
}

/**
 * Who holds the CA's trust-bundle stream slots. A stream takes a slot of each kind or none; a caller
 * over a bound is refused RESOURCE_EXHAUSTED (ERR_RATE_LIMITED) naming the bound, so that one workload,
 * or one address, cannot take the slots every other agent needs.
 *
 * @example const release = slots.acquire(identity, '10.0.0.7'); ... stream ends: release();
 */
export class StreamSlots {
  private open = 0;
  private readonly byIdentity = new Map<string, number>();
  private readonly byPeer = new Map<string, number>();
  private readonly byIdentityPeer = new Map<string, number>();

  constructor(private readonly limits: StreamSlotLimits) {}

  /** Streams open now. */
  get size(): number {
    return this.open;
  }

  /** Takes a slot for `identity` at `peerIp`; returns its release (idempotent). Throws ERR_RATE_LIMITED over a bound. */
  acquire(identity: string, peerIp: string): () => void {
    const pair = `${identity} ${peerIp}`;
    const l = this.limits;
    if (this.open >= l.total) throw caError('ERR_RATE_LIMITED', `ca: the CA already serves ${l.total} trust-bundle streams; retry later`);
    if ((this.byIdentityPeer.get(pair) ?? 0) >= l.perIdentityPeer) {
      throw caError('ERR_RATE_LIMITED', `ca: ${identity} already has ${l.perIdentityPeer} trust-bundle streams open from ${peerIp}; an agent needs one (close the others)`);
    }
    if ((this.byPeer.get(peerIp) ?? 0) >= l.perPeer) throw caError('ERR_RATE_LIMITED', `ca: ${peerIp} already has ${l.perPeer} trust-bundle streams open; retry later`);
    if ((this.byIdentity.get(identity) ?? 0) >= l.perIdentity)
      throw caError('ERR_RATE_LIMITED', `ca: ${identity} already has ${l.perIdentity} trust-bundle streams open; retry later`);
    this.open++;
    bump(this.byIdentity, identity, 1);
    bump(this.byPeer, peerIp, 1);
    bump(this.byIdentityPeer, pair, 1);
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.open--;
      bump(this.byIdentity, identity, -1);
      bump(this.byPeer, peerIp, -1);
      bump(this.byIdentityPeer, pair, -1);
    };
  }
}

function bump(m: Map<string, number>, key: string, by: number): void {
  const n = (m.get(key) ?? 0) + by;
  if (n > 0) m.set(key, n);
  else m.delete(key);
}
