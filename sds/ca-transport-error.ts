/**
 * Connection failures to the CA that are the agent's configuration, not an outage (docs/agent.md,
 * "When the agent cannot reach the CA"): they are retried like an outage (a fixed CA or file may make
 * them go away), but said once, loudly, naming the flag to change.
 * - ERR_CA_UNTRUSTED: the CA's certificate does not chain to a root in `--ca-bundle`;
 * - ERR_CA_NOT_TLS: `--ca-addr` answers, but not with TLS (the CA's HTTP port, another service);
 * - ERR_CA_NAME_MISMATCH: the certificate is not for the expected name (`--ca-server-name`);
 * - ERR_CA_CERT_EXPIRED: the CA's serving certificate is outside its validity (the CA, or this clock).
 */
export type CaMisconfigurationCode = 'ERR_CA_UNTRUSTED' | 'ERR_CA_NOT_TLS' | 'ERR_CA_NAME_MISMATCH' | 'ERR_CA_CERT_EXPIRED';

export const CA_MISCONFIGURATION_CODES: readonly CaMisconfigurationCode[] = ['ERR_CA_UNTRUSTED', 'ERR_CA_NOT_TLS', 'ERR_CA_NAME_MISMATCH', 'ERR_CA_CERT_EXPIRED'];

/** What a failed connection says about the configuration: the code, the flag to fix, and the message. */
export interface TransportProblem {
  readonly code: CaMisconfigurationCode;
  /** The flag (and config field) to change; absent when the fix is not the agent's. */
  readonly flag?: string;
  readonly message: string;
}

/** OpenSSL's and Node's words for each case (they reach grpc-js's status details unchanged). */
const PATTERNS: readonly [CaMisconfigurationCode, RegExp][] = [
  ['ERR_CA_NOT_TLS', /wrong version number|packet length too long|unknown protocol|http request|record layer failure|unexpected eof while reading|tlsv1 alert protocol version/i],
  ['ERR_CA_CERT_EXPIRED', /certificate has expired|certificate is not yet valid/i],
  ['ERR_CA_NAME_MISMATCH', /Hostname\/IP does not match|ERR_TLS_CERT_ALTNAME_INVALID|does not match certificate's altnames/i],
  [
    'ERR_CA_UNTRUSTED',
    /unable to get local issuer certificate|unable to get issuer certificate|self[- ]signed certificate|unable to verify the first certificate|certificate signature failure|UNABLE_TO_VERIFY_LEAF_SIGNATURE/i,
  ],
];

/**
 * Classifies a gRPC UNAVAILABLE's details; undefined for anything else (an outage, a refused connection).
 *
 * @example transportProblem('… Last error: Error: unable to get local issuer certificate', { address: 'ca:15012', serverName: 'ca' })?.flag // '--ca-bundle'
 */
export function transportProblem(details: string, at: { address: string; serverName: string }): TransportProblem | undefined {
  const hit = PATTERNS.find(([, re]) => re.test(details));
  if (!hit) return undefined;
  const why =
    /Last error: (?:Error(?: \[\w+\])?: )?(.*)$/s
      .exec(details)?.[1]
      ?.replace(/^[0-9A-F]+:error:[0-9A-F]+:SSL routines:\w+:/, '')
      .replace(/:\.\.\/deps\/.*$/s, '')
      .trim() ?? details;
  switch (hit[0]) {
    case 'ERR_CA_UNTRUSTED':
      return {
        code: 'ERR_CA_UNTRUSTED',
        flag: '--ca-bundle',
        message: `sds: the CA at ${at.address} presented a certificate that no root in --ca-bundle verifies (${why}); give --ca-bundle the CA's trust bundle (its bundle.pem; in a cluster the castellan-root-cert ConfigMap)`,
      };
    case 'ERR_CA_NOT_TLS':
      return {
        code: 'ERR_CA_NOT_TLS',
        flag: '--ca-addr',
        message: `sds: ${at.address} does not answer with TLS (${why}); --ca-addr must be the CA's gRPC address (its listen setting, port 15012 by default), not its HTTP port (15014) or another service`,
      };
    case 'ERR_CA_NAME_MISMATCH':
      return {
        code: 'ERR_CA_NAME_MISMATCH',
        flag: '--ca-server-name',
        message: `sds: the certificate at ${at.address} is not for ${at.serverName} (${why}); set --ca-server-name to a DNS name in the CA's certificate (default: the host of --ca-addr, localhost for an IP), or check that --ca-addr is the CA`,
      };
    case 'ERR_CA_CERT_EXPIRED':
      return {
        code: 'ERR_CA_CERT_EXPIRED',
        message: `sds: the CA's serving certificate at ${at.address} is outside its validity (${why}); check the CA (castellan check) and this machine's clock`,
      };
  }
}

/** Whether `err` is a connection failure caused by the agent's configuration (CaConnection says it once, loudly, when confirmed). */
export function isCaMisconfiguration(err: unknown): boolean {
  return (CA_MISCONFIGURATION_CODES as readonly unknown[]).includes((err as { code?: unknown } | undefined)?.code);
}
