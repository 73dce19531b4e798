//! The HTTP surface: `/graphql`, `/healthz`, `/readyz`.

mod graphql;
mod health;

use poem::middleware::{CatchPanic, Tracing};
use poem::{EndpointExt, IntoEndpoint, Route, get};

use crate::config::GraphqlSettings;
use crate::db::Db;
use crate::graphql::AppSchema;

/// The application's routes.
pub fn routes(schema: AppSchema, db: Db, settings: &GraphqlSettings) -> impl IntoEndpoint + use<> {
    Route::new()
        .at("/graphql", graphql::GraphqlEndpoint::new(schema, settings))
        .at("/healthz", get(health::healthz))
        .at("/readyz", get(health::readyz))
        .data(db)
        .with(Tracing)
        .with(CatchPanic::new())
}
