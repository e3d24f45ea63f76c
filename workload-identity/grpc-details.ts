/**
 * A gRPC status's details without grpc-js's trailing `Resolution note:` when the note is empty (its
 * pick-first balancer appends one to every connection failure), and on one line: what people see in
 * logs and error messages.
 *
 * @example grpcDetails('No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:1. Resolution note: ')
 *   // 'No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:1'
 */
export function grpcDetails(details: string): string {
  return details
    .replace(/\.?\s*Resolution note:\s*$/, '')
    .replace(/\s*\n\s*/g, ' ')
    .trim();
}
