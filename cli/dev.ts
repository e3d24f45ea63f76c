import { connect, createServer, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Command } from 'commander';
import { createSvidRequest, kubernetesWorkloadId, SpiffeId, TrustDomain } from '../workload-identity/index.js';
import { generateKey, initCa, Issuer, loadCa, STATE_FILE, type CaDirectory } from '../ca/index.js';
import { promises as fs } from 'node:fs';
import { describeCa } from './ca-init.js';
import type { CliIo } from './io.js';

/**
 * `castellan dev`: the embedded default. Today it creates (or reuses) a local CA in ./.castellan,
 * issues two workload identities and has them complete a real mTLS handshake on loopback, each side
 * checking the other's SPIFFE ID. The agent and SDS will join it when they exist.
 */
export function registerDev(program: Command, io: CliIo): void {
  program
    .command('dev')
    .description('run the embedded default: a local CA in ./.castellan and a demo mTLS handshake between two workload identities')
    .option('--dir <dir>', 'CA directory to create or reuse', '.castellan')
    .action(async (f: { dir: string }) => {
      const dir = path.resolve(io.cwd, f.dir);
      let ca: CaDirectory;
      if (await exists(path.join(dir, STATE_FILE))) {
        ca = await loadCa(dir);
        io.out(`using the CA in ${dir}\n`);
      } else {
        ca = await initCa({ dir, trustDomain: TrustDomain.of('cluster.local'), now: io.now() });
        io.out(`created a CA in ${dir}\n`);
      }
      io.out(describeCa(ca, io.now()));

      const issuer = new Issuer({ authority: ca.active, now: () => io.now() });
      const mint = async (ns: string, sa: string) => {
        const id = kubernetesWorkloadId(ca.trustDomain, ns, sa);
        const key = generateKey('ec-p256').privateKey;
        const cert = issuer.issue(id, await createSvidRequest(key, id), { ttlMs: 3_600_000 });
        io.out(`\nissued ${id.toString()}\n  serial ${cert.serialHex}, expires ${cert.notAfter.toISOString()}\n`);
        return { id, key, chain: cert.leafPem + cert.chainPem.slice(0, -1).join('') };
      };
      const server = await mint('demo', 'server');
      const client = await mint('demo', 'client');
      const bundle = ca.bundle.map((c) => c.pem).join('');
      const seen = await handshake(server, client, bundle);
      io.out(
        `\nmTLS handshake on loopback (TLS ${seen.protocol}):\n` +
          `  server ${server.id.toString()} saw client ${seen.clientSawBy}\n` +
          `  client ${client.id.toString()} saw server ${seen.serverSawBy}\n`,
      );
      io.out(
        '\nnext:\n' +
          `  castellan ca mint --dir ${f.dir} --spiffe-id spiffe://${ca.trustDomain.name}/ns/default/sa/web --out ./web\n` +
          '  castellan cert inspect ./web/chain.pem --bundle ./web/bundle.pem\n' +
          '  castellan --help\n',
      );
    });
}

interface Party {
  id: SpiffeId;
  key: ReturnType<typeof generateKey>['privateKey'];
  chain: string;
}

/** The SPIFFE ID in a peer certificate's URI SAN (X509-SVID §2). */
function peerId(socket: TLSSocket): string {
  const san = socket.getPeerCertificate().subjectaltname ?? '';
  const uri = san.split(', ').find((s) => s.startsWith('URI:'));
  if (!uri) throw new Error('peer presented no URI SAN');
  return SpiffeId.parse(uri.slice(4)).toString();
}

async function handshake(server: Party, client: Party, bundle: string): Promise<{ protocol: string; clientSawBy: string; serverSawBy: string }> {
  let clientSawBy = '';
  const srv = createServer({ key: server.key.export({ format: 'pem', type: 'pkcs8' }), cert: server.chain, ca: bundle, requestCert: true, rejectUnauthorized: true }, (s) => {
    clientSawBy = peerId(s);
    s.end('hello from ' + server.id.toString());
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  try {
    const port = (srv.address() as AddressInfo).port;
    return await new Promise((resolve, reject) => {
      const s = connect({
        host: '127.0.0.1',
        port,
        key: client.key.export({ format: 'pem', type: 'pkcs8' }),
        cert: client.chain,
        ca: bundle,
        // SPIFFE authenticates by URI SAN, not host name (X509-SVID §5): check the ID, skip the DNS check.
        checkServerIdentity: () => undefined,
      });
      s.on('secureConnect', () => {
        const serverSawBy = peerId(s);
        const protocol = s.getProtocol() ?? '?';
        s.on('data', () => undefined);
        s.on('end', () => resolve({ protocol, clientSawBy, serverSawBy }));
      });
      s.on('error', reject);
    });
  } finally {
    srv.close();
  }
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}
