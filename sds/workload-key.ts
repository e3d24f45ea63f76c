import { generateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';

/** Key types the agent generates for workloads. */
export type WorkloadKeyType = 'ec-p256' | 'rsa-2048';
export const WORKLOAD_KEY_TYPES: readonly WorkloadKeyType[] = ['ec-p256', 'rsa-2048'];

const generate = promisify(generateKeyPair);

/**
 * A fresh workload private key, in memory only: it is never written to disk (docs/architecture.md §5) and a new one is
 * made for every certificate, so a leaked key stops being useful at the next rotation.
 *
 * @example const key = await generateWorkloadKey('ec-p256');
 */
export async function generateWorkloadKey(type: WorkloadKeyType): Promise<KeyObject> {
  // Asynchronous: RSA-2048 generation takes tens of ms, which must not stall SDS streams.
  if (type === 'ec-p256') return (await generate('ec', { namedCurve: 'P-256' })).privateKey;
  if (type === 'rsa-2048') return (await generate('rsa', { modulusLength: 2048 })).privateKey;
  throw new TypeError(`generateWorkloadKey: unknown key type ${String(type)}`);
}
