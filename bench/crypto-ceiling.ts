// The reference every Castellan benchmark compares against, measured in the same run.
import { generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto';
import { performance } from 'node:perf_hooks';

/** Calls `fn` for `seconds` after a warm-up and returns calls per second. */
export function rate(fn: () => void, seconds: number): number {
  for (let i = 0; i < 500; i++) fn();
  let n = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  while (performance.now() < end) {
    for (let i = 0; i < 100; i++) fn();
    n += 100;
  }
  return n / ((performance.now() - start) / 1000);
}

/** Raw ECDSA P-256 sign/s and verify/s (KeyObjects, one core) and the ceiling 1/(1/sign + 1/verify). */
export function cryptoCeiling(seconds: number): { signRate: number; verifyRate: number; ceiling: number } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const tbsLike = randomBytes(420); // about the size of a leaf TBSCertificate
  const sig = sign('sha256', tbsLike, privateKey);
  const signRate = rate(() => void sign('sha256', tbsLike, privateKey), seconds);
  const verifyRate = rate(() => void verify('sha256', tbsLike, publicKey, sig), seconds);
  return { signRate, verifyRate, ceiling: 1 / (1 / signRate + 1 / verifyRate) };
}

export const fmt = (n: number) => Math.round(n).toLocaleString('en-US').padStart(8);
