//! Steps every operation takes around its parsing, validation and answer, run by the schema's
//! one extension ([`super::errors::ErrorCodes`]), inside its error codes.
//!
//! They are not extensions of their own because of what an extension costs per field: with any
//! extension registered, async-graphql passes every field's resolution through each extension's
//! `resolve` hook (a boxed future each, and a look-up of the field's type), whether the extension
//! does anything there or not. Stages run once per operation and never per field; only the error
//! codes look at fields. The composition root ([`crate::schema`]) chooses the stages.

use std::sync::Arc;

use async_graphql::extensions::ExtensionContext;
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{Request, Response, ServerError, ServerResult, ValidationResult};

/// One operation's step. Every method has a default that lets the operation through.
#[async_trait::async_trait]
pub trait Stage: Send + Sync {
    /// Before parsing: may add data to the request, or refuse it.
    async fn prepare(&self, _ctx: &ExtensionContext<'_>, request: Request) -> ServerResult<Request> {
        Ok(request)
    }

    /// Before the document text is parsed: may refuse it.
    fn before_parsing(&self, _ctx: &ExtensionContext<'_>, _query: &str) -> ServerResult<()> {
        Ok(())
    }

    /// Once the document is parsed: may refuse it.
    fn parsed(&self, _ctx: &ExtensionContext<'_>, _document: &ExecutableDocument) -> ServerResult<()> {
        Ok(())
    }

    /// Once the document is valid and within the schema's limits, before anything runs: may
    /// refuse it.
    async fn validated(&self, _ctx: &ExtensionContext<'_>, _result: &ValidationResult) -> Result<(), Vec<ServerError>> {
        Ok(())
    }

    /// The answer, before it leaves.
    fn answered(&self, _ctx: &ExtensionContext<'_>, _response: &mut Response) {}
}

/// Makes a stage for each operation (a stage may keep what it learns of its operation).
pub trait StageFactory: Send + Sync {
    /// The stage of a new operation.
    fn begin(&self) -> Box<dyn Stage>;
}

/// A stage without state of its own serves every operation.
impl<S: Stage + Clone + 'static> StageFactory for S {
    fn begin(&self) -> Box<dyn Stage> {
        Box::new(self.clone())
    }
}

/// The stages of a schema, in the order they run.
#[derive(Clone, Default)]
pub struct Stages(pub Vec<Arc<dyn StageFactory>>);

impl Stages {
    /// These stages, then `stage`.
    #[must_use]
    pub fn then(mut self, stage: impl StageFactory + 'static) -> Self {
        self.0.push(Arc::new(stage));
        self
    }

    /// These stages, then `more`.
    #[must_use]
    pub fn extend(mut self, more: Stages) -> Self {
        self.0.extend(more.0);
        self
    }
}

impl std::fmt::Debug for Stages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Stages({})", self.0.len())
    }
}
