// Original file: proto/castellan/agent/v1/agent.proto


export interface GetStatusResponse {
  /**
   * JSON, as `castellan agent status --output json` prints it.
   */
  'statusJson'?: (string);
}

export interface GetStatusResponse__Output {
  /**
   * JSON, as `castellan agent status --output json` prints it.
   */
  'statusJson': (string);
}
