// Original file: proto/castellan/ca/v1/ca.proto


export interface ServerInfo {
  'version'?: (string);
  'commit'?: (string);
  'nodeVersion'?: (string);
  /**
   * This replica's name (config replicaId, default the host name).
   */
  'replica'?: (string);
  /**
   * Whether this replica runs the singleton jobs (the Kubernetes Lease holder; a directory store: always).
   */
  'leader'?: (boolean);
}

export interface ServerInfo__Output {
  'version': (string);
  'commit': (string);
  'nodeVersion': (string);
  /**
   * This replica's name (config replicaId, default the host name).
   */
  'replica': (string);
  /**
   * Whether this replica runs the singleton jobs (the Kubernetes Lease holder; a directory store: always).
   */
  'leader': (boolean);
}
