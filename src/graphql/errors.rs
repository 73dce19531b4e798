//! Every GraphQL error leaves with a stable `extensions.code`.
//!
//! Errors from our use cases carry their code already (see [`crate::error`]). This extension
//! gives one to the errors async-graphql raises itself: parse and validation failures, the
//! depth and complexity limits, and input coercion failures during execution.

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextRequest, NextValidation,
};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{Response, ServerError, ServerResult, ValidationResult, Variables};

use crate::error::ErrorCode;

/// Codes that mean the request failed before execution, so the response carries no `data`.
pub const PRE_EXECUTION_CODES: [ErrorCode; 4] = [
    ErrorCode::GraphqlParseFailed,
    ErrorCode::GraphqlValidationFailed,
    ErrorCode::QueryTooDeep,
    ErrorCode::QueryTooComplex,
];

/// Factory of the extension that assigns error codes.
pub struct ErrorCodes;

impl ExtensionFactory for ErrorCodes {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ErrorCodesExtension)
    }
}

struct ErrorCodesExtension;

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
                    "Query is nested too deep." => ErrorCode::QueryTooDeep,
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
