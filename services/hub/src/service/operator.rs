//! `OperatorService`: managing members, agreements and profiles at run time, and delivery
//! statistics. Every method needs the operator role. Definitions are checked before anything is
//! stored; after a change the registry snapshot is rebuilt from the store.

use std::sync::Arc;

use originhub_core::agreement::AgreementDef;
use tonic::{Request, Response, Status};

use super::require;
use crate::error::ApiError;
use crate::hub::{Hub, now_micros};
use crate::identity::Role;
use crate::proto::operator_service_server::OperatorService;
use crate::proto::{
    Agreement, DeliveryStats, GetAgreementRequest, GetAgreementResponse, GetDeliveryStatsRequest,
    GetDeliveryStatsResponse, GetMemberRequest, GetMemberResponse, GetProfileRequest,
    GetProfileResponse, ListAgreementsRequest, ListAgreementsResponse, ListMembersRequest,
    ListMembersResponse, ListProfilesRequest, ListProfilesResponse, Member, Profile,
    PutAgreementRequest, PutAgreementResponse, PutMemberRequest, PutMemberResponse,
    PutProfileRequest, PutProfileResponse,
};
use crate::registry::{RegistryError, compile_profile, parse_member};
use crate::store::{ProfilePut, ProfileRow, Store};

/// The operator API over a hub.
#[derive(Debug)]
pub struct OperatorApi<S> {
    hub: Arc<Hub<S>>,
}

impl<S> OperatorApi<S> {
    /// The API over `hub`.
    pub fn new(hub: Arc<Hub<S>>) -> Self {
        Self { hub }
    }
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

#[tonic::async_trait]
impl<S: Store> OperatorService for OperatorApi<S> {
    async fn list_members(
        &self,
        request: Request<ListMembersRequest>,
    ) -> Result<Response<ListMembersResponse>, Status> {
        require(&self.hub, &request, Role::Operator, "ListMembers").await?;
        let registry = self.hub.registry();
        let members = registry
            .members
            .iter()
            .map(|(id, (_, toml))| Member {
                id: id.clone(),
                toml: toml.clone(),
            })
            .collect();
        Ok(Response::new(ListMembersResponse { members }))
    }

    async fn get_member(
        &self,
        request: Request<GetMemberRequest>,
    ) -> Result<Response<GetMemberResponse>, Status> {
        require(&self.hub, &request, Role::Operator, "GetMember").await?;
        let id = request.into_inner().id;
        let registry = self.hub.registry();
        let (_, toml) = registry
            .members
            .get(&id)
            .ok_or_else(|| ApiError::NotFound(format!("no member {id:?}")))?;
        Ok(Response::new(GetMemberResponse {
            member: Some(Member {
                id,
                toml: toml.clone(),
            }),
        }))
    }

    async fn put_member(
        &self,
        request: Request<PutMemberRequest>,
    ) -> Result<Response<PutMemberResponse>, Status> {
        require(&self.hub, &request, Role::Operator, "PutMember").await?;
        let toml = request.into_inner().toml;
        let (def, _) = parse_member(&toml, "member").map_err(ApiError::from)?;
        // Checked against the agreements before anything is stored: a refused change must
        // leave the database as it was (the hub rebuilds its registry from it at start).
        let _change = self.hub.registry_change().await;
        self.hub
            .registry()
            .check_member(&def)
            .map_err(ApiError::from)?;
        self.hub
            .store
            .put_member(&def.id, &toml, now_micros())
            .await
            .map_err(ApiError::from)?;
        self.hub.reload().await.map_err(ApiError::from)?;
        tracing::info!(member = %def.id, "member put");
        Ok(Response::new(PutMemberResponse {
            member: Some(Member { id: def.id, toml }),
        }))
    }

    async fn list_agreements(
        &self,
        request: Request<ListAgreementsRequest>,
    ) -> Result<Response<ListAgreementsResponse>, Status> {
        require(&self.hub, &request, Role::Operator, "ListAgreements").await?;
        let registry = self.hub.registry();
        let agreements = registry
            .agreements
            .iter()
            .map(|(id, (_, toml))| Agreement {
                id: id.clone(),
                toml: toml.clone(),
            })
            .collect();
        Ok(Response::new(ListAgreementsResponse { agreements }))
    }

    async fn get_agreement(
        &self,
        request: Request<GetAgreementRequest>,
    ) -> Result<Response<GetAgreementResponse>, Status> {
        require(&self.hub, &request, Role::Operator, "GetAgreement").await?;
        let id = request.into_inner().id;
        let registry = self.hub.registry();
        let (_, toml) = registry
            .agreements
            .get(&id)
            .ok_or_else(|| ApiError::NotFound(format!("no agreement {id:?}")))?;
        Ok(Response::new(GetAgreementResponse {
            agreement: Some(Agreement {
                id,
                toml: toml.clone(),
            }),
        }))
    }

