// Starts a real control plane for tests: etcd and kube-apiserver on 127.0.0.1 with free ports, in a temp
// directory, with keys and certificates made at start (openssl and node:crypto). No controller-manager,
// scheduler or nodes: pods stay Pending, which is all bound service-account tokens, TokenReview, RBAC,
// ConfigMaps, Secrets and Leases need. Facts behind the flags: docs/testing.md.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { RealApiClient, type RealApiServerInfo } from './api-client.js';
import { findK8sBinaries } from './binaries.js';

export const DEFAULT_SA_ISSUER = 'https://kubernetes.default.svc.cluster.local';

export interface RealApiServerOptions {
  /** Directory with `kube-apiserver` and `etcd`. Default: {@link findK8sBinaries} (CASTELLAN_K8S_BIN or the build cache). */
  readonly binDir?: string;
  /** `--service-account-issuer`. Default {@link DEFAULT_SA_ISSUER}. */
  readonly issuer?: string;
  /** `--api-audiences`. Default: the issuer (kube-apiserver's own default). */
  readonly apiAudiences?: readonly string[];
  /**
   * `--service-account-jwks-uri`. Default: unset, so kube-apiserver derives `jwks_uri` from its advertise
   * address: `https://127.0.0.1:<port>/openid/v1/jwks`.
   */
  readonly jwksUri?: string;
  /** Service-account signing key: RSA 2048 (RS256, the common choice) or EC P-256 (ES256). Default `rsa`. */
  readonly serviceAccountKey?: 'rsa' | 'ec';
  /** More kube-apiserver flags, appended last. */
  readonly extraArgs?: readonly string[];
  /** Give up starting after this many ms. Default 180,000 (a busy two-core machine). */
  readonly startTimeoutMs?: number;
}

/** A running API server: the client operations of {@link RealApiClient} plus stop(). */
export class RealApiServer extends RealApiClient {
  private stopping: Promise<void> | undefined;

  constructor(
    info: RealApiServerInfo,
    private readonly processes: readonly Supervised[],
  ) {
    super(info);
  }

