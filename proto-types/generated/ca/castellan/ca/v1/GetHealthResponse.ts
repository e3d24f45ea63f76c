// Original file: proto/castellan/ca/v1/ca.proto


export interface GetHealthResponse {
  /**
   * JSON: {server, ready, notReady?, notes, serving, ledger, rotation} (docs/cli.md, castellan check).
   */
  'healthJson'?: (string);
}

export interface GetHealthResponse__Output {
  /**
   * JSON: {server, ready, notReady?, notes, serving, ledger, rotation} (docs/cli.md, castellan check).
   */
  'healthJson': (string);
}
