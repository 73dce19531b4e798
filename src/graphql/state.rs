//! Typed access to the request's and the schema's data.
//!
//! async-graphql reports missing context data as an error without a code, which the error
//! extension could not tell from a client's bad argument. Resolvers read their data through
//! [`State::state`] instead: a missing value is our wiring's fault, so it is `INTERNAL`.

use std::any::{Any, type_name};

use async_graphql::Context;

use crate::error::{AppError, AppResult};

/// Reads data registered on the schema or the request.
pub trait State<'a> {
    /// The registered value of type `T`.
    ///
    /// # Errors
    /// `INTERNAL` when nothing of type `T` was registered.
    fn state<T: Any + Send + Sync>(&self) -> AppResult<&'a T>;
}

impl<'a> State<'a> for Context<'a> {
    fn state<T: Any + Send + Sync>(&self) -> AppResult<&'a T> {
        self.data_opt::<T>()
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("no {} in the context", type_name::<T>())))
    }
}
