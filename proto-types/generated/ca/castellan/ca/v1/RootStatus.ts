// Original file: proto/castellan/ca/v1/ca.proto

import type { AuthoritySlot as _castellan_ca_v1_AuthoritySlot, AuthoritySlot__Output as _castellan_ca_v1_AuthoritySlot__Output } from '../../../castellan/ca/v1/AuthoritySlot.js';
import type { AgentsStatus as _castellan_ca_v1_AgentsStatus, AgentsStatus__Output as _castellan_ca_v1_AgentsStatus__Output } from '../../../castellan/ca/v1/AgentsStatus.js';
import type { Long } from '@grpc/proto-loader';

/**
 * The rotation state of a CA and what its running replicas report about their agents (`castellan root status`).
 * Times are RFC 3339 text as the CA state records them.
 */
export interface RootStatus {
  'trustDomain'?: (string);
  'bundleSequence'?: (number | string | Long);
  /**
   * idle: one root; prepared: a new root waits for activation; activated: the old root is still in the bundle.
   */
  'phase'?: (string);
  'reissueSpreadSeconds'?: (number);
  'authorities'?: (_castellan_ca_v1_AuthoritySlot)[];
  /**
   * When the active intermediate is rotated automatically; absent: never.
   */
  'intermediateRotationDue'?: (string);
  /**
   * The fraction of an intermediate's lifetime after which it is rotated.
   */
  'intermediateRotateAt'?: (number | string);
  'agents'?: (_castellan_ca_v1_AgentsStatus | null);
  /**
   * Lifecycle records written to the CA state but not yet to the ledger.
   */
  'pendingRecords'?: (number);
  '_intermediateRotationDue'?: "intermediateRotationDue";
}

/**
 * The rotation state of a CA and what its running replicas report about their agents (`castellan root status`).
 * Times are RFC 3339 text as the CA state records them.
 */
export interface RootStatus__Output {
  'trustDomain': (string);
  'bundleSequence': (number);
  /**
   * idle: one root; prepared: a new root waits for activation; activated: the old root is still in the bundle.
   */
  'phase': (string);
  'reissueSpreadSeconds': (number);
  'authorities': (_castellan_ca_v1_AuthoritySlot__Output)[];
  /**
   * When the active intermediate is rotated automatically; absent: never.
   */
  'intermediateRotationDue'?: (string);
  /**
   * The fraction of an intermediate's lifetime after which it is rotated.
   */
  'intermediateRotateAt': (number);
  'agents': (_castellan_ca_v1_AgentsStatus__Output | null);
  /**
   * Lifecycle records written to the CA state but not yet to the ledger.
   */
  'pendingRecords': (number);
  '_intermediateRotationDue'?: "intermediateRotationDue";
}
