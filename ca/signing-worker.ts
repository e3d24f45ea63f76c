// A CA signing worker (docs/architecture.md §4): runs in a worker thread of `castellan ca serve`, checks
// and signs the CSRs the event loop hands it with the authority it was sent, synchronously (no thread
// hand-off per signature), and answers with the certificate or the refusal. It never decides who the
// caller is, records nothing and limits nothing: the event loop authenticated, authorized and charged
// the request before, and records it in the ledger after.
import { parentPort } from 'node:worker_threads';
import { SpiffeId, TrustDomain, isCastellanError } from '../workload-identity/index.js';
import { certificateInfo } from './certificate-info.js';
import { parseCsr, type CertificateRequest } from './csr.js';
import { caError } from './errors.js';
import { Issuer } from './issuer.js';
import { requestFacts, tight, type AuthorityMessage, type FromWorker, type IssueMessage, type ToWorker } from './signing-messages.js';
import { keyObjectSigner } from './signer.js';

const port = parentPort;
if (!port) throw new Error('ca/signing-worker: runs as a worker thread of the CA only');

/** The job's clock: the event loop's issuer clock when it made the job. */
let jobNowMs = 0;
const now = () => new Date(jobNowMs);
const issuers = new Map<number, Issuer>();

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
  // worker (requests started before a rotation may finish after it), and messages arrive in order: a
  // job always follows its own authority, so only that one is kept (no older key stays here).
  issuers.clear();
  issuers.set(m.generation, issuer);
}

function issue(m: IssueMessage): FromWorker {
  let request: CertificateRequest | undefined;
  try {
    const issuer = issuers.get(m.generation);
    if (!issuer) throw caError('ERR_SIGNER', `signing worker: no authority ${m.generation} here (it was not sent, or could not be loaded)`);
    jobNowMs = m.nowMs;
    request = parseCsr(m.csr);
    const c = issuer.issue(SpiffeId.parse(m.identity), request, m.ttlMs === undefined ? {} : { ttlMs: m.ttlMs });
    return {
      id: m.id,
      ok: true,
      leafDer: tight(c.leafDer),
      leafPem: c.leafPem,
      serialHex: c.serialHex,
      notBeforeMs: c.notBefore.getTime(),
      notAfterMs: c.notAfter.getTime(),
      cappedByIssuer: c.cappedByIssuer,
      request: requestFacts(request),
    };
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    return {
      id: m.id,
      ok: false,
      code: isCastellanError(err) ? err.code : undefined,
      message: e.message,
      context: isCastellanError(err) ? { ...err.context } : {},
      cause: e.cause instanceof Error ? e.cause.message : e.cause === undefined ? undefined : String(e.cause),
      csrSpki: request === undefined ? undefined : tight(request.spki),
    };
  }
}

port.on('message', (m: ToWorker) => {
  if (m.kind === 'authority') {
    try {
      install(m);
    } catch {
      // A worker that cannot sign as it was asked stops: the pool logs it and starts another, and the
      // jobs sent after this authority are signed on the event loop (Issuer.issueCsr).
      process.exit(1);
    }
    return;
  }
  port.postMessage(issue(m));
});

// Loaded: the pool sends jobs from now on.
port.postMessage({ ready: true });
