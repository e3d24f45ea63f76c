// CA keys in a PKCS#11 token (docs/pkcs11.md): the key provider and the RFC 7512 URIs it stores.
export { openPkcs11KeyProvider, Pkcs11KeyProvider, type Pkcs11ProviderOptions } from './pkcs11-key-provider.js';
export { formatPkcs11KeyUri, parsePkcs11KeyUri, type Pkcs11KeyUri } from './uri.js';
