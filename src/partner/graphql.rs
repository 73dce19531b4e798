//! The partner part of the schema: partners, their manifests, and registering and activating
//! manifest versions. Everything here is for admins holding `KeysManage`.

use std::sync::Arc;

use async_graphql::{Context, Enum, ID, Json, Object, Result};
use chrono::{DateTime, Utc};
use entity::{partner, partner_manifest, partner_operation};

use super::manifest::{self, OperationCheck, OperationKind};
use super::service::{self, Actor};
use crate::db::Db;
use crate::graphql::ids::{GlobalId, NodeType};
use crate::graphql::state::State;
use crate::identity::guards::{Require, client, viewer};
use crate::identity::keys;
use crate::identity::types::ApiKey;
use crate::identity::viewer::Permission;

/// Most operations listed at once.
const MAX_OPERATIONS_LISTED: u64 = 1_000;

/// A partner: the holder of API keys and of the manifest of operations they may run.
pub struct Partner(pub partner::Model);

#[Object]
impl Partner {
    /// The partner's opaque global ID.
    async fn id(&self) -> ID {
        GlobalId::encode(NodeType::Partner, self.0.id)
    }

    /// Unique handle, such as `feedly`; mutations name the partner by it.
    async fn slug(&self) -> &str {
        &self.0.slug
    }

    /// Display name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// When it was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// The manifest version its keys run; null runs nothing.
    async fn active_manifest(&self, ctx: &Context<'_>) -> Result<Option<PartnerManifest>> {
        let Some(id) = self.0.active_manifest_id else { return Ok(None) };
        let manifest = service::manifest(ctx.state::<Db>()?, id).await?;
        Ok(manifest.map(|m| PartnerManifest { active: true, row: m }))
    }

    /// Its manifest versions, newest first (at most 100).
    async fn manifests(&self, ctx: &Context<'_>) -> Result<Vec<PartnerManifest>> {
        let manifests = service::manifests(ctx.state::<Db>()?, self.0.id).await?;
        let active = self.0.active_manifest_id;
        Ok(manifests.into_iter().map(|m| PartnerManifest { active: Some(m.id) == active, row: m }).collect())
    }

    /// Its live API keys, newest first (at most 200).
    async fn keys(&self, ctx: &Context<'_>) -> Result<Vec<ApiKey>> {
        Ok(keys::of_partner(ctx.state::<Db>()?, self.0.id).await?.into_iter().map(ApiKey).collect())
    }
}

/// One version of a partner's operation manifest. A version never changes; a new one replaces
/// it.
pub struct PartnerManifest {
    row: partner_manifest::Model,
    active: bool,
}

#[Object]
impl PartnerManifest {
    /// 1, 2, … per partner.
    async fn version(&self) -> i32 {
        self.row.version
    }

    /// Whether the partner's keys run this version.
    async fn active(&self) -> bool {
        self.active
    }

    /// How many operations it holds.
    async fn operation_count(&self) -> i32 {
        self.row.operations
    }

    /// When it was registered.
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }

    /// Its operations, by name.
    async fn operations(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many, at most 1000.", default = 100)] first: u64,
    ) -> Result<Vec<ManifestOperation>> {
        let first = first.min(MAX_OPERATIONS_LISTED);
        let operations = service::operations(ctx.state::<Db>()?, self.row.id, first).await?;
        Ok(operations.into_iter().map(ManifestOperation).collect())
    }
}

/// The kind of a manifest operation.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum ManifestOperationType {
    /// A query.
    Query,
    /// A mutation.
    Mutation,
    /// A subscription.
    Subscription,
}

/// An operation of a manifest: a partner runs it by its id (`documentId: "sha256:<id>"`, or
/// `extensions.persistedQuery.sha256Hash`).
pub struct ManifestOperation(partner_operation::Model);

#[Object]
impl ManifestOperation {
    /// SHA-256 of the body, lowercase hexadecimal.
    async fn id(&self) -> &str {
        &self.0.id
    }

    /// The operation's name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Its kind.
    #[graphql(name = "type")]
    async fn kind(&self) -> ManifestOperationType {
        match self.0.kind.parse() {
            Ok(OperationKind::Mutation) => ManifestOperationType::Mutation,
            Ok(OperationKind::Subscription) => ManifestOperationType::Subscription,
            _ => ManifestOperationType::Query,
        }
    }

    /// The document.
    async fn body(&self) -> &str {
        &self.0.body
    }
}

/// Partner queries.
#[derive(Default)]
pub struct PartnerQuery;

#[Object]
impl PartnerQuery {
    /// Partners, by slug (at most 200).
    #[graphql(guard = "Require::new(Permission::KeysManage)")]
    async fn partners(&self, ctx: &Context<'_>) -> Result<Vec<Partner>> {
        Ok(service::list(ctx.state::<Db>()?).await?.into_iter().map(Partner).collect())
    }

    /// A partner, by slug.
    #[graphql(guard = "Require::new(Permission::KeysManage)")]
    async fn partner(&self, ctx: &Context<'_>, slug: String) -> Result<Partner> {
        Ok(Partner(service::by_slug(ctx.state::<Db>()?, &slug).await?))
    }
}

/// Partner mutations.
#[derive(Default)]
pub struct PartnerMutation;

#[Object]
impl PartnerMutation {
    /// Creates a partner; then issue it keys (`issueApiKey`) and register its manifest.
    #[graphql(guard = "Require::new(Permission::KeysManage)")]
    async fn create_partner(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "1 to 64 of a-z, 0-9 and `-`.")] slug: String,
        name: String,
    ) -> Result<Partner> {
        let client = client(ctx);
        let actor = Actor { id: Some(viewer(ctx).actor()?), client: &client };
        Ok(Partner(service::create(ctx.state::<Db>()?, &actor, &slug, &name).await?))
    }

    /// Registers an operation manifest (Apollo's `apollo-persisted-query-manifest` format, version
    /// 1) as the partner's next version. Every operation's id must be the SHA-256 of its body, the
    /// body valid against the schema, and its root fields reached by the scopes of the partner's
    /// live keys; the first one that is not refuses the whole manifest, naming it. Larger
    /// manifests than a request holds: `aeternum partner manifest import`.
    #[graphql(guard = "Require::new(Permission::KeysManage)")]
    async fn register_partner_manifest(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The partner's slug.")] partner: String,
        manifest: Json<serde_json::Value>,
        #[graphql(desc = "Make it the version the partner's keys run.", default = true)] activate: bool,
    ) -> Result<PartnerManifest> {
        let db = ctx.state::<Db>()?;
        let check = ctx.state::<Arc<dyn OperationCheck>>()?;
        let client = client(ctx);
        let actor = Actor { id: Some(viewer(ctx).actor()?), client: &client };
        let partner = service::by_slug(db, &partner).await?;
        let manifest = manifest::read(manifest.0)?;
        let row = service::register(db, check.as_ref(), &actor, &partner, manifest, activate).await?;
        Ok(PartnerManifest { row, active: activate })
    }

    /// Makes a registered version the one the partner's keys run (a newer one, or an older one to
    /// roll back). Takes effect with each key's next request.
    #[graphql(guard = "Require::new(Permission::KeysManage)")]
    async fn activate_partner_manifest(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The partner's slug.")] partner: String,
        version: i32,
    ) -> Result<Partner> {
        let db = ctx.state::<Db>()?;
        let client = client(ctx);
        let actor = Actor { id: Some(viewer(ctx).actor()?), client: &client };
        let partner = service::by_slug(db, &partner).await?;
        Ok(Partner(service::activate(db, &actor, &partner, version).await?))
    }
}
