//! The HTTP surface: `/graphql`, `/healthz`, `/readyz`.

mod graphql;
mod health;

use std::sync::Arc;

use poem::middleware::{CatchPanic, Tracing};
use poem::{EndpointExt, IntoEndpoint, Route, get};

use crate::config::GraphqlSettings;
use crate::db::Db;
use crate::graphql::AppSchema;
use crate::identity::service::Auth;

/// The application's routes.
pub fn routes(schema: AppSchema, db: Db, auth: Arc<Auth>, settings: &GraphqlSettings) -> impl IntoEndpoint + use<> {
    Route::new()
        .at("/graphql", graphql::GraphqlEndpoint::new(schema, db.clone(), auth, settings))
        .at("/healthz", get(health::healthz))
        .at("/readyz", get(health::readyz))
        .data(db)
        .with(Tracing)
        .with(CatchPanic::new())
}
