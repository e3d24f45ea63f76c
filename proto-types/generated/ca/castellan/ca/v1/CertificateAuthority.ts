// Original file: proto/castellan/ca/v1/ca.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { AuthenticateRequest as _castellan_ca_v1_AuthenticateRequest, AuthenticateRequest__Output as _castellan_ca_v1_AuthenticateRequest__Output } from '../../../castellan/ca/v1/AuthenticateRequest.js';
import type { AuthenticateResponse as _castellan_ca_v1_AuthenticateResponse, AuthenticateResponse__Output as _castellan_ca_v1_AuthenticateResponse__Output } from '../../../castellan/ca/v1/AuthenticateResponse.js';
import type { AuthorityStatus as _castellan_ca_v1_AuthorityStatus, AuthorityStatus__Output as _castellan_ca_v1_AuthorityStatus__Output } from '../../../castellan/ca/v1/AuthorityStatus.js';
import type { GetAuthorityStatusRequest as _castellan_ca_v1_GetAuthorityStatusRequest, GetAuthorityStatusRequest__Output as _castellan_ca_v1_GetAuthorityStatusRequest__Output } from '../../../castellan/ca/v1/GetAuthorityStatusRequest.js';
import type { ReportTrustBundleRequest as _castellan_ca_v1_ReportTrustBundleRequest, ReportTrustBundleRequest__Output as _castellan_ca_v1_ReportTrustBundleRequest__Output } from '../../../castellan/ca/v1/ReportTrustBundleRequest.js';
import type { ReportTrustBundleResponse as _castellan_ca_v1_ReportTrustBundleResponse, ReportTrustBundleResponse__Output as _castellan_ca_v1_ReportTrustBundleResponse__Output } from '../../../castellan/ca/v1/ReportTrustBundleResponse.js';
import type { SignJwtSvidRequest as _castellan_ca_v1_SignJwtSvidRequest, SignJwtSvidRequest__Output as _castellan_ca_v1_SignJwtSvidRequest__Output } from '../../../castellan/ca/v1/SignJwtSvidRequest.js';
import type { SignJwtSvidResponse as _castellan_ca_v1_SignJwtSvidResponse, SignJwtSvidResponse__Output as _castellan_ca_v1_SignJwtSvidResponse__Output } from '../../../castellan/ca/v1/SignJwtSvidResponse.js';
import type { SignRequest as _castellan_ca_v1_SignRequest, SignRequest__Output as _castellan_ca_v1_SignRequest__Output } from '../../../castellan/ca/v1/SignRequest.js';
import type { SignResponse as _castellan_ca_v1_SignResponse, SignResponse__Output as _castellan_ca_v1_SignResponse__Output } from '../../../castellan/ca/v1/SignResponse.js';
import type { TrustBundle as _castellan_ca_v1_TrustBundle, TrustBundle__Output as _castellan_ca_v1_TrustBundle__Output } from '../../../castellan/ca/v1/TrustBundle.js';
import type { WatchTrustBundleRequest as _castellan_ca_v1_WatchTrustBundleRequest, WatchTrustBundleRequest__Output as _castellan_ca_v1_WatchTrustBundleRequest__Output } from '../../../castellan/ca/v1/WatchTrustBundleRequest.js';

