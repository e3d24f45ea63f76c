// Original file: proto/castellan/ca/v1/ca.proto

import type { RootStatus as _castellan_ca_v1_RootStatus, RootStatus__Output as _castellan_ca_v1_RootStatus__Output } from '../../../castellan/ca/v1/RootStatus.js';

export interface RootStepResponse {
  /**
   * What was done, for people (empty for GetRootStatus).
   */
  'message'?: (string);
  'warnings'?: (string)[];
  /**
   * Deprecated: `status` as JSON. Sent for one more release for older clients; clients read `status` and
   * fall back to this only when it is absent (a CA older than `status`).
   */
  'statusJson'?: (string);
  /**
   * The rotation status after the step (`castellan root status --output json` prints it as JSON).
   */
  'status'?: (_castellan_ca_v1_RootStatus | null);
}

export interface RootStepResponse__Output {
  /**
   * What was done, for people (empty for GetRootStatus).
   */
  'message': (string);
  'warnings': (string)[];
  /**
   * Deprecated: `status` as JSON. Sent for one more release for older clients; clients read `status` and
   * fall back to this only when it is absent (a CA older than `status`).
   */
  'statusJson': (string);
  /**
   * The rotation status after the step (`castellan root status --output json` prints it as JSON).
   */
  'status': (_castellan_ca_v1_RootStatus__Output | null);
}
