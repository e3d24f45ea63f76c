// A second process that opens a CA key by its pkcs11: URI and signs a challenge: the key outlives the
// process that made it. Prints one JSON line: the SPKI and the signature, hex.
import { openPkcs11KeyProvider } from '../../ca/index.js';

const { module, token, pinFile, uri, challenge } = JSON.parse(process.argv[2]!) as { module: string; token: string; pinFile: string; uri: string; challenge: string };
const provider = await openPkcs11KeyProvider({ module, token, pinFile });
try {
  const signer = await provider.open({ kind: 'pkcs11', uri });
  const signature = signer.sign(Buffer.from(challenge, 'hex'));
  process.stdout.write(`${JSON.stringify({ spki: signer.spki.toString('hex'), signature: signature.toString('hex') })}\n`);
} finally {
  await provider.close();
}
