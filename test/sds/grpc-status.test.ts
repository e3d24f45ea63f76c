import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { workloadCallError } from '../../sds/index.js';
import { CastellanError } from '../../workload-identity/index.js';

const statusOf = (code: string) => workloadCallError(new CastellanError(code, `sds: ${code}`)).code;

describe('workloadCallError', () => {
  it("ok/the caller's token problems are UNAUTHENTICATED, credentials denied PERMISSION_DENIED", () => {
    for (const code of ['ERR_TOKEN_MISSING', 'ERR_TOKEN_EXPIRED', 'ERR_TOKEN_MALFORMED', 'ERR_TOKEN_REJECTED']) expect(statusOf(code), code).toBe(status.UNAUTHENTICATED);
    expect(statusOf('ERR_PERMISSION_DENIED')).toBe(status.PERMISSION_DENIED);
  });

  it("fail/the agent's own trouble (token file, CA down or refusing, identity changed) is UNAVAILABLE with its message", () => {
    for (const code of ['ERR_TOKEN_FILE', 'ERR_CA_UNAVAILABLE', 'ERR_CA_REFUSED', 'ERR_CA_RESPONSE', 'ERR_IDENTITY_CHANGED', 'ERR_NOT_READY']) {
      const e = workloadCallError(new CastellanError(code, `sds: ${code} happened`));
      expect(e.code, code).toBe(status.UNAVAILABLE);
      expect(e.details).toBe(`sds: ${code} happened`);
    }
  });

  it('fail/anything else is INTERNAL without its message', () => {
    expect(workloadCallError(new CastellanError('ERR_SOMETHING', 'secret detail'))).toEqual({
      code: status.INTERNAL,
      details: 'internal error; see the agent log',
      reason: 'ERR_SOMETHING',
    });
    expect(workloadCallError(new Error('boom')).code).toBe(status.INTERNAL);
  });
});
