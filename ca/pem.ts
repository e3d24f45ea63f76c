import { pemDecode, pemEncode } from '../workload-identity/index.js';
import { caError, type CaErrorCode } from './errors.js';

/**
 * PEM-encodes DER (RFC 7468 §2: 64-character lines).
 *
 * @example derToPem(certDer, 'CERTIFICATE')
 */
export const derToPem = pemEncode;

/** Every PEM block with `label` in `text`, decoded, in order (pemDecode), with the CA's coded error. */
export function pemBlocks(text: string, label: string, onError: { code: CaErrorCode; what: string }): Buffer[] {
  try {
    return pemDecode(text, label);
  } catch (cause) {
    throw caError(onError.code, `${onError.what}: ${(cause as Error).message}`, { cause });
  }
}