export interface CertificateAuthorityClient extends grpc.Client {
  /**
   * Authenticates and authorizes the caller's credentials as Sign would, and answers the identity they
   * stand for, without signing or recording anything. A node agent proves a pod's token with it, and
   * asks again before it serves that identity to another stream on the strength of the token, so a
   * token the CA now refuses (a deleted pod's, with pod binding) stops working on the node too.
   */
  Authenticate(argument: _castellan_ca_v1_AuthenticateRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_castellan_ca_v1_AuthenticateResponse__Output>): grpc.ClientUnaryCall;
  Authenticate(argument: _castellan_ca_v1_AuthenticateRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_castellan_ca_v1_AuthenticateResponse__Output>): grpc.ClientUnaryCall;
  Authenticate(argument: _castellan_ca_v1_AuthenticateRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_castellan_ca_v1_AuthenticateResponse__Output>): grpc.ClientUnaryCall;
  Authenticate(argument: _castellan_ca_v1_AuthenticateRequest, callback: grpc.requestCallback<_castellan_ca_v1_AuthenticateResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Authenticates and authorizes the caller's credentials as Sign would, and answers the identity they
   * stand for, without signing or recording anything. A node agent proves a pod's token with it, and
   * asks again before it serves that identity to another stream on the strength of the token, so a
   * token the CA now refuses (a deleted pod's, with pod binding) stops working on the node too.
   */
  authenticate(argument: _castellan_ca_v1_AuthenticateRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_castellan_ca_v1_AuthenticateResponse__Output>): grpc.ClientUnaryCall;
  authenticate(argument: _castellan_ca_v1_AuthenticateRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_castellan_ca_v1_AuthenticateResponse__Output>): grpc.ClientUnaryCall;
  authenticate(argument: _castellan_ca_v1_AuthenticateRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_castellan_ca_v1_AuthenticateResponse__Output>): grpc.ClientUnaryCall;
  authenticate(argument: _castellan_ca_v1_AuthenticateRequest, callback: grpc.requestCallback<_castellan_ca_v1_AuthenticateResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * The CA's authorities and bundle sequence.
   */
  GetAuthorityStatus(argument: _castellan_ca_v1_GetAuthorityStatusRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_castellan_ca_v1_AuthorityStatus__Output>): grpc.ClientUnaryCall;
  GetAuthorityStatus(argument: _castellan_ca_v1_GetAuthorityStatusRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_castellan_ca_v1_AuthorityStatus__Output>): grpc.ClientUnaryCall;
  GetAuthorityStatus(argument: _castellan_ca_v1_GetAuthorityStatusRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_castellan_ca_v1_AuthorityStatus__Output>): grpc.ClientUnaryCall;
  GetAuthorityStatus(argument: _castellan_ca_v1_GetAuthorityStatusRequest, callback: grpc.requestCallback<_castellan_ca_v1_AuthorityStatus__Output>): grpc.ClientUnaryCall;
  /**
   * The CA's authorities and bundle sequence.
   */
  getAuthorityStatus(argument: _castellan_ca_v1_GetAuthorityStatusRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_castellan_ca_v1_AuthorityStatus__Output>): grpc.ClientUnaryCall;
  getAuthorityStatus(argument: _castellan_ca_v1_GetAuthorityStatusRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_castellan_ca_v1_AuthorityStatus__Output>): grpc.ClientUnaryCall;
  getAuthorityStatus(argument: _castellan_ca_v1_GetAuthorityStatusRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_castellan_ca_v1_AuthorityStatus__Output>): grpc.ClientUnaryCall;
  getAuthorityStatus(argument: _castellan_ca_v1_GetAuthorityStatusRequest, callback: grpc.requestCallback<_castellan_ca_v1_AuthorityStatus__Output>): grpc.ClientUnaryCall;
  
  /**
   * An agent reports the trust-bundle sequence it now serves to its workloads (after pushing ROOTCA),
   * so that root activation can wait until every live agent trusts the new root (docs/architecture.md §6).
   */
  ReportTrustBundle(argument: _castellan_ca_v1_ReportTrustBundleRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_castellan_ca_v1_ReportTrustBundleResponse__Output>): grpc.ClientUnaryCall;
  ReportTrustBundle(argument: _castellan_ca_v1_ReportTrustBundleRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_castellan_ca_v1_ReportTrustBundleResponse__Output>): grpc.ClientUnaryCall;
  ReportTrustBundle(argument: _castellan_ca_v1_ReportTrustBundleRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_castellan_ca_v1_ReportTrustBundleResponse__Output>): grpc.ClientUnaryCall;
  ReportTrustBundle(argument: _castellan_ca_v1_ReportTrustBundleRequest, callback: grpc.requestCallback<_castellan_ca_v1_ReportTrustBundleResponse__Output>): grpc.ClientUnaryCall;
  /**
   * An agent reports the trust-bundle sequence it now serves to its workloads (after pushing ROOTCA),
   * so that root activation can wait until every live agent trusts the new root (docs/architecture.md §6).
   */
  reportTrustBundle(argument: _castellan_ca_v1_ReportTrustBundleRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_castellan_ca_v1_ReportTrustBundleResponse__Output>): grpc.ClientUnaryCall;
  reportTrustBundle(argument: _castellan_ca_v1_ReportTrustBundleRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_castellan_ca_v1_ReportTrustBundleResponse__Output>): grpc.ClientUnaryCall;
  reportTrustBundle(argument: _castellan_ca_v1_ReportTrustBundleRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_castellan_ca_v1_ReportTrustBundleResponse__Output>): grpc.ClientUnaryCall;
  reportTrustBundle(argument: _castellan_ca_v1_ReportTrustBundleRequest, callback: grpc.requestCallback<_castellan_ca_v1_ReportTrustBundleResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Signs a CSR for the caller's identity (from its token or client certificate).
   */
  Sign(argument: _castellan_ca_v1_SignRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_castellan_ca_v1_SignResponse__Output>): grpc.ClientUnaryCall;
  Sign(argument: _castellan_ca_v1_SignRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_castellan_ca_v1_SignResponse__Output>): grpc.ClientUnaryCall;
  Sign(argument: _castellan_ca_v1_SignRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_castellan_ca_v1_SignResponse__Output>): grpc.ClientUnaryCall;
  Sign(argument: _castellan_ca_v1_SignRequest, callback: grpc.requestCallback<_castellan_ca_v1_SignResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Signs a CSR for the caller's identity (from its token or client certificate).
   */
  sign(argument: _castellan_ca_v1_SignRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_castellan_ca_v1_SignResponse__Output>): grpc.ClientUnaryCall;
  sign(argument: _castellan_ca_v1_SignRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_castellan_ca_v1_SignResponse__Output>): grpc.ClientUnaryCall;
  sign(argument: _castellan_ca_v1_SignRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_castellan_ca_v1_SignResponse__Output>): grpc.ClientUnaryCall;
  sign(argument: _castellan_ca_v1_SignRequest, callback: grpc.requestCallback<_castellan_ca_v1_SignResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Signs a JWT-SVID (SPIFFE JWT-SVID spec) whose `sub` is the caller's own identity, proved by its
   * credentials as for Sign (never taken from the request). Recorded in the ledger (api `jwt-svid`).
   * No audience, too many or too long: INVALID_ARGUMENT; a CA without a JWT key: FAILED_PRECONDITION.
   */
  SignJwtSvid(argument: _castellan_ca_v1_SignJwtSvidRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_castellan_ca_v1_SignJwtSvidResponse__Output>): grpc.ClientUnaryCall;
  SignJwtSvid(argument: _castellan_ca_v1_SignJwtSvidRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_castellan_ca_v1_SignJwtSvidResponse__Output>): grpc.ClientUnaryCall;
  SignJwtSvid(argument: _castellan_ca_v1_SignJwtSvidRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_castellan_ca_v1_SignJwtSvidResponse__Output>): grpc.ClientUnaryCall;
  SignJwtSvid(argument: _castellan_ca_v1_SignJwtSvidRequest, callback: grpc.requestCallback<_castellan_ca_v1_SignJwtSvidResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Signs a JWT-SVID (SPIFFE JWT-SVID spec) whose `sub` is the caller's own identity, proved by its
   * credentials as for Sign (never taken from the request). Recorded in the ledger (api `jwt-svid`).
   * No audience, too many or too long: INVALID_ARGUMENT; a CA without a JWT key: FAILED_PRECONDITION.
   */
  signJwtSvid(argument: _castellan_ca_v1_SignJwtSvidRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_castellan_ca_v1_SignJwtSvidResponse__Output>): grpc.ClientUnaryCall;
  signJwtSvid(argument: _castellan_ca_v1_SignJwtSvidRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_castellan_ca_v1_SignJwtSvidResponse__Output>): grpc.ClientUnaryCall;
  signJwtSvid(argument: _castellan_ca_v1_SignJwtSvidRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_castellan_ca_v1_SignJwtSvidResponse__Output>): grpc.ClientUnaryCall;
  signJwtSvid(argument: _castellan_ca_v1_SignJwtSvidRequest, callback: grpc.requestCallback<_castellan_ca_v1_SignJwtSvidResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * The trust bundle now, then every change, each with a strictly increasing sequence number.
   */
  WatchTrustBundle(argument: _castellan_ca_v1_WatchTrustBundleRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_castellan_ca_v1_TrustBundle__Output>;
  WatchTrustBundle(argument: _castellan_ca_v1_WatchTrustBundleRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_castellan_ca_v1_TrustBundle__Output>;
  /**
   * The trust bundle now, then every change, each with a strictly increasing sequence number.
   */
  watchTrustBundle(argument: _castellan_ca_v1_WatchTrustBundleRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_castellan_ca_v1_TrustBundle__Output>;
  watchTrustBundle(argument: _castellan_ca_v1_WatchTrustBundleRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_castellan_ca_v1_TrustBundle__Output>;
  
}

export interface CertificateAuthorityHandlers extends grpc.UntypedServiceImplementation {
  /**
   * Authenticates and authorizes the caller's credentials as Sign would, and answers the identity they
   * stand for, without signing or recording anything. A node agent proves a pod's token with it, and
   * asks again before it serves that identity to another stream on the strength of the token, so a
   * token the CA now refuses (a deleted pod's, with pod binding) stops working on the node too.
   */
  Authenticate: grpc.handleUnaryCall<_castellan_ca_v1_AuthenticateRequest__Output, _castellan_ca_v1_AuthenticateResponse>;
  
  /**
   * The CA's authorities and bundle sequence.
   */
  GetAuthorityStatus: grpc.handleUnaryCall<_castellan_ca_v1_GetAuthorityStatusRequest__Output, _castellan_ca_v1_AuthorityStatus>;
  
  /**
   * An agent reports the trust-bundle sequence it now serves to its workloads (after pushing ROOTCA),
   * so that root activation can wait until every live agent trusts the new root (docs/architecture.md §6).
   */
  ReportTrustBundle: grpc.handleUnaryCall<_castellan_ca_v1_ReportTrustBundleRequest__Output, _castellan_ca_v1_ReportTrustBundleResponse>;
  
  /**
   * Signs a CSR for the caller's identity (from its token or client certificate).
   */
  Sign: grpc.handleUnaryCall<_castellan_ca_v1_SignRequest__Output, _castellan_ca_v1_SignResponse>;
  
  /**
   * Signs a JWT-SVID (SPIFFE JWT-SVID spec) whose `sub` is the caller's own identity, proved by its
   * credentials as for Sign (never taken from the request). Recorded in the ledger (api `jwt-svid`).
   * No audience, too many or too long: INVALID_ARGUMENT; a CA without a JWT key: FAILED_PRECONDITION.
   */
  SignJwtSvid: grpc.handleUnaryCall<_castellan_ca_v1_SignJwtSvidRequest__Output, _castellan_ca_v1_SignJwtSvidResponse>;
  
  /**
   * The trust bundle now, then every change, each with a strictly increasing sequence number.
   */
  WatchTrustBundle: grpc.handleServerStreamingCall<_castellan_ca_v1_WatchTrustBundleRequest__Output, _castellan_ca_v1_TrustBundle>;
  
}

export interface CertificateAuthorityDefinition extends grpc.ServiceDefinition {
  Authenticate: MethodDefinition<_castellan_ca_v1_AuthenticateRequest, _castellan_ca_v1_AuthenticateResponse, _castellan_ca_v1_AuthenticateRequest__Output, _castellan_ca_v1_AuthenticateResponse__Output>
  GetAuthorityStatus: MethodDefinition<_castellan_ca_v1_GetAuthorityStatusRequest, _castellan_ca_v1_AuthorityStatus, _castellan_ca_v1_GetAuthorityStatusRequest__Output, _castellan_ca_v1_AuthorityStatus__Output>
  ReportTrustBundle: MethodDefinition<_castellan_ca_v1_ReportTrustBundleRequest, _castellan_ca_v1_ReportTrustBundleResponse, _castellan_ca_v1_ReportTrustBundleRequest__Output, _castellan_ca_v1_ReportTrustBundleResponse__Output>
  Sign: MethodDefinition<_castellan_ca_v1_SignRequest, _castellan_ca_v1_SignResponse, _castellan_ca_v1_SignRequest__Output, _castellan_ca_v1_SignResponse__Output>
  SignJwtSvid: MethodDefinition<_castellan_ca_v1_SignJwtSvidRequest, _castellan_ca_v1_SignJwtSvidResponse, _castellan_ca_v1_SignJwtSvidRequest__Output, _castellan_ca_v1_SignJwtSvidResponse__Output>
  WatchTrustBundle: MethodDefinition<_castellan_ca_v1_WatchTrustBundleRequest, _castellan_ca_v1_TrustBundle, _castellan_ca_v1_WatchTrustBundleRequest__Output, _castellan_ca_v1_TrustBundle__Output>
}
