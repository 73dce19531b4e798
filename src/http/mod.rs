//! The HTTP surface: `/graphql`, `/media/*`, `/webhooks/payments`, `/healthz`, `/readyz`.

pub mod context;
mod graphiql;
mod graphql;
mod health;
pub mod proxies;
pub mod slow_clients;
mod transport_ws;
mod websocket;

use std::sync::Arc;

use poem::middleware::{CatchPanic, Tracing};
use poem::{EndpointExt, IntoEndpoint, Route, get, post};

use crate::config::Settings;
use crate::db::Db;
use crate::identity::service::Auth;
use crate::payment::Payments;
use crate::schema::AppSchema;

/// What the HTTP edge holds besides the domains: persisted queries, and which peers' forwarded
/// addresses to believe.
pub struct Edge {
    /// Automatic persisted queries.
    pub persisted: Arc<crate::graphql::persisted::PersistedQueries>,
    /// Proxies whose `X-Forwarded-For` names the client.
    pub proxies: proxies::TrustedProxies,
    /// Media storage, served under `/media/`.
    pub media: crate::media::Media,
}

/// The application's routes.
pub fn routes(
    schema: AppSchema,
    db: Db,
    auth: Arc<Auth>,
    payments: Payments,
    bus: Arc<dyn crate::events::EventBus>,
    edge: Edge,
    settings: &Settings,
) -> impl IntoEndpoint + use<> {
    let graphql =
        graphql::GraphqlEndpoint::new(schema, db.clone(), auth, &settings.graphql, &settings.websocket, edge.persisted);
    Route::new()
        .at("/graphql", graphql)
        .at("/media/*key", crate::media::http::endpoint())
        .at("/webhooks/payments", post(crate::payment::webhook::receive))
        .at("/healthz", get(health::healthz))
        .at("/readyz", get(health::readyz))
        .data(db)
        .data(payments)
        .data(bus)
        .data(edge.proxies)
        .data(edge.media)
        .with(Tracing)
        .with(CatchPanic::new())
}
