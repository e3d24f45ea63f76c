// Original file: node_modules/@grpc/grpc-js-xds/deps/envoy-api/envoy/config/core/v3/base.proto


/**
 * Runtime derived uint32 with a default when not specified.
 */
export interface RuntimeUInt32 {
  /**
   * Default value if runtime value is not available.
   */
  'defaultValue'?: (number);
  /**
   * Runtime key to get value for comparison. This value is used if defined.
   */
  'runtimeKey'?: (string);
}

/**
 * Runtime derived uint32 with a default when not specified.
 */
export interface RuntimeUInt32__Output {
  /**
   * Default value if runtime value is not available.
   */
  'defaultValue': (number);
  /**
   * Runtime key to get value for comparison. This value is used if defined.
   */
  'runtimeKey': (string);
}
