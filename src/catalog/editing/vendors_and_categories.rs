//! Vendors and the category tree, created and changed under the catalog's rules.

use entity::{category, vendor};
use sea_orm::{ActiveValue::Set, EntityTrait};
use uuid::Uuid;

use crate::catalog::input::Slug;
use crate::catalog::service::{category_by_id, vendor_by_id};
use crate::db::{self, Db};
use crate::error::{AppError, AppResult, conflict_on_unique};
use crate::input::bounded_text;

/// A vendor to create.
#[derive(Clone, Debug)]
pub struct NewVendor {
    /// Unique handle.
    pub slug: String,
    /// Display name, 1 to 200 characters.
    pub name: String,
    /// Public description, up to 5,000 characters.
    pub description: String,
}

/// Creates a vendor.
///
/// # Errors
/// `BAD_USER_INPUT` for invalid fields, `CONFLICT` when the slug is taken.
pub async fn create_vendor(db: &Db, new: NewVendor) -> AppResult<vendor::Model> {
    let now = db::now();
    let model = vendor::ActiveModel {
        id: Set(Uuid::now_v7()),
        slug: Set(Slug::parse(&new.slug)?.as_str().to_owned()),
        name: Set(bounded_text("name", &new.name, 200, true)?),
        description: Set(bounded_text("description", &new.description, 5_000, false)?),
        created_at: Set(now),
        updated_at: Set(now),
    };
    vendor::Entity::insert(model)
        .exec_with_returning(db.conn())
        .await
        .map_err(conflict_on_unique("this vendor slug is already taken"))
}

/// A category to create.
#[derive(Clone, Debug)]
pub struct NewCategory {
    /// Unique handle.
    pub slug: String,
    /// Display name, 1 to 200 characters.
    pub name: String,
    /// The parent; `None` for a root.
    pub parent_id: Option<Uuid>,
    /// Order among siblings.
    pub position: i32,
}

/// Most levels of the category tree.
pub const MAX_CATEGORY_DEPTH: usize = 8;

/// Creates a category under its parent.
///
/// # Errors
/// `BAD_USER_INPUT` for invalid fields or a tree deeper than [`MAX_CATEGORY_DEPTH`],
/// `NOT_FOUND` for an unknown parent, `CONFLICT` when the slug is taken.
pub async fn create_category(db: &Db, new: NewCategory) -> AppResult<category::Model> {
    let id = Uuid::now_v7();
    let parent_path = match new.parent_id {
        Some(parent) => category_by_id(db, parent).await?.path,
        None => "/".to_owned(),
    };
    if parent_path.matches('/').count() > MAX_CATEGORY_DEPTH {
        return Err(AppError::bad_input(format!("categories nest at most {MAX_CATEGORY_DEPTH} levels deep")));
    }
    let now = db::now();
    let model = category::ActiveModel {
        id: Set(id),
        parent_id: Set(new.parent_id),
        slug: Set(Slug::parse(&new.slug)?.as_str().to_owned()),
        name: Set(bounded_text("name", &new.name, 200, true)?),
        path: Set(format!("{parent_path}{id}/")),
        position: Set(new.position),
        created_at: Set(now),
        updated_at: Set(now),
    };
    category::Entity::insert(model)
        .exec_with_returning(db.conn())
        .await
        .map_err(conflict_on_unique("this category slug is already taken"))
}

/// Renames or re-describes a vendor; `None` leaves a field as it is.
///
/// # Errors
/// `NOT_FOUND` for an unknown vendor, `BAD_USER_INPUT` for invalid values.
pub async fn update_vendor(
    db: &Db,
    id: Uuid,
    name: Option<String>,
    description: Option<String>,
) -> AppResult<vendor::Model> {
    use sea_orm::ActiveModelTrait;
    let mut model: vendor::ActiveModel = vendor_by_id(db, id).await?.into();
    if let Some(name) = name {
        model.name = Set(bounded_text("name", &name, 200, true)?);
    }
    if let Some(description) = description {
        model.description = Set(bounded_text("description", &description, 5_000, false)?);
    }
    model.updated_at = Set(db::now());
    Ok(model.update(db.conn()).await?)
}

/// Renames a category or changes its position among its siblings.
///
/// # Errors
/// `NOT_FOUND` for an unknown category, `BAD_USER_INPUT` for invalid values.
pub async fn update_category(
    db: &Db,
    id: Uuid,
    name: Option<String>,
    position: Option<i32>,
) -> AppResult<category::Model> {
    use sea_orm::ActiveModelTrait;
    let mut model: category::ActiveModel = category_by_id(db, id).await?.into();
    if let Some(name) = name {
        model.name = Set(bounded_text("name", &name, 200, true)?);
    }
    if let Some(position) = position {
        model.position = Set(position);
    }
    model.updated_at = Set(db::now());
    Ok(model.update(db.conn()).await?)
}
