// npm run bench:issue — leaf issuance throughput against the raw crypto ceiling, one core.
//
// Reference, measured in this same run: raw ECDSA P-256 crypto.sign/s and crypto.verify/s with
// KeyObjects, and the ceiling 1/(1/sign + 1/verify): what verifying a CSR and signing a leaf cost if
// nothing else did. Ours: Issuer.issue() from a PEM CSR to a PEM leaf + chain, over a pool of distinct
// CSRs (distinct keys, so no key import is ever cached), one synchronous call after another.
// HSM: the same issuance with the intermediate's key in a SoftHSM2 token (PKCS#11, docs/pkcs11.md),
// as a ratio to the file signer measured around it in this run (skipped, with the reason, without SoftHSM2).
import 'reflect-metadata';
import { createPublicKey, generateKeyPairSync, randomBytes, sign, verify, type JsonWebKey } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { cryptoCeiling, fmt as f, rate as rateFor } from './crypto-ceiling.js';
import { SpiffeId } from '../workload-identity/index.js';
import { testCsr } from '../test/helpers/csr.js';
import { testCa } from '../test/helpers/test-ca.js';
import { hsmAuthority } from './hsm-authority.js';
import { Issuer } from '../ca/index.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const POOL = Number(process.env.BENCH_POOL ?? 2000);

const rate = (fn: () => void) => rateFor(fn, SECONDS);
const { signRate, verifyRate, ceiling } = cryptoCeiling(SECONDS);
const tbsLike = randomBytes(420);

// The floor for a *new* key: every CSR carries a key the CA has never seen, so its public key must be
// imported (cheapest route measured: JWK) and its first verify pays OpenSSL 3's key set-up. Measured
// over distinct keys, like the CSR pool below.
const fresh: { jwk: JsonWebKey; sig: Buffer }[] = [];
for (let i = 0; i < POOL; i++) {
  const kp = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  fresh.push({ jwk: kp.publicKey.export({ format: 'jwk' }), sig: sign('sha256', tbsLike, kp.privateKey) });
}
let j = 0;
const freshVerifyRate = rate(() => {
  const item = fresh[j++ % POOL]!;
  if (!verify('sha256', tbsLike, createPublicKey({ key: item.jwk, format: 'jwk' }), item.sig)) throw new Error('verify failed');
});
const freshCeiling = 1 / (1 / signRate + 1 / freshVerifyRate);

const ca = await testCa();
const id = SpiffeId.parse('spiffe://cluster.local/ns/default/sa/web');
process.stdout.write(`building ${POOL} distinct CSRs ...\n`);
const csrs: string[] = [];
for (let i = 0; i < POOL; i++) csrs.push((await testCsr({ uris: [id.toString()] })).pem);
let k = 0;
const issueRate = rate(() => {
  const c = ca.issuer.issue(id, csrs[k++ % POOL]!);
  if (c.leafPem.length === 0) throw new Error('empty leaf');
});

// HSM signer against the file signer: short rounds alternating file and HSM, so that the load on this
// shared machine weighs on both sides alike; the ratio is the median of the per-round ratios, by wall
// clock and by CPU time of this process (SoftHSM2 signs in this thread, so CPU time is its whole cost
// and is less disturbed by other processes taking the cores).
const hsm = await hsmAuthority();
let hsmLines: string[];
if ('skip' in hsm) {
  hsmLines = [`HSM signer: skipped, ${hsm.skip}`];
} else {
  const hsmIssuer = new Issuer({ authority: hsm.authority });
  const issueWith = (issuer: Issuer) => () => {
    const c = issuer.issue(id, csrs[k++ % POOL]!);
    if (c.leafPem.length === 0) throw new Error('empty leaf');
  };
  // Calls per second of wall clock and per CPU-second, over the same calls (warmed up before the rounds).
  const timed = (fn: () => void) => {
    const cpu = process.cpuUsage();
    const start = performance.now();
    const end = start + (SECONDS / 4) * 1000;
    let n = 0;
    while (performance.now() < end) {
      for (let i = 0; i < 20; i++) fn();
      n += 20;
    }
    const wallS = (performance.now() - start) / 1000;
    const used = process.cpuUsage(cpu);
    return { wall: n / wallS, cpu: n / ((used.user + used.system) / 1e6) };
  };
  for (let i = 0; i < 300; i++) {
    issueWith(ca.issuer)();
    issueWith(hsmIssuer)();
  }
  const hsmSignRate = rate(() => void hsm.authority.signer.sign(tbsLike));
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  const rounds: { file: ReturnType<typeof timed>; hsm: ReturnType<typeof timed> }[] = [];
  for (let r = 0; r < 9; r++) {
    const file = timed(issueWith(ca.issuer));
    rounds.push({ file, hsm: timed(issueWith(hsmIssuer)) });
  }
  await hsm.close();
  const ratios = (key: 'wall' | 'cpu') => rounds.map((x) => x.hsm[key] / x.file[key]);
  hsmLines = [
    `HSM (SoftHSM2) ECDSA sign/s    ${f(hsmSignRate)}  (digest here, CKM_ECDSA in the token)`,
    `Issuer.issue() file signer/s   ${f(median(rounds.map((x) => x.file.wall)))}  (median of 9 rounds; ${f(median(rounds.map((x) => x.file.cpu))).trim()} per CPU-second)`,
    `Issuer.issue() HSM signer/s    ${f(median(rounds.map((x) => x.hsm.wall)))}  (median of 9 rounds; ${f(median(rounds.map((x) => x.hsm.cpu))).trim()} per CPU-second)`,
    `ratio HSM / file signer        ${median(ratios('wall')).toFixed(2)} wall clock, ${median(ratios('cpu')).toFixed(2)} CPU time  (medians of per-round ratios; wall: ${ratios(
      'wall',
    )
      .map((r) => r.toFixed(2))
      .join(' ')})`,
  ];
}
ca.cleanup();

console.log(`node ${process.version}, ${SECONDS}s per figure, one core`);
console.log(`raw ECDSA P-256 sign/s         ${f(signRate)}`);
console.log(`raw ECDSA P-256 verify/s       ${f(verifyRate)}`);
console.log(`crypto ceiling 1/(1/s+1/v)/s   ${f(ceiling)}`);
console.log(`import new key + verify/s       ${f(freshVerifyRate)}`);
console.log(`new-key ceiling 1/(1/s+1/iv)/s ${f(freshCeiling)}`);
console.log(`Issuer.issue() PEM CSR->chain  ${f(issueRate)}`);
console.log(`ratio to crypto ceiling        ${(issueRate / ceiling).toFixed(2)}  (target >= 0.60)`);
console.log(`ratio to new-key ceiling       ${(issueRate / freshCeiling).toFixed(2)}`);
console.log(`per issue ${(1e6 / issueRate).toFixed(1)} us; crypto ceiling ${(1e6 / ceiling).toFixed(1)} us; new-key ceiling ${(1e6 / freshCeiling).toFixed(1)} us`);
for (const line of hsmLines) console.log(line);
