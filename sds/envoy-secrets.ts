import { createHash } from 'node:crypto';
import type { Message } from 'protobufjs';
import type { TrustBundle, X509Svid } from '../workload-identity/index.js';
import { anyOf, encodeMessage, envoyTypes, message, type MessageFields } from './envoy-codec.js';
import type { IdentitySnapshot } from './secret-source.js';

/**
 * Envoy `Secret` resources built from an identity snapshot, encoded once and shared by every stream
 * that serves the same snapshot (messages from envoyproxy/data-plane-api
 * `envoy/extensions/transport_sockets/tls/v3/{secret,common,tls_spiffe_validator_config}.proto`,
 * encoded by protobufjs: see envoy-codec.ts).
 */

/** The workload's certificate and key (`tls_certificate`), Istio's and SPIRE's default name. */
export const DEFAULT_SECRET = 'default';
/** The own trust domain's roots (`validation_context.trusted_ca`), Istio's name. */
export const ROOTCA_SECRET = 'ROOTCA';
/** Every trusted domain's roots through Envoy's SPIFFE certificate validator, SPIRE's name. */
export const ALL_SECRET = 'ALL';

/** Envoy's extension name for the SPIFFE certificate validator (`custom_validator_config.name`). */
const SPIFFE_VALIDATOR = 'envoy.tls.cert_validator.spiffe';

/** One Secret resource, ready to be placed into SotW and Delta responses. */
export interface EncodedSecret {
  readonly name: string;
  /** A digest of the encoded resource: equal content, equal version, on any stream and after a reconnect. */
  readonly version: string;
  /** The `google.protobuf.Any` holding the encoded Secret: a `DiscoveryResponse.resources` entry. */
  readonly any: Message;
  /** `Resource { name, version, resource }` around the same Any: a `DeltaDiscoveryResponse.resources` entry. */
  readonly resource: Message;
}

function encoded(fields: MessageFields & { readonly name: string }): EncodedSecret {
  const types = envoyTypes();
  const bytes = encodeMessage(message(types.secret, fields));
  const version = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
  const any = anyOf(types.secret, bytes);
  return { name: fields.name, version, any, resource: message(types.resource, { name: fields.name, version, resource: any }) };
}

/** `config.core.v3.DataSource` with the PEM text inline. */
const inlineBytes = (text: string): MessageFields => ({ inline_bytes: Buffer.from(text, 'utf8') });

function tlsCertificate(svid: X509Svid): EncodedSecret {
  return encoded({ name: DEFAULT_SECRET, tls_certificate: { certificate_chain: inlineBytes(svid.chainPem), private_key: inlineBytes(svid.keyPem) } });
}

function trustedCa(name: string, bundle: TrustBundle): EncodedSecret {
  return encoded({ name, validation_context: { trusted_ca: inlineBytes(bundle.rootsPem) } });
}

function allBundles(bundles: readonly TrustBundle[]): EncodedSecret {
  const { spiffeValidatorConfig } = envoyTypes();
  const config = message(spiffeValidatorConfig, { trust_domains: bundles.map((b) => ({ name: b.trustDomain.name, trust_bundle: inlineBytes(b.rootsPem) })) });
  const validator = { name: SPIFFE_VALIDATOR, typed_config: anyOf(spiffeValidatorConfig, encodeMessage(config)) };
  return encoded({ name: ALL_SECRET, validation_context: { custom_validator_config: validator } });
}

/** The resources one snapshot offers, by name. */
export interface SnapshotSecrets {
  get(name: string): EncodedSecret | undefined;
  /** Every name this snapshot answers (what an empty SotW subscription returns). */
  readonly names: readonly string[];
}

// Keyed by the immutable values the provider hands out, so a new snapshot that reuses the same SVID or
// bundle object reuses its encoding, and nothing outlives the values it was built from.
const tlsCache = new WeakMap<X509Svid, EncodedSecret>();
const rootCaCache = new WeakMap<TrustBundle, EncodedSecret>();
const domainCache = new WeakMap<TrustBundle, EncodedSecret>();
const allCache = new WeakMap<readonly TrustBundle[], EncodedSecret>();
const snapshotCache = new WeakMap<IdentitySnapshot, SnapshotSecrets>();

function memo<K extends object>(cache: WeakMap<K, EncodedSecret>, key: K, build: () => EncodedSecret): EncodedSecret {
  let hit = cache.get(key);
  if (!hit) {
    hit = build();
    cache.set(key, hit);
  }
  return hit;
}

/**
 * The encoded Secrets of a snapshot: `default`, `ROOTCA` (own trust domain), `ALL`, and `spiffe://<td>`
 * for every trust domain with a bundle. Built lazily, once per snapshot value.
 *
 * @example
 *   const secrets = snapshotSecrets(watch.current());
 *   secrets.get('ROOTCA')?.version;
 */
export function snapshotSecrets(snapshot: IdentitySnapshot): SnapshotSecrets {
  const hit = snapshotCache.get(snapshot);
  if (hit) return hit;
  const own = snapshot.bundles[0];
  const domains = new Map<string, TrustBundle>(snapshot.bundles.map((b) => [b.trustDomain.idString(), b]));
  const names = [DEFAULT_SECRET, ...(own ? [ROOTCA_SECRET, ALL_SECRET] : []), ...domains.keys()];
  const secrets: SnapshotSecrets = {
    names,
    get(name) {
      if (name === DEFAULT_SECRET) return memo(tlsCache, snapshot.svid, () => tlsCertificate(snapshot.svid));
      if (name === ROOTCA_SECRET) return own ? memo(rootCaCache, own, () => trustedCa(ROOTCA_SECRET, own)) : undefined;
      if (name === ALL_SECRET) return own ? memo(allCache, snapshot.bundles, () => allBundles(snapshot.bundles)) : undefined;
      const bundle = domains.get(name);
      return bundle ? memo(domainCache, bundle, () => trustedCa(name, bundle)) : undefined;
    },
  };
  snapshotCache.set(snapshot, secrets);
  return secrets;
}
