//! Every GraphQL error leaves with a stable `extensions.code`.
//!
//! Errors from our use cases carry their code already (see [`crate::error`]). This extension
//! gives one to the errors async-graphql raises itself: parse and validation failures, the
//! depth and complexity limits, and input coercion failures during execution.

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextPrepareRequest, NextRequest, NextValidation,
};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{Request, Response, ServerError, ServerResult, ValidationResult, Variables};

use super::shape::ShapeLimits;

use crate::error::ErrorCode;

/// Codes that mean the request failed before execution, so the response carries no `data`.
pub const PRE_EXECUTION_CODES: [ErrorCode; 5] = [
    ErrorCode::BadRequest,
    ErrorCode::GraphqlParseFailed,
    ErrorCode::GraphqlValidationFailed,
    ErrorCode::QueryTooDeep,
    ErrorCode::QueryTooComplex,
];

/// Factory of the extension that assigns error codes. It also guards the parser and validation:
/// a document nested deeper than `max_nesting` brackets is refused before it is parsed (see
/// [`super::nesting`]), and a parsed one must keep within `shape` (see [`super::shape`]) before
/// validation expands its fragments.
#[derive(Clone, Copy, Debug)]
pub struct ErrorCodes {
    /// Deepest bracket nesting a document may have.
    pub max_nesting: usize,
    /// Depth and size limits of the parsed document.
    pub shape: ShapeLimits,
}

impl ExtensionFactory for ErrorCodes {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ErrorCodesExtension { limits: *self })
    }
}

struct ErrorCodesExtension {
    limits: ErrorCodes,
}

fn coded(message: String, code: ErrorCode) -> ServerError {
    let mut error = ServerError::new(message, None);
    set_code(&mut error, code);
    error
}

#[async_trait::async_trait]
impl Extension for ErrorCodesExtension {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
        for error in &mut response.errors {
            if code_of(error).is_none() {
                set_code(error, ErrorCode::BadUserInput);
            }
        }
        response
    }

    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        if let Err(too_deep) = super::nesting::check(&request.query, self.limits.max_nesting) {
            return Err(coded(too_deep.message(), ErrorCode::BadRequest));
        }
        let document = request.parsed_query().map_err(|mut error| {
            set_code(&mut error, ErrorCode::GraphqlParseFailed);
            error
        })?;
        if let Err(refused) = super::shape::check(document, self.limits.shape) {
            return Err(coded(refused.message, refused.code));
        }
        if let Err(refused) = super::shape::check_variables(&request.variables) {
            return Err(coded(refused.message, refused.code));
        }
        next.run(ctx, request).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        next.run(ctx, query, variables).await.map_err(|mut error| {
            set_code(&mut error, ErrorCode::GraphqlParseFailed);
            error
        })
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx).await.map_err(|mut errors| {
            for error in &mut errors {
                let code = match error.message.as_str() {
                    "Query is too complex." => ErrorCode::QueryTooComplex,
                    _ => ErrorCode::GraphqlValidationFailed,
                };
                set_code(error, code);
            }
            errors
        })
    }
}

/// The `extensions.code` of an error, if it has one.
pub fn code_of(error: &ServerError) -> Option<String> {
    match error.extensions.as_ref()?.get("code")? {
        async_graphql::Value::String(code) => Some(code.clone()),
        _ => None,
    }
}

fn set_code(error: &mut ServerError, code: ErrorCode) {
    error.extensions.get_or_insert_with(Default::default).set("code", code.as_str());
}
