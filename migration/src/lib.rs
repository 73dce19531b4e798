//! Schema migrations of the Aeternum relational store.
//!
//! Every migration runs on both SQLite and PostgreSQL. Portable DDL is written with SeaQuery;
//! where a store needs its own SQL (full-text search, triggers, SQL functions), the migration
//! branches on [`sea_orm_migration::sea_orm::DatabaseBackend`] and keeps both versions side by side.

pub use sea_orm_migration::prelude::*;

mod columns;
mod m20261122_000001_create_catalog;
mod m20261122_000002_create_identity;
mod m20261122_000003_create_orders;
mod m20261122_000004_inventory_triggers;
mod m20261122_000005_search;
mod m20261201_000006_hardening;
mod m20261202_000007_events;
mod m20261202_000008_holds;
mod m20261202_000009_dashboard_indexes;
mod m20261202_000010_sales;
mod m20261202_000011_partners;
mod m20261203_000012_media;
mod m20261204_000013_ranked_full_text;

/// Applies the migrations in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_create_catalog::Migration),
            Box::new(m20261122_000002_create_identity::Migration),
            Box::new(m20261122_000003_create_orders::Migration),
            Box::new(m20261122_000004_inventory_triggers::Migration),
            Box::new(m20261122_000005_search::Migration),
            Box::new(m20261201_000006_hardening::Migration),
            Box::new(m20261202_000007_events::Migration),
            Box::new(m20261202_000008_holds::Migration),
            Box::new(m20261202_000009_dashboard_indexes::Migration),
            Box::new(m20261202_000010_sales::Migration),
            Box::new(m20261202_000011_partners::Migration),
            Box::new(m20261203_000012_media::Migration),
            Box::new(m20261204_000013_ranked_full_text::Migration),
        ]
    }
}
