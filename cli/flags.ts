import { InvalidArgumentError } from 'commander';
import { SpiffeId, TrustDomain } from '../workload-identity/index.js';
import { KEY_TYPES, parseDuration, parseKeyType, type KeyType } from '../ca/index.js';

/** A flag parser that also says which values it accepts (shell completion offers them). */
export type ChoiceParser<T> = ((s: string) => T) & { readonly choices?: readonly string[] };

/** Adapts a validating parser to commander: its message becomes the usage error (exit 2). */
function flag<T>(parse: (s: string) => T, choices?: readonly string[]): ChoiceParser<T> {
  const adapted = (s: string) => {
    try {
      return parse(s);
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message);
    }
  };
  return choices ? Object.assign(adapted, { choices }) : adapted;
}

export const durationFlag = flag(parseDuration);
/** A lifetime or interval: 0 would make something that expires as it is made, or a busy loop. */
export const positiveDurationFlag = flag((s) => {
  const ms = parseDuration(s);
  if (ms <= 0) throw new Error(`want a duration longer than 0, e.g. 1h; got ${s}`);
  return ms;
});
export const keyTypeFlag = flag<KeyType>(parseKeyType, KEY_TYPES);
export const trustDomainFlag = flag((s) => TrustDomain.of(s));
export const spiffeIdFlag = flag((s) => SpiffeId.parse(s));
export function choiceFlag<T extends string>(choices: readonly T[]): ChoiceParser<T> {
  return flag((s) => {
    if ((choices as readonly string[]).includes(s)) return s as T;
    throw new Error(`want one of ${choices.join(', ')}`);
  }, choices);
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
