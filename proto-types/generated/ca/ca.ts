import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { ActivateRootRequest as _castellan_ca_v1_ActivateRootRequest, ActivateRootRequest__Output as _castellan_ca_v1_ActivateRootRequest__Output } from './castellan/ca/v1/ActivateRootRequest.js';
import type { AgentReport as _castellan_ca_v1_AgentReport, AgentReport__Output as _castellan_ca_v1_AgentReport__Output } from './castellan/ca/v1/AgentReport.js';
import type { AgentsStatus as _castellan_ca_v1_AgentsStatus, AgentsStatus__Output as _castellan_ca_v1_AgentsStatus__Output } from './castellan/ca/v1/AgentsStatus.js';
import type { AuthenticateRequest as _castellan_ca_v1_AuthenticateRequest, AuthenticateRequest__Output as _castellan_ca_v1_AuthenticateRequest__Output } from './castellan/ca/v1/AuthenticateRequest.js';
import type { AuthenticateResponse as _castellan_ca_v1_AuthenticateResponse, AuthenticateResponse__Output as _castellan_ca_v1_AuthenticateResponse__Output } from './castellan/ca/v1/AuthenticateResponse.js';
import type { Authority as _castellan_ca_v1_Authority, Authority__Output as _castellan_ca_v1_Authority__Output } from './castellan/ca/v1/Authority.js';
import type { AuthoritySlot as _castellan_ca_v1_AuthoritySlot, AuthoritySlot__Output as _castellan_ca_v1_AuthoritySlot__Output } from './castellan/ca/v1/AuthoritySlot.js';
import type { AuthorityStatus as _castellan_ca_v1_AuthorityStatus, AuthorityStatus__Output as _castellan_ca_v1_AuthorityStatus__Output } from './castellan/ca/v1/AuthorityStatus.js';
import type { CaHealth as _castellan_ca_v1_CaHealth, CaHealth__Output as _castellan_ca_v1_CaHealth__Output } from './castellan/ca/v1/CaHealth.js';
import type { CertificateAuthorityClient as _castellan_ca_v1_CertificateAuthorityClient, CertificateAuthorityDefinition as _castellan_ca_v1_CertificateAuthorityDefinition } from './castellan/ca/v1/CertificateAuthority.js';
import type { CertificateSummary as _castellan_ca_v1_CertificateSummary, CertificateSummary__Output as _castellan_ca_v1_CertificateSummary__Output } from './castellan/ca/v1/CertificateSummary.js';
import type { FederatedBundle as _castellan_ca_v1_FederatedBundle, FederatedBundle__Output as _castellan_ca_v1_FederatedBundle__Output } from './castellan/ca/v1/FederatedBundle.js';
import type { GetAuthorityStatusRequest as _castellan_ca_v1_GetAuthorityStatusRequest, GetAuthorityStatusRequest__Output as _castellan_ca_v1_GetAuthorityStatusRequest__Output } from './castellan/ca/v1/GetAuthorityStatusRequest.js';
import type { GetHealthRequest as _castellan_ca_v1_GetHealthRequest, GetHealthRequest__Output as _castellan_ca_v1_GetHealthRequest__Output } from './castellan/ca/v1/GetHealthRequest.js';
import type { GetHealthResponse as _castellan_ca_v1_GetHealthResponse, GetHealthResponse__Output as _castellan_ca_v1_GetHealthResponse__Output } from './castellan/ca/v1/GetHealthResponse.js';
import type { GetRootStatusRequest as _castellan_ca_v1_GetRootStatusRequest, GetRootStatusRequest__Output as _castellan_ca_v1_GetRootStatusRequest__Output } from './castellan/ca/v1/GetRootStatusRequest.js';
import type { JwtAuthority as _castellan_ca_v1_JwtAuthority, JwtAuthority__Output as _castellan_ca_v1_JwtAuthority__Output } from './castellan/ca/v1/JwtAuthority.js';
import type { LedgerAnchors as _castellan_ca_v1_LedgerAnchors, LedgerAnchors__Output as _castellan_ca_v1_LedgerAnchors__Output } from './castellan/ca/v1/LedgerAnchors.js';
import type { LedgerState as _castellan_ca_v1_LedgerState, LedgerState__Output as _castellan_ca_v1_LedgerState__Output } from './castellan/ca/v1/LedgerState.js';
import type { PrepareRootRequest as _castellan_ca_v1_PrepareRootRequest, PrepareRootRequest__Output as _castellan_ca_v1_PrepareRootRequest__Output } from './castellan/ca/v1/PrepareRootRequest.js';
import type { ReplicaReport as _castellan_ca_v1_ReplicaReport, ReplicaReport__Output as _castellan_ca_v1_ReplicaReport__Output } from './castellan/ca/v1/ReplicaReport.js';
import type { ReportTrustBundleRequest as _castellan_ca_v1_ReportTrustBundleRequest, ReportTrustBundleRequest__Output as _castellan_ca_v1_ReportTrustBundleRequest__Output } from './castellan/ca/v1/ReportTrustBundleRequest.js';
import type { ReportTrustBundleResponse as _castellan_ca_v1_ReportTrustBundleResponse, ReportTrustBundleResponse__Output as _castellan_ca_v1_ReportTrustBundleResponse__Output } from './castellan/ca/v1/ReportTrustBundleResponse.js';
import type { RetireRootRequest as _castellan_ca_v1_RetireRootRequest, RetireRootRequest__Output as _castellan_ca_v1_RetireRootRequest__Output } from './castellan/ca/v1/RetireRootRequest.js';
import type { RootAdminClient as _castellan_ca_v1_RootAdminClient, RootAdminDefinition as _castellan_ca_v1_RootAdminDefinition } from './castellan/ca/v1/RootAdmin.js';
import type { RootStatus as _castellan_ca_v1_RootStatus, RootStatus__Output as _castellan_ca_v1_RootStatus__Output } from './castellan/ca/v1/RootStatus.js';
import type { RootStepResponse as _castellan_ca_v1_RootStepResponse, RootStepResponse__Output as _castellan_ca_v1_RootStepResponse__Output } from './castellan/ca/v1/RootStepResponse.js';
import type { RotateIntermediateRequest as _castellan_ca_v1_RotateIntermediateRequest, RotateIntermediateRequest__Output as _castellan_ca_v1_RotateIntermediateRequest__Output } from './castellan/ca/v1/RotateIntermediateRequest.js';
import type { ServerInfo as _castellan_ca_v1_ServerInfo, ServerInfo__Output as _castellan_ca_v1_ServerInfo__Output } from './castellan/ca/v1/ServerInfo.js';
import type { SignJwtSvidRequest as _castellan_ca_v1_SignJwtSvidRequest, SignJwtSvidRequest__Output as _castellan_ca_v1_SignJwtSvidRequest__Output } from './castellan/ca/v1/SignJwtSvidRequest.js';
import type { SignJwtSvidResponse as _castellan_ca_v1_SignJwtSvidResponse, SignJwtSvidResponse__Output as _castellan_ca_v1_SignJwtSvidResponse__Output } from './castellan/ca/v1/SignJwtSvidResponse.js';
import type { SignRequest as _castellan_ca_v1_SignRequest, SignRequest__Output as _castellan_ca_v1_SignRequest__Output } from './castellan/ca/v1/SignRequest.js';
import type { SignResponse as _castellan_ca_v1_SignResponse, SignResponse__Output as _castellan_ca_v1_SignResponse__Output } from './castellan/ca/v1/SignResponse.js';
import type { TrustBundle as _castellan_ca_v1_TrustBundle, TrustBundle__Output as _castellan_ca_v1_TrustBundle__Output } from './castellan/ca/v1/TrustBundle.js';
import type { WatchTrustBundleRequest as _castellan_ca_v1_WatchTrustBundleRequest, WatchTrustBundleRequest__Output as _castellan_ca_v1_WatchTrustBundleRequest__Output } from './castellan/ca/v1/WatchTrustBundleRequest.js';
import type { ListValue as _google_protobuf_ListValue, ListValue__Output as _google_protobuf_ListValue__Output } from './google/protobuf/ListValue.js';
import type { Struct as _google_protobuf_Struct, Struct__Output as _google_protobuf_Struct__Output } from './google/protobuf/Struct.js';
import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from './google/protobuf/Timestamp.js';
import type { Value as _google_protobuf_Value, Value__Output as _google_protobuf_Value__Output } from './google/protobuf/Value.js';
import type { IstioCertificateRequest as _istio_v1_auth_IstioCertificateRequest, IstioCertificateRequest__Output as _istio_v1_auth_IstioCertificateRequest__Output } from './istio/v1/auth/IstioCertificateRequest.js';
import type { IstioCertificateResponse as _istio_v1_auth_IstioCertificateResponse, IstioCertificateResponse__Output as _istio_v1_auth_IstioCertificateResponse__Output } from './istio/v1/auth/IstioCertificateResponse.js';
import type { IstioCertificateServiceClient as _istio_v1_auth_IstioCertificateServiceClient, IstioCertificateServiceDefinition as _istio_v1_auth_IstioCertificateServiceDefinition } from './istio/v1/auth/IstioCertificateService.js';
import type { Roots as _istio_v1_auth_Roots, Roots__Output as _istio_v1_auth_Roots__Output } from './istio/v1/auth/Roots.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  castellan: {
    ca: {
      v1: {
        ActivateRootRequest: MessageTypeDefinition<_castellan_ca_v1_ActivateRootRequest, _castellan_ca_v1_ActivateRootRequest__Output>
        AgentReport: MessageTypeDefinition<_castellan_ca_v1_AgentReport, _castellan_ca_v1_AgentReport__Output>
        AgentsStatus: MessageTypeDefinition<_castellan_ca_v1_AgentsStatus, _castellan_ca_v1_AgentsStatus__Output>
        AuthenticateRequest: MessageTypeDefinition<_castellan_ca_v1_AuthenticateRequest, _castellan_ca_v1_AuthenticateRequest__Output>
        AuthenticateResponse: MessageTypeDefinition<_castellan_ca_v1_AuthenticateResponse, _castellan_ca_v1_AuthenticateResponse__Output>
        Authority: MessageTypeDefinition<_castellan_ca_v1_Authority, _castellan_ca_v1_Authority__Output>
        AuthoritySlot: MessageTypeDefinition<_castellan_ca_v1_AuthoritySlot, _castellan_ca_v1_AuthoritySlot__Output>
        AuthorityStatus: MessageTypeDefinition<_castellan_ca_v1_AuthorityStatus, _castellan_ca_v1_AuthorityStatus__Output>
        CaHealth: MessageTypeDefinition<_castellan_ca_v1_CaHealth, _castellan_ca_v1_CaHealth__Output>
        CertificateAuthority: SubtypeConstructor<typeof grpc.Client, _castellan_ca_v1_CertificateAuthorityClient> & { service: _castellan_ca_v1_CertificateAuthorityDefinition }
        CertificateSummary: MessageTypeDefinition<_castellan_ca_v1_CertificateSummary, _castellan_ca_v1_CertificateSummary__Output>
        FederatedBundle: MessageTypeDefinition<_castellan_ca_v1_FederatedBundle, _castellan_ca_v1_FederatedBundle__Output>
        GetAuthorityStatusRequest: MessageTypeDefinition<_castellan_ca_v1_GetAuthorityStatusRequest, _castellan_ca_v1_GetAuthorityStatusRequest__Output>
        GetHealthRequest: MessageTypeDefinition<_castellan_ca_v1_GetHealthRequest, _castellan_ca_v1_GetHealthRequest__Output>
        GetHealthResponse: MessageTypeDefinition<_castellan_ca_v1_GetHealthResponse, _castellan_ca_v1_GetHealthResponse__Output>
        GetRootStatusRequest: MessageTypeDefinition<_castellan_ca_v1_GetRootStatusRequest, _castellan_ca_v1_GetRootStatusRequest__Output>
        JwtAuthority: MessageTypeDefinition<_castellan_ca_v1_JwtAuthority, _castellan_ca_v1_JwtAuthority__Output>
        LedgerAnchors: MessageTypeDefinition<_castellan_ca_v1_LedgerAnchors, _castellan_ca_v1_LedgerAnchors__Output>
        LedgerState: MessageTypeDefinition<_castellan_ca_v1_LedgerState, _castellan_ca_v1_LedgerState__Output>
        PrepareRootRequest: MessageTypeDefinition<_castellan_ca_v1_PrepareRootRequest, _castellan_ca_v1_PrepareRootRequest__Output>
        ReplicaReport: MessageTypeDefinition<_castellan_ca_v1_ReplicaReport, _castellan_ca_v1_ReplicaReport__Output>
        ReportTrustBundleRequest: MessageTypeDefinition<_castellan_ca_v1_ReportTrustBundleRequest, _castellan_ca_v1_ReportTrustBundleRequest__Output>
        ReportTrustBundleResponse: MessageTypeDefinition<_castellan_ca_v1_ReportTrustBundleResponse, _castellan_ca_v1_ReportTrustBundleResponse__Output>
        RetireRootRequest: MessageTypeDefinition<_castellan_ca_v1_RetireRootRequest, _castellan_ca_v1_RetireRootRequest__Output>
        /**
         * Root rotation by an operator against a running CA (`castellan root ... --server`). Callers must
         * authenticate (bearer token or client certificate) as one of the CA's admin.identities.
         */
        RootAdmin: SubtypeConstructor<typeof grpc.Client, _castellan_ca_v1_RootAdminClient> & { service: _castellan_ca_v1_RootAdminDefinition }
        RootStatus: MessageTypeDefinition<_castellan_ca_v1_RootStatus, _castellan_ca_v1_RootStatus__Output>
        RootStepResponse: MessageTypeDefinition<_castellan_ca_v1_RootStepResponse, _castellan_ca_v1_RootStepResponse__Output>
        RotateIntermediateRequest: MessageTypeDefinition<_castellan_ca_v1_RotateIntermediateRequest, _castellan_ca_v1_RotateIntermediateRequest__Output>
        ServerInfo: MessageTypeDefinition<_castellan_ca_v1_ServerInfo, _castellan_ca_v1_ServerInfo__Output>
        SignJwtSvidRequest: MessageTypeDefinition<_castellan_ca_v1_SignJwtSvidRequest, _castellan_ca_v1_SignJwtSvidRequest__Output>
        SignJwtSvidResponse: MessageTypeDefinition<_castellan_ca_v1_SignJwtSvidResponse, _castellan_ca_v1_SignJwtSvidResponse__Output>
        SignRequest: MessageTypeDefinition<_castellan_ca_v1_SignRequest, _castellan_ca_v1_SignRequest__Output>
        SignResponse: MessageTypeDefinition<_castellan_ca_v1_SignResponse, _castellan_ca_v1_SignResponse__Output>
        TrustBundle: MessageTypeDefinition<_castellan_ca_v1_TrustBundle, _castellan_ca_v1_TrustBundle__Output>
        WatchTrustBundleRequest: MessageTypeDefinition<_castellan_ca_v1_WatchTrustBundleRequest, _castellan_ca_v1_WatchTrustBundleRequest__Output>
      }
    }
  }
  google: {
    protobuf: {
      ListValue: MessageTypeDefinition<_google_protobuf_ListValue, _google_protobuf_ListValue__Output>
      NullValue: EnumTypeDefinition
      Struct: MessageTypeDefinition<_google_protobuf_Struct, _google_protobuf_Struct__Output>
      Timestamp: MessageTypeDefinition<_google_protobuf_Timestamp, _google_protobuf_Timestamp__Output>
      Value: MessageTypeDefinition<_google_protobuf_Value, _google_protobuf_Value__Output>
    }
  }
  istio: {
    v1: {
      auth: {
        IstioCertificateRequest: MessageTypeDefinition<_istio_v1_auth_IstioCertificateRequest, _istio_v1_auth_IstioCertificateRequest__Output>
        IstioCertificateResponse: MessageTypeDefinition<_istio_v1_auth_IstioCertificateResponse, _istio_v1_auth_IstioCertificateResponse__Output>
        IstioCertificateService: SubtypeConstructor<typeof grpc.Client, _istio_v1_auth_IstioCertificateServiceClient> & { service: _istio_v1_auth_IstioCertificateServiceDefinition }
        Roots: MessageTypeDefinition<_istio_v1_auth_Roots, _istio_v1_auth_Roots__Output>
      }
    }
  }
}

