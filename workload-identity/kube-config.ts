import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { KubeConfig, User } from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';
import { CastellanError } from './errors.js';

export type KubeConfigErrorCode = 'ERR_KUBECONFIG';

/** How a kubeconfig's current user authenticates to the API server; `none` means anonymous. */
export type KubeCredential = 'token' | 'token-file' | 'client-certificate' | 'exec' | 'auth-provider' | 'basic-auth' | 'none';

/** Where {@link loadKubeConfig} reports what it found (a pino logger fits). */
export interface KubeConfigLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface LoadKubeConfigOptions {
  /** Told which credential the kubeconfig yields, and warned when it yields none. Default: silent. */
  readonly log?: KubeConfigLog;
  /** A `tokenFile` is re-read when its last read is this many ms old. Default 60,000 (client-go's cached file token source). */
  readonly tokenFileRefreshMs?: number;
  readonly now?: () => Date;
}

/** The library's authenticator plug-in interface (not exported by name). */
type ClientAuthenticator = Parameters<KubeConfig['addAuthenticator']>[0];

/** The auth-provider name this module gives a user whose token comes from a file it re-reads. */
const TOKEN_FILE_PROVIDER = 'castellan-token-file';

/**
 * Loads the kubeconfig Castellan talks to the Kubernetes API with: `file`, or the in-cluster
 * configuration (the pod's service-account token, re-read as it rotates) when `file` is undefined.
 * Unlike @kubernetes/client-node alone, a user's standard `tokenFile` field (client-go's
 * `AuthInfo.TokenFile`, relative to the kubeconfig's directory) is honoured and re-read at most every
 * `tokenFileRefreshMs`, so a projected token that rotates on disk keeps working; it takes precedence
 * over `token`, as in client-go. A kubeconfig whose current user yields no credential is logged as a
 * warning: every call would be anonymous, and the fix is the kubeconfig, not RBAC.
 * Throws ERR_KUBECONFIG when the file or its token file cannot be read.
 *
 * @example
 *   const kc = await loadKubeConfig('/etc/castellan/kubeconfig', { log });
 *   new TokenReviewAuthenticator(kc, { trustDomain });
 */
export async function loadKubeConfig(file: string | undefined, o: LoadKubeConfigOptions = {}): Promise<KubeConfig> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  const where = file ? `kubeconfig ${file}` : 'the in-cluster Kubernetes configuration';
  try {
    if (file) kc.loadFromFile(file);
    else kc.loadFromCluster();
  } catch (cause) {
    throw new CastellanError<KubeConfigErrorCode>('ERR_KUBECONFIG', `kubeconfig: cannot load ${where}: ${(cause as Error).message}`, {
      cause,
      context: { kubeconfig: file ?? 'in-cluster' },
    });
  }
  if (file) useTokenFile(kc, file, o);
  const user = kc.getCurrentUser();
  const credential = kubeConfigCredential(kc);
  const context = { kubeconfig: file ?? 'in-cluster', server: kc.getCurrentCluster()?.server, user: user?.name ?? null, credential };
  if (credential === 'none') {
    o.log?.warn(
      context,
      `kubeconfig: ${where} gives user ${JSON.stringify(user?.name ?? null)} no credential (token, tokenFile, client certificate, exec or auth-provider): ` +
        'every Kubernetes API call will be anonymous (system:anonymous) and refused; fix the kubeconfig, not RBAC',
    );
  } else {
    o.log?.info(context, `kubeconfig: calling the Kubernetes API as user ${JSON.stringify(user?.name)} with a ${credential}`);
  }
  return kc;
}

/**
 * What the current user of a loaded KubeConfig authenticates with.
 *
 * @example kubeConfigCredential(await loadKubeConfig(file)); // 'token-file'
 */
export function kubeConfigCredential(kc: KubeConfig): KubeCredential {
  const u = kc.getCurrentUser();
  if (u === null) return 'none';
  const provider = u.authProvider as { name?: unknown; config?: { tokenFile?: unknown } } | undefined;
  if (provider?.name === TOKEN_FILE_PROVIDER || typeof provider?.config?.tokenFile === 'string') return 'token-file';
  if (provider) return 'auth-provider';
  if (u.exec) return 'exec';
  if (u.token) return 'token';
  if ((u.certData || u.certFile) && (u.keyData || u.keyFile)) return 'client-certificate';
  if (u.username && u.password) return 'basic-auth';
  return 'none';
}

