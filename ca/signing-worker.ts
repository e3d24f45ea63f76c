// A CA signing worker (docs/architecture.md §4): runs in a worker thread of `castellan ca serve`, checks
// and signs the CSRs the event loop hands it with the authority it was sent, synchronously (no thread
// hand-off per signature), and answers with the certificate or the refusal. It never decides who the
// caller is, records nothing and limits nothing: the event loop authenticated, authorized and charged
// the request before, and records it in the ledger after.
import { parentPort } from 'node:worker_threads';
import { SpiffeId, TrustDomain, isCastellanError } from '../workload-identity/index.js';
import { certificateInfo } from './certificate-info.js';
import { parseCsr, type CertificateRequest } from './csr.js';
import { Issuer } from './issuer.js';
import type { AuthorityMessage, FromWorker, IssueMessage, ToWorker } from './signing-messages.js';
import { keyObjectSigner } from './signer.js';

const port = parentPort;
if (!port) throw new Error('ca/signing-worker: runs as a worker thread of the CA only');

/** The job's clock: the event loop's issuer clock when it made the job. */
let jobNowMs = 0;
const now = () => new Date(jobNowMs);
const issuers = new Map<number, Issuer>();
const KEPT_AUTHORITIES = 4;

function install(m: AuthorityMessage): void {
  const what = { code: 'ERR_CA_DIR' as const, what: 'signing worker: authority certificate' };
  const issuer = new Issuer({
    authority: {
      trustDomain: TrustDomain.of(m.trustDomain),
      issuer: certificateInfo(m.issuerDer, what),
      signer: keyObjectSigner(m.key),
      parents: m.parentsDer.map((der) => certificateInfo(der, what)),
    },
    defaultTtlMs: m.defaultTtlMs,
    maxTtlMs: m.maxTtlMs,
    allowDnsSans: m.allowDnsSans,
    now,
  });
  // The event loop sends the authority again whenever a job's differs from the last one it sent this
  // worker (requests started before a rotation may finish after it), so a job always finds its own;
  // the few most recent are kept to make that cheap.
  issuers.delete(m.generation);
  issuers.set(m.generation, issuer);
  for (const old of issuers.keys()) if (issuers.size > KEPT_AUTHORITIES) issuers.delete(old);
}

function issue(m: IssueMessage): FromWorker {
  let request: CertificateRequest | undefined;
  try {
    const issuer = issuers.get(m.generation);
    if (!issuer) throw new Error(`signing worker: job for authority ${m.generation}, which this worker was not sent`);
    jobNowMs = m.nowMs;
    request = parseCsr(m.csr);
    const c = issuer.issue(SpiffeId.parse(m.identity), request, m.ttlMs === undefined ? {} : { ttlMs: m.ttlMs });
    return {
      id: m.id,
      ok: true,
      leafDer: c.leafDer,
      leafPem: c.leafPem,
      serialHex: c.serialHex,
      notBeforeMs: c.notBefore.getTime(),
      notAfterMs: c.notAfter.getTime(),
      cappedByIssuer: c.cappedByIssuer,
      request: {
        spki: request.spki,
        publicKeyBits: request.publicKeyBits,
        keyKind: request.keyKind,
        keyDescription: request.keyDescription,
        uriSans: request.uriSans,
        dnsSans: request.dnsSans,
        otherSanCount: request.otherSanCount,
        signatureAlgorithmOid: request.signatureAlgorithm.oid,
      },
    };
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    return {
      id: m.id,
      ok: false,
      code: isCastellanError(err) ? err.code : undefined,
      message: e.message,
      context: isCastellanError(err) ? { ...err.context } : {},
      csrSpki: request?.spki,
    };
  }
}

port.on('message', (m: ToWorker) => {
  if (m.kind === 'authority') {
    try {
      install(m);
    } catch {
      // The jobs under it are answered "not sent" (ERR_SIGNER on the event loop): never a crash here.
      issuers.delete(m.generation);
    }
    return;
  }
  port.postMessage(issue(m));
});
