//! Partners, their manifests, and the operations a partner's keys may run.

use std::collections::BTreeSet;

use entity::{partner, partner_manifest, partner_operation};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait};
use serde_json::json;
use uuid::Uuid;

use super::manifest::{Manifest, OperationCheck};
use crate::db::{self, Db};
use crate::error::{AppError, AppResult, conflict_on_unique};
use crate::identity::audit::{self, Action};
use crate::identity::keys;
use crate::identity::viewer::{ClientInfo, Scope};
use crate::input::bounded_text;

/// Most partners listed.
pub const MAX_PARTNERS_LISTED: u64 = 200;
/// Most manifest versions listed.
pub const MAX_MANIFESTS_LISTED: u64 = 100;
/// Operations written per statement.
const OPERATIONS_PER_INSERT: usize = 100;

/// Who acts, and from where: an admin through the API, or the command line (no account).
pub struct Actor<'a> {
    /// The admin, if any.
    pub id: Option<Uuid>,
    /// From where.
    pub client: &'a ClientInfo,
}

/// A slug: 1 to 64 of `a-z`, `0-9` and `-`, starting with a letter or digit.
fn slug_of(input: &str) -> AppResult<String> {
    let slug = input.trim();
    let valid = (1..=64).contains(&slug.len())
        && slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-');
    if valid {
        Ok(slug.to_owned())
    } else {
        Err(AppError::bad_input("`slug` must be 1 to 64 of a-z, 0-9 and `-`, not starting with `-`"))
    }
}

/// Creates a partner.
///
/// # Errors
/// `BAD_USER_INPUT` for a bad slug or name; `CONFLICT` when the slug is taken.
pub async fn create(db: &Db, actor: &Actor<'_>, slug: &str, name: &str) -> AppResult<partner::Model> {
    let slug = slug_of(slug)?;
    let name = bounded_text("name", name, 100, true)?;
    let row = partner::ActiveModel {
        id: Set(Uuid::now_v7()),
        slug: Set(slug.clone()),
        name: Set(name),
        active_manifest_id: Set(None),
        created_at: Set(db::now()),
    };
    let created = partner::Entity::insert(row)
        .exec_with_returning(db.conn())
        .await
        .map_err(conflict_on_unique("a partner with this slug exists"))?;
    audit::record(db.conn(), Action::PartnerCreated, actor.id, Some(&slug), actor.client, json!({})).await?;
    Ok(created)
}

/// The partner with this slug.
///
/// # Errors
/// `NOT_FOUND` when there is none.
pub async fn by_slug(db: &Db, slug: &str) -> AppResult<partner::Model> {
    partner::Entity::find()
        .filter(partner::Column::Slug.eq(slug.trim()))
        .one(db.conn())
        .await?
        .ok_or_else(|| AppError::not_found("partner"))
}

/// The partner with this id.
///
/// # Errors
/// `NOT_FOUND` when there is none.
pub async fn by_id(db: &Db, id: Uuid) -> AppResult<partner::Model> {
    partner::Entity::find_by_id(id).one(db.conn()).await?.ok_or_else(|| AppError::not_found("partner"))
}

/// The partners, by slug.
///
/// # Errors
/// `INTERNAL` when the store fails.
pub async fn list(db: &Db) -> AppResult<Vec<partner::Model>> {
    Ok(partner::Entity::find().order_by_asc(partner::Column::Slug).limit(MAX_PARTNERS_LISTED).all(db.conn()).await?)
}

/// What the partner's live keys are granted, together: an operation needing more could never run.
async fn scopes_of_keys(db: &Db, partner: Uuid) -> AppResult<Vec<Scope>> {
    let scopes: BTreeSet<Scope> = keys::of_partner(db, partner).await?.iter().flat_map(keys::scopes_of).collect();
    Ok(scopes.into_iter().collect())
}

/// Registers `manifest` as the partner's next version, made the active one when `activate`.
/// Every operation is checked first (against the schema, and against the scopes of the
/// partner's live keys); one refused operation refuses the whole manifest and nothing is kept.
///
/// # Errors
/// `BAD_USER_INPUT` naming the first refused operation and why; `CONFLICT` when another version
/// was registered at the same moment.
pub async fn register(
    db: &Db,
    check: &dyn OperationCheck,
    actor: &Actor<'_>,
    partner: &partner::Model,
    manifest: Manifest,
    activate: bool,
) -> AppResult<partner_manifest::Model> {
    let scopes = scopes_of_keys(db, partner.id).await?;
    for operation in &manifest.operations {
        if let Some(why) = check.refusal(operation, &scopes).await {
            return Err(AppError::bad_input(format!("operation `{}`: {why}", operation.name)));
        }
    }
    let count = i32::try_from(manifest.operations.len()).unwrap_or(i32::MAX);
    let tx = db.conn().begin().await?;
    let latest: Option<i32> = partner_manifest::Entity::find()
        .select_only()
        .column_as(partner_manifest::Column::Version.max(), "latest")
        .filter(partner_manifest::Column::PartnerId.eq(partner.id))
        .into_tuple::<Option<i32>>()
        .one(&tx)
        .await?
        .flatten();
    let row = partner_manifest::ActiveModel {
        id: Set(Uuid::now_v7()),
        partner_id: Set(partner.id),
        version: Set(latest.unwrap_or(0) + 1),
        operations: Set(count),
        created_by: Set(actor.id),
        created_at: Set(db::now()),
    };
    let registered = partner_manifest::Entity::insert(row)
        .exec_with_returning(&tx)
        .await
        .map_err(conflict_on_unique("another manifest version was registered at the same moment; try again"))?;
    for chunk in manifest.operations.chunks(OPERATIONS_PER_INSERT) {
        let rows = chunk.iter().map(|operation| partner_operation::ActiveModel {
            manifest_id: Set(registered.id),
            id: Set(operation.id.clone()),
            name: Set(operation.name.clone()),
            kind: Set(operation.kind.as_str().to_owned()),
            body: Set(operation.body.clone()),
        });
        partner_operation::Entity::insert_many(rows).exec_without_returning(&tx).await?;
    }
    if activate {
        set_active(&tx, partner.id, registered.id).await?;
    }
    tx.commit().await?;
    let detail = json!({ "version": registered.version, "operations": count, "activated": activate });
    audit::record(db.conn(), Action::PartnerManifestRegistered, actor.id, Some(&partner.slug), actor.client, detail)
        .await?;
    Ok(registered)
}

