// Original file: proto/castellan/ca/v1/ca.proto

import type { CaHealth as _castellan_ca_v1_CaHealth, CaHealth__Output as _castellan_ca_v1_CaHealth__Output } from '../../../castellan/ca/v1/CaHealth.js';

export interface GetHealthResponse {
  /**
   * Deprecated: `health` as JSON ({server, ready, notReady?, notes, serving, ledger, rotation}). Sent for
   * one more release for older clients; clients read `health` and fall back to this only when it is absent
   * (a CA older than `health`).
   */
  'healthJson'?: (string);
  /**
   * The CA's health as `castellan check --server` judges it (docs/cli.md, castellan check).
   */
  'health'?: (_castellan_ca_v1_CaHealth | null);
}

export interface GetHealthResponse__Output {
  /**
   * Deprecated: `health` as JSON ({server, ready, notReady?, notes, serving, ledger, rotation}). Sent for
   * one more release for older clients; clients read `health` and fall back to this only when it is absent
   * (a CA older than `health`).
   */
  'healthJson': (string);
  /**
   * The CA's health as `castellan check --server` judges it (docs/cli.md, castellan check).
   */
  'health': (_castellan_ca_v1_CaHealth__Output | null);
}
