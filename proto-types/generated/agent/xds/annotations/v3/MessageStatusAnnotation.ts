// Original file: node_modules/@grpc/grpc-js-xds/deps/xds/xds/annotations/v3/status.proto


export interface MessageStatusAnnotation {
  /**
   * The entity is work-in-progress and subject to breaking changes.
   */
  'workInProgress'?: (boolean);
}

export interface MessageStatusAnnotation__Output {
  /**
   * The entity is work-in-progress and subject to breaking changes.
   */
  'workInProgress': (boolean);
}
