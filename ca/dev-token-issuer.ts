import { createPublicKey, type KeyObject } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { calculateJwkThumbprint, exportJWK, type JSONWebKeySet } from 'jose';
import { caError } from './errors.js';
import { readPrivateKeyFile, writeFileAtomic, writePrivateKeyFile } from './key-files.js';
import { generateKey } from './key-type.js';

/**
 * The local token issuer of the embedded default: a signing key and its JWKS, so that a CA without a
 * cluster can authenticate workloads with tokens shaped exactly like Kubernetes projected
 * service-account tokens (`castellan token mint`). A CA trusts it only when started without a config.
 */
export interface DevTokenIssuer {
  /** The `iss` of its tokens. */
  readonly issuer: string;
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly jwks: JSONWebKeySet;
}

export const DEV_TOKEN_ISSUER_DIR = 'token-issuer';
export const DEV_ISSUER_URL = 'https://dev-issuer.castellan.local';

/** Creates the dev issuer's key (0600) and public JWKS under `<ca dir>/token-issuer/`. */
export async function createDevTokenIssuer(caDir: string): Promise<DevTokenIssuer> {
  const dir = path.join(caDir, DEV_TOKEN_ISSUER_DIR);
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const privateKey = generateKey('ec-p256').privateKey;
  const jwks = await publicJwks(privateKey);
  await writePrivateKeyFile(path.join(dir, 'key.pem'), privateKey);
  await writeFileAtomic(path.join(dir, 'jwks.json'), `${JSON.stringify(jwks, null, 2)}\n`, 0o644);
  return { issuer: DEV_ISSUER_URL, kid: jwks.keys[0]!.kid!, privateKey, jwks };
}

/** Loads the dev issuer of a CA directory, or explains how to get one. */
export async function loadDevTokenIssuer(caDir: string): Promise<DevTokenIssuer> {
  const file = path.join(caDir, DEV_TOKEN_ISSUER_DIR, 'key.pem');
  try {
    await fs.access(file);
  } catch {
    throw caError('ERR_CA_DIR', `ca: ${caDir} has no local token issuer (${DEV_TOKEN_ISSUER_DIR}/); CAs created by 'castellan ca init' have one`);
  }
  const privateKey = await readPrivateKeyFile(file);
  const jwks = await publicJwks(privateKey);
  return { issuer: DEV_ISSUER_URL, kid: jwks.keys[0]!.kid!, privateKey, jwks };
}

async function publicJwks(privateKey: KeyObject): Promise<JSONWebKeySet> {
  const jwk = await exportJWK(createPublicKey(privateKey));
  const kid = await calculateJwkThumbprint(jwk); // RFC 7638: stable, derived from the key
  return { keys: [{ ...jwk, kid, alg: 'ES256', use: 'sig' }] };
}
