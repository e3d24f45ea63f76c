import { randomBytes } from 'node:crypto';

/**
 * Nonces and versions for SDS responses. xDS protocol ("ACK/NACK and resource type instance version"):
 * every response carries a fresh nonce, and a request that does not carry the latest one is stale. A
 * random boot prefix keeps them unique across agent restarts, so a client reconnecting to a new agent
 * never presents a nonce the new agent could mistake for its own.
 */
const boot = randomBytes(4).toString('hex');
let counter = 0;

/** A nonce never handed out before by this process (or, with overwhelming probability, by another). */
export function nextNonce(): string {
  counter += 1;
  return `${boot}-${counter.toString(36)}`;
}

/** A response version: unique per response, increasing within a process. */
export function nextVersion(): string {
  counter += 1;
  return `${boot}-${counter}`;
}
