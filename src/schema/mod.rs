//! The one GraphQL schema: the domains' roots merged, with the kit's limits and error codes.
//! The composition root of the API, beside [`crate::startup`]; no domain imports it.

pub mod cost;
pub mod node;
pub mod partners;

use std::sync::Arc;

use async_graphql::{MergedObject, MergedSubscription, Schema, SchemaBuilder};

use crate::config::{GraphqlSettings, Settings};
use crate::db::Db;
use crate::events::Hub;
use crate::graphql::errors::ErrorCodes;
use crate::graphql::pagination::PageLimits;
use crate::graphql::shape::ShapeLimits;
use crate::graphql::stage::Stages;
use crate::identity::service::Auth;
use crate::payment::Payments;
use crate::search::Search;
use crate::{admin, cart, catalog, events, identity, inventory, media, order, partner, payment, search};

/// The query root: one part per domain.
#[derive(MergedObject, Default)]
pub struct Query(
    node::NodeQuery,
    catalog::graphql::CatalogQuery,
    identity::graphql::IdentityQuery,
    cart::graphql::CartQuery,
    order::graphql::OrderQuery,
    search::graphql::SearchQuery,
    search::moderation::ModerationQuery,
    admin::graphql::AdminQuery,
    partner::graphql::PartnerQuery,
);

/// The mutation root: one part per domain.
#[derive(MergedObject, Default)]
pub struct Mutation(
    identity::graphql::IdentityMutation,
    catalog::mutations::CatalogMutation,
    inventory::graphql::InventoryMutation,
    cart::graphql::CartMutation,
    order::graphql::OrderMutation,
    payment::graphql::PaymentMutation,
    search::moderation::ModerationMutation,
    partner::graphql::PartnerMutation,
    media::graphql::MediaMutation,
);

/// The subscription root: live events (see [`crate::events`]).
#[derive(MergedSubscription, Default)]
pub struct Subscription(events::graphql::EventSubscription, admin::graphql::AdminSubscription);

/// The executable schema.
pub type AppSchema = Schema<Query, Mutation, Subscription>;

/// The schema's shape and limits, without any runtime data: enough to print the SDL. Every
/// operation goes through `stages` after the catalog's loaders and a partner's scopes.
pub fn schema_builder(settings: &GraphqlSettings, stages: Stages) -> SchemaBuilder<Query, Mutation, Subscription> {
    let limits = ErrorCodes {
        max_nesting: settings.max_nesting,
        shape: ShapeLimits {
            max_depth: settings.max_depth,
            max_introspection_depth: settings.max_introspection_depth,
            max_selections: u64::try_from(settings.max_complexity).unwrap_or(u64::MAX),
        },
        max_complexity: settings.max_complexity,
        stages: Stages::default().then(catalog::loaders::PerOperation).then(partners::PartnerScopes).extend(stages),
    };
    let builder = Schema::build(Query::default(), Mutation::default(), Subscription::default())
        .limit_directives(16)
        .extension(limits)
        .data(PageLimits { default_size: settings.default_page_size, max_size: settings.max_page_size });
    if settings.introspection { builder } else { builder.disable_introspection() }
}

/// The executable schema over a store and the configured adapters.
pub fn build_schema(
    settings: &Settings,
    db: Db,
    auth: Arc<Auth>,
    payments: Payments,
    search: Search,
    hub: Hub,
    media: crate::media::Media,
) -> AppSchema {
    let limiter = Arc::clone(&auth.limiter);
    let check: Arc<dyn crate::partner::manifest::OperationCheck> = Arc::new(partners::SchemaCheck::new(settings));
    let cost = Stages::default().then(cost::CostLimits::new(limiter, settings.limits.clone()));
    schema_builder(&settings.graphql, cost)
        .data(check)
        .data(db)
        .data(auth)
        .data(settings.orders.clone())
        .data(payments)
        .data(search)
        .data(hub)
        .data(media)
        .data(settings.events.clone())
        .finish()
}

/// The schema in SDL, as committed in `schema/schema.graphql`.
pub fn sdl() -> String {
    schema_builder(&crate::config::Settings::default().graphql, Stages::default()).finish().sdl()
}
