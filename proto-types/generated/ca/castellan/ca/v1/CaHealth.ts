// Original file: proto/castellan/ca/v1/ca.proto

import type { ServerInfo as _castellan_ca_v1_ServerInfo, ServerInfo__Output as _castellan_ca_v1_ServerInfo__Output } from '../../../castellan/ca/v1/ServerInfo.js';
import type { LedgerState as _castellan_ca_v1_LedgerState, LedgerState__Output as _castellan_ca_v1_LedgerState__Output } from '../../../castellan/ca/v1/LedgerState.js';
import type { RootStatus as _castellan_ca_v1_RootStatus, RootStatus__Output as _castellan_ca_v1_RootStatus__Output } from '../../../castellan/ca/v1/RootStatus.js';

export interface CaHealth {
  'server'?: (_castellan_ca_v1_ServerInfo | null);
  /**
   * readyz: ready, or why not.
   */
  'ready'?: (boolean);
  'notReady'?: (string);
  /**
   * Problems that do not stop serving (a store it cannot watch, a lost lease).
   */
  'notes'?: (string)[];
  /**
   * The serving certificate's notAfter, RFC 3339.
   */
  'servingNotAfter'?: (string);
  'ledger'?: (_castellan_ca_v1_LedgerState | null);
  'rotation'?: (_castellan_ca_v1_RootStatus | null);
  '_notReady'?: "notReady";
}

export interface CaHealth__Output {
  'server': (_castellan_ca_v1_ServerInfo__Output | null);
  /**
   * readyz: ready, or why not.
   */
  'ready': (boolean);
  'notReady'?: (string);
  /**
   * Problems that do not stop serving (a store it cannot watch, a lost lease).
   */
  'notes': (string)[];
  /**
   * The serving certificate's notAfter, RFC 3339.
   */
  'servingNotAfter': (string);
  'ledger': (_castellan_ca_v1_LedgerState__Output | null);
  'rotation': (_castellan_ca_v1_RootStatus__Output | null);
  '_notReady'?: "notReady";
}