/**
 * Replaces the current user's static token by a token read from its `tokenFile` (or the library's own
 * `token-file`, which it reads only once) at request time.
 */
function useTokenFile(kc: KubeConfig, file: string, o: LoadKubeConfigOptions): void {
  const user = kc.getCurrentUser();
  if (user === null) return;
  const raw = rawUser(file, user.name);
  const declared =
    typeof raw?.['tokenFile'] === 'string' && raw['tokenFile'] !== ''
      ? raw['tokenFile']
      : typeof raw?.['token-file'] === 'string' && raw['token-file'] !== ''
        ? raw['token-file']
        : undefined;
  if (declared === undefined || user.authProvider || user.exec) return;
  const tokenPath = path.resolve(path.dirname(file), declared);
  // client-go: a token file given with a static token takes precedence, the token being the fallback.
  const fallback = typeof raw?.['token'] === 'string' && raw['token'] !== '' ? raw['token'] : undefined;
  const source = new TokenFileSource(tokenPath, fallback, o.tokenFileRefreshMs ?? 60_000, o.now ?? (() => new Date()));
  try {
    source.read();
  } catch (cause) {
    if (fallback === undefined) {
      throw new CastellanError<KubeConfigErrorCode>(
        'ERR_KUBECONFIG',
        `kubeconfig: ${file}: user ${JSON.stringify(user.name)} has tokenFile ${tokenPath}, which cannot be read: ${(cause as Error).message}`,
        {
          cause,
          context: { kubeconfig: file, tokenFile: tokenPath },
        },
      );
    }
  }
  const replaced: User = {
    name: user.name,
    ...(user.certData ? { certData: user.certData } : {}),
    ...(user.certFile ? { certFile: user.certFile } : {}),
    ...(user.keyData ? { keyData: user.keyData } : {}),
    ...(user.keyFile ? { keyFile: user.keyFile } : {}),
    ...(user.impersonateUser ? { impersonateUser: user.impersonateUser } : {}),
    authProvider: { name: TOKEN_FILE_PROVIDER, config: { path: tokenPath } },
  };
  kc.users = kc.users.map((u) => (u.name === user.name ? replaced : u));
  kc.addAuthenticator(new TokenFileAuthenticator(source));
}

function rawUser(file: string, name: string): Record<string, unknown> | undefined {
  const doc: unknown = parseYaml(readFileSync(file, 'utf8'));
  const users = isObject(doc) && Array.isArray(doc['users']) ? doc['users'] : [];
  const entry: unknown = users.find((u: unknown) => isObject(u) && u['name'] === name);
  const user = isObject(entry) ? entry['user'] : undefined;
  return isObject(user) ? user : undefined;
}

/** A bearer token in a file, re-read when the last read is older than `refreshMs`; a failed read keeps the last good value. */
class TokenFileSource {
  private value: string | undefined;
  private readAt = Number.NEGATIVE_INFINITY;

  constructor(
    readonly path: string,
    private readonly fallback: string | undefined,
    private readonly refreshMs: number,
    private readonly now: () => Date,
  ) {}

  /** Reads the file now; throws when it cannot. */
  read(): string {
    const token = readFileSync(this.path, 'utf8').trim();
    if (token === '') throw new Error('the file is empty');
    this.value = token;
    this.readAt = this.now().getTime();
    return token;
  }

  current(): string | undefined {
    if (this.now().getTime() - this.readAt >= this.refreshMs) {
      try {
        return this.read();
      } catch {
        // Keep serving the last token read (client-go does the same); the API answers 401 once it expires.
        this.readAt = this.now().getTime();
      }
    }
    return this.value ?? this.fallback;
  }
}

class TokenFileAuthenticator implements ClientAuthenticator {
  constructor(private readonly source: TokenFileSource) {}

  isAuthProvider(user: User): boolean {
    const p = user.authProvider as { name?: unknown; config?: { path?: unknown } } | undefined;
    return p?.name === TOKEN_FILE_PROVIDER && p.config?.path === this.source.path;
  }

  async applyAuthentication(_user: User, opts: { headers?: Record<string, unknown> }): Promise<void> {
    const token = this.source.current();
    if (token === undefined) return;
    opts.headers ??= {};
    opts.headers['Authorization'] = `Bearer ${token}`;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