async fn set_active(conn: &impl sea_orm::ConnectionTrait, partner: Uuid, manifest: Uuid) -> AppResult<()> {
    partner::Entity::update_many()
        .col_expr(partner::Column::ActiveManifestId, Expr::value(manifest))
        .filter(partner::Column::Id.eq(partner))
        .exec(conn)
        .await?;
    Ok(())
}

/// Makes version `version` of the partner's manifest the one its keys run: a newer one to roll
/// forward, an older one to roll back. Takes effect with each key's next request.
///
/// # Errors
/// `NOT_FOUND` when the partner has no such version.
pub async fn activate(db: &Db, actor: &Actor<'_>, partner: &partner::Model, version: i32) -> AppResult<partner::Model> {
    let manifest = partner_manifest::Entity::find()
        .filter(partner_manifest::Column::PartnerId.eq(partner.id))
        .filter(partner_manifest::Column::Version.eq(version))
        .one(db.conn())
        .await?
        .ok_or_else(|| AppError::not_found(format!("version {version} of the partner's manifest")))?;
    set_active(db.conn(), partner.id, manifest.id).await?;
    let detail = json!({ "version": version });
    audit::record(db.conn(), Action::PartnerManifestActivated, actor.id, Some(&partner.slug), actor.client, detail)
        .await?;
    by_id(db, partner.id).await
}

/// The partner's manifest versions, newest first.
///
/// # Errors
/// `INTERNAL` when the store fails.
pub async fn manifests(db: &Db, partner: Uuid) -> AppResult<Vec<partner_manifest::Model>> {
    Ok(partner_manifest::Entity::find()
        .filter(partner_manifest::Column::PartnerId.eq(partner))
        .order_by_desc(partner_manifest::Column::Version)
        .limit(MAX_MANIFESTS_LISTED)
        .all(db.conn())
        .await?)
}

/// A manifest version by id.
///
/// # Errors
/// `INTERNAL` when the store fails.
pub async fn manifest(db: &Db, id: Uuid) -> AppResult<Option<partner_manifest::Model>> {
    Ok(partner_manifest::Entity::find_by_id(id).one(db.conn()).await?)
}

/// The first `first` operations of a manifest version, by name.
///
/// # Errors
/// `INTERNAL` when the store fails.
pub async fn operations(db: &Db, manifest: Uuid, first: u64) -> AppResult<Vec<partner_operation::Model>> {
    Ok(partner_operation::Entity::find()
        .filter(partner_operation::Column::ManifestId.eq(manifest))
        .order_by_asc(partner_operation::Column::Name)
        .order_by_asc(partner_operation::Column::Id)
        .limit(first)
        .all(db.conn())
        .await?)
}

/// The body of operation `id` of a manifest version, if it holds one.
///
/// # Errors
/// `INTERNAL` when the store fails.
pub async fn operation_body(db: &Db, manifest: Uuid, id: &str) -> AppResult<Option<String>> {
    Ok(partner_operation::Entity::find()
        .select_only()
        .column(partner_operation::Column::Body)
        .filter(partner_operation::Column::ManifestId.eq(manifest))
        .filter(partner_operation::Column::Id.eq(id))
        .into_tuple::<String>()
        .one(db.conn())
        .await?)
}

/// The manifests kept in the store, read by request (see [`crate::graphql::persisted`]).
pub struct StoredManifests(pub Db);

#[async_trait::async_trait]
impl crate::graphql::persisted::Safelist for StoredManifests {
    async fn operation(&self, manifest: Uuid, id: &str) -> anyhow::Result<Option<String>> {
        operation_body(&self.0, manifest, id).await.map_err(AppError::into_anyhow)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(slug_of(" feedly-2 ").ok().as_deref(), Some("feedly-2"));
        for bad in ["", "-a", "Feedly", "a_b", "a b", &"a".repeat(65)] {
            assert!(slug_of(bad).is_err(), "{bad}");
        }
    }
}
