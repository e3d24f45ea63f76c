// Original file: proto/castellan/ca/v1/ca.proto


export interface ReplicaReport {
  'replica'?: (string);
  'writtenAt'?: (string);
  'servingSince'?: (string);
  'intermediateRotateAt'?: (number | string);
  '_servingSince'?: "servingSince";
  '_intermediateRotateAt'?: "intermediateRotateAt";
}

export interface ReplicaReport__Output {
  'replica': (string);
  'writtenAt': (string);
  'servingSince'?: (string);
  'intermediateRotateAt'?: (number);
  '_servingSince'?: "servingSince";
  '_intermediateRotateAt'?: "intermediateRotateAt";
}
