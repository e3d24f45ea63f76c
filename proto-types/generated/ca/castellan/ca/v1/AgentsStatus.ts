// Original file: proto/castellan/ca/v1/ca.proto

import type { AgentReport as _castellan_ca_v1_AgentReport, AgentReport__Output as _castellan_ca_v1_AgentReport__Output } from '../../../castellan/ca/v1/AgentReport.js';
import type { ReplicaReport as _castellan_ca_v1_ReplicaReport, ReplicaReport__Output as _castellan_ca_v1_ReplicaReport__Output } from '../../../castellan/ca/v1/ReplicaReport.js';

export interface AgentsStatus {
  /**
   * False when no running CA reported its agents recently: nobody can say which agents exist.
   */
  'known'?: (boolean);
  'why'?: (string);
  'live'?: (number);
  'current'?: (number);
  /**
   * Live agents that do not serve the current bundle sequence.
   */
  'lagging'?: (_castellan_ca_v1_AgentReport)[];
  /**
   * Live agents whose bundle lacks the active root (their workloads reject new leaves).
   */
  'withoutActiveRoot'?: (_castellan_ca_v1_AgentReport)[];
  'replicas'?: (_castellan_ca_v1_ReplicaReport)[];
  '_why'?: "why";
}

export interface AgentsStatus__Output {
  /**
   * False when no running CA reported its agents recently: nobody can say which agents exist.
   */
  'known': (boolean);
  'why'?: (string);
  'live': (number);
  'current': (number);
  /**
   * Live agents that do not serve the current bundle sequence.
   */
  'lagging': (_castellan_ca_v1_AgentReport__Output)[];
  /**
   * Live agents whose bundle lacks the active root (their workloads reject new leaves).
   */
  'withoutActiveRoot': (_castellan_ca_v1_AgentReport__Output)[];
  'replicas': (_castellan_ca_v1_ReplicaReport__Output)[];
  '_why'?: "why";
}
