// Original file: proto/castellan/ca/v1/ca.proto

import type { Long } from '@grpc/proto-loader';

export interface AgentReport {
  'agentId'?: (string);
  /**
   * The identity it authenticated with.
   */
  'identity'?: (string);
  'peer'?: (string);
  'sequence'?: (number | string | Long);
  /**
   * When the CA last heard from it.
   */
  'lastSeen'?: (string);
  /**
   * Its trust-bundle stream is open now.
   */
  'connected'?: (boolean);
  '_identity'?: "identity";
  '_peer'?: "peer";
}

export interface AgentReport__Output {
  'agentId': (string);
  /**
   * The identity it authenticated with.
   */
  'identity'?: (string);
  'peer'?: (string);
  'sequence': (number);
  /**
   * When the CA last heard from it.
   */
  'lastSeen': (string);
  /**
   * Its trust-bundle stream is open now.
   */
  'connected': (boolean);
  '_identity'?: "identity";
  '_peer'?: "peer";
}
