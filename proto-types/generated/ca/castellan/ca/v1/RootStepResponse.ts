// Original file: proto/castellan/ca/v1/ca.proto


export interface RootStepResponse {
  /**
   * What was done, for people (empty for GetRootStatus).
   */
  'message'?: (string);
  'warnings'?: (string)[];
  /**
   * The rotation status after the step, as `castellan root status --output json` prints it.
   */
  'statusJson'?: (string);
}

export interface RootStepResponse__Output {
  /**
   * What was done, for people (empty for GetRootStatus).
   */
  'message': (string);
  'warnings': (string)[];
  /**
   * The rotation status after the step, as `castellan root status --output json` prints it.
   */
  'statusJson': (string);
}
