import type { KeyType } from './key-type.js';
import type { Signer } from './signer.js';

/**
 * How a CA key is kept, as the CA state stores it (docs/architecture.md §8): the private key itself (PEM,
 * PKCS#8) for keys this process holds, or a reference to a key that never leaves a hardware token.
 */
export type KeyMaterial =
  /** A PKCS#8 PEM private key (file and Kubernetes Secret stores). */
  | { readonly kind: 'pem'; readonly pem: string }
  /** An RFC 7512 `pkcs11:` URI naming a non-extractable private key in a PKCS#11 token. */
  | { readonly kind: 'pkcs11'; readonly uri: string };

/**
 * Where CA keys are made and how a stored key becomes a Signer again: in this process (software keys) or
 * in an HSM through PKCS#11. Root and intermediate creation ask the provider for new keys; loading the CA
 * state opens the stored material.
 *
 * @example const { signer, material } = await provider.generate('ec-p256', 'castellan-root-2');
 */
export interface KeyProvider {
  /** For logs and errors: `software`, `pkcs11 (token castellan)`. */
  readonly description: string;
  /** A new key pair of `keyType`; `label` names it where the backend keeps names (PKCS#11 CKA_LABEL). */
  generate(keyType: KeyType, label: string): Promise<{ signer: Signer; material: KeyMaterial }>;
  /** The signer of stored material; refuses material of another kind with a coded error. */
  open(material: KeyMaterial): Promise<Signer>;
  /** Releases sessions and handles (PKCS#11); a no-op for software keys. */
  close(): Promise<void>;
}
