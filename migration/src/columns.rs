//! Column definitions shared by the migrations. Each yields the same DDL on both stores; change
//! one only in a way that keeps every earlier migration's schema the same.

use sea_orm_migration::prelude::*;

/// A UUID primary key.
pub fn id(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).uuid().not_null().primary_key().take()
}

/// A required string of at most `len` characters.
pub fn text(col: impl IntoIden, len: u32) -> ColumnDef {
    ColumnDef::new(col).string_len(len).not_null().take()
}

/// An optional string of at most `len` characters.
pub fn optional_text(col: impl IntoIden, len: u32) -> ColumnDef {
    ColumnDef::new(col).string_len(len).null().take()
}

/// A required timestamp with time zone.
pub fn timestamp(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).timestamp_with_time_zone().not_null().take()
}

/// An optional timestamp with time zone.
pub fn optional_timestamp(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).timestamp_with_time_zone().null().take()
}
