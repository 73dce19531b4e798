//! An operation of a partner's manifest version: its id is the SHA-256 of its body.

use sea_orm::entity::prelude::*;

/// A row of `partner_operations`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "partner_operations")]
pub struct Model {
    /// The manifest version holding it.
    #[sea_orm(primary_key, auto_increment = false)]
    pub manifest_id: Uuid,
    /// SHA-256 of the body, lowercase hexadecimal.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The operation's name.
    pub name: String,
    /// `query`, `mutation` or `subscription`.
    pub kind: String,
    /// The document: the operation and the fragments it uses.
    pub body: String,
}

/// Relations of a manifest operation.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
