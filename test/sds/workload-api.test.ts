import { X509Certificate } from 'node:crypto';
import { createPrivateKey } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { testWorkloadSocket } from '../helpers/workload-socket.js';

type Env = Awaited<ReturnType<typeof testWorkloadSocket>>;

/** Splits concatenated DER certificates (each a SEQUENCE with a long-form length). */
function splitDer(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let off = 0;
  while (off < buf.length) {
    const lenByte = buf[off + 1]!;
    let len = lenByte;
    let header = 2;
    if (lenByte & 0x80) {
      const n = lenByte & 0x7f;
      len = buf.readUIntBE(off + 2, n);
      header = 2 + n;
    }
    out.push(buf.subarray(off, off + header + len));
    off += header + len;
  }
  return out;
}

describe('SPIFFE Workload API (X.509)', () => {
  let env: Env;
  beforeEach(async () => {
    env = await testWorkloadSocket();
  });
  afterEach(async () => {
    await env.cleanup();
  });

  it('ok/FetchX509SVID: DER chain, PKCS#8 key, DER bundle; pushes the full state on rotation', async () => {
    const s = env.client.x509Svid();
    const m1 = await s.next();
    expect(m1.svids).toHaveLength(1);
    const svid = m1.svids[0]!;
    const snap = env.provider.snapshot();
    expect(svid.spiffeId).toBe('spiffe://cluster.local/ns/default/sa/web');
    const chain = splitDer(svid.x509Svid).map((d) => new X509Certificate(d));
    expect(chain).toHaveLength(2);
    expect(chain[0]!.checkPrivateKey(createPrivateKey({ key: svid.x509SvidKey, format: 'der', type: 'pkcs8' }))).toBe(true);
    const roots = splitDer(svid.bundle).map((d) => new X509Certificate(d));
    expect(chain[0]!.verify(chain[1]!.publicKey) && chain[1]!.verify(roots[0]!.publicKey)).toBe(true);
    expect(m1.federatedBundles).toEqual({});
    await env.provider.rotate();
    const m2 = await s.next();
    expect(m2.svids[0]!.x509Svid.equals(Buffer.concat(env.provider.snapshot().svid.chain as Buffer[]))).toBe(true);
    expect(m2.svids[0]!.x509Svid.equals(Buffer.concat(snap.svid.chain as Buffer[]))).toBe(false);
    expect(m2.svids[0]!.bundle.equals(svid.bundle)).toBe(true);
    s.stream.cancel();
  });

  it('ok/FetchX509Bundles: keyed by trust domain ID; pushed on bundle change only', async () => {
    const s = env.client.x509Bundles();
    const m1 = await s.next();
    expect(Object.keys(m1.bundles)).toEqual(['spiffe://cluster.local']);
    expect(m1.bundles['spiffe://cluster.local']!.equals(Buffer.concat(env.provider.bundle.roots as Buffer[]))).toBe(true);
    await env.provider.rotate();
    const bundle = await env.provider.changeBundle();
    const m2 = await s.next();
    expect(splitDer(m2.bundles['spiffe://cluster.local']!)).toHaveLength(bundle.roots.length);
    expect(bundle.roots.length).toBe(2);
    s.stream.cancel();
    await s.ended;
    expect(s.pending).toBe(0);
  });

  it('fail/missing workload.spiffe.io header → INVALID_ARGUMENT on both methods; SDS does not need it', async () => {
    expect((await env.client.x509Svid(false).ended).code).toBe(status.INVALID_ARGUMENT);
    const b = env.client.x509Bundles(false);
    const st = await b.ended;
    expect(st.code).toBe(status.INVALID_ARGUMENT);
    expect(st.details).toContain('workload.spiffe.io');
    expect((await env.client.fetch(['default'])).status.code).toBe(status.OK);
  });
});
