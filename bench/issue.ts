// npm run bench:issue — leaf issuance throughput against the raw crypto ceiling, one core.
//
// Reference, measured in this same run: raw ECDSA P-256 crypto.sign/s and crypto.verify/s with
// KeyObjects, and the ceiling 1/(1/sign + 1/verify): what verifying a CSR and signing a leaf cost if
// nothing else did. Ours: Issuer.issue() from a PEM CSR to a PEM leaf + chain, over a pool of distinct
// CSRs (distinct keys, so no key import is ever cached), one synchronous call after another.
import 'reflect-metadata';
import { createPublicKey, generateKeyPairSync, randomBytes, sign, verify, type JsonWebKey } from 'node:crypto';
import { cryptoCeiling, fmt as f, rate as rateFor } from './crypto-ceiling.js';
import { SpiffeId } from '../workload-identity/index.js';
import { testCsr } from '../test/helpers/csr.js';
import { testCa } from '../test/helpers/test-ca.js';

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
  if (!verify('sha256', tbsLike, createPublicKey({ key: item.jwk, format: "jwk" }), item.sig)) throw new Error('verify failed');
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
ca.cleanup();

console.log(`node ${process.version}, ${SECONDS}s per figure, one core`);
console.log(`raw ECDSA P-256 sign/s         ${f(signRate)}`);
console.log(`raw ECDSA P-256 verify/s       ${f(verifyRate)}`);
console.log(`crypto ceiling 1/(1/s+1/v)/s   ${f(ceiling)}`);
console.log(`import new key + verify/s       ${f(freshVerifyRate)}`);
console.log(`new-key ceiling 1/(1/s+1/iv)/s ${f(freshCeiling)}`);
console.log(`Issuer.issue() PEM CSR->chain  ${f(issueRate)}`);
console.log(`ratio to crypto ceiling        ${(issueRate / ceiling).toFixed(2)}  (issue #2 target >= 0.60)`);
console.log(`ratio to new-key ceiling       ${(issueRate / freshCeiling).toFixed(2)}`);
console.log(`per issue ${(1e6 / issueRate).toFixed(1)} us; crypto ceiling ${(1e6 / ceiling).toFixed(1)} us; new-key ceiling ${(1e6 / freshCeiling).toFixed(1)} us`);