  /** Stops kube-apiserver, then etcd (SIGTERM, SIGKILL after 20 s), and removes the work directory. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const p of [...this.processes].reverse()) await p.stop();
      rmSync(this.workDir, { recursive: true, force: true });
    })();
    return this.stopping;
  }
}

/**
 * Starts etcd and kube-apiserver (RBAC authorization, a static admin token, a service-account signing
 * key, an audit log of every request) and resolves once the API serves and its bootstrap namespaces and
 * RBAC policy exist.
 *
 * @example
 *   const api = await startRealApiServer();
 *   try { ... api.url, api.caPem, api.adminKubeconfigPath ... } finally { await api.stop(); }
 */
export async function startRealApiServer(o: RealApiServerOptions = {}): Promise<RealApiServer> {
  let binDir = o.binDir;
  if (binDir === undefined) {
    const found = findK8sBinaries();
    if ('skip' in found) throw new Error(`k8s-real: ${found.skip}`);
    binDir = found.binDir;
  }
  const started = Date.now();
  const dir = mkdtempSync(path.join(tmpdir(), 'castellan-k8s-'));
  const issuer = o.issuer ?? DEFAULT_SA_ISSUER;
  const apiAudiences = [...(o.apiAudiences ?? [issuer])];
  const deadline = started + (o.startTimeoutMs ?? 180_000);
  const processes: Supervised[] = [];
  try {
    const files = writeMaterial(dir, o.serviceAccountKey ?? 'rsa');
    const [etcdPort, peerPort, apiPort] = await freePorts(3);
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    const peerUrl = `http://127.0.0.1:${peerPort}`;
    const etcd = supervise(
      'etcd',
      path.join(binDir, 'etcd'),
      [
        '--name=castellan-test',
        `--data-dir=${path.join(dir, 'etcd')}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=castellan-test=${peerUrl}`,
        // Throw-away data: durability costs fsyncs on a shared disk and buys nothing here.
        '--unsafe-no-fsync',
        '--log-level=warn',
      ],
      path.join(dir, 'etcd.log'),
      dir,
    );
    processes.push(etcd);

    const url = `https://127.0.0.1:${apiPort}`;
    const apiserver = supervise(
      'kube-apiserver',
      path.join(binDir, 'kube-apiserver'),
      [
        `--etcd-servers=${etcdUrl}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${apiPort}`,
        // The discovery document's jwks_uri is derived from this address unless --service-account-jwks-uri.
        '--advertise-address=127.0.0.1',
        // No Endpoints for the `kubernetes` Service: nothing here could reach 127.0.0.1 through it anyway.
        '--endpoint-reconciler-type=none',
        '--service-cluster-ip-range=10.96.0.0/16',
        `--cert-dir=${path.join(dir, 'cert-dir')}`,
        `--tls-cert-file=${files.servingCert}`,
        `--tls-private-key-file=${files.servingKey}`,
        `--client-ca-file=${files.caCert}`,
        `--token-auth-file=${files.tokens}`,
        '--authorization-mode=RBAC',
        `--service-account-issuer=${issuer}`,
        ...(o.jwksUri ? [`--service-account-jwks-uri=${o.jwksUri}`] : []),
        `--service-account-key-file=${files.saPublicKey}`,
        `--service-account-signing-key-file=${files.saPrivateKey}`,
        `--api-audiences=${apiAudiences.join(',')}`,
        `--audit-policy-file=${files.auditPolicy}`,
        `--audit-log-path=${files.auditLog}`,
        ...(o.extraArgs ?? []),
      ],
      path.join(dir, 'kube-apiserver.log'),
    );
    processes.push(apiserver);

    const adminKubeconfigPath = path.join(dir, 'admin.kubeconfig');
    const info: RealApiServerInfo = {
      url,
      caPem: readFileSync(files.caCert, 'utf8'),
      adminToken: files.adminToken,
      adminKubeconfigPath,
      saIssuer: issuer,
      apiAudiences,
      auditLogPath: files.auditLog,
      serviceAccountSigningKeyPath: files.saPrivateKey,
      workDir: dir,
      startedInMs: 0,
    };
    const probe = new RealApiClient(info);
    probe.writeKubeconfig(adminKubeconfigPath, { token: files.adminToken, name: 'castellan-test-admin' });

    // /readyz turns ok before the bootstrap controller has made the system namespaces and before every
    // default ClusterRole(Binding) is stored; clients need those, so wait for them too.
    const needed = [
      '/readyz',
      '/api/v1/namespaces/default',
      '/api/v1/namespaces/kube-system',
      '/apis/rbac.authorization.k8s.io/v1/clusterroles/system:auth-delegator',
      '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/system:service-account-issuer-discovery',
    ];
    for (const p of needed) {
      for (;;) {
        for (const proc of processes) {
          if (proc.exited) throw new Error(`k8s-real: ${proc.name} exited (${proc.exited}) during start; its log ends:\n${tail(proc.logFile)}`);
        }
        const r = await probe.raw('GET', p, undefined, { timeoutMs: 5_000 }).catch(() => undefined);
        if (r?.status === 200) break;
        if (Date.now() > deadline) {
          throw new Error(
            `k8s-real: ${p} not ready within ${o.startTimeoutMs ?? 180_000} ms (last: ${r ? `HTTP ${r.status}` : 'no answer'}); kube-apiserver log ends:\n${tail(apiserver.logFile)}`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
    return new RealApiServer({ ...info, startedInMs: Date.now() - started }, processes);
  } catch (err) {
    for (const p of [...processes].reverse()) await p.stop();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

interface Material {
  caCert: string;
  servingCert: string;
  servingKey: string;
  saPrivateKey: string;
  saPublicKey: string;
  tokens: string;
  adminToken: string;
  auditPolicy: string;
  auditLog: string;
}

/** Keys, certificates, the static token file and the audit policy, written into `dir` (keys 0600). */
function writeMaterial(dir: string, saKey: 'rsa' | 'ec'): Material {
  const file = (name: string, content: string, mode = 0o644): string => {
    const p = path.join(dir, name);
    writeFileSync(p, content, { mode });
    return p;
  };
  const pkcs8 = (k: ReturnType<typeof generateKeyPairSync>['privateKey']) => k.export({ type: 'pkcs8', format: 'pem' }).toString();
  const ec = () => generateKeyPairSync('ec', { namedCurve: 'P-256' });

  const caKey = file('ca.key', pkcs8(ec().privateKey), 0o600);
  const caCert = path.join(dir, 'ca.crt');
  run('openssl', [
    'req',
    '-x509',
    '-new',
    '-key',
    caKey,
    '-subj',
    '/CN=castellan-test-kubernetes-ca',
    '-days',
    '2',
    '-sha256',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
    '-out',
    caCert,
  ]);

  // The names a client may use: the advertise address, localhost (a second origin for the same server) and
  // the in-cluster Service names and ClusterIP a pod would use.
  const servingKey = file('apiserver.key', pkcs8(ec().privateKey), 0o600);
  const csr = path.join(dir, 'apiserver.csr');
  const sans = [
    'IP:127.0.0.1',
    'IP:10.96.0.1',
    'DNS:localhost',
    'DNS:kubernetes',
    'DNS:kubernetes.default',
    'DNS:kubernetes.default.svc',
    'DNS:kubernetes.default.svc.cluster.local',
  ];
  run('openssl', [
    'req',
    '-new',
    '-key',
    servingKey,
    '-subj',
    '/CN=kube-apiserver',
    '-addext',
    `subjectAltName=${sans.join(',')}`,
    '-addext',
    'extendedKeyUsage=serverAuth',
    '-out',
    csr,
  ]);
  const servingCert = path.join(dir, 'apiserver.crt');
  run('openssl', [
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    caCert,
    '-CAkey',
    caKey,
    '-set_serial',
    `0x${randomBytes(16).toString('hex')}`,
    '-days',
    '2',
    '-sha256',
    '-copy_extensions',
    'copyall',
    '-out',
    servingCert,
  ]);

  const sa = saKey === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : ec();
  const saPrivateKey = file('sa.key', pkcs8(sa.privateKey), 0o600);
  const saPublicKey = file('sa.pub', sa.publicKey.export({ type: 'spki', format: 'pem' }).toString());

  // --token-auth-file: token,user,uid,"group1,group2"
  const adminToken = randomBytes(24).toString('hex');
  const tokens = file('tokens.csv', `${adminToken},castellan-test-admin,castellan-test-admin,system:masters\n`, 0o600);
  const auditPolicy = file('audit-policy.yaml', 'apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n  - level: Metadata\n');
  return { caCert, servingCert, servingKey, saPrivateKey, saPublicKey, tokens, adminToken, auditPolicy, auditLog: path.join(dir, 'audit.log') };
}

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error) throw new Error(`k8s-real: cannot run ${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`k8s-real: ${cmd} ${args.slice(0, 2).join(' ')} failed: ${r.stderr.trim()}`);
}

/** Free TCP ports on 127.0.0.1 (held together while choosing, so they differ). */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const s = createServer();
          s.on('error', reject);
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

function tail(file: string, lines = 25): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

interface Supervised {
  readonly name: string;
  readonly logFile: string;
  /** Why it exited (`code 1`, `signal SIGKILL`), or undefined while it runs. */
  readonly exited: string | undefined;
  stop(): Promise<void>;
}

/**
 * The watchdog a process runs under: it starts the program, and stops it (SIGTERM) when the test
 * process that started it is gone, so a crashed or killed test run leaves no API server behind; then
 * it removes `$2` (the work directory, for one of the processes) if given.
 */
const WATCHDOG = [
  'owner=$1; leftover=$2; shift 2',
  '"$@" & child=$!',
  'trap \'leftover=; kill -TERM "$child" 2>/dev/null\' TERM INT HUP',
  'while kill -0 "$child" 2>/dev/null; do',
  '  if ! kill -0 "$owner" 2>/dev/null; then kill -TERM "$child" 2>/dev/null; orphaned=1; fi',
  '  sleep 1 & wait $!',
  'done',
  'wait "$child"; status=$?',
  'if [ -n "${orphaned:-}" ] && [ -n "$leftover" ]; then sleep 2; rm -rf "$leftover"; fi',
  'exit $status',
].join('\n');

/**
 * Runs `bin` under the watchdog in its own process group, output to `logFile`; `leftover` is removed
 * by the watchdog if the test process dies first.
 */
function supervise(name: string, bin: string, args: readonly string[], logFile: string, leftover = ''): Supervised {
  const fd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn('/bin/sh', ['-c', WATCHDOG, `castellan-${name}`, String(process.pid), leftover, bin, ...args], { stdio: ['ignore', fd, fd], detached: true });
  } finally {
    closeSync(fd);
  }
  child.unref();
  let exited: string | undefined;
  const gone = new Promise<void>((resolve) => {
    child.on('exit', (code, signal) => {
      exited = signal ? `signal ${signal}` : `code ${code}`;
      resolve();
    });
    child.on('error', (err) => {
      exited = err.message;
      resolve();
    });
  });
  // The process group (watchdog, program, its sleep) is ours alone: signal it by its id.
  const signal = (s: NodeJS.Signals) => {
    if (exited !== undefined || child.pid === undefined) return;
    try {
      process.kill(-child.pid, s);
    } catch {
      // already gone
    }
  };
  const onExit = () => signal('SIGTERM');
  process.once('exit', onExit);
  return {
    name,
    logFile,
    get exited() {
      return exited;
    },
    async stop() {
      process.removeListener('exit', onExit);
      signal('SIGTERM');
      const killed = setTimeout(() => signal('SIGKILL'), 20_000);
      await gone;
      clearTimeout(killed);
    },
  };
}
