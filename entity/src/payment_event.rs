//! A provider webhook event already processed, so a repeat changes nothing.

use sea_orm::entity::prelude::*;

/// A row of `payment_events`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "payment_events")]
pub struct Model {
    /// The provider's event id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The provider.
    pub provider: String,
    /// The event's type, such as `payment.succeeded`.
    pub event_type: String,
    /// The payment reference it concerned.
    pub reference: String,
    /// When it was received.
    pub received_at: DateTimeUtc,
}

/// Relations of a payment event.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
