import { describe, expect, it } from 'vitest';
import { grpcDetails } from '../../workload-identity/index.js';

describe('grpcDetails', () => {
  it.each([
    [
      'No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:1. Resolution note: ',
      'No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:1',
    ],
    [
      'No connection established. Last error: Error: 80FC:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:../deps/x.c:350:\n. Resolution note: ',
      'No connection established. Last error: Error: 80FC:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:../deps/x.c:350:',
    ],
    ['ca: not ready (starting); retry', 'ca: not ready (starting); retry'],
  ])('ok/%j reads %j', (raw, clean) => {
    expect(grpcDetails(raw)).toBe(clean);
  });

  it('fail/a resolution note that says something is kept', () => {
    expect(grpcDetails('No addresses resolved. Resolution note: DNS lookup failed for castellan.invalid')).toBe(
      'No addresses resolved. Resolution note: DNS lookup failed for castellan.invalid',
    );
  });
});
