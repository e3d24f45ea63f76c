import { InvalidArgumentError } from 'commander';
import { SpiffeId, TrustDomain } from '../workload-identity/index.js';
import { parseDuration, parseKeyType, type KeyType } from '../ca/index.js';

/** Adapts a validating parser to commander: its message becomes the usage error (exit 2). */
function flag<T>(parse: (s: string) => T): (s: string) => T {
  return (s: string) => {
    try {
      return parse(s);
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message);
    }
  };
}

export const durationFlag = flag(parseDuration);
export const keyTypeFlag = flag<KeyType>(parseKeyType);
export const trustDomainFlag = flag((s) => TrustDomain.of(s));
export const spiffeIdFlag = flag((s) => SpiffeId.parse(s));
export function choiceFlag<T extends string>(choices: readonly T[]): (s: string) => T {
  return flag((s) => {
    if ((choices as readonly string[]).includes(s)) return s as T;
    throw new Error(`want one of ${choices.join(', ')}`);
  });
}
export const fractionFlag = flag((s) => {
  const n = Number(s);
  if (!(n > 0 && n <= 1)) throw new Error(`want a fraction in (0, 1], e.g. 0.5; got ${s}`);
  return n;
});
export const positiveNumberFlag = flag((s) => {
  const n = Number(s);
  if (!(Number.isFinite(n) && n > 0)) throw new Error(`want a positive number; got ${s}`);
  return n;
});