    async fn put_agreement(
        &self,
        request: Request<PutAgreementRequest>,
    ) -> Result<Response<PutAgreementResponse>, Status> {
        require(&self.hub, &request, Role::Operator, "PutAgreement").await?;
        let toml = request.into_inner().toml;
        let def = AgreementDef::parse(&toml, "agreement").map_err(ApiError::from)?;
        let _change = self.hub.registry_change().await;
        self.hub
            .registry()
            .check_agreement(&def)
            .map_err(ApiError::from)?;
        self.hub
            .store
            .put_agreement(&def.id, &toml, now_micros())
            .await
            .map_err(ApiError::from)?;
        self.hub.reload().await.map_err(ApiError::from)?;
        tracing::info!(agreement = %def.id, "agreement put");
        Ok(Response::new(PutAgreementResponse {
            agreement: Some(Agreement { id: def.id, toml }),
        }))
    }

    async fn list_profiles(
        &self,
        request: Request<ListProfilesRequest>,
    ) -> Result<Response<ListProfilesResponse>, Status> {
        require(&self.hub, &request, Role::Operator, "ListProfiles").await?;
        let registry = self.hub.registry();
        let profiles = registry
            .profiles
            .iter()
            .map(|(id, entry)| Profile {
                id: id.clone(),
                version: entry.current.plan.version.clone(),
                toml: entry.current.source.clone(),
            })
            .collect();
        Ok(Response::new(ListProfilesResponse { profiles }))
    }

    async fn get_profile(
        &self,
        request: Request<GetProfileRequest>,
    ) -> Result<Response<GetProfileResponse>, Status> {
        require(&self.hub, &request, Role::Operator, "GetProfile").await?;
        let GetProfileRequest { id, version } = request.into_inner();
        let registry = self.hub.registry();
        let entry = registry
            .profiles
            .get(&id)
            .ok_or_else(|| ApiError::NotFound(format!("no profile {id:?}")))?;
        let wanted = if version.is_empty() {
            entry.current.plan.version.clone()
        } else {
            version
        };
        let (version, toml) = entry
            .versions
            .iter()
            .find(|(v, _)| *v == wanted)
            .cloned()
            .ok_or_else(|| {
                ApiError::NotFound(format!("profile {id:?} has no version {wanted:?}"))
            })?;
        Ok(Response::new(GetProfileResponse {
            profile: Some(Profile { id, version, toml }),
            versions: entry.versions.iter().map(|(v, _)| v.clone()).collect(),
        }))
    }

    async fn put_profile(
        &self,
        request: Request<PutProfileRequest>,
    ) -> Result<Response<PutProfileResponse>, Status> {
        require(&self.hub, &request, Role::Operator, "PutProfile").await?;
        let toml = request.into_inner().toml;
        let plan = compile_profile(&toml, "profile").map_err(ApiError::from)?;
        let _change = self.hub.registry_change().await;
        let row = ProfileRow {
            id: plan.id.clone(),
            version: plan.version.clone(),
            source: toml,
        };
        let put = self
            .hub
            .store
            .put_profile(&row, now_micros())
            .await
            .map_err(ApiError::from)?;
        if put == ProfilePut::Conflict {
            return Err(ApiError::from(RegistryError::VersionExists {
                id: row.id,
                version: row.version,
            })
            .into());
        }
        self.hub.reload().await.map_err(ApiError::from)?;
        tracing::info!(profile = %row.id, version = %row.version, ?put, "profile put");
        Ok(Response::new(PutProfileResponse {
            created: put == ProfilePut::Created,
            profile: Some(Profile {
                id: row.id,
                version: row.version,
                toml: row.source,
            }),
        }))
    }

    async fn get_delivery_stats(
        &self,
        request: Request<GetDeliveryStatsRequest>,
    ) -> Result<Response<GetDeliveryStatsResponse>, Status> {
        require(&self.hub, &request, Role::Operator, "GetDeliveryStats").await?;
        let rows = self.hub.store.stats().await.map_err(ApiError::from)?;
        Ok(Response::new(GetDeliveryStatsResponse {
            rows: rows
                .into_iter()
                .map(|r| DeliveryStats {
                    agreement: r.agreement,
                    receiver: r.receiver,
                    delivered: count(r.delivered),
                    acknowledged: count(r.acknowledged),
                    pending: count(r.delivered - r.acknowledged),
                })
                .collect(),
        }))
    }
}
