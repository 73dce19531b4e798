//! The HTTP surface: `/graphql`, `/webhooks/payments`, `/healthz`, `/readyz`.

mod graphql;
mod health;

use std::sync::Arc;

use poem::middleware::{CatchPanic, Tracing};
use poem::{EndpointExt, IntoEndpoint, Route, get, post};

use crate::config::GraphqlSettings;
use crate::db::Db;
use crate::graphql::AppSchema;
use crate::identity::service::Auth;
use crate::payment::Payments;

/// The application's routes.
pub fn routes(
    schema: AppSchema,
    db: Db,
    auth: Arc<Auth>,
    payments: Payments,
    settings: &GraphqlSettings,
) -> impl IntoEndpoint + use<> {
    Route::new()
        .at("/graphql", graphql::GraphqlEndpoint::new(schema, db.clone(), auth, settings))
        .at("/webhooks/payments", post(crate::payment::webhook::receive))
        .at("/healthz", get(health::healthz))
        .at("/readyz", get(health::readyz))
        .data(db)
        .data(payments)
        .with(Tracing)
        .with(CatchPanic::new())
}
